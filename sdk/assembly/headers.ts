// Header maps: request/response headers and trailers, and the headers/metadata of callout responses.
// Each map is a small object bound to one ABI map type; it acts on the effective context.

import * as abi from "./abi/imports";
import { MapType, WasmResult } from "./abi/enums";
import { Header } from "./header";
import { encodePairs, decodePairs } from "./internal/pairs";
import { RET_PTR, RET_LEN, RET_U32, clearReturnSlots, takeReturnedBuffer } from "./internal/memory";
import { getMapPairs } from "./internal/hostcalls";
import { decodeUtf8, encodeUtf8 } from "./utf8";

export class HeaderMap {
  constructor(public readonly mapType: MapType) {}

  /**
   * A header's value as bytes, or null when absent. When a name occurs several times Envoy returns the
   * first value only; use getAll() to see every one. Valid while the map exists (request headers: from
   * onRequestHeaders on).
   */
  getBytes(name: string): ArrayBuffer | null {
    return this.getBytesByKey(encodeUtf8(name));
  }

  /** getBytes with a name already encoded as UTF-8 bytes (encode it once, e.g. at configure time). */
  getBytesByKey(key: ArrayBuffer): ArrayBuffer | null {
    clearReturnSlots();
    const r = abi.proxy_get_header_map_value(this.mapType, changetype<usize>(key), <usize>key.byteLength, RET_PTR, RET_LEN);
    if (r != WasmResult.Ok) return null;
    return takeReturnedBuffer();
  }

  /** A header's value decoded as UTF-8 (invalid bytes become U+FFFD), or null when absent. */
  get(name: string): string | null {
    const v = this.getBytes(name);
    return v === null ? null : decodeUtf8(v);
  }

  /** True when the header is present. */
  has(name: string): bool {
    return this.getBytes(name) !== null;
  }

  /** Every header in order, as bytes; an empty array when the map is not available now. */
  getAll(): Header[] {
    const raw = getMapPairs(this.mapType);
    if (raw === null) return new Array<Header>(0);
    const pairs = decodePairs(raw);
    return pairs !== null ? pairs : new Array<Header>(0);
  }

  /** Number of headers, or -1 when the map is not available now. */
  size(): i32 {
    const r = abi.proxy_get_header_map_size(this.mapType, RET_U32);
    return r == WasmResult.Ok ? <i32>load<u32>(RET_U32) : -1;
  }

  /** Replaces the whole map. */
  setAll(headers: Header[]): WasmResult {
    const buf = encodePairs(headers);
    return <WasmResult>abi.proxy_set_header_map_pairs(this.mapType, changetype<usize>(buf), <usize>buf.byteLength);
  }

  /** Adds a value (keeps existing values of the same name). */
  add(name: string, value: string): WasmResult {
    return this.addBytes(encodeUtf8(name), encodeUtf8(value));
  }
  addBytes(name: ArrayBuffer, value: ArrayBuffer): WasmResult {
    return <WasmResult>abi.proxy_add_header_map_value(this.mapType, changetype<usize>(name), <usize>name.byteLength, changetype<usize>(value), <usize>value.byteLength);
  }

  /** Sets a header to one value, replacing all existing values (adds it when absent). */
  replace(name: string, value: string): WasmResult {
    return this.replaceBytes(encodeUtf8(name), encodeUtf8(value));
  }
  replaceBytes(name: ArrayBuffer, value: ArrayBuffer): WasmResult {
    return <WasmResult>abi.proxy_replace_header_map_value(this.mapType, changetype<usize>(name), <usize>name.byteLength, changetype<usize>(value), <usize>value.byteLength);
  }

  /** Removes every value of a header. Removing an absent header is not an error. */
  remove(name: string): WasmResult {
    return this.removeBytes(encodeUtf8(name));
  }
  /** remove with a name already encoded as UTF-8 bytes. */
  removeBytes(key: ArrayBuffer): WasmResult {
    return <WasmResult>abi.proxy_remove_header_map_value(this.mapType, changetype<usize>(key), <usize>key.byteLength);
  }
}

/** Request headers (valid from onRequestHeaders until the stream ends). */
export const requestHeaders = new HeaderMap(MapType.HttpRequestHeaders);
/** Request trailers (valid in onRequestTrailers; add them in onRequestBody with end of stream). */
export const requestTrailers = new HeaderMap(MapType.HttpRequestTrailers);
/** Response headers (valid from onResponseHeaders). */
export const responseHeaders = new HeaderMap(MapType.HttpResponseHeaders);
/** Response trailers (valid in onResponseTrailers). */
export const responseTrailers = new HeaderMap(MapType.HttpResponseTrailers);
/** Headers of an HTTP callout's response (valid only inside HttpCallHandler.onResponse). */
export const httpCallResponseHeaders = new HeaderMap(MapType.HttpCallResponseHeaders);
/** Trailers of an HTTP callout's response (valid only inside HttpCallHandler.onResponse). */
export const httpCallResponseTrailers = new HeaderMap(MapType.HttpCallResponseTrailers);
/** Initial metadata of a gRPC callout (valid only inside GrpcHandler.onInitialMetadata). */
export const grpcInitialMetadata = new HeaderMap(MapType.GrpcReceiveInitialMetadata);
/** Trailing metadata of a gRPC callout (valid only inside GrpcHandler.onTrailingMetadata). */
export const grpcTrailingMetadata = new HeaderMap(MapType.GrpcReceiveTrailingMetadata);
