// The header-map wire format of the ABI (little-endian):
//   u32 count, count × (u32 key_len, u32 value_len), then each key and value followed by a 0 byte.
// Decoding checks every length against the buffer, so a truncated or hostile buffer yields null, never a trap.

import { Header } from "../header";

/** Serializes headers into the ABI wire format. */
export function encodePairs(headers: Header[]): ArrayBuffer {
  const n = headers.length;
  let size: usize = 4 + <usize>n * 8;
  for (let i = 0; i < n; i++) {
    const h = unchecked(headers[i]);
    size += <usize>h.key.byteLength + <usize>h.value.byteLength + 2;
  }
  const buf = new ArrayBuffer(<i32>size);
  const base = changetype<usize>(buf);
  store<u32>(base, <u32>n);
  let sizes = base + 4;
  let data = base + 4 + <usize>n * 8;
  for (let i = 0; i < n; i++) {
    const h = unchecked(headers[i]);
    const kl = <usize>h.key.byteLength;
    const vl = <usize>h.value.byteLength;
    store<u32>(sizes, <u32>kl);
    store<u32>(sizes, <u32>vl, 4);
    sizes += 8;
    memory.copy(data, changetype<usize>(h.key), kl);
    data += kl;
    store<u8>(data, 0);
    data++;
    memory.copy(data, changetype<usize>(h.value), vl);
    data += vl;
    store<u8>(data, 0);
    data++;
  }
  return buf;
}

/** Decodes the ABI wire format; null when the buffer is malformed. An empty buffer is an empty map. */
export function decodePairs(buf: ArrayBuffer): Header[] | null {
  const len = <usize>buf.byteLength;
  if (len == 0) return new Array<Header>(0);
  if (len < 4) return null;
  const base = changetype<usize>(buf);
  const n = <usize>load<u32>(base);
  // Each pair needs at least 8 bytes of sizes and 2 terminators: reject counts the buffer cannot hold
  // before allocating anything for them.
  if (n > (len - 4) / 10) return null;
  let sizes = base + 4;
  let data = base + 4 + n * 8;
  const end = base + len;
  const out = new Array<Header>(<i32>n);
  for (let i: usize = 0; i < n; i++) {
    const kl = <usize>load<u32>(sizes);
    const vl = <usize>load<u32>(sizes, 4);
    sizes += 8;
    if (kl > end - data || end - data - kl < 1) return null;
    const key = copyBytes(data, kl);
    data += kl + 1;
    if (vl > end - data || end - data - vl < 1) return null;
    const value = copyBytes(data, vl);
    data += vl + 1;
    unchecked(out[<i32>i] = new Header(key, value));
  }
  return out;
}

// @ts-ignore: decorator
@inline function copyBytes(ptr: usize, len: usize): ArrayBuffer {
  const b = new ArrayBuffer(<i32>len);
  memory.copy(changetype<usize>(b), ptr, len);
  return b;
}
