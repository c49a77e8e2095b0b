// Character sets as sorted lists of inclusive ranges over matching units.
//
// A matching unit is a Unicode code point (0..0x10FFFF) or INVALID_UNIT, which stands for one byte of
// invalid UTF-8 (or one lone surrogate in a UTF-16 string). Positive sets written in a pattern never
// contain INVALID_UNIT; negations are taken over the whole unit space, so `.`, `[^a]` and `\D` match it.
// Range lists are flat `[lo0, hi0, lo1, hi1, ...]` arrays, built at compile time only.

/** The unit an invalid UTF-8 byte (or lone UTF-16 surrogate) decodes to. */
// @ts-ignore: decorator
@inline export const INVALID_UNIT: i32 = 0x110000;
/** Largest code point a pattern may name. */
// @ts-ignore: decorator
@inline export const MAX_CODE_POINT: i32 = 0x10ffff;

export function addRange(set: Array<i32>, lo: i32, hi: i32): void {
  set.push(lo);
  set.push(hi);
}

/** Adds another set's ranges; `negated` adds its complement instead (used by `\D` inside `[...]`). */
export function addSet(set: Array<i32>, other: Array<i32>, negated: bool): void {
  const src = negated ? negate(normalize(other)) : other;
  for (let i = 0; i < src.length; i += 2) addRange(set, src[i], src[i + 1]);
}

/** Sorts ranges by start and merges overlapping or adjacent ones. */
export function normalize(set: Array<i32>): Array<i32> {
  const n = set.length >> 1;
  const keys = new Array<i64>(n);
  for (let i = 0; i < n; i++) keys[i] = (i64(set[2 * i]) << 32) | i64(u32(set[2 * i + 1]));
  keys.sort();
  const out = new Array<i32>();
  for (let i = 0; i < n; i++) {
    const lo = i32(keys[i] >> 32);
    const hi = i32(keys[i] & 0xffffffff);
    const last = out.length - 1;
    if (last > 0 && lo <= out[last] + 1) {
      if (hi > out[last]) out[last] = hi;
    } else {
      out.push(lo);
      out.push(hi);
    }
  }
  return out;
}

/** Complement of a normalized set over all units, INVALID_UNIT included. */
export function negate(set: Array<i32>): Array<i32> {
  const out = new Array<i32>();
  let next = 0;
  for (let i = 0; i < set.length; i += 2) {
    if (set[i] > next) addRange(out, next, set[i] - 1);
    next = set[i + 1] + 1;
  }
  if (next <= INVALID_UNIT) addRange(out, next, INVALID_UNIT);
  return out;
}

/** Adds the other ASCII case of every ASCII letter in the set (`(?i)` folds ASCII letters only). */
export function foldAscii(set: Array<i32>): void {
  const n = set.length;
  for (let i = 0; i < n; i += 2) {
    foldInto(set, set[i], set[i + 1], 0x41, 0x5a, 0x20); // A-Z -> a-z
    foldInto(set, set[i], set[i + 1], 0x61, 0x7a, -0x20); // a-z -> A-Z
  }
}

function foldInto(set: Array<i32>, lo: i32, hi: i32, from: i32, to: i32, delta: i32): void {
  const a = max(lo, from);
  const b = min(hi, to);
  if (a <= b) addRange(set, a + delta, b + delta);
}

export function isAsciiLetter(c: i32): bool {
  return u32((c | 0x20) - 0x61) < 26;
}

/** ASCII word character, as `\w` and `\b` use it. */
// @ts-ignore: decorator
@inline export function isWordUnit(c: i32): bool {
  return u32(c - 0x30) < 10 || u32((c | 0x20) - 0x61) < 26 || c == 0x5f;
}

/** `\d`: [0-9] */
export function digitSet(): Array<i32> {
  return [0x30, 0x39];
}

/** `\w`: [0-9A-Za-z_] */
export function wordSet(): Array<i32> {
  return [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
}

/** `\s`: [\t\n\f\r ] (RE2's Perl space class: no \v, no Unicode spaces) */
export function spaceSet(): Array<i32> {
  return [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20];
}

/** The ASCII POSIX class `[:name:]`, or null when the name is not one of RE2's. */
export function posixSet(name: string): Array<i32> | null {
  if (name == "alnum") return [0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a];
  if (name == "alpha") return [0x41, 0x5a, 0x61, 0x7a];
  if (name == "ascii") return [0x00, 0x7f];
  if (name == "blank") return [0x09, 0x09, 0x20, 0x20];
  if (name == "cntrl") return [0x00, 0x1f, 0x7f, 0x7f];
  if (name == "digit") return [0x30, 0x39];
  if (name == "graph") return [0x21, 0x7e];
  if (name == "lower") return [0x61, 0x7a];
  if (name == "print") return [0x20, 0x7e];
  if (name == "punct") return [0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e];
  if (name == "space") return [0x09, 0x0d, 0x20, 0x20];
  if (name == "upper") return [0x41, 0x5a];
  if (name == "word") return [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
  if (name == "xdigit") return [0x30, 0x39, 0x41, 0x46, 0x61, 0x66];
  return null;
}
