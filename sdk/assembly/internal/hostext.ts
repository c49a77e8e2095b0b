// Envoy's host extensions at the byte level: which foreign functions the host has (probed once per VM), and the
// protobuf messages their arguments and results are. The messages are written from Envoy 1.40's
// source/extensions/common/wasm/ext/ files: set_envoy_filter_state.proto (SetEnvoyFilterStateArguments),
// declare_property.proto (DeclarePropertyArguments, WasmType, LifeSpan), verify_signature.proto
// (VerifySignatureArguments, VerifySignatureResult) and sign.proto (SignArguments, SignResult), all proto3.
// Only what these messages need: varint and length-delimited fields with numbers below 16.

import { proxy_call_foreign_function } from "../abi/imports";
import { WasmResult } from "../abi/enums";
import { RET_PTR, RET_LEN, clearReturnSlots, takeReturnedBuffer } from "./memory";

// ---- Feature detection ----

/** Probe arguments a present function answers without NotFound and without doing anything lasting. */
function probeArguments(name: string): ArrayBuffer {
  // zlib's encoding of the empty input: uncompress succeeds with nothing (any other bytes could fail).
  if (name == "uncompress") return bytesOf([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
  // Raw input: the empty buffer (compress succeeds; expr_delete and expr_evaluate refuse a size other than 4
  // with BadArgument; expr_create refuses the empty text with BadArgument).
  if (name == "compress" || name.startsWith("expr_") || name == "clear_route_cache") return new ArrayBuffer(0);
  // A protobuf message that cannot parse (a truncated varint): the protobuf functions answer BadArgument.
  return bytesOf([0xff]);
}

const probed = new Map<string, bool>();

/**
 * Whether the host registers the foreign function `name`, asked once per VM and remembered. The probe calls the
 * function with arguments it refuses or ignores (clear_route_cache has no such arguments: probe it from a root
 * context, where clearing affects no route). A host without the function answers NotFound.
 */
export function hostHasFunction(name: string): bool {
  if (probed.has(name)) return probed.get(name);
  const n = String.UTF8.encode(name);
  const args = probeArguments(name);
  clearReturnSlots();
  const r = <WasmResult>proxy_call_foreign_function(
    changetype<usize>(n), <usize>n.byteLength, changetype<usize>(args), <usize>args.byteLength, RET_PTR, RET_LEN);
  if (r == WasmResult.Ok) takeReturnedBuffer();
  const has = r != WasmResult.NotFound;
  probed.set(name, has);
  return has;
}

function bytesOf(values: u8[]): ArrayBuffer {
  const out = new ArrayBuffer(values.length);
  for (let i = 0; i < values.length; i++) store<u8>(changetype<usize>(out) + <usize>i, values[i]);
  return out;
}

// ---- Protobuf writing ----

function varintSize(v: u64): i32 {
  let n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

/** Bytes a length-delimited field takes (0 when empty: proto3 leaves defaults out). */
function lengthFieldSize(len: i32): i32 {
  return len == 0 ? 0 : 1 + varintSize(<u64>len) + len;
}

function varintFieldSize(v: u64): i32 {
  return v == 0 ? 0 : 1 + varintSize(v);
}

/** Writes fields into a buffer sized beforehand with the *FieldSize functions. */
class ProtoWriter {
  readonly out: ArrayBuffer;
  private at: usize;

  constructor(size: i32) {
    this.out = new ArrayBuffer(size);
    this.at = changetype<usize>(this.out);
  }

  private raw(v: u64): void {
    while (v >= 0x80) { store<u8>(this.at++, <u8>(v & 0x7f) | 0x80); v >>= 7; }
    store<u8>(this.at++, <u8>v);
  }

  bytes(field: u32, b: ArrayBuffer): ProtoWriter {
    if (b.byteLength == 0) return this;
    store<u8>(this.at++, <u8>((field << 3) | 2));
    this.raw(<u64>b.byteLength);
    memory.copy(this.at, changetype<usize>(b), <usize>b.byteLength);
    this.at += <usize>b.byteLength;
    return this;
  }

  varint(field: u32, v: u64): ProtoWriter {
    if (v == 0) return this;
    store<u8>(this.at++, <u8>(field << 3));
    this.raw(v);
    return this;
  }
}

/** LifeSpan of declare_property.proto (also set_envoy_filter_state's span). */
export const enum LifeSpanCode { FilterChain = 0, DownstreamRequest = 1, DownstreamConnection = 2 }

/** WasmType of declare_property.proto. */
export const enum WasmTypeCode { Bytes = 0, String = 1, FlatBuffers = 2, Protobuf = 3 }

/** SetEnvoyFilterStateArguments { string path = 1; string value = 2; LifeSpan span = 3; } */
export function encodeSetEnvoyFilterState(path: ArrayBuffer, value: ArrayBuffer, span: u32): ArrayBuffer {
  const size = lengthFieldSize(path.byteLength) + lengthFieldSize(value.byteLength) + varintFieldSize(span);
  return new ProtoWriter(size).bytes(1, path).bytes(2, value).varint(3, span).out;
}

/** DeclarePropertyArguments { string name = 1; bool readonly = 2; WasmType type = 3; bytes schema = 4; LifeSpan span = 5; } */
export function encodeDeclareProperty(name: ArrayBuffer, readOnly: bool, type: u32, schema: ArrayBuffer, span: u32): ArrayBuffer {
  const size = lengthFieldSize(name.byteLength) + varintFieldSize(readOnly ? 1 : 0) + varintFieldSize(type)
    + lengthFieldSize(schema.byteLength) + varintFieldSize(span);
  return new ProtoWriter(size).bytes(1, name).varint(2, readOnly ? 1 : 0).varint(3, type).bytes(4, schema).varint(5, span).out;
}

/**
 * VerifySignatureArguments { string hash_function = 1; bytes public_key = 2; bytes signature = 3; bytes text = 4;
 * string public_key_pem = 5; } (public_key is DER; Envoy refuses both or neither key with BadArgument).
 */
export function encodeVerifySignature(hash: ArrayBuffer, keyDer: ArrayBuffer, keyPem: ArrayBuffer, signature: ArrayBuffer, text: ArrayBuffer): ArrayBuffer {
  const size = lengthFieldSize(hash.byteLength) + lengthFieldSize(keyDer.byteLength) + lengthFieldSize(signature.byteLength)
    + lengthFieldSize(text.byteLength) + lengthFieldSize(keyPem.byteLength);
  return new ProtoWriter(size).bytes(1, hash).bytes(2, keyDer).bytes(3, signature).bytes(4, text).bytes(5, keyPem).out;
}

/** SignArguments { string hash_function = 1; bytes private_key = 2; bytes text = 3; string private_key_pem = 4; } */
export function encodeSign(hash: ArrayBuffer, keyDer: ArrayBuffer, keyPem: ArrayBuffer, text: ArrayBuffer): ArrayBuffer {
  const size = lengthFieldSize(hash.byteLength) + lengthFieldSize(keyDer.byteLength) + lengthFieldSize(text.byteLength)
    + lengthFieldSize(keyPem.byteLength);
  return new ProtoWriter(size).bytes(1, hash).bytes(2, keyDer).bytes(3, text).bytes(4, keyPem).out;
}

// ---- Protobuf reading ----

/** The fields of a result message: one varint and up to two length-delimited fields by number. */
export class ResultFields {
  /** Field 1 (bool result) of VerifySignatureResult and SignResult. */
  flag: bool = false;
  /** Length-delimited fields 2 and 3, empty when absent. */
  field2: ArrayBuffer = new ArrayBuffer(0);
  field3: ArrayBuffer = new ArrayBuffer(0);
  /** False when the bytes were not a well-formed message. */
  ok: bool = true;
}

/**
 * Reads VerifySignatureResult { bool result = 1; string error = 2; } or SignResult { bool result = 1;
 * bytes signature = 2; string error = 3; }. Unknown fields are skipped; malformed bytes give ok = false.
 */
export function decodeResult(b: ArrayBuffer): ResultFields {
  const r = new ResultFields();
  const start = changetype<usize>(b);
  const end = start + <usize>b.byteLength;
  let at = start;
  while (at < end) {
    const key = readVarint(at, end);
    if (key.next == 0) { r.ok = false; break; }
    at = key.next;
    const field = <u32>(key.value >> 3);
    const wire = <u32>(key.value & 7);
    if (wire == 0) {
      const v = readVarint(at, end);
      if (v.next == 0) { r.ok = false; break; }
      at = v.next;
      if (field == 1) r.flag = v.value != 0;
    } else if (wire == 2) {
      const len = readVarint(at, end);
      if (len.next == 0 || len.value > <u64>(end - len.next)) { r.ok = false; break; }
      const from = <i32>(len.next - start);
      const to = from + <i32>len.value;
      if (field == 2) r.field2 = b.slice(from, to);
      else if (field == 3) r.field3 = b.slice(from, to);
      at = len.next + <usize>len.value;
    } else if (wire == 5) {
      at += 4;
    } else if (wire == 1) {
      at += 8;
    } else {
      r.ok = false;
      break;
    }
  }
  if (at > end) r.ok = false;
  return r;
}

class Varint {
  value: u64 = 0;
  /** Address after the varint, 0 when it was cut short or too long. */
  next: usize = 0;
}

function readVarint(at: usize, end: usize): Varint {
  const v = new Varint();
  let shift: u64 = 0;
  while (at < end && shift < 64) {
    const b = load<u8>(at++);
    v.value |= (<u64>(b & 0x7f)) << shift;
    if ((b & 0x80) == 0) { v.next = at; return v; }
    shift += 7;
  }
  return v;
}
