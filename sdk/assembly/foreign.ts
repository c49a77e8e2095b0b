// Foreign functions: host extensions called by name. Envoy registers, among others, `clear_route_cache`,
// `declare_property` and `set_envoy_filter_state`.

import { proxy_call_foreign_function } from "./abi/imports";
import { WasmResult } from "./abi/enums";
import { RET_PTR, RET_LEN, clearReturnSlots, takeReturnedBuffer } from "./internal/memory";
import { encodeUtf8 } from "./utf8";

export let lastForeignFunctionResult: WasmResult = WasmResult.Ok;

/** Calls a host function by name; its result bytes, or null (NotFound when the host has no such function). */
export function callForeignFunction(name: string, args: ArrayBuffer): ArrayBuffer | null {
  const n = encodeUtf8(name);
  clearReturnSlots();
  lastForeignFunctionResult = <WasmResult>proxy_call_foreign_function(
    changetype<usize>(n), <usize>n.byteLength, changetype<usize>(args), <usize>args.byteLength, RET_PTR, RET_LEN);
  if (lastForeignFunctionResult != WasmResult.Ok) return null;
  return takeReturnedBuffer();
}

/**
 * Makes Envoy pick the route again after the filter changed headers the route table matches on.
 * Valid in request callbacks before the router runs (ABI 0.2.1 has no proxy_clear_route_cache import).
 */
export function clearRouteCache(): WasmResult {
  clearReturnSlots();
  lastForeignFunctionResult = <WasmResult>proxy_call_foreign_function(
    changetype<usize>(CLEAR_ROUTE_CACHE), <usize>CLEAR_ROUTE_CACHE.byteLength, changetype<usize>(NO_ARGS), 0, RET_PTR, RET_LEN);
  if (lastForeignFunctionResult == WasmResult.Ok) takeReturnedBuffer();
  return lastForeignFunctionResult;
}

// Encoded once: clearRouteCache runs on the request path.
// @ts-ignore: decorator
@lazy const CLEAR_ROUTE_CACHE = String.UTF8.encode("clear_route_cache");
// @ts-ignore: decorator
@lazy const NO_ARGS = new ArrayBuffer(0);
