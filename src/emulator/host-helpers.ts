// Small pure helpers of the Host: the deterministic WASI random source and gRPC status messages as Envoy reports them.

/** Deterministic bytes for WASI random_get (xorshift32), so runs repeat exactly. */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  let s = seed >>> 0 || 0x9e3779b9;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
    return out;
  };
}

/**
 * The status message Envoy's gRPC client reports for a failure the upstream sent: the upstream's grpc-message
 * with the response code details appended, "msg{via_upstream}", or just "via_upstream" when it sent none
 * (observed in Envoy 1.40 for trailers-only and for trailers after headers alike).
 */
export function viaUpstream(message: string): string {
  return message === "" ? "via_upstream" : `${message}{via_upstream}`;
}
