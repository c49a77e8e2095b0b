// An independent JavaScript codec for the RateLimitService messages, so the AssemblyScript codec is
// checked against a second implementation (field numbers in ../assembly/rls.ts).

export interface RlsEntry {
  key: string;
  value: string;
}

export interface RlsRequest {
  domain: string;
  descriptors: RlsEntry[][];
  hitsAddend: number;
}

export interface RlsStatus {
  code: number;
  currentLimit?: { requestsPerUnit: number; unit: number; name?: string };
  limitRemaining: number;
  durationUntilReset?: { seconds: number; nanos: number };
}

export interface RlsResponse {
  overallCode: number;
  statuses: RlsStatus[];
  responseHeadersToAdd: Array<[string, string]>;
  requestHeadersToAdd: Array<[string, string]>;
  rawBody?: Uint8Array;
}

export const Code = { UNKNOWN: 0, OK: 1, OVER_LIMIT: 2 } as const;
export const Unit = { UNKNOWN: 0, SECOND: 1, MINUTE: 2, HOUR: 3, DAY: 4 } as const;

// ---- writing

class Writer {
  private parts: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt(v);
    if (x < 0n) x = BigInt.asUintN(64, x);
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }
  uint(field: number, v: number | bigint): this {
    if (BigInt(v) === 0n) return this;
    return this.tag(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  string(field: number, s: string | undefined): this {
    return s ? this.bytes(field, Buffer.from(s, "utf8")) : this;
  }
  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function encodeResponse(r: Partial<RlsResponse>): Uint8Array {
  const w = new Writer().uint(1, r.overallCode ?? 0);
  for (const s of r.statuses ?? []) {
    const sw = new Writer().uint(1, s.code);
    if (s.currentLimit) {
      sw.message(2, new Writer().uint(1, s.currentLimit.requestsPerUnit).uint(2, s.currentLimit.unit).string(3, s.currentLimit.name));
    }
    sw.uint(3, s.limitRemaining);
    if (s.durationUntilReset) sw.message(4, new Writer().uint(1, s.durationUntilReset.seconds).uint(2, s.durationUntilReset.nanos));
    w.message(2, sw);
  }
  for (const [k, v] of r.responseHeadersToAdd ?? []) w.message(3, new Writer().string(1, k).string(2, v));
  for (const [k, v] of r.requestHeadersToAdd ?? []) w.message(4, new Writer().string(1, k).string(2, v));
  if (r.rawBody) w.bytes(5, r.rawBody);
  return w.finish();
}

export function encodeRequest(r: RlsRequest): Uint8Array {
  const w = new Writer().string(1, r.domain);
  for (const d of r.descriptors) {
    const dw = new Writer();
    for (const e of d) dw.message(1, new Writer().string(1, e.key).string(2, e.value));
    w.message(2, dw);
  }
  return w.uint(3, r.hitsAddend).finish();
}

// ---- reading (strict: throws on anything malformed)

class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array, private readonly end = b.length) {}
  get done(): boolean {
    return this.pos >= this.end;
  }
  varint(): bigint {
    let x = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const byte = this.b[this.pos++];
      x |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return x;
    }
    throw new Error("varint too long");
  }
  tag(): [number, number] {
    const t = Number(this.varint());
    return [t >>> 3, t & 7];
  }
  len(): Reader {
    const n = Number(this.varint());
    if (this.pos + n > this.end) throw new Error("length past end");
    const r = new Reader(this.b, this.pos + n);
    r.pos = this.pos;
    this.pos += n;
    return r;
  }
  bytes(): Uint8Array {
    const r = this.len();
    return this.b.slice(r.pos, r.end);
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.len();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

export function decodeRequest(b: Uint8Array): RlsRequest {
  const r = new Reader(b);
  const out: RlsRequest = { domain: "", descriptors: [], hitsAddend: 0 };
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1 && w === 2) out.domain = Buffer.from(r.bytes()).toString("utf8");
    else if (f === 2 && w === 2) {
      const d = r.len();
      const entries: RlsEntry[] = [];
      while (!d.done) {
        const [df, dw] = d.tag();
        if (df === 1 && dw === 2) {
          const e = d.len();
          const entry: RlsEntry = { key: "", value: "" };
          while (!e.done) {
            const [ef, ew] = e.tag();
            if (ef === 1 && ew === 2) entry.key = Buffer.from(e.bytes()).toString("utf8");
            else if (ef === 2 && ew === 2) entry.value = Buffer.from(e.bytes()).toString("utf8");
            else e.skip(ew);
          }
          entries.push(entry);
        } else d.skip(dw);
      }
      out.descriptors.push(entries);
    } else if (f === 3 && w === 0) out.hitsAddend = Number(r.varint());
    else r.skip(w);
  }
  return out;
}
