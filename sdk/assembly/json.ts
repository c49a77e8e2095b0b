// A small, strict JSON reader for configuration (RFC 8259). Parse once, in onConfigure, never per request.
// Malformed input gives an error with its byte offset, never a trap: nesting is limited, strings must be
// valid UTF-8, duplicate object keys are rejected (they make a config mean two things), in linear time
// (a hash set per object once it has a few members), and a caller may bound the members of any object.

import { validUtf8PrefixUnsafe } from "./utf8";

export enum JsonKind { Null, Bool, Number, String, Array, Object }

/** One JSON value. Objects keep their keys in document order. */
export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  boolValue: bool = false;
  numberValue: f64 = 0;
  /** True when the number was written without fraction or exponent. */
  isInteger: bool = false;
  stringValue: string = "";
  items: JsonValue[] = [];
  keys: string[] = [];

  static ofKind(kind: JsonKind): JsonValue { const v = new JsonValue(); v.kind = kind; return v; }

  get isNull(): bool { return this.kind == JsonKind.Null; }
  get isObject(): bool { return this.kind == JsonKind.Object; }
  get isArray(): bool { return this.kind == JsonKind.Array; }
  get isString(): bool { return this.kind == JsonKind.String; }
  get isNumber(): bool { return this.kind == JsonKind.Number; }
  get isBool(): bool { return this.kind == JsonKind.Bool; }

  /** An object member, or null when absent (or this is not an object). */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    const keys = this.keys;
    for (let i = 0, n = keys.length; i < n; i++) {
      if (unchecked(keys[i]) == key) return unchecked(this.items[i]);
    }
    return null;
  }

  get length(): i32 { return this.items.length; }
  at(i: i32): JsonValue { return this.items[i]; }

  /** The JSON type name, for error messages. */
  get typeName(): string {
    switch (this.kind) {
      case JsonKind.Null: return "null";
      case JsonKind.Bool: return "a boolean";
      case JsonKind.Number: return "a number";
      case JsonKind.String: return "a string";
      case JsonKind.Array: return "an array";
      default: return "an object";
    }
  }
}

export class JsonResult {
  constructor(public readonly value: JsonValue | null, public readonly error: string) {}
  get ok(): bool { return this.value !== null; }
}

const MAX_DEPTH = 64;
/** Objects up to this many members check duplicates by scanning; larger ones switch to a hash set. */
const SCAN_MEMBERS = 8;

/**
 * Parses a JSON document from bytes. `maxMembers` bounds the members of every object (for input from
 * untrusted peers: a token header, a fetched document); beyond it the document is refused.
 */
export function parseJson(bytes: ArrayBuffer, maxMembers: i32 = i32.MAX_VALUE): JsonResult {
  const p = new Parser(changetype<usize>(bytes), <usize>bytes.byteLength);
  p.maxMembers = maxMembers;
  p.skipWs();
  const v = p.value(0);
  if (v !== null) {
    p.skipWs();
    if (p.pos != p.len) p.fail("unexpected content after the JSON value");
  }
  if (p.error.length > 0) return new JsonResult(null, p.error);
  return new JsonResult(v, "");
}

/** Parses a JSON document from a string. */
export function parseJsonString(text: string): JsonResult {
  return parseJson(String.UTF8.encode(text));
}

class Parser {
  pos: usize = 0;
  error: string = "";
  maxMembers: i32 = i32.MAX_VALUE;
  constructor(public base: usize, public len: usize) {}

  fail(message: string): JsonValue | null {
    if (this.error.length == 0) this.error = "invalid JSON at byte " + this.pos.toString() + ": " + message;
    return null;
  }

  // @ts-ignore: decorator
  @inline peek(): i32 { return this.pos < this.len ? <i32>load<u8>(this.base + this.pos) : -1; }

  skipWs(): void {
    while (this.pos < this.len) {
      const c = load<u8>(this.base + this.pos);
      if (c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09) this.pos++;
      else break;
    }
  }

  value(depth: i32): JsonValue | null {
    if (depth > MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    const c = this.peek();
    if (c == 0x7B) return this.object(depth);
    if (c == 0x5B) return this.array(depth);
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      const v = JsonValue.ofKind(JsonKind.String);
      v.stringValue = s;
      return v;
    }
    if (c == 0x74) return this.literal("true", JsonKind.Bool, true);
    if (c == 0x66) return this.literal("false", JsonKind.Bool, false);
    if (c == 0x6E) return this.literal("null", JsonKind.Null, false);
    if (c == 0x2D || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c < 0) return this.fail("unexpected end of input");
    return this.fail("unexpected character '" + String.fromCharCode(c) + "'");
  }

  literal(word: string, kind: JsonKind, b: bool): JsonValue | null {
    const n = <usize>word.length;
    if (this.len - this.pos < n) return this.fail("unexpected end of input");
    for (let i: usize = 0; i < n; i++) {
      if (<i32>load<u8>(this.base + this.pos + i) != word.charCodeAt(<i32>i)) return this.fail("invalid literal, expected " + word);
    }
    this.pos += n;
    const v = JsonValue.ofKind(kind);
    v.boolValue = b;
    return v;
  }

  number(): JsonValue | null {
    const start = this.pos;
    let integer = true;
    if (this.peek() == 0x2D) this.pos++;
    let c = this.peek();
    if (c == 0x30) {
      this.pos++;
    } else if (c >= 0x31 && c <= 0x39) {
      while ((c = this.peek()) >= 0x30 && c <= 0x39) this.pos++;
    } else {
      return this.fail("invalid number");
    }
    if (this.peek() == 0x2E) {
      integer = false;
      this.pos++;
      if (!((c = this.peek()) >= 0x30 && c <= 0x39)) return this.fail("invalid number: digits expected after '.'");
      while ((c = this.peek()) >= 0x30 && c <= 0x39) this.pos++;
    }
    c = this.peek();
    if (c == 0x65 || c == 0x45) {
      integer = false;
      this.pos++;
      c = this.peek();
      if (c == 0x2B || c == 0x2D) this.pos++;
      if (!((c = this.peek()) >= 0x30 && c <= 0x39)) return this.fail("invalid number: digits expected in exponent");
      while ((c = this.peek()) >= 0x30 && c <= 0x39) this.pos++;
    }
    const text = String.UTF8.decodeUnsafe(this.base + start, this.pos - start, false);
    const v = JsonValue.ofKind(JsonKind.Number);
    v.numberValue = parseFloat(text);
    v.isInteger = integer;
    return v;
  }

  string(): string | null {
    this.pos++; // opening quote
    let parts: string[] | null = null;
    let runStart = this.pos;
    while (true) {
      if (this.pos >= this.len) { this.fail("unterminated string"); return null; }
      const c = <u32>load<u8>(this.base + this.pos);
      if (c == 0x22) break;
      if (c < 0x20) { this.fail("control character in string"); return null; }
      if (c == 0x5C) {
        if (parts === null) parts = new Array<string>();
        if (!this.flushRun(parts, runStart)) return null;
        this.pos++;
        const e = this.peek();
        this.pos++;
        switch (e) {
          case 0x22: parts.push("\""); break;
          case 0x5C: parts.push("\\"); break;
          case 0x2F: parts.push("/"); break;
          case 0x62: parts.push("\b"); break;
          case 0x66: parts.push("\f"); break;
          case 0x6E: parts.push("\n"); break;
          case 0x72: parts.push("\r"); break;
          case 0x74: parts.push("\t"); break;
          case 0x75: {
            const u = this.hex4();
            if (u < 0) { this.fail("invalid \\u escape"); return null; }
            parts.push(String.fromCharCode(u));
            break;
          }
          default: this.fail("invalid escape"); return null;
        }
        runStart = this.pos;
        continue;
      }
      this.pos++;
    }
    const end = this.pos;
    this.pos++; // closing quote
    if (parts === null) return this.decodeRun(runStart, end);
    if (!this.flushRunTo(parts, runStart, end)) return null;
    return parts.join("");
  }

  flushRun(parts: string[], runStart: usize): bool { return this.flushRunTo(parts, runStart, this.pos); }

  flushRunTo(parts: string[], from: usize, to: usize): bool {
    if (to <= from) return true;
    const s = this.decodeRun(from, to);
    if (s === null) return false;
    parts.push(s);
    return true;
  }

  decodeRun(from: usize, to: usize): string | null {
    const n = to - from;
    if (validUtf8PrefixUnsafe(this.base + from, n) != n) { this.fail("invalid UTF-8 in string"); return null; }
    return String.UTF8.decodeUnsafe(this.base + from, n, false);
  }

  hex4(): i32 {
    if (this.len - this.pos < 4) return -1;
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32>load<u8>(this.base + this.pos);
      this.pos++;
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else return -1;
      v = (v << 4) | d;
    }
    return v;
  }

  array(depth: i32): JsonValue | null {
    this.pos++;
    const v = JsonValue.ofKind(JsonKind.Array);
    this.skipWs();
    if (this.peek() == 0x5D) { this.pos++; return v; }
    while (true) {
      this.skipWs();
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      this.skipWs();
      const c = this.peek();
      if (c == 0x2C) { this.pos++; continue; }
      if (c == 0x5D) { this.pos++; return v; }
      return this.fail("expected ',' or ']' in array");
    }
  }

  object(depth: i32): JsonValue | null {
    this.pos++;
    const v = JsonValue.ofKind(JsonKind.Object);
    this.skipWs();
    if (this.peek() == 0x7D) { this.pos++; return v; }
    let seen: Set<string> | null = null;
    while (true) {
      this.skipWs();
      if (this.peek() != 0x22) return this.fail("expected a string key in object");
      if (v.keys.length >= this.maxMembers) return this.fail("more than " + this.maxMembers.toString() + " members in an object");
      const key = this.string();
      if (key === null) return null;
      const keys = v.keys;
      let dup = false;
      if (keys.length < SCAN_MEMBERS) {
        for (let i = 0, n = keys.length; i < n; i++) if (unchecked(keys[i]) == key) { dup = true; break; }
      } else {
        if (seen === null) {
          seen = new Set<string>();
          for (let i = 0, n = keys.length; i < n; i++) seen.add(unchecked(keys[i]));
        }
        dup = seen!.has(key);
        if (!dup) seen!.add(key);
      }
      if (dup) return this.fail("duplicate key \"" + key + "\"");
      this.skipWs();
      if (this.peek() != 0x3A) return this.fail("expected ':' after object key");
      this.pos++;
      this.skipWs();
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.skipWs();
      const c = this.peek();
      if (c == 0x2C) { this.pos++; continue; }
      if (c == 0x7D) { this.pos++; return v; }
      return this.fail("expected ',' or '}' in object");
    }
  }
}

