// Test entry for sdk/tests/regex.test.ts: exposes Regex to the JS test through a scratch buffer.
// The test writes a pattern or an input into scratch(n), then passes its byte length.
// Package paths, as a filter would write them; the runtime import brings in the abort hook the build routes to.
import "proxy-wasm-as/assembly/runtime";
import { Regex, RegexError } from "proxy-wasm-as/assembly/regex";

let buffer = new ArrayBuffer(1024);
const regexes = new Array<Regex | null>();
let lastError: RegexError | null = null;

/** A buffer of at least `size` bytes for the next call's argument; returns its address. */
export function scratch(size: i32): usize {
  if (buffer.byteLength < size) buffer = new ArrayBuffer(size);
  return changetype<usize>(buffer);
}

/** Compiles the UTF-8 pattern in scratch: a regex id >= 0, or -(error code). */
export function compile(len: i32): i32 {
  const pattern = String.UTF8.decodeUnsafe(changetype<usize>(buffer), <usize>len);
  const result = Regex.compile(pattern);
  if (!result.ok) {
    lastError = result.error;
    return -(<i32>result.error!.code);
  }
  regexes.push(result.regex);
  return regexes.length - 1;
}

/** The last compile error: writes its UTF-8 message into scratch and returns the length. */
export function errorMessage(): i32 {
  const bytes = String.UTF8.encode(lastError!.message);
  const ptr = scratch(bytes.byteLength);
  memory.copy(ptr, changetype<usize>(bytes), <usize>bytes.byteLength);
  return bytes.byteLength;
}

export function errorPosition(): i32 {
  return lastError!.position;
}

function get(id: i32): Regex {
  return regexes[id]!;
}

/** fullMatch over the `len` UTF-8 bytes in scratch, in place (no copy). */
export function fullMatch(id: i32, len: i32): bool {
  return get(id).fullMatchUnsafe(changetype<usize>(buffer), <usize>len);
}

export function partialMatch(id: i32, len: i32): bool {
  return get(id).partialMatchUnsafe(changetype<usize>(buffer), <usize>len);
}

/** fullMatch(ArrayBuffer) / fullMatch(Uint8Array) on a copy of the scratch bytes. */
export function fullMatchCopy(id: i32, len: i32, asView: bool): bool {
  const copy = buffer.slice(0, len);
  if (asView) return get(id).fullMatch(Uint8Array.wrap(copy));
  return get(id).fullMatch(copy);
}

/** fullMatch / partialMatch on a string made of the `units` UTF-16 code units in scratch. */
export function matchString(id: i32, units: i32, anchored: bool): bool {
  const s = String.UTF16.decodeUnsafe(changetype<usize>(buffer), <usize>units << 1);
  return anchored ? get(id).fullMatch(s) : get(id).partialMatch(s);
}

export function lastSteps(id: i32): f64 {
  return <f64>get(id).lastSteps;
}

export function programLength(id: i32): i32 {
  return get(id).programLength;
}

/** Runs fullMatch `iterations` times over the scratch bytes; returns how many matched. */
export function benchFullMatch(id: i32, len: i32, iterations: i32): i32 {
  const re = get(id);
  const ptr = changetype<usize>(buffer);
  let n = 0;
  for (let i = 0; i < iterations; i++) if (re.fullMatchUnsafe(ptr, <usize>len)) n++;
  return n;
}

/** Drops every compiled regex and collects (nothing managed is live on the stack here). */
export function releaseAll(): void {
  regexes.length = 0;
  lastError = null;
  __collect();
}
