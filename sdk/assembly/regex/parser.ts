// RE2-syntax parser for the subset documented in README.md. Produces an AST (ast.ts) or the first error.
import { Node, NodeKind } from "./ast";
import { RegexError, RegexErrorCode } from "./errors";
import {
  addRange, addSet, digitSet, foldAscii, isAsciiLetter, MAX_CODE_POINT, negate, normalize, posixSet, spaceSet,
  wordSet,
} from "./charclass";
import {
  AT_BEGIN_LINE, AT_BEGIN_TEXT, AT_END_LINE, AT_END_TEXT, AT_NOT_WORD_BOUNDARY, AT_WORD_BOUNDARY,
} from "./program";

/** Largest count allowed in `{n}`, `{n,}`, `{n,m}` (RE2's limit). */
// @ts-ignore: decorator
@inline export const MAX_REPEAT: i32 = 1000;
/** Deepest group nesting accepted; keeps the recursive parser and compiler far from the Wasm stack limit. */
// @ts-ignore: decorator
@inline export const MAX_NESTING: i32 = 1000;

// Flags, as set by (?flags) and (?flags:...).
// @ts-ignore: decorator
@inline const FLAG_I: i32 = 1; // case-insensitive (ASCII letters)
// @ts-ignore: decorator
@inline const FLAG_M: i32 = 2; // ^ and $ also match at line boundaries
// @ts-ignore: decorator
@inline const FLAG_S: i32 = 4; // . also matches \n
// @ts-ignore: decorator
@inline const FLAG_U: i32 = 8; // swap greedy and lazy (no effect on yes/no answers)

/** Returned by parseAtom for `(?flags)`, which changes state but matches nothing and cannot be repeated. */
const FLAGS_ONLY = new Node(NodeKind.Empty);

/** What parseClassItem found: a single code point, or a set it has already added. */
// @ts-ignore: decorator
@inline const ITEM_SET: i32 = -1;
// @ts-ignore: decorator
@inline const ITEM_ERROR: i32 = -2;

export class ParseResult {
  constructor(readonly node: Node | null, readonly error: RegexError | null) {}
}

export function parse(pattern: string): ParseResult {
  const p = new Parser(pattern);
  const node = p.parseAlternation();
  if (node !== null && p.error === null && p.pos < pattern.length) {
    // parseAlternation stops at the first unmatched ')'.
    p.fail(RegexErrorCode.Syntax, "unexpected ) with no group open", p.pos);
  }
  return p.error !== null ? new ParseResult(null, p.error) : new ParseResult(node, null);
}

class Parser {
  pos: i32 = 0;
  flags: i32 = 0;
  depth: i32 = 0;
  error: RegexError | null = null;

  constructor(readonly src: string) {}

  fail(code: RegexErrorCode, problem: string, at: i32): Node | null {
    if (this.error === null) {
      const prefix = code == RegexErrorCode.Unsupported ? "unsupported: " : "";
      this.error = new RegexError(code, at, prefix + problem + " at " + at.toString());
    }
    return null;
  }

  get eof(): bool {
    return this.pos >= this.src.length;
  }

  /** Code unit at `at`, or -1 past the end. Syntax characters are all ASCII, so code units suffice for them. */
  unit(at: i32): i32 {
    return at < this.src.length ? <i32>this.src.charCodeAt(at) : -1;
  }

  /** Reads one code point (joining a surrogate pair) and advances past it. */
  readCodePoint(): i32 {
    const cp = <i32>this.src.codePointAt(this.pos);
    this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }

  /** A slice of the pattern for messages, cut at `end` and at the pattern's end. */
  text(start: i32, end: i32): string {
    return this.src.substring(start, min(end, this.src.length));
  }

  // alternation := concat ('|' concat)*
  parseAlternation(): Node | null {
    const alts = new Array<Node>();
    for (;;) {
      const c = this.parseConcat();
      if (c === null) return null;
      alts.push(c);
      if (this.unit(this.pos) != 0x7c /* | */) break;
      this.pos++;
    }
    return Node.list(NodeKind.Alternate, alts);
  }

  // concat := (atom quantifier?)*, up to '|', ')' or the end
  parseConcat(): Node | null {
    const items = new Array<Node>();
    while (!this.eof) {
      const c = this.unit(this.pos);
      if (c == 0x7c || c == 0x29) break; // | )
      if (c == 0x2a || c == 0x2b || c == 0x3f || (c == 0x7b && this.repeatEnd(this.pos) > 0)) {
        const end = c == 0x7b ? this.repeatEnd(this.pos) : this.pos + 1;
        return this.fail(RegexErrorCode.Syntax, "missing argument to repetition operator " + this.text(this.pos, end), this.pos);
      }
      let atom: Node | null;
      if (c == 0x5c && this.unit(this.pos + 1) == 0x51) {
        // \Q...\E: literal text; like RE2, a quantifier after it applies to its last character only.
        const quoted = this.parseQuoted();
        if (quoted.length == 0) continue;
        for (let i = 0; i < quoted.length - 1; i++) items.push(quoted[i]);
        atom = quoted[quoted.length - 1];
      } else {
        atom = this.parseAtom();
        if (atom === null) return null;
        if (atom === FLAGS_ONLY) continue;
      }
      const rep = this.parseRepeat(atom);
      if (rep === null) return null;
      items.push(rep);
    }
    return Node.list(NodeKind.Concat, items);
  }

  /** If a counted repetition `{n}`, `{n,}` or `{n,m}` starts at `at`, the index after its `}`; else 0. */
  repeatEnd(at: i32): i32 {
    let i = at + 1;
    const d0 = i;
    while (u32(this.unit(i) - 0x30) < 10) i++;
    if (i == d0) return 0;
    if (this.unit(i) == 0x2c /* , */) {
      i++;
      while (u32(this.unit(i) - 0x30) < 10) i++;
    }
    return this.unit(i) == 0x7d /* } */ ? i + 1 : 0;
  }

  /** Parses digits at pos; saturates so huge counts still report "too large" rather than wrapping. */
  readCount(): i32 {
    let n = 0;
    while (u32(this.unit(this.pos) - 0x30) < 10) {
      n = min(n * 10 + (this.unit(this.pos) - 0x30), 100000000);
      this.pos++;
    }
    return n;
  }

  parseRepeat(atom: Node): Node | null {
    const start = this.pos;
    const c = this.unit(start);
    let lo = 0;
    let hi = -1;
    if (c == 0x2a) { // *
      this.pos++;
    } else if (c == 0x2b) { // +
      lo = 1;
      this.pos++;
    } else if (c == 0x3f) { // ?
      hi = 1;
      this.pos++;
    } else if (c == 0x7b && this.repeatEnd(start) > 0) { // {
      this.pos++;
      lo = this.readCount();
      hi = lo;
      if (this.unit(this.pos) == 0x2c) {
        this.pos++;
        hi = this.unit(this.pos) == 0x7d ? -1 : this.readCount();
      }
      this.pos++; // }
      if (lo > MAX_REPEAT || hi > MAX_REPEAT) {
        return this.fail(RegexErrorCode.TooLarge,
          "repetition count too large: " + this.text(start, this.pos) + " (the limit is " + MAX_REPEAT.toString() + ")", start);
      }
      if (hi >= 0 && hi < lo) {
        return this.fail(RegexErrorCode.Syntax, "bad repetition count " + this.text(start, this.pos) + ": max is less than min", start);
      }
    } else {
      return atom;
    }
    let lazy = false;
    if (this.unit(this.pos) == 0x3f) {
      lazy = true;
      this.pos++;
    }
    // Perl gives stacked operators other meanings (a*+ is possessive); RE2 rejects them all.
    const n = this.unit(this.pos);
    if (n == 0x2b && !lazy) {
      return this.fail(RegexErrorCode.Unsupported, "possessive quantifier " + this.text(start, this.pos + 1), start);
    }
    if (n == 0x2a || n == 0x2b || n == 0x3f || (n == 0x7b && this.repeatEnd(this.pos) > 0)) {
      const end = n == 0x7b ? this.repeatEnd(this.pos) : this.pos + 1;
      return this.fail(RegexErrorCode.Syntax, "bad repetition operator " + this.text(start, end), start);
    }
    const greedy = lazy == ((this.flags & FLAG_U) != 0);
    return Node.repeat(atom, lo, hi, greedy);
  }

  parseAtom(): Node | null {
    const c = this.unit(this.pos);
    switch (c) {
      case 0x28: return this.parseGroup(); // (
      case 0x5b: return this.parseClass(); // [
      case 0x2e: // .
        this.pos++;
        return Node.any((this.flags & FLAG_S) != 0);
      case 0x5e: // ^
        this.pos++;
        return Node.assert((this.flags & FLAG_M) != 0 ? AT_BEGIN_LINE : AT_BEGIN_TEXT);
      case 0x24: // $
        this.pos++;
        return Node.assert((this.flags & FLAG_M) != 0 ? AT_END_LINE : AT_END_TEXT);
      case 0x5c: return this.parseEscape(); // \
    }
    return this.literal(this.readCodePoint());
  }

  literal(cp: i32): Node {
    if ((this.flags & FLAG_I) != 0 && isAsciiLetter(cp)) return Node.literal(cp | 0x20, true);
    return Node.literal(cp, false);
  }

  parseGroup(): Node | null {
    const start = this.pos;
    this.pos++; // (
    const savedFlags = this.flags;
    if (this.unit(this.pos) == 0x3f /* ? */) {
      this.pos++;
      const c = this.unit(this.pos);
      const c2 = this.unit(this.pos + 1);
      if (c == 0x3d) return this.fail(RegexErrorCode.Unsupported, "lookahead (?=", start);
      if (c == 0x21) return this.fail(RegexErrorCode.Unsupported, "negative lookahead (?!", start);
      if (c == 0x3c && c2 == 0x3d) return this.fail(RegexErrorCode.Unsupported, "lookbehind (?<=", start);
      if (c == 0x3c && c2 == 0x21) return this.fail(RegexErrorCode.Unsupported, "negative lookbehind (?<!", start);
      if (c == 0x3e) return this.fail(RegexErrorCode.Unsupported, "atomic group (?>", start);
      if (c == 0x50 /* P */ && c2 == 0x3d) return this.fail(RegexErrorCode.Unsupported, "backreference (?P=", start);
      if (c == 0x50 && c2 == 0x3e) return this.fail(RegexErrorCode.Unsupported, "recursion (?P>", start);
      if (c == 0x3c || (c == 0x50 && c2 == 0x3c)) {
        // Named group (?P<name>re) or (?<name>re): the name only matters for captures, which are not kept.
        this.pos += c == 0x3c ? 1 : 2;
        const nameStart = this.pos;
        while (!this.eof && this.unit(this.pos) != 0x3e) {
          const u = this.unit(this.pos);
          if (!(u32(u - 0x30) < 10 || isAsciiLetter(u) || u == 0x5f)) {
            return this.fail(RegexErrorCode.Syntax, "bad group name in " + this.text(start, this.pos + 1), start);
          }
          this.pos++;
        }
        if (this.eof || this.pos == nameStart) {
          return this.fail(RegexErrorCode.Syntax, "bad group name in " + this.text(start, this.pos + 1), start);
        }
        this.pos++; // >
      } else {
        // Flags: (?imsU-imsU) for the rest of the enclosing group, or (?imsU-imsU:re) for re only.
        let flags = this.flags;
        let negated = false;
        let sawFlag = false;
        let f = this.unit(this.pos);
        // Stop at ")" after a flag, or at ":" after a flag or with no flags at all, as in (?:re).
        while (!((f == 0x29 && sawFlag) || (f == 0x3a && (sawFlag || !negated)))) {
          let bit = 0;
          if (f == 0x69) bit = FLAG_I;
          else if (f == 0x6d) bit = FLAG_M;
          else if (f == 0x73) bit = FLAG_S;
          else if (f == 0x55) bit = FLAG_U;
          if (bit != 0) {
            flags = negated ? flags & ~bit : flags | bit;
            sawFlag = true;
          } else if (f == 0x2d /* - */ && !negated) {
            negated = true;
            sawFlag = false;
          } else if (f == -1) {
            return this.fail(RegexErrorCode.Syntax, "missing closing ) for the group opened", start);
          } else if (f == 0x29 || f == 0x3a || f == 0x2d) {
            return this.fail(RegexErrorCode.Syntax, "bad flags group " + this.text(start, this.pos + 1), start);
          } else {
            return this.fail(RegexErrorCode.Unsupported, "group syntax " + this.text(start, this.pos + 1)
              + " (supported: (?:re), (?P<name>re), (?<name>re) and the flags i, m, s, U)", start);
          }
          f = this.unit(++this.pos);
        }
        this.pos++;
        this.flags = flags;
        if (this.unit(this.pos - 1) == 0x29) return FLAGS_ONLY; // (?i): flags stay set until the group ends
      }
    }
    if (++this.depth > MAX_NESTING) {
      return this.fail(RegexErrorCode.TooLarge, "groups nested too deeply (the limit is " + MAX_NESTING.toString() + ")", start);
    }
    const inner = this.parseAlternation();
    this.depth--;
    this.flags = savedFlags;
    if (inner === null) return null;
    if (this.unit(this.pos) != 0x29) return this.fail(RegexErrorCode.Syntax, "missing closing ) for the group opened", start);
    this.pos++;
    return inner;
  }

  /** At `\Q`: the literals up to `\E` or the end of the pattern. */
  parseQuoted(): Array<Node> {
    this.pos += 2;
    const items = new Array<Node>();
    while (!this.eof) {
      if (this.unit(this.pos) == 0x5c && this.unit(this.pos + 1) == 0x45) {
        this.pos += 2;
        break;
      }
      items.push(this.literal(this.readCodePoint()));
    }
    return items;
  }

  parseEscape(): Node | null {
    const start = this.pos;
    const c = this.unit(start + 1);
    switch (c) {
      case 0x62: this.pos += 2; return Node.assert(AT_WORD_BOUNDARY); // \b
      case 0x42: this.pos += 2; return Node.assert(AT_NOT_WORD_BOUNDARY); // \B
      case 0x41: this.pos += 2; return Node.assert(AT_BEGIN_TEXT); // \A
      case 0x7a: this.pos += 2; return Node.assert(AT_END_TEXT); // \z
      case 0x43: return this.fail(RegexErrorCode.Unsupported, "\\C (any byte)", start);
      case 0x5a: return this.fail(RegexErrorCode.Unsupported, "\\Z (use \\z or $)", start);
    }
    const set = new Array<i32>();
    const cp = this.parseClassItem(set);
    if (cp == ITEM_ERROR) return null;
    if (cp == ITEM_SET) return Node.charClass(normalize(set));
    return this.literal(cp);
  }

  /**
   * One escape or character, as used both inside and outside `[...]`. Returns its code point, or adds a
   * Perl class (\d \w \s and negations) to `set` and returns ITEM_SET, or fails and returns ITEM_ERROR.
   */
  parseClassItem(set: Array<i32>): i32 {
    if (this.unit(this.pos) != 0x5c) return this.readCodePoint();
    const start = this.pos;
    this.pos++;
    if (this.eof) {
      this.fail(RegexErrorCode.Syntax, "trailing backslash", start);
      return ITEM_ERROR;
    }
    const c = this.readCodePoint();
    switch (c) {
      case 0x64: addSet(set, digitSet(), false); return ITEM_SET; // \d
      case 0x44: addSet(set, digitSet(), true); return ITEM_SET; // \D
      case 0x77: addSet(set, wordSet(), false); return ITEM_SET; // \w
      case 0x57: addSet(set, wordSet(), true); return ITEM_SET; // \W
      case 0x73: addSet(set, spaceSet(), false); return ITEM_SET; // \s
      case 0x53: addSet(set, spaceSet(), true); return ITEM_SET; // \S
      case 0x74: return 0x09; // \t
      case 0x6e: return 0x0a; // \n
      case 0x72: return 0x0d; // \r
      case 0x66: return 0x0c; // \f
      case 0x76: return 0x0b; // \v
      case 0x61: return 0x07; // \a
      case 0x30: { // \0, \0o, \0oo: octal
        let v = 0;
        for (let k = 0; k < 2 && u32(this.unit(this.pos) - 0x30) < 8; k++) v = v * 8 + (this.unit(this.pos++) - 0x30);
        return v;
      }
      case 0x78: { // \xHH or \x{H...}
        let v = 0;
        if (this.unit(this.pos) == 0x7b) {
          this.pos++;
          let digits = 0;
          for (;;) {
            const h = hexValue(this.unit(this.pos));
            if (h < 0) break;
            v = min(v * 16 + h, MAX_CODE_POINT + 1);
            digits++;
            this.pos++;
          }
          if (digits == 0 || this.unit(this.pos) != 0x7d || v > MAX_CODE_POINT) {
            this.fail(RegexErrorCode.Syntax, "bad hex escape " + this.text(start, this.pos + 1), start);
            return ITEM_ERROR;
          }
          this.pos++;
          return v;
        }
        for (let k = 0; k < 2; k++) {
          const h = hexValue(this.unit(this.pos));
          if (h < 0) {
            this.fail(RegexErrorCode.Syntax, "bad hex escape " + this.text(start, this.pos + 1) + " (expected \\xHH or \\x{H...})", start);
            return ITEM_ERROR;
          }
          v = v * 16 + h;
          this.pos++;
        }
        return v;
      }
      case 0x70: case 0x50: // \p \P
        this.fail(RegexErrorCode.Unsupported, "Unicode class \\" + String.fromCharCode(c), start);
        return ITEM_ERROR;
      case 0x6b: case 0x67: // \k \g
        this.fail(RegexErrorCode.Unsupported, "backreference \\" + String.fromCharCode(c), start);
        return ITEM_ERROR;
    }
    if (u32(c - 0x31) < 9) {
      let end = this.pos;
      while (u32(this.unit(end) - 0x30) < 10) end++;
      this.fail(RegexErrorCode.Unsupported, "backreference " + this.text(start, end), start);
      return ITEM_ERROR;
    }
    // Any ASCII punctuation may be escaped to stand for itself.
    if (c < 0x80 && !isAsciiLetter(c) && u32(c - 0x30) >= 10) return c;
    this.fail(RegexErrorCode.Syntax, "bad escape " + this.text(start, this.pos), start);
    return ITEM_ERROR;
  }

  parseClass(): Node | null {
    const start = this.pos;
    this.pos++; // [
    let negated = false;
    if (this.unit(this.pos) == 0x5e) {
      negated = true;
      this.pos++;
    }
    const set = new Array<i32>();
    let first = true;
    for (;;) {
      if (this.eof) return this.fail(RegexErrorCode.Syntax, "missing closing ] for the class opened", start);
      const c = this.unit(this.pos);
      if (c == 0x5d && !first) { // ] (a ] right after [ or [^ is a literal)
        this.pos++;
        break;
      }
      first = false;
      if (c == 0x5b && this.unit(this.pos + 1) == 0x3a) { // [:name:] or [:^name:]
        const close = this.src.indexOf(":]", this.pos + 2);
        if (close >= 0) {
          const itemStart = this.pos;
          let nameStart = this.pos + 2;
          const neg = this.unit(nameStart) == 0x5e;
          if (neg) nameStart++;
          const posix = posixSet(this.src.substring(nameStart, close));
          if (posix === null) {
            return this.fail(RegexErrorCode.Syntax, "unknown POSIX class " + this.text(itemStart, close + 2), itemStart);
          }
          addSet(set, posix, neg);
          this.pos = close + 2;
          continue;
        }
      }
      const itemStart = this.pos;
      const lo = this.parseClassItem(set);
      if (lo == ITEM_ERROR) return null;
      if (lo == ITEM_SET) continue;
      if (this.unit(this.pos) == 0x2d && this.unit(this.pos + 1) != 0x5d && this.pos + 1 < this.src.length) { // a-z
        this.pos++;
        const hi = this.parseClassItem(set);
        if (hi == ITEM_ERROR) return null;
        if (hi == ITEM_SET || hi < lo) {
          return this.fail(RegexErrorCode.Syntax, "bad character class range " + this.text(itemStart, this.pos), itemStart);
        }
        addRange(set, lo, hi);
      } else {
        addRange(set, lo, lo);
      }
    }
    // Fold before negating, so (?i)[^a] excludes both a and A.
    if ((this.flags & FLAG_I) != 0) foldAscii(set);
    const ranges = normalize(set);
    return Node.charClass(negated ? negate(ranges) : ranges);
  }
}

function hexValue(u: i32): i32 {
  if (u32(u - 0x30) < 10) return u - 0x30;
  const l = u | 0x20;
  if (u32(l - 0x61) < 6) return l - 0x61 + 10;
  return -1;
}
