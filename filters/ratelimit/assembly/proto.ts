// A small protobuf wire-format codec: just what the rate limit service messages need (varints and
// length-delimited fields; fixed32/fixed64 only to skip them). The reader never traps: every read is
// bounds-checked, and the first problem sets `failed` and makes every later read return zero, so a
// decoder can read straight through and check `failed` once at the end.

import { decodeUtf8 } from "proxy-wasm-as";

// @ts-ignore: decorator
@inline export const WIRE_VARINT: u32 = 0;
// @ts-ignore: decorator
@inline export const WIRE_FIXED64: u32 = 1;
// @ts-ignore: decorator
@inline export const WIRE_LEN: u32 = 2;
// @ts-ignore: decorator
@inline export const WIRE_FIXED32: u32 = 5;

/** Appends protobuf fields to a growing byte buffer. */
export class ProtoWriter {
  private buf: ArrayBuffer;
  private len: i32 = 0;

  constructor(capacity: i32 = 64) {
    this.buf = new ArrayBuffer(capacity > 8 ? capacity : 8);
  }

  get length(): i32 { return this.len; }

  /** Empties the writer, keeping its buffer for reuse. */
  reset(): void { this.len = 0; }

  private ensure(extra: i32): void {
    const need = this.len + extra;
    if (need <= this.buf.byteLength) return;
    let cap = this.buf.byteLength << 1;
    while (cap < need) cap <<= 1;
    const next = new ArrayBuffer(cap);
    memory.copy(changetype<usize>(next), changetype<usize>(this.buf), <usize>this.len);
    this.buf = next;
  }

  /** A raw base-128 varint. */
  varint(v: u64): void {
    this.ensure(10);
    const base = changetype<usize>(this.buf);
    let at = this.len;
    while (v >= 0x80) {
      store<u8>(base + <usize>at, <u8>(v | 0x80));
      at++;
      v >>= 7;
    }
    store<u8>(base + <usize>at, <u8>v);
    this.len = at + 1;
  }

  tag(field: u32, wire: u32): void { this.varint((<u64>field << 3) | <u64>wire); }

  /** A varint field (uint32/uint64/enum/bool). Proto3 omits zero values, so this writes nothing for 0. */
  uintField(field: u32, v: u64): void {
    if (v == 0) return;
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  /** A length-delimited field from raw memory. */
  rawField(field: u32, ptr: usize, len: i32): void {
    this.tag(field, WIRE_LEN);
    this.varint(<u64>len);
    this.ensure(len);
    memory.copy(changetype<usize>(this.buf) + <usize>this.len, ptr, <usize>len);
    this.len += len;
  }

  bytesField(field: u32, b: ArrayBuffer): void { this.rawField(field, changetype<usize>(b), b.byteLength); }

  /** A string field (UTF-8). Proto3 omits empty strings. */
  stringField(field: u32, s: string): void {
    if (s.length == 0) return;
    const b = String.UTF8.encode(s);
    this.rawField(field, changetype<usize>(b), b.byteLength);
  }

  /** An embedded message field, written even when the message is empty (a repeated element must be). */
  messageField(field: u32, m: ProtoWriter): void {
    this.rawField(field, changetype<usize>(m.buf), m.len);
  }

  /** The bytes written so far, as a new buffer. */
  finish(): ArrayBuffer {
    const out = new ArrayBuffer(this.len);
    memory.copy(changetype<usize>(out), changetype<usize>(this.buf), <usize>this.len);
    return out;
  }
}

/** Reads protobuf fields from a byte range of a buffer. */
export class ProtoReader {
  pos: i32;
  readonly end: i32;
  /** Set by the first malformed or truncated read; every read after it returns 0 / empty. */
  failed: bool = false;
  /** Field number and wire type of the last tag read by `next`. */
  field: u32 = 0;
  wire: u32 = 0;
  /** The range of the last length-delimited value read by `lengthDelimited`. */
  valueStart: i32 = 0;
  valueEnd: i32 = 0;

  constructor(public readonly buf: ArrayBuffer, start: i32 = 0, end: i32 = -1) {
    const n = buf.byteLength;
    const e = end < 0 || end > n ? n : end;
    this.pos = start < 0 ? 0 : (start > e ? e : start);
    this.end = e;
  }

  private fail(): u64 {
    this.failed = true;
    this.pos = this.end;
    return 0;
  }

  /** Reads the next tag; false at the end of the range or after a failure. */
  next(): bool {
    if (this.failed || this.pos >= this.end) return false;
    const t = this.varint();
    if (this.failed) return false;
    const field = t >> 3;
    if (field == 0 || field > 536870911) { this.fail(); return false; }
    this.field = <u32>field;
    this.wire = <u32>(t & 7);
    return true;
  }

  varint(): u64 {
    if (this.failed) return 0;
    const base = changetype<usize>(this.buf);
    let result: u64 = 0;
    for (let shift: u64 = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) return this.fail();
      const b = <u64>load<u8>(base + <usize>this.pos);
      this.pos++;
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && b > 1) return this.fail();
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
    return this.fail();
  }

  /** Reads a length-delimited value's bounds into valueStart/valueEnd; false when it does not fit. */
  lengthDelimited(): bool {
    const n = this.varint();
    if (this.failed) return false;
    if (n > <u64>(this.end - this.pos)) { this.fail(); return false; }
    this.valueStart = this.pos;
    this.valueEnd = this.pos + <i32>n;
    this.pos = this.valueEnd;
    return true;
  }

  /** A reader over the last length-delimited value (call after lengthDelimited). */
  sub(): ProtoReader { return new ProtoReader(this.buf, this.valueStart, this.valueEnd); }

  /** The last length-delimited value as a new buffer. */
  bytes(): ArrayBuffer {
    const n = this.valueEnd - this.valueStart;
    const out = new ArrayBuffer(n);
    memory.copy(changetype<usize>(out), changetype<usize>(this.buf) + <usize>this.valueStart, <usize>n);
    return out;
  }

  /** The last length-delimited value decoded as UTF-8 (invalid sequences become U+FFFD, never a trap). */
  string(): string { return decodeUtf8(this.bytes()); }

  /** Skips the value of the current field according to its wire type; groups are refused as malformed. */
  skip(): void {
    switch (this.wire) {
      case WIRE_VARINT: this.varint(); break;
      case WIRE_FIXED64: this.advance(8); break;
      case WIRE_LEN: this.lengthDelimited(); break;
      case WIRE_FIXED32: this.advance(4); break;
      default: this.fail();
    }
  }

  private advance(n: i32): void {
    if (this.end - this.pos < n) { this.fail(); return; }
    this.pos += n;
  }

  /** Reads a varint field's value, or fails when the current field is not a varint. */
  uint(): u64 {
    if (this.wire != WIRE_VARINT) return this.fail();
    return this.varint();
  }

  /** For an embedded message or string field: checks the wire type and reads the bounds. */
  expectLen(): bool {
    if (this.wire != WIRE_LEN) { this.fail(); return false; }
    return this.lengthDelimited();
  }
}
