// Byte helpers. Headers, bodies and properties are bytes; strings are only a convenience at the edges.

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

export type BytesLike = string | Uint8Array;

export function toBytes(v: BytesLike): Uint8Array {
  return typeof v === "string" ? encoder.encode(v) : v;
}

/** UTF-8 decode for display; invalid sequences become U+FFFD instead of throwing. */
export function toText(v: Uint8Array): string {
  return decoder.decode(v);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** ASCII lower-casing, as Envoy's LowerCaseString does; bytes >= 0x80 are left alone. */
export function asciiLower(v: Uint8Array): Uint8Array {
  let changed = false;
  for (let i = 0; i < v.length; i++) if (v[i] >= 0x41 && v[i] <= 0x5a) changed = true;
  if (!changed) return v;
  const out = new Uint8Array(v);
  for (let i = 0; i < out.length; i++) if (out[i] >= 0x41 && out[i] <= 0x5a) out[i] += 0x20;
  return out;
}

export function u64le(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return out;
}
