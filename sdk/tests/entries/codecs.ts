// Test entry: exposes the SDK's codecs (header-map pairs, UTF-8, JSON, durations) to Node so property
// tests can feed them arbitrary bytes. Input bytes are written into a scratch buffer from `scratch`.
import "proxy-wasm-as/assembly/runtime";
import { decodePairs, encodePairs } from "proxy-wasm-as/assembly/internal/pairs";
import { decodeUtf8Unsafe, isValidUtf8 } from "proxy-wasm-as/assembly/utf8";
import { parseJson } from "proxy-wasm-as/assembly/json";
import { parseDurationNanos } from "proxy-wasm-as/assembly/config";
import { normalizePath } from "proxy-wasm-as/assembly/path";
import { asciiLower, isHeaderValueBytes } from "proxy-wasm-as/assembly/header";

let scratchBuf = new ArrayBuffer(0);
let out = new ArrayBuffer(0);

export function scratch(size: i32): usize {
  scratchBuf = new ArrayBuffer(size);
  return changetype<usize>(scratchBuf);
}
function input(len: i32): ArrayBuffer { return scratchBuf.slice(0, len); }

export function outPtr(): usize { return changetype<usize>(out); }
export function outLen(): i32 { return out.byteLength; }

/** Decodes then re-encodes: -1 when malformed, else the number of pairs (output holds the re-encoding). */
export function pairsRoundTrip(len: i32): i32 {
  const h = decodePairs(input(len));
  if (h === null) return -1;
  out = encodePairs(h);
  return h.length;
}

/** Decodes as UTF-8 with replacement; output holds the UTF-16 code units. Returns 1 when the input was valid. */
export function utf8(len: i32): i32 {
  const b = input(len);
  const s = decodeUtf8Unsafe(changetype<usize>(b), <usize>len);
  out = new ArrayBuffer(s.length << 1);
  memory.copy(changetype<usize>(out), changetype<usize>(s), <usize>(s.length << 1));
  return isValidUtf8(b) ? 1 : 0;
}

/** 1 when the bytes parse as JSON, 0 otherwise; output holds the error message (UTF-8). */
export function json(len: i32): i32 {
  const r = parseJson(input(len));
  out = String.UTF8.encode(r.error);
  return r.ok ? 1 : 0;
}

/** json with a bound on the members of every object. */
export function jsonMaxMembers(len: i32, maxMembers: i32): i32 {
  const r = parseJson(input(len), maxMembers);
  out = String.UTF8.encode(r.error);
  return r.ok ? 1 : 0;
}

/** normalizePath of the UTF-8 input: the status (PathNormalization); output holds the path (UTF-8). */
export function normalize(len: i32): i32 {
  const r = normalizePath(String.UTF8.decode(input(len)));
  out = String.UTF8.encode(r.path);
  return <i32>r.status;
}

/** asciiLower of the UTF-8 input; output holds the result (UTF-8). */
export function lower(len: i32): i32 {
  const s = asciiLower(String.UTF8.decode(input(len)));
  out = String.UTF8.encode(s);
  return s.length;
}

/** 1 when the bytes are a valid header value. */
export function headerValue(len: i32): i32 {
  return isHeaderValueBytes(input(len)) ? 1 : 0;
}

/** Nanoseconds of a protobuf JSON duration string, -1 when malformed. */
export function duration(len: i32): i64 {
  return parseDurationNanos(String.UTF8.decode(input(len)));
}
