// Envoy-style string and header matchers, shared by every filter that selects requests by their headers
// (fault, routing, rate limiting...). The configuration is the JSON form of Envoy's
// `type.matcher.v3.StringMatcher` and `config.route.v3.HeaderMatcher`, so a block copied from an Envoy or
// Istio config means the same thing here:
//
//   {"name": "x-user", "string_match": {"prefix": "test-", "ignore_case": true}}
//   {"name": "x-canary", "present_match": true}
//   {"name": ":path", "safe_regex_match": {"regex": "/api/v[12]/.*"}, "invert_match": true}
//
// Parse once in onConfigure (errors name the field, e.g. `headers[1].string_match.prefix: must not be
// empty`); match per request against bytes in place. A request's headers are fetched from the host once
// into a HeaderView (one host call and one buffer, whatever the number of matchers), and matching
// allocates nothing more, except to join the values of a header that occurs several times.
//
// Semantics follow Envoy's HeaderUtility::matchHeaders:
//  - several values of one header are joined with "," before matching;
//  - a missing header matches only `present_match: false` (and, inverted, `present_match: true`):
//    `invert_match` does NOT turn "missing" into a match for the value matchers, unless
//    `treat_missing_header_as_empty` is set, which matches the missing header as an empty value;
//  - regexes (RE2 syntax, sdk/assembly/regex) must match the whole value;
//  - `ignore_case` folds ASCII letters only, and has no effect on `safe_regex`;
//  - the deprecated `exact_match: ""` matches any value of a present header (Envoy keeps that quirk);
//  - `range_match` {start, end} matches an integer value in [start, end).

import { ConfigObject, ConfigArray } from "./config";
import { HeaderMap, requestHeaders } from "./headers";
import { getMapPairs } from "./internal/hostcalls";
import { Regex } from "./regex";
import { encodeUtf8 } from "./utf8";
import { isHeaderName, asciiLower } from "./header";

// ---------------------------------------------------------------------------------------------------------
// Strings

/** Why the last StringMatcher.compile returned null. */
export let lastCompileError: string = "";

// @ts-ignore: decorator
@lazy const EMPTY = new ArrayBuffer(0);

export enum StringMatchKind { Exact = 0, Prefix = 1, Suffix = 2, Contains = 3, Regex = 4 }

/** One StringMatcher: exact, prefix, suffix, contains (optionally ignoring ASCII case) or an RE2 regex. */
export class StringMatcher {
  /** The pattern as UTF-8 bytes, lower-cased when `ignoreCase` (empty for regexes). */
  readonly pattern: ArrayBuffer;

  constructor(
    public readonly kind: StringMatchKind,
    /** The pattern as written in the configuration. */
    public readonly text: string,
    public readonly ignoreCase: bool = false,
    public readonly regex: Regex | null = null,
  ) {
    this.pattern = kind == StringMatchKind.Regex ? new ArrayBuffer(0) : encodeUtf8(ignoreCase ? asciiLower(text) : text);
  }

  /**
   * Parses a StringMatcher object ({"exact"|"prefix"|"suffix"|"contains"|"safe_regex": ..., "ignore_case"}).
   * Returns null and records the error in `cfg.errors` when it is invalid. Valid in onConfigure.
   */
  static parse(cfg: ConfigObject): StringMatcher | null {
    if (!cfg.allowOnly(["exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case"])) return null;
    const which = cfg.oneOf(["exact", "prefix", "suffix", "contains", "safe_regex"], true);
    const ignoreCase = cfg.bool("ignore_case", false);
    if (which.length == 0 || !cfg.errors.ok) return null;
    if (which == "safe_regex") {
      const re = cfg.object("safe_regex", true);
      return re !== null ? parseRegexMatcher(re) : null;
    }
    const text = cfg.string(which, "", true);
    if (!cfg.errors.ok) return null;
    // Envoy's validation: prefix, suffix and contains need at least one character; exact may be empty.
    if (which != "exact" && text.length == 0) { cfg.error(which, "must not be empty"); return null; }
    const kind = which == "exact" ? StringMatchKind.Exact
      : which == "prefix" ? StringMatchKind.Prefix
      : which == "suffix" ? StringMatchKind.Suffix
      : StringMatchKind.Contains;
    return new StringMatcher(kind, text, ignoreCase);
  }

  /** A matcher built in code: `StringMatcher.of(StringMatchKind.Prefix, "/api/")`. Not for regexes. */
  static of(kind: StringMatchKind, text: string, ignoreCase: bool = false): StringMatcher {
    assert(kind != StringMatchKind.Regex, "use StringMatcher.compile for regexes");
    return new StringMatcher(kind, text, ignoreCase);
  }

  /**
   * A regex matcher built in code; null when the pattern is rejected, with the reason (Regex.compile's
   * message) in `lastCompileError`.
   */
  static compile(pattern: string): StringMatcher | null {
    const r = Regex.compile(pattern);
    lastCompileError = r.ok ? "" : r.error!.message;
    return r.ok ? new StringMatcher(StringMatchKind.Regex, pattern, false, r.regex) : null;
  }

  /** Matches `len` bytes at `ptr` (for example a header value still in the host's buffer). Allocates nothing. */
  matchesUnsafe(ptr: usize, len: usize): bool {
    const p = changetype<usize>(this.pattern);
    const pl = <usize>this.pattern.byteLength;
    switch (this.kind) {
      case StringMatchKind.Exact: return len == pl && bytesEqual(ptr, p, pl, this.ignoreCase);
      case StringMatchKind.Prefix: return len >= pl && bytesEqual(ptr, p, pl, this.ignoreCase);
      case StringMatchKind.Suffix: return len >= pl && bytesEqual(ptr + len - pl, p, pl, this.ignoreCase);
      case StringMatchKind.Contains: return indexOfBytes(ptr, len, p, pl, this.ignoreCase) >= 0;
      default: return this.regex!.fullMatchUnsafe(ptr, len);
    }
  }

  /** Matches a byte buffer. */
  matches(value: ArrayBuffer): bool {
    return this.matchesUnsafe(changetype<usize>(value), <usize>value.byteLength);
  }

  /** Matches a string (encodes it to UTF-8 first, so it allocates: prefer bytes on hot paths). */
  matchesString(value: string): bool {
    return this.matches(encodeUtf8(value));
  }
}

/** Parses Envoy's RegexMatcher ({"regex": "...", "google_re2": {}}) into a StringMatcher of kind Regex. */
function parseRegexMatcher(cfg: ConfigObject): StringMatcher | null {
  if (!cfg.allowOnly(["regex", "google_re2"])) return null;
  cfg.object("google_re2"); // accepted for compatibility (its max_program_size is deprecated in Envoy too)
  const pattern = cfg.string("regex", "", true);
  if (!cfg.errors.ok) return null;
  if (pattern.length == 0) { cfg.error("regex", "must not be empty"); return null; }
  const r = Regex.compile(pattern);
  if (!r.ok) { cfg.error("regex", "invalid regex: " + r.error!.message); return null; }
  return new StringMatcher(StringMatchKind.Regex, pattern, false, r.regex);
}

// ---------------------------------------------------------------------------------------------------------
// Headers

/**
 * A request's (or response's) headers as one buffer from the host, readable in place. Reuse one view:
 * `load` replaces its content and only allocates the host's buffer (and, the first time or for a request
 * with more headers than ever before, the offset tables).
 */
export class HeaderView {
  private buf: ArrayBuffer = new ArrayBuffer(0);
  private n: i32 = 0;
  // Bit (length & 31) is set for the length of every key held: a lookup of a name whose length no key has
  // (most lookups, for a header a request rarely carries) answers without a scan.
  private lengths: u32 = 0;
  // Offsets into buf of each key and value, and their lengths.
  private keyAt: StaticArray<u32> = new StaticArray<u32>(0);
  private keyLen: StaticArray<u32> = new StaticArray<u32>(0);
  private valueAt: StaticArray<u32> = new StaticArray<u32>(0);
  private valueLen: StaticArray<u32> = new StaticArray<u32>(0);

  /**
   * Fetches every header of `map` from the host (one call). Returns false, leaving the view empty, when the
   * map is not available now (e.g. request headers before onRequestHeaders) or the host's buffer is malformed.
   */
  load(map: HeaderMap = requestHeaders): bool {
    const raw = getMapPairs(map.mapType);
    if (raw === null) { this.clear(); return false; }
    return this.loadPairs(raw);
  }

  /** Uses an already serialized header map (the ABI's pairs format) without copying it. */
  loadPairs(pairs: ArrayBuffer): bool {
    this.buf = pairs;
    this.n = 0;
    this.lengths = 0;
    const len = <usize>pairs.byteLength;
    if (len == 0) return true;
    if (len < 4) { this.clear(); return false; }
    const base = changetype<usize>(pairs);
    const n = <usize>load<u32>(base);
    if (n > (len - 4) / 10) { this.clear(); return false; }
    this.reserve(<i32>n);
    let sizes = base + 4;
    let data: usize = 4 + n * 8;
    let lengths: u32 = 0;
    for (let i: usize = 0; i < n; i++) {
      const kl = <usize>load<u32>(sizes);
      const vl = <usize>load<u32>(sizes, 4);
      sizes += 8;
      if (kl > len - data || len - data - kl < 1) { this.clear(); return false; }
      unchecked(this.keyAt[<i32>i] = <u32>data);
      unchecked(this.keyLen[<i32>i] = <u32>kl);
      lengths |= 1 << <u32>kl;
      data += kl + 1;
      if (vl > len - data || len - data - vl < 1) { this.clear(); return false; }
      unchecked(this.valueAt[<i32>i] = <u32>data);
      unchecked(this.valueLen[<i32>i] = <u32>vl);
      data += vl + 1;
    }
    this.n = <i32>n;
    this.lengths = lengths;
    return true;
  }

  /** Forgets the current headers (and drops the reference to their buffer). */
  clear(): void {
    this.buf = EMPTY;
    this.n = 0;
    this.lengths = 0;
  }

  /** Number of headers (a header sent twice counts twice). */
  get size(): i32 { return this.n; }

  /** Index of the first header named `key` (lower-case UTF-8 bytes) at or after `from`, or -1. */
  indexOf(key: ArrayBuffer, from: i32 = 0): i32 {
    const kp = changetype<usize>(key);
    const kl = <u32>key.byteLength;
    if ((this.lengths & (1 << kl)) == 0) return -1; // wasm shifts by kl mod 32, as loadPairs set the bit
    const base = changetype<usize>(this.buf);
    for (let i = from; i < this.n; i++) {
      if (unchecked(this.keyLen[i]) == kl && memory.compare(base + unchecked(this.keyAt[i]), kp, kl) == 0) return i;
    }
    return -1;
  }

  /** Address of the i-th value's bytes (valid until the next load). */
  valuePtr(i: i32): usize { return changetype<usize>(this.buf) + this.valueAt[i]; }
  valueLength(i: i32): usize { return <usize>this.valueLen[i]; }
  keyPtr(i: i32): usize { return changetype<usize>(this.buf) + this.keyAt[i]; }
  keyLength(i: i32): usize { return <usize>this.keyLen[i]; }

  /** A copy of the i-th value. */
  value(i: i32): ArrayBuffer { return copyOut(this.valuePtr(i), this.valueLength(i)); }

  /** A copy of the first value of `key`, or null when absent. */
  first(key: ArrayBuffer): ArrayBuffer | null {
    const i = this.indexOf(key);
    return i < 0 ? null : this.value(i);
  }

  private reserve(n: i32): void {
    if (this.keyAt.length >= n) return;
    let cap = this.keyAt.length * 2;
    if (cap < n) cap = n;
    if (cap < 32) cap = 32;
    this.keyAt = new StaticArray<u32>(cap);
    this.keyLen = new StaticArray<u32>(cap);
    this.valueAt = new StaticArray<u32>(cap);
    this.valueLen = new StaticArray<u32>(cap);
  }
}

export enum HeaderMatchKind {
  /** A StringMatcher on the value (string_match, safe_regex_match, prefix/suffix/contains_match). */
  String = 0,
  /** The deprecated exact_match: like StringMatcher exact, except that "" matches any value. */
  LegacyExact = 1,
  /** range_match: the value is an integer in [start, end). */
  Range = 2,
  /** present_match (also what a matcher with no specifier means). */
  Present = 3,
}

/** One HeaderMatcher. */
export class HeaderMatcher {
  /** The header name, lower-cased, as UTF-8 bytes. */
  readonly key: ArrayBuffer;
  /** The string matcher for kinds String and LegacyExact. */
  string: StringMatcher | null = null;
  rangeStart: i64 = 0;
  rangeEnd: i64 = 0;
  present: bool = true;
  invert: bool = false;
  treatMissingAsEmpty: bool = false;

  constructor(public readonly name: string, public readonly kind: HeaderMatchKind) {
    this.key = encodeUtf8(name);
  }

  /** A matcher built in code on a string match, e.g. `HeaderMatcher.of("x-env", StringMatcher.of(StringMatchKind.Exact, "test"))`. */
  static of(name: string, matcher: StringMatcher, invert: bool = false): HeaderMatcher {
    const m = new HeaderMatcher(asciiLower(name), HeaderMatchKind.String);
    m.string = matcher;
    m.invert = invert;
    return m;
  }

  /** A presence matcher built in code. */
  static presence(name: string, present: bool = true, invert: bool = false): HeaderMatcher {
    const m = new HeaderMatcher(asciiLower(name), HeaderMatchKind.Present);
    m.present = present;
    m.invert = invert;
    return m;
  }

  /**
   * Parses one HeaderMatcher object. Returns null and records the error (naming the field) in
   * `cfg.errors` when it is invalid. Valid in onConfigure.
   */
  static parse(cfg: ConfigObject): HeaderMatcher | null {
    if (!cfg.allowOnly([
      "name", "exact_match", "safe_regex_match", "range_match", "present_match", "prefix_match",
      "suffix_match", "contains_match", "string_match", "invert_match", "treat_missing_header_as_empty",
    ])) return null;
    const rawName = cfg.string("name", "", true);
    if (!cfg.errors.ok) return null;
    if (!isHeaderName(rawName)) {
      cfg.error("name", rawName.length == 0 ? "must not be empty" : "\"" + rawName + "\" is not a valid header name");
      return null;
    }
    const name = asciiLower(rawName);
    const which = cfg.oneOf([
      "exact_match", "safe_regex_match", "range_match", "present_match", "prefix_match", "suffix_match",
      "contains_match", "string_match",
    ], false);
    const invert = cfg.bool("invert_match", false);
    const missingAsEmpty = cfg.bool("treat_missing_header_as_empty", false);
    if (!cfg.errors.ok) return null;

    let m: HeaderMatcher;
    if (which.length == 0 || which == "present_match") {
      // No specifier: Envoy matches on presence.
      m = new HeaderMatcher(name, HeaderMatchKind.Present);
      m.present = which.length == 0 ? true : cfg.bool("present_match", true);
    } else if (which == "exact_match") {
      m = new HeaderMatcher(name, HeaderMatchKind.LegacyExact);
      m.string = new StringMatcher(StringMatchKind.Exact, cfg.string("exact_match"));
    } else if (which == "prefix_match" || which == "suffix_match" || which == "contains_match") {
      const text = cfg.string(which);
      if (cfg.errors.ok && text.length == 0) cfg.error(which, "must not be empty");
      m = new HeaderMatcher(name, HeaderMatchKind.String);
      m.string = new StringMatcher(
        which == "prefix_match" ? StringMatchKind.Prefix : which == "suffix_match" ? StringMatchKind.Suffix : StringMatchKind.Contains,
        text);
    } else if (which == "safe_regex_match") {
      const re = cfg.object("safe_regex_match", true);
      m = new HeaderMatcher(name, HeaderMatchKind.String);
      if (re !== null) m.string = parseRegexMatcher(re);
    } else if (which == "string_match") {
      const sm = cfg.object("string_match", true);
      m = new HeaderMatcher(name, HeaderMatchKind.String);
      if (sm !== null) m.string = StringMatcher.parse(sm);
    } else {
      const range = cfg.object("range_match", true);
      m = new HeaderMatcher(name, HeaderMatchKind.Range);
      if (range !== null && range.allowOnly(["start", "end"])) {
        m.rangeStart = range.int("start", 0, i64.MIN_VALUE, i64.MAX_VALUE);
        m.rangeEnd = range.int("end", 0, i64.MIN_VALUE, i64.MAX_VALUE);
        if (range.errors.ok && m.rangeEnd <= m.rangeStart) range.error("end", "must be greater than start (the range is [start, end))");
      }
    }
    if (!cfg.errors.ok) return null;
    m.invert = invert;
    m.treatMissingAsEmpty = missingAsEmpty;
    return m;
  }

  /**
   * Whether the header's value (joined as Envoy does when it occurs several times) satisfies this
   * matcher. `view` holds the headers, loaded once for all matchers.
   */
  matches(view: HeaderView): bool {
    const first = view.indexOf(this.key);
    if (first < 0) return this.matchesMissing();
    const next = view.indexOf(this.key, first + 1);
    if (next < 0) return this.matchesValueUnsafe(view.valuePtr(first), view.valueLength(first));
    // Repeated header: join every value with "," into the scratch buffer, as Envoy does.
    let total: usize = view.valueLength(first);
    for (let i = next; i >= 0; i = view.indexOf(this.key, i + 1)) total += 1 + view.valueLength(i);
    const out = scratch(total);
    let at = out;
    memory.copy(at, view.valuePtr(first), view.valueLength(first));
    at += view.valueLength(first);
    for (let i = next; i >= 0; i = view.indexOf(this.key, i + 1)) {
      store<u8>(at, 0x2C); // ","
      at++;
      memory.copy(at, view.valuePtr(i), view.valueLength(i));
      at += view.valueLength(i);
    }
    return this.matchesValueUnsafe(out, total);
  }

  /** The outcome for a header that is absent. */
  matchesMissing(): bool {
    if (this.treatMissingAsEmpty) return this.matchesValueUnsafe(0, 0);
    if (this.kind != HeaderMatchKind.Present) return false;
    return this.present == this.invert;
  }

  /** The outcome for a present header whose (joined) value is the `len` bytes at `ptr`. */
  matchesValueUnsafe(ptr: usize, len: usize): bool {
    let match: bool;
    switch (this.kind) {
      case HeaderMatchKind.Present: { match = this.present; break; }
      case HeaderMatchKind.Range: {
        const v = parseIntegerUnsafe(ptr, len);
        match = parsedOk && v >= this.rangeStart && v < this.rangeEnd;
        break;
      }
      case HeaderMatchKind.LegacyExact: {
        const s = this.string!;
        match = s.pattern.byteLength == 0 || s.matchesUnsafe(ptr, len);
        break;
      }
      default: { match = this.string!.matchesUnsafe(ptr, len); break; }
    }
    return match != this.invert;
  }
}

/** A list of HeaderMatchers that must all match (what Envoy's `headers` fields mean). Empty matches everything. */
export class HeaderMatchers {
  private view: HeaderView = new HeaderView();

  constructor(public readonly matchers: HeaderMatcher[] = []) {}

  /**
   * Parses the array field `key` of `cfg` (absent: no matchers). Invalid entries are recorded in
   * `cfg.errors` with their index, e.g. `headers[2].name: must not be empty`.
   */
  static parse(cfg: ConfigObject, key: string = "headers"): HeaderMatchers {
    const arr = cfg.array(key);
    return arr !== null ? HeaderMatchers.parseArray(arr) : new HeaderMatchers();
  }

  static parseArray(arr: ConfigArray): HeaderMatchers {
    const out = new Array<HeaderMatcher>();
    for (let i = 0; i < arr.length; i++) {
      const o = arr.object(i);
      if (o === null) break;
      const m = HeaderMatcher.parse(o);
      if (m === null) break;
      out.push(m);
    }
    return new HeaderMatchers(out);
  }

  get length(): i32 { return this.matchers.length; }
  get isEmpty(): bool { return this.matchers.length == 0; }

  /** True when every matcher matches the headers in `view`. */
  matchesView(view: HeaderView): bool {
    for (let i = 0, n = this.matchers.length; i < n; i++) {
      if (!unchecked(this.matchers[i]).matches(view)) return false;
    }
    return true;
  }

  /**
   * True when every matcher matches `map` (request headers by default), fetching the headers once into
   * this list's own view. With no matchers it is true and makes no host call. Valid where `map` is.
   */
  matches(map: HeaderMap = requestHeaders): bool {
    if (this.matchers.length == 0) return true;
    this.view.load(map);
    const ok = this.matchesView(this.view);
    this.view.clear();
    return ok;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** Set by parseIntegerUnsafe: whether the last parse succeeded. */
export let parsedOk: bool = false;

/**
 * Parses a decimal integer the way Envoy parses numeric header values (absl::SimpleAtoi into int64):
 * optional surrounding ASCII whitespace, an optional sign, digits, no overflow. Returns the value and sets
 * `parsedOk`; on failure returns 0 with `parsedOk` false. Allocates nothing.
 */
export function parseIntegerUnsafe(ptr: usize, len: usize): i64 {
  parsedOk = false;
  let i: usize = 0;
  let end = len;
  while (i < end && isSpace(load<u8>(ptr + i))) i++;
  while (end > i && isSpace(load<u8>(ptr + end - 1))) end--;
  if (i == end) return 0;
  let negative = false;
  const sign = load<u8>(ptr + i);
  if (sign == 0x2D || sign == 0x2B) { negative = sign == 0x2D; i++; }
  if (i == end) return 0;
  // Accumulate negatively so i64.MIN_VALUE parses too.
  let v: i64 = 0;
  for (; i < end; i++) {
    const c = <i32>load<u8>(ptr + i) - 48;
    if (c < 0 || c > 9) return 0;
    if (v < (i64.MIN_VALUE + c) / 10) return 0;
    v = v * 10 - c;
  }
  if (!negative) {
    if (v == i64.MIN_VALUE) return 0;
    v = -v;
  }
  parsedOk = true;
  return v;
}

/** parseIntegerUnsafe over a buffer. */
export function parseInteger(value: ArrayBuffer): i64 {
  return parseIntegerUnsafe(changetype<usize>(value), <usize>value.byteLength);
}

// @ts-ignore: decorator
@inline function isSpace(c: u8): bool { return c == 0x20 || (c >= 0x09 && c <= 0x0D); }

// @ts-ignore: decorator
@inline function lowerByte(c: u32): u32 { return c - 0x41 < 26 ? c | 0x20 : c; }

function bytesEqual(a: usize, b: usize, n: usize, ignoreCase: bool): bool {
  if (!ignoreCase) return memory.compare(a, b, n) == 0;
  // b (the pattern) is already lower-case.
  for (let i: usize = 0; i < n; i++) {
    if (lowerByte(<u32>load<u8>(a + i)) != <u32>load<u8>(b + i)) return false;
  }
  return true;
}

function indexOfBytes(hay: usize, hayLen: usize, needle: usize, needleLen: usize, ignoreCase: bool): isize {
  if (needleLen == 0) return 0;
  if (needleLen > hayLen) return -1;
  const first = <u32>load<u8>(needle);
  const last = hayLen - needleLen;
  for (let i: usize = 0; i <= last; i++) {
    const c = <u32>load<u8>(hay + i);
    if ((ignoreCase ? lowerByte(c) : c) == first && bytesEqual(hay + i, needle, needleLen, ignoreCase)) return <isize>i;
  }
  return -1;
}

function copyOut(ptr: usize, len: usize): ArrayBuffer {
  const out = new ArrayBuffer(<i32>len);
  memory.copy(changetype<usize>(out), ptr, len);
  return out;
}

// Scratch space for joined header values; grows to the largest joined value seen and is then reused.
let scratchBuf: ArrayBuffer = new ArrayBuffer(256);
function scratch(size: usize): usize {
  if (<usize>scratchBuf.byteLength < size) scratchBuf = new ArrayBuffer(<i32>(size * 2));
  return changetype<usize>(scratchBuf);
}
