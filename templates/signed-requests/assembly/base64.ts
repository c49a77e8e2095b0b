// Base64 decoding for signature headers: the standard and the URL-safe alphabet, padding optional,
// anything else refused (null), so a malformed header is a clear 400, never a trap.

/** The 6-bit value of a base64 character of either alphabet, or -1. */
function sextet(c: i32): i32 {
  if (c >= 65 && c <= 90) return c - 65; // A-Z
  if (c >= 97 && c <= 122) return c - 71; // a-z
  if (c >= 48 && c <= 57) return c + 4; // 0-9
  if (c == 43 || c == 45) return 62; // + -
  if (c == 47 || c == 95) return 63; // / _
  return -1;
}

/** The bytes `text` encodes, or null when it is not base64. */
export function decodeBase64(text: string): ArrayBuffer | null {
  let n = text.length;
  while (n > 0 && text.charCodeAt(n - 1) == 61) n--; // trailing '='
  if (text.length - n > 2 || n % 4 == 1) return null;
  const out = new ArrayBuffer((n * 3) >> 2);
  const p = changetype<usize>(out);
  let acc: u32 = 0, bits: u32 = 0, at = 0;
  for (let i = 0; i < n; i++) {
    const v = sextet(text.charCodeAt(i));
    if (v < 0) return null;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      store<u8>(p + <usize>at, <u8>((acc >> bits) & 0xff));
      at++;
    }
  }
  return out;
}
