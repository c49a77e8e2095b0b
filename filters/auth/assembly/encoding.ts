// Byte encodings the auth filter reads and writes: strict base64url (RFC 4648 §5, no padding, as JWS
// requires), hex (API key hashes), and small byte helpers. Decoders return null on any malformed input.

// 0..63 for the base64url alphabet, 0xFF for everything else ('+', '/', '=' and whitespace included).
const B64URL_DECODE = memory.data<u8>([
  255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
  255,255,255,255,255,255,255,255,255,255,255,255,255, 62,255,255, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,255,255,255,255,255,255,
  255,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,255,255,255,255, 63,
  255, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,255,255,255,255,255,
]);
const B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// @ts-ignore: decorator
@inline function sextet(c: u32): u32 { return c < 128 ? <u32>load<u8>(B64URL_DECODE + c) : 0xFF; }

/**
 * Decodes `len` bytes of base64url at `ptr`. Rejects padding, characters outside the URL-safe alphabet, a
 * length of 1 mod 4, and non-zero unused bits in the last character (so every byte string has exactly one
 * accepted encoding and a token cannot be altered without changing what it decodes to).
 */
export function base64UrlDecodeUnsafe(ptr: usize, len: usize): Uint8Array | null {
  const rem = len & 3;
  if (rem == 1) return null;
  const full = len - rem;
  const out = new Uint8Array(<i32>((full >> 2) * 3 + (rem == 0 ? 0 : rem - 1)));
  let o = out.dataStart;
  for (let i: usize = 0; i < full; i += 4) {
    const a = sextet(load<u8>(ptr + i)), b = sextet(load<u8>(ptr + i + 1));
    const c = sextet(load<u8>(ptr + i + 2)), d = sextet(load<u8>(ptr + i + 3));
    if ((a | b | c | d) > 63) return null;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    store<u8>(o, <u8>(v >> 16));
    store<u8>(o + 1, <u8>(v >> 8));
    store<u8>(o + 2, <u8>v);
    o += 3;
  }
  if (rem == 2) {
    const a = sextet(load<u8>(ptr + full)), b = sextet(load<u8>(ptr + full + 1));
    if ((a | b) > 63 || (b & 0x0F) != 0) return null;
    store<u8>(o, <u8>((a << 2) | (b >> 4)));
  } else if (rem == 3) {
    const a = sextet(load<u8>(ptr + full)), b = sextet(load<u8>(ptr + full + 1)), c = sextet(load<u8>(ptr + full + 2));
    if ((a | b | c) > 63 || (c & 0x03) != 0) return null;
    const v = (a << 10) | (b << 4) | (c >> 2);
    store<u8>(o, <u8>(v >> 8));
    store<u8>(o + 1, <u8>v);
  }
  return out;
}

/** Decodes a base64url string (see base64UrlDecodeUnsafe); non-ASCII text is rejected. */
export function base64UrlDecodeString(s: string): Uint8Array | null {
  const n = s.length;
  const buf = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) return null;
    buf[i] = <u8>c;
  }
  return base64UrlDecodeUnsafe(buf.dataStart, <usize>n);
}

/** Encodes bytes as base64url; with `pad`, '=' padding is added (Envoy's pad_forward_payload_header). */
export function base64UrlEncodeUnsafe(ptr: usize, len: usize, pad: bool): string {
  const parts = new Array<string>();
  let chunk = "";
  let i: usize = 0;
  for (; i + 3 <= len; i += 3) {
    const v = (<u32>load<u8>(ptr + i) << 16) | (<u32>load<u8>(ptr + i + 1) << 8) | <u32>load<u8>(ptr + i + 2);
    chunk += B64URL_ALPHABET.charAt(<i32>(v >> 18)) + B64URL_ALPHABET.charAt(<i32>((v >> 12) & 63))
      + B64URL_ALPHABET.charAt(<i32>((v >> 6) & 63)) + B64URL_ALPHABET.charAt(<i32>(v & 63));
    if (chunk.length >= 1024) { parts.push(chunk); chunk = ""; }
  }
  const rem = len - i;
  if (rem == 1) {
    const v = <u32>load<u8>(ptr + i) << 16;
    chunk += B64URL_ALPHABET.charAt(<i32>(v >> 18)) + B64URL_ALPHABET.charAt(<i32>((v >> 12) & 63));
    if (pad) chunk += "==";
  } else if (rem == 2) {
    const v = (<u32>load<u8>(ptr + i) << 16) | (<u32>load<u8>(ptr + i + 1) << 8);
    chunk += B64URL_ALPHABET.charAt(<i32>(v >> 18)) + B64URL_ALPHABET.charAt(<i32>((v >> 12) & 63)) + B64URL_ALPHABET.charAt(<i32>((v >> 6) & 63));
    if (pad) chunk += "=";
  }
  parts.push(chunk);
  return parts.join("");
}

/** Decodes lower- or upper-case hex of even length; null otherwise. */
export function hexDecode(s: string): Uint8Array | null {
  const n = s.length;
  if ((n & 1) != 0) return null;
  const out = new Uint8Array(n >> 1);
  for (let i = 0; i < n; i += 2) {
    const hi = hexDigit(s.charCodeAt(i)), lo = hexDigit(s.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return null;
    out[i >> 1] = <u8>((hi << 4) | lo);
  }
  return out;
}

function hexDigit(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** A view of an ArrayBuffer's bytes (no copy). */
// @ts-ignore: decorator
@inline export function bytesOf(b: ArrayBuffer): Uint8Array { return Uint8Array.wrap(b); }

/** True when the `len` bytes at `ptr` equal the ASCII string `s`. */
export function asciiEqualsUnsafe(ptr: usize, len: usize, s: string): bool {
  if (<usize>s.length != len) return false;
  for (let i: usize = 0; i < len; i++) {
    if (<u32>load<u8>(ptr + i) != <u32>s.charCodeAt(<i32>i)) return false;
  }
  return true;
}
