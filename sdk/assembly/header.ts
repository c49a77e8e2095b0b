import { decodeUtf8, encodeUtf8, bytesEqualString } from "./utf8";

/**
 * One header (or trailer, or gRPC metadata entry). Names and values are bytes, exactly as the host sent
 * them; `name` / `value` decode on request and never trap on invalid UTF-8.
 */
export class Header {
  constructor(public key: ArrayBuffer, public value: ArrayBuffer) {}

  /** A header from strings (encoded as UTF-8). */
  static of(name: string, value: string): Header {
    return new Header(encodeUtf8(name), encodeUtf8(value));
  }

  get name(): string { return decodeUtf8(this.key); }
  get valueString(): string { return decodeUtf8(this.value); }

  /** True when the name equals `name` byte for byte (the host lower-cases names it stores). */
  is(name: string): bool { return bytesEqualString(this.key, name); }
}

/** An HTTP field name (RFC 9110 token), optionally with a leading ":" for pseudo-headers. For config checks. */
export function isHeaderName(s: string): bool {
  const n = s.length;
  let i = n > 0 && s.charCodeAt(0) == 58 ? 1 : 0;
  if (i == n) return false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    // ! # $ % & ' * + - . ^ _ ` | ~
    if (!alnum && c != 33 && !(c >= 35 && c <= 39) && c != 42 && c != 43 && c != 45 && c != 46 && c != 94 && c != 95 && c != 96 && c != 124 && c != 126) return false;
  }
  return true;
}

/**
 * A header value Envoy can carry unchanged: no control characters (NUL, CR, LF and the other C0 controls
 * except HTAB, and DEL), as RFC 9110 §5.5 field-value requires; bytes ≥ 0x80 (obs-text) are allowed. Check
 * values that come from untrusted input (token claims, callout responses) before writing them: Envoy does
 * not re-validate headers a Wasm filter sets, so a CR LF would split the header upstream.
 */
export function isHeaderValue(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c != 9) || c == 127) return false;
  }
  return true;
}

/** isHeaderValue for bytes (a value as the host or a callout gave it). */
export function isHeaderValueBytes(b: ArrayBuffer): bool {
  const p = changetype<usize>(b);
  for (let i: usize = 0, n = <usize>b.byteLength; i < n; i++) {
    const c = load<u8>(p + i);
    if ((c < 32 && c != 9) || c == 127) return false;
  }
  return true;
}

/**
 * ASCII lower-casing, as Envoy does for header names and case-insensitive path matches: only A–Z change,
 * so lengths and offsets stay those of the input (String#toLowerCase maps `İ` to two code units and the
 * Kelvin sign to `k`). Returns `s` itself when nothing changes.
 */
export function asciiLower(s: string): string {
  const n = s.length;
  let i = 0;
  while (i < n) { const c = s.charCodeAt(i); if (c >= 65 && c <= 90) break; i++; }
  if (i == n) return s;
  const b = new StaticArray<u16>(n);
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    unchecked(b[k] = <u16>(c >= 65 && c <= 90 ? c + 32 : c));
  }
  return String.UTF16.decodeUnsafe(changetype<usize>(b), <usize>n << 1);
}
