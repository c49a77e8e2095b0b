// The header-map wire format shared by host and module (little-endian):
//   u32 count, count × (u32 key_len, u32 value_len), then per pair: key bytes, 0, value bytes, 0.
// Keys and values are bytes; nothing here decodes UTF-8.

import { LIMITS } from "./abi";
import { PairsDecodeError } from "./errors";
import { BytesLike, toBytes } from "./bytes";

export type Pair = [Uint8Array, Uint8Array];

export function encodePairs(pairs: ReadonlyArray<readonly [BytesLike, BytesLike]>): Uint8Array {
  const bin = pairs.map(([k, v]) => [toBytes(k), toBytes(v)] as const);
  let size = 4;
  for (const [k, v] of bin) size += 8 + k.length + 1 + v.length + 1;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, bin.length, true);
  let o = 4;
  for (const [k, v] of bin) {
    dv.setUint32(o, k.length, true);
    dv.setUint32(o + 4, v.length, true);
    o += 8;
  }
  for (const [k, v] of bin) {
    out.set(k, o);
    o += k.length + 1; // the NUL is already 0
    out.set(v, o);
    o += v.length + 1;
  }
  return out;
}

export interface DecodeOptions {
  /** Reject more pairs than this (Envoy: 1024). Default: no limit beyond what the buffer can hold. */
  maxCount?: number;
  /** Reject buffers larger than this (Envoy: 1 MiB). */
  maxBytes?: number;
}

/**
 * Decodes a serialized header map. An empty buffer is an empty map. Anything malformed (truncated,
 * a missing NUL terminator, trailing bytes, a count the buffer cannot hold) throws PairsDecodeError
 * and nothing else; the work is bounded by the buffer length, whatever the counts claim.
 */
export function decodePairs(buf: Uint8Array, opts: DecodeOptions = {}): Pair[] {
  if (buf.length === 0) return [];
  if (opts.maxBytes !== undefined && buf.length > opts.maxBytes) {
    throw new PairsDecodeError(`map of ${buf.length} bytes exceeds the ${opts.maxBytes} byte limit`, 0);
  }
  if (buf.length < 4) throw new PairsDecodeError("truncated pair count", 0);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = dv.getUint32(0, true);
  if (opts.maxCount !== undefined && count > opts.maxCount) {
    throw new PairsDecodeError(`${count} pairs exceed the limit of ${opts.maxCount}`, 0);
  }
  // Each pair needs at least 8 bytes of sizes and 2 NULs: check before allocating anything.
  if (count > (buf.length - 4) / 10) throw new PairsDecodeError(`count ${count} does not fit in ${buf.length} bytes`, 0);
  const sizes: number[] = new Array(count * 2);
  let o = 4;
  for (let i = 0; i < count; i++) {
    sizes[2 * i] = dv.getUint32(o, true);
    sizes[2 * i + 1] = dv.getUint32(o + 4, true);
    o += 8;
  }
  const out: Pair[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const k = readTerminated(buf, o, sizes[2 * i], "key", i);
    o += sizes[2 * i] + 1;
    const v = readTerminated(buf, o, sizes[2 * i + 1], "value", i);
    o += sizes[2 * i + 1] + 1;
    out[i] = [k, v];
  }
  if (o !== buf.length) throw new PairsDecodeError(`${buf.length - o} trailing bytes after ${count} pairs`, o);
  return out;
}

function readTerminated(buf: Uint8Array, o: number, len: number, what: string, i: number): Uint8Array {
  if (o + len + 1 > buf.length) throw new PairsDecodeError(`${what} of pair ${i} overruns the buffer`, o);
  if (buf[o + len] !== 0) throw new PairsDecodeError(`${what} of pair ${i} is not NUL-terminated`, o + len);
  return buf.slice(o, o + len);
}

/** What Envoy's host does with a map the module sent: malformed or over the limits means empty. */
export function decodePairsLikeEnvoy(buf: Uint8Array): Pair[] {
  try {
    return decodePairs(buf, { maxCount: LIMITS.pairsMaxCount, maxBytes: LIMITS.pairsMaxBytes });
  } catch (e) {
    if (e instanceof PairsDecodeError) return [];
    throw e;
  }
}
