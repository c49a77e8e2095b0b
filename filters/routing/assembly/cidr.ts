// Source address ranges for `sourceCidr`: IPv4 and IPv6 CIDR blocks parsed once, matched against Envoy's
// `source.address` attribute ("10.1.2.3:5678", "[2001:db8::1]:5678") read as bytes, without allocating.
// An IPv4-mapped IPv6 peer (::ffff:10.1.2.3, what a dual-stack listener reports) matches IPv4 blocks.

/** An address family tag: 4, 6, or 0 for "not an address". */
export type Family = i32;

/** 16 bytes of address (IPv4 uses the first 4) and its family, filled by parseAddressUnsafe. */
export class Address {
  readonly bytes: StaticArray<u8> = new StaticArray<u8>(16);
  family: Family = 0;
}

/** One block: `prefix` leading bits of `bytes` must equal the address's. */
export class Cidr {
  constructor(public readonly family: Family, public readonly bytes: StaticArray<u8>, public readonly prefix: i32, public readonly text: string) {}

  contains(a: Address): bool {
    if (a.family != this.family) {
      // ::ffff:a.b.c.d is the IPv4 peer a.b.c.d.
      if (this.family == 4 && a.family == 6 && isV4Mapped(a.bytes)) return prefixEqual(this.bytes, 0, a.bytes, 12, this.prefix);
      return false;
    }
    return prefixEqual(this.bytes, 0, a.bytes, 0, this.prefix);
  }
}

/** The outcome of parseCidr: a block or the reason it was rejected. */
export class CidrResult {
  constructor(public readonly cidr: Cidr | null, public readonly error: string) {}
}

/**
 * Parses "10.0.0.0/8", "2001:db8::/32" or a single address ("10.1.2.3" is /32, "::1" is /128).
 * Bits below the prefix must be zero, as Envoy's CidrRange and Kubernetes expect ("10.0.0.1/8" is rejected:
 * it usually means a typo).
 */
export function parseCidr(text: string): CidrResult {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.substring(0, slash);
  const enc = String.UTF8.encode(addrText);
  const a = new Address();
  if (!parseIpUnsafe(changetype<usize>(enc), <usize>enc.byteLength, a)) {
    return new CidrResult(null, "\"" + text + "\" is not an IPv4 or IPv6 address or CIDR block");
  }
  const bits = a.family == 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.substring(slash + 1);
    if (p.length == 0 || p.length > 3 || !isDigits(p)) return new CidrResult(null, "\"" + text + "\": the prefix length after / must be a number");
    prefix = I32.parseInt(p);
    if (prefix > bits) return new CidrResult(null, "\"" + text + "\": the prefix length must be at most " + bits.toString());
  }
  for (let bit = prefix; bit < bits; bit++) {
    if (bitAt(a.bytes, bit)) {
      return new CidrResult(null, "\"" + text + "\" has bits set after the /" + prefix.toString() + " prefix (did you mean " + maskedText(a, prefix) + "?)");
    }
  }
  const copy = new StaticArray<u8>(16);
  memory.copy(changetype<usize>(copy), changetype<usize>(a.bytes), 16);
  return new CidrResult(new Cidr(a.family, copy, prefix, text), "");
}

/**
 * Parses Envoy's `source.address` ("ip:port", "[ipv6]:port", or a bare address) into `out`.
 * Returns false for anything else (a pipe path, garbage). Allocates nothing.
 */
export function parseSocketAddressUnsafe(ptr: usize, len: usize, out: Address): bool {
  if (len == 0) { out.family = 0; return false; }
  if (load<u8>(ptr) == 0x5B /* [ */) {
    let close: usize = 1;
    while (close < len && load<u8>(ptr + close) != 0x5D /* ] */) close++;
    if (close == len) { out.family = 0; return false; }
    return parseIpUnsafe(ptr + 1, close - 1, out);
  }
  // IPv4 "a.b.c.d:port": cut at the only colon. Several colons: a bare IPv6 address.
  let colon: isize = -1;
  let colons = 0;
  for (let i: usize = 0; i < len; i++) {
    if (load<u8>(ptr + i) == 0x3A) { if (colons++ == 0) colon = <isize>i; }
  }
  if (colons == 1) return parseIpUnsafe(ptr, <usize>colon, out);
  return parseIpUnsafe(ptr, len, out);
}

/** The address part of `source.address` (without the port or brackets): what sticky hashing uses. */
export function addressTextEnd(ptr: usize, len: usize): usize {
  if (len > 0 && load<u8>(ptr) == 0x5B) {
    let close: usize = 1;
    while (close < len && load<u8>(ptr + close) != 0x5D) close++;
    return close < len ? close + 1 : len;
  }
  let colon: usize = len;
  let colons = 0;
  for (let i: usize = 0; i < len; i++) {
    if (load<u8>(ptr + i) == 0x3A) { if (colons++ == 0) colon = i; }
  }
  return colons == 1 ? colon : len;
}

/** Parses a textual IPv4 or IPv6 address (no brackets, no port, no zone) into `out`. */
export function parseIpUnsafe(ptr: usize, len: usize, out: Address): bool {
  out.family = 0;
  let hasColon = false;
  for (let i: usize = 0; i < len; i++) if (load<u8>(ptr + i) == 0x3A) { hasColon = true; break; }
  if (!hasColon) {
    if (!parseV4(ptr, len, out.bytes, 0)) return false;
    out.family = 4;
    return true;
  }
  if (!parseV6(ptr, len, out.bytes)) return false;
  out.family = 6;
  return true;
}

/** Dotted quad: exactly four decimal parts 0-255, no leading zeros beyond "0" itself. */
function parseV4(ptr: usize, len: usize, dst: StaticArray<u8>, at: i32): bool {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i: usize = 0; i <= len; i++) {
    const c: u32 = i < len ? <u32>load<u8>(ptr + i) : 0x2E;
    if (c == 0x2E) {
      if (digits == 0 || part > 3) return false;
      unchecked(dst[at + part] = <u8>value);
      part++;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value == 0) return false; // leading zero: ambiguous (octal in some parsers)
      value = value * 10 + <i32>(c - 0x30);
      if (value > 255 || ++digits > 3) return false;
    } else {
      return false;
    }
  }
  return part == 4;
}

/** RFC 4291 text: eight groups of 1-4 hex digits, at most one "::", optionally a dotted-quad tail. */
function parseV6(ptr: usize, len: usize, dst: StaticArray<u8>): bool {
  let n = 0; // groups written
  let gap = -1; // group index where "::" was
  let i: usize = 0;
  for (let k = 0; k < 16; k++) unchecked(dst[k] = 0);
  if (len >= 2 && load<u8>(ptr) == 0x3A && load<u8>(ptr + 1) == 0x3A) {
    gap = 0;
    i = 2;
    if (i == len) return true; // "::"
  } else if (len > 0 && load<u8>(ptr) == 0x3A) {
    return false;
  }
  while (i < len) {
    // A dotted-quad tail fills the last two groups.
    let j = i;
    let sawDot = false;
    while (j < len && load<u8>(ptr + j) != 0x3A) { if (load<u8>(ptr + j) == 0x2E) sawDot = true; j++; }
    if (sawDot) {
      if (j != len || n > 6) return false;
      if (!parseV4(ptr + i, len - i, dst, n * 2)) return false;
      n += 2;
      break;
    }
    const glen = j - i;
    if (glen == 0 || glen > 4 || n >= 8) return false;
    let v: u32 = 0;
    for (let k = i; k < j; k++) {
      const h = hexValue(<u32>load<u8>(ptr + k));
      if (h < 0) return false;
      v = (v << 4) | <u32>h;
    }
    unchecked(dst[n * 2] = <u8>(v >> 8));
    unchecked(dst[n * 2 + 1] = <u8>v);
    n++;
    if (j == len) break;
    // j is a colon: "::" marks the gap, a single ":" must be followed by another group.
    if (j + 1 < len && load<u8>(ptr + j + 1) == 0x3A) {
      if (gap >= 0) return false;
      gap = n;
      i = j + 2;
    } else {
      if (j + 1 == len) return false; // trailing single colon
      i = j + 1;
    }
  }
  if (gap < 0) return n == 8;
  if (n >= 8) return false; // "::" must stand for at least one group
  // Move the groups after the gap to the end.
  const after = n - gap;
  for (let k = after - 1; k >= 0; k--) {
    const from = (gap + k) * 2;
    const to = (8 - after + k) * 2;
    unchecked(dst[to] = dst[from]);
    unchecked(dst[to + 1] = dst[from + 1]);
  }
  for (let k = gap * 2; k < (8 - after) * 2; k++) unchecked(dst[k] = 0);
  return true;
}

function hexValue(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return <i32>(l - 0x61 + 10);
  return -1;
}

function isV4Mapped(b: StaticArray<u8>): bool {
  for (let i = 0; i < 10; i++) if (unchecked(b[i]) != 0) return false;
  return unchecked(b[10]) == 0xFF && unchecked(b[11]) == 0xFF;
}

function prefixEqual(a: StaticArray<u8>, aAt: i32, b: StaticArray<u8>, bAt: i32, bits: i32): bool {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (unchecked(a[aAt + i]) != unchecked(b[bAt + i])) return false;
  const rest = bits & 7;
  if (rest == 0) return true;
  const mask = <u32>(0xFF00 >> rest) & 0xFF;
  return (<u32>unchecked(a[aAt + whole]) & mask) == (<u32>unchecked(b[bAt + whole]) & mask);
}

/** Bit `bit` (0 = most significant bit of byte 0). */
function bitAt(b: StaticArray<u8>, bit: i32): bool {
  return ((<u32>unchecked(b[bit >> 3]) >> <u32>(7 - (bit & 7))) & 1) != 0;
}

function isDigits(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** The block's address with host bits cleared, for the error message's suggestion. */
function maskedText(a: Address, prefix: i32): string {
  const bits = a.family == 4 ? 32 : 128;
  const b = new StaticArray<u8>(16);
  for (let bit = 0; bit < prefix && bit < bits; bit++) {
    if (bitAt(a.bytes, bit)) b[bit >> 3] |= <u8>(<u32>0x80 >> <u32>(bit & 7));
  }
  if (a.family == 4) {
    return b[0].toString() + "." + b[1].toString() + "." + b[2].toString() + "." + b[3].toString() + "/" + prefix.toString();
  }
  // Plain (uncompressed) groups: unambiguous and good enough for a hint.
  let s = "";
  for (let g = 0; g < 8; g++) {
    if (g > 0) s += ":";
    s += ((<u32>b[g * 2] << 8) | <u32>b[g * 2 + 1]).toString(16);
  }
  return s + "/" + prefix.toString();
}
