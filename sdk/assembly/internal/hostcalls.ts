// Thin wrappers over the raw imports that return owned buffers. Shared by the dispatcher and the public
// API so that pointer/length plumbing lives in exactly one place.

import * as abi from "../abi/imports";
import { WasmResult } from "../abi/enums";
import { RET_PTR, RET_LEN, clearReturnSlots, takeReturnedBuffer } from "./memory";

/** Status of the last wrapper call, for callers that need to tell NotFound from Empty. */
export let lastResult: WasmResult = WasmResult.Ok;

/** Bytes of a buffer (body, config, callout response…), or null when the host has none. */
export function getBuffer(bufferType: u32, start: u32, maxSize: u32): ArrayBuffer | null {
  clearReturnSlots();
  lastResult = <WasmResult>abi.proxy_get_buffer_bytes(bufferType, start, maxSize, RET_PTR, RET_LEN);
  if (lastResult != WasmResult.Ok) return null;
  return takeReturnedBuffer();
}

/** The serialized header map of `mapType`, or null when it is not available now. */
export function getMapPairs(mapType: u32): ArrayBuffer | null {
  clearReturnSlots();
  lastResult = <WasmResult>abi.proxy_get_header_map_pairs(mapType, RET_PTR, RET_LEN);
  if (lastResult != WasmResult.Ok) return null;
  return takeReturnedBuffer();
}

/** A property's raw bytes by NUL-joined path, or null (NotFound / not available). */
export function getPropertyBytes(path: ArrayBuffer): ArrayBuffer | null {
  clearReturnSlots();
  lastResult = <WasmResult>abi.proxy_get_property(changetype<usize>(path), <usize>path.byteLength, RET_PTR, RET_LEN);
  if (lastResult != WasmResult.Ok) return null;
  return takeReturnedBuffer();
}

/** Encodes a dotted attribute name ("request.path") or NUL-joined path into the ABI's path bytes. */
export function encodePath(segments: string[]): ArrayBuffer {
  return String.UTF8.encode(segments.join("\0"));
}
