// Header maps: request/response headers and trailers, gRPC metadata, callout response headers.

import { MapType, WasmResult } from "../abi";
import type { Context } from "../host-types";
import { HeaderMap } from "../headers";
import { decodePairsLikeEnvoy, encodePairs } from "../pairs";
import { HttpStream } from "../http-stream";
import { type Fn, type HostCalls, u } from "./access";

/** Envoy-side (C++ host) signatures; see wasi.ts for the notation. */
export const SIGNATURES: Record<string, string> = {
  proxy_get_header_map_value: "iiiii:i",
  proxy_get_header_map_pairs: "iii:i",
  proxy_set_header_map_pairs: "iii:i",
  proxy_get_header_map_size: "ii:i",
  proxy_add_header_map_value: "iiiii:i",
  proxy_replace_header_map_value: "iiiii:i",
  proxy_remove_header_map_value: "iii:i",
};

export function headerMapImports(h: HostCalls): Record<string, Fn> {
  const R = WasmResult;
  return {
    proxy_get_header_map_value: (type, kptr, klen, ptrPtr, sizePtr) => {
      if (u(type) > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const key = h.mem.read(u(kptr), u(klen));
      if (!key) return R.InvalidMemoryAccess;
      const ctx = h.effective();
      const map = selectHeaderMap(ctx, u(type), false);
      if (!map) return ctx.stream instanceof HttpStream && ctx.stream.inLogPhase ? R.NotFound : R.BadArgument;
      const v = map.get(key);
      if (v === undefined) return R.NotFound;
      return h.mem.copyOut(v, u(ptrPtr), u(sizePtr)) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_get_header_map_pairs: (type, ptrPtr, sizePtr) => {
      if (u(type) > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const map = selectHeaderMap(h.effective(), u(type), false);
      const pairs = map ? map.pairs() : [];
      const data = pairs.length ? encodePairs(pairs) : new Uint8Array(0);
      return h.mem.copyOut(data, u(ptrPtr), u(sizePtr)) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_header_map_pairs: (type, ptr, len) => {
      if (u(type) > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const map = selectHeaderMap(h.effective(), u(type), true);
      if (!map) return R.BadArgument;
      const data = h.mem.read(u(ptr), u(len));
      if (!data) return R.InvalidMemoryAccess;
      map.setAll(decodePairsLikeEnvoy(data));
      return R.Ok;
    },
    proxy_get_header_map_size: (type, ptr) => {
      if (u(type) > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const map = selectHeaderMap(h.effective(), u(type), true);
      if (!map) return R.BadArgument;
      return h.mem.setU32(u(ptr), map.byteSize) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_add_header_map_value: (type, kptr, klen, vptr, vlen) =>
      mutateMap(h, type, kptr, klen, vptr, vlen, (m, k, v) => m.add(k, v!)),
    proxy_replace_header_map_value: (type, kptr, klen, vptr, vlen) =>
      mutateMap(h, type, kptr, klen, vptr, vlen, (m, k, v) => m.replace(k, v!)),
    proxy_remove_header_map_value: (type, kptr, klen) =>
      mutateMap(h, type, kptr, klen, undefined, undefined, (m, k) => m.remove(k)),

  };
}


/** The header map a map type names in a context (mutable: for writing), or null where there is none. */
export function selectHeaderMap(ctx: Context, type: number, mutable: boolean): HeaderMap | null {
  const root = ctx.root;
  switch (type) {
    case MapType.HttpRequestHeaders:
    case MapType.HttpRequestTrailers:
    case MapType.HttpResponseHeaders:
    case MapType.HttpResponseTrailers:
      return ctx.stream instanceof HttpStream ? ctx.stream.headerMapFor(type, mutable) : null;
    case MapType.GrpcReceiveInitialMetadata:
      return mutable ? null : root?.grpcInitialMetadata ?? null;
    case MapType.GrpcReceiveTrailingMetadata:
      return mutable ? null : root?.grpcTrailingMetadata ?? null;
    case MapType.HttpCallResponseHeaders:
      return mutable ? null : root?.httpCallResponse?.headers ?? null;
    case MapType.HttpCallResponseTrailers:
      return mutable ? null : root?.httpCallResponse?.trailers ?? null;
  }
  return null;
}

function mutateMap(
  h: HostCalls,
  type: number | bigint,
  kptr: number | bigint,
  klen: number | bigint,
  vptr: number | bigint | undefined,
  vlen: number | bigint | undefined,
  op: (m: HeaderMap, k: Uint8Array, v?: Uint8Array) => void,
): number {
  if (u(type) > MapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
  const key = h.mem.read(u(kptr), u(klen));
  const value = vptr === undefined ? undefined : h.mem.read(u(vptr), u(vlen!));
  if (!key || value === null) return WasmResult.InvalidMemoryAccess;
  const map = selectHeaderMap(h.effective(), u(type), true);
  if (!map) return WasmResult.BadArgument;
  op(map, key, value);
  return WasmResult.Ok;
}
