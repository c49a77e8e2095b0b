// Bytes ↔ strings at the boundary. Headers, bodies and properties are bytes; a filter decodes only what
// it needs, and decoding never traps: invalid UTF-8 becomes U+FFFD exactly as the WHATWG decoder does.
// (AssemblyScript's own String.UTF8.decode is only defined on valid input.)

/** Length in bytes of the longest valid UTF-8 prefix of [ptr, ptr+len): equals len when all of it is valid. */
export function validUtf8PrefixUnsafe(ptr: usize, len: usize): usize {
  let i: usize = 0;
  while (i < len) {
    const b0 = <u32>load<u8>(ptr + i);
    if (b0 < 0x80) { i++; continue; }
    const n = sequenceLength(ptr + i, len - i);
    if (n == 0) return i;
    i += n;
  }
  return len;
}

/** True when the buffer is valid UTF-8. */
export function isValidUtf8(buf: ArrayBuffer): bool {
  const len = <usize>buf.byteLength;
  return validUtf8PrefixUnsafe(changetype<usize>(buf), len) == len;
}

/**
 * Length of the valid multi-byte sequence starting at ptr (2–4), or 0 when it is invalid
 * (bad lead byte, overlong form, surrogate, above U+10FFFF, or truncated).
 */
function sequenceLength(ptr: usize, avail: usize): usize {
  const b0 = <u32>load<u8>(ptr);
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (avail < 2 || !isCont(load<u8>(ptr + 1))) return 0;
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (avail < 3) return 0;
    const b1 = <u32>load<u8>(ptr + 1);
    if (b0 == 0xE0 && b1 < 0xA0) return 0; // overlong
    if (b0 == 0xED && b1 > 0x9F) return 0; // surrogates
    if (!isCont(<u8>b1) || !isCont(load<u8>(ptr + 2))) return 0;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (avail < 4) return 0;
    const b1 = <u32>load<u8>(ptr + 1);
    if (b0 == 0xF0 && b1 < 0x90) return 0; // overlong
    if (b0 == 0xF4 && b1 > 0x8F) return 0; // above U+10FFFF
    if (!isCont(<u8>b1) || !isCont(load<u8>(ptr + 2)) || !isCont(load<u8>(ptr + 3))) return 0;
    return 4;
  }
  return 0;
}

// @ts-ignore: decorator
@inline function isCont(b: u8): bool { return (b & 0xC0) == 0x80; }

/**
 * Decodes [ptr, ptr+len) as UTF-8. Invalid input is replaced exactly as the WHATWG decoder does: one
 * U+FFFD per maximal invalid subpart (a truncated sequence counts once). Never traps.
 */
export function decodeUtf8Unsafe(ptr: usize, len: usize): string {
  const valid = validUtf8PrefixUnsafe(ptr, len);
  if (valid == len) return String.UTF8.decodeUnsafe(ptr, len, false);
  // Slow path, only for invalid input: decode valid runs, one U+FFFD per invalid subpart.
  const parts = new Array<string>();
  let i: usize = 0;
  while (i < len) {
    const run = validUtf8PrefixUnsafe(ptr + i, len - i);
    if (run > 0) parts.push(String.UTF8.decodeUnsafe(ptr + i, run, false));
    i += run;
    if (i < len) {
      parts.push("\uFFFD");
      i += invalidSubpartLength(ptr + i, len - i);
    }
  }
  return parts.join("");
}

/** Length of the maximal invalid subpart at ptr: the bytes that could still have begun a valid sequence. */
function invalidSubpartLength(ptr: usize, avail: usize): usize {
  const b0 = <u32>load<u8>(ptr);
  let needed: usize;
  if (b0 >= 0xC2 && b0 <= 0xDF) needed = 2;
  else if (b0 >= 0xE0 && b0 <= 0xEF) needed = 3;
  else if (b0 >= 0xF0 && b0 <= 0xF4) needed = 4;
  else return 1;
  for (let i: usize = 1; i < needed; i++) {
    if (i >= avail) return i;
    const b = <u32>load<u8>(ptr + i);
    let lo: u32 = 0x80, hi: u32 = 0xBF;
    if (i == 1) {
      if (b0 == 0xE0) lo = 0xA0;
      else if (b0 == 0xED) hi = 0x9F;
      else if (b0 == 0xF0) lo = 0x90;
      else if (b0 == 0xF4) hi = 0x8F;
    }
    if (b < lo || b > hi) return i;
  }
  return needed; // unreachable for input that failed validation, kept for safety
}

/** Decodes a buffer as UTF-8, replacing invalid bytes with U+FFFD. Never traps. */
export function decodeUtf8(buf: ArrayBuffer): string {
  return decodeUtf8Unsafe(changetype<usize>(buf), <usize>buf.byteLength);
}

/** Encodes a string as UTF-8 bytes (lone surrogates become U+FFFD). */
// @ts-ignore: decorator
@inline export function encodeUtf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE);
}

/** Compares a buffer's bytes with a string's UTF-8 encoding without allocating. */
export function bytesEqualString(buf: ArrayBuffer, s: string): bool {
  const n = String.UTF8.byteLength(s, false);
  if (n != buf.byteLength) return false;
  // Fast path: ASCII strings compare char by char.
  const p = changetype<usize>(buf);
  const sp = changetype<usize>(s);
  const chars = <usize>s.length;
  if (<usize>n == chars) {
    for (let i: usize = 0; i < chars; i++) {
      if (<u32>load<u8>(p + i) != <u32>load<u16>(sp + (i << 1))) return false;
    }
    return true;
  }
  const enc = encodeUtf8(s);
  return memory.compare(p, changetype<usize>(enc), <usize>n) == 0;
}
