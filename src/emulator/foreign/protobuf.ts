// The few protobuf wire-format rules the argument and result messages of Envoy's foreign functions need
// (source/extensions/common/wasm/ext/*.proto in Envoy 1.40): varint and length-delimited fields.

/** Fields of a message by number: the last varint or bytes seen (proto3 semantics for singular fields). */
export type Fields = Map<number, bigint | Uint8Array>;

/** Parses a message; null when the bytes are not well-formed (what ParseFromString refuses). */
export function parseMessage(b: Uint8Array): Fields | null {
  const out: Fields = new Map();
  let at = 0;
  const varint = (): bigint | null => {
    let v = 0n;
    let shift = 0n;
    while (at < b.length && shift < 64n) {
      const c = b[at++]!;
      v |= BigInt(c & 0x7f) << shift;
      if ((c & 0x80) === 0) return v;
      shift += 7n;
    }
    return null;
  };
  while (at < b.length) {
    const key = varint();
    if (key === null) return null;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) return null;
    if (wire === 0) {
      const v = varint();
      if (v === null) return null;
      out.set(field, v);
    } else if (wire === 2) {
      const len = varint();
      if (len === null || len > BigInt(b.length - at)) return null;
      out.set(field, b.subarray(at, at + Number(len)));
      at += Number(len);
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      if (at > b.length) return null;
    } else return null;
  }
  return out;
}

export function bytesField(f: Fields, n: number): Uint8Array {
  const v = f.get(n);
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

export function stringField(f: Fields, n: number): string {
  return Buffer.from(bytesField(f, n)).toString("utf8");
}

export function varintField(f: Fields, n: number): bigint {
  const v = f.get(n);
  return typeof v === "bigint" ? v : 0n;
}

/** Serialises fields in the order given, leaving proto3 defaults (false, 0, empty) out. */
export function encodeMessage(fields: Array<[number, boolean | number | Uint8Array | string]>): Uint8Array {
  const parts: number[] = [];
  const raw = (v: number) => {
    while (v >= 0x80) {
      parts.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    parts.push(v);
  };
  for (const [n, v] of fields) {
    if (typeof v === "boolean" || typeof v === "number") {
      const x = typeof v === "boolean" ? (v ? 1 : 0) : v;
      if (x === 0) continue;
      raw(n << 3);
      raw(x);
    } else {
      const b = typeof v === "string" ? Buffer.from(v, "utf8") : v;
      if (b.length === 0) continue;
      raw((n << 3) | 2);
      raw(b.length);
      for (const c of b) parts.push(c);
    }
  }
  return Uint8Array.from(parts);
}
