// Attributes for proxy_get_property, with Envoy's encodings: strings and bytes raw, integers and
// timestamps/durations (nanoseconds) as 8 little-endian bytes, booleans as one byte, maps as a
// serialized header map. A path is NUL-separated segments ("request\0path").
//
// What is derived from the stream follows Envoy: request.* header attributes exist only while the
// filter can see the request headers (during/paused in on_request_headers, and in on_log);
// response.* likewise. Anything can be overridden (or hidden with null) per host or per stream.

import { WasmResult } from "./abi";
import { BytesLike, toBytes, toText, u64le } from "./bytes";
import type { HeaderMap } from "./headers";
import { encodePairs, Pair } from "./pairs";

/** A property value as a test supplies it. `null` hides the attribute (get returns NotFound). */
export type PropertyValue =
  | string
  | Uint8Array
  | number
  | bigint
  | boolean
  | { map: ReadonlyArray<readonly [BytesLike, BytesLike]> }
  | null;

/** Keyed by dotted path ("source.address", "xds.cluster_name") or by a NUL-joined path. */
export type PropertyOverrides = Record<string, PropertyValue>;

type Value = Uint8Array | bigint | boolean | { map: Pair[] };

/** Defaults for a connection, as an Envoy listener on 10.0.0.2:8080 would report them. */
export const DEFAULT_PROPERTIES: PropertyOverrides = {
  "source.address": "10.0.0.1:54321",
  "source.port": 54321,
  "destination.address": "10.0.0.2:8080",
  "destination.port": 8080,
  "upstream.address": "10.0.0.3:8080",
  "upstream.port": 8080,
  "connection.mtls": false,
  "connection.requested_server_name": "",
  "request.protocol": "HTTP/1.1",
  "xds.cluster_name": "backend",
  "xds.route_name": "default",
  "xds.virtual_host_name": "default",
  "xds.listener_direction": 1,
  "xds.filter_chain_name": "",
  // What the project's Envoy bootstraps name their node (src/envoy/bootstrap.ts).
  "xds.node.id": "pwas",
  "xds.node.cluster": "pwas",
};

/** What the host knows about the context a property is read in. */
export interface PropertyScope {
  pluginName: string;
  rootId: string;
  vmId: string;
  overrides: PropertyOverrides;
  stream?: StreamFacts;
}

export interface StreamFacts {
  http: boolean;
  connectionId: number;
  startTimeNs: bigint;
  nowNs: bigint;
  logPhase: boolean;
  requestHeaders: HeaderMap | null;
  responseHeaders: HeaderMap | null;
  responseTrailers: HeaderMap | null;
  requestBytes: number;
  responseBytes: number;
  responseCode?: number;
  responseCodeDetails?: string;
  /** Values written with proxy_set_property, by the full path the module passed. */
  filterState: Map<string, Uint8Array>;
  /** Objects set with set_envoy_filter_state, by key. */
  envoyFilterState: Map<string, { value: string }>;
}

function fromOverride(v: Exclude<PropertyValue, null>): Value {
  if (typeof v === "string" || v instanceof Uint8Array) return toBytes(v);
  if (typeof v === "number") return BigInt(Math.trunc(v));
  if (typeof v === "bigint" || typeof v === "boolean") return v;
  return { map: v.map.map(([k, x]) => [toBytes(k), toBytes(x)] as Pair) };
}

export function serializeProperty(v: Value): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "bigint") return u64le(v);
  if (typeof v === "boolean") return new Uint8Array([v ? 1 : 0]);
  return v.map.length ? encodePairs(v.map) : new Uint8Array(0);
}

/** Splits a module-supplied path on NUL bytes. */
export function splitPath(path: Uint8Array): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === 0) {
      parts.push(toText(path.subarray(start, i)));
      start = i + 1;
    }
  }
  // Envoy stops at the end: a trailing NUL does not add an empty segment.
  if (parts.length > 1 && parts[parts.length - 1] === "" && path[path.length - 1] === 0) parts.pop();
  return parts;
}

export function getProperty(scope: PropertyScope, path: Uint8Array): { result: WasmResult; value?: Uint8Array } {
  if (path.length === 0) return { result: WasmResult.NotFound };
  const segs = splitPath(path);
  const dotted = segs.join(".");
  const nul = segs.join("\u0000");
  for (const key of [dotted, nul]) {
    if (key in scope.overrides) {
      const o = scope.overrides[key];
      if (o === null) return { result: WasmResult.NotFound };
      return { result: WasmResult.Ok, value: serializeProperty(fromOverride(o)) };
    }
  }
  const value = derive(scope, segs);
  if (value === undefined) return { result: WasmResult.NotFound };
  return { result: WasmResult.Ok, value: serializeProperty(value) };
}

function derive(scope: PropertyScope, segs: string[]): Value | undefined {
  const [top, ...rest] = segs;
  const s = scope.stream;
  const str = (v: string | undefined): Value | undefined => (v === undefined ? undefined : toBytes(v));
  const header = (m: HeaderMap | null, k: string) => (m ? m.get(toBytes(k)) : undefined);
  const leaf = (v: Value | undefined): Value | undefined => (rest.length <= 1 ? v : undefined);
  const mapLookup = (m: HeaderMap | null, tail: string[]): Value | undefined => {
    const map = { map: m ? m.pairs() : [] };
    if (tail.length === 0) return map;
    if (tail.length > 1) return undefined;
    return header(m, tail[0]);
  };
  switch (top) {
    case "plugin_name":
      return rest.length ? undefined : str(scope.pluginName);
    case "plugin_root_id":
      return rest.length ? undefined : str(scope.rootId);
    case "plugin_vm_id":
      return rest.length ? undefined : str(scope.vmId);
    case "filter_state": {
      // Envoy's filter_state attribute: an object's serialised value by key (set_envoy_filter_state's keys).
      const o = s && rest.length === 1 ? s.envoyFilterState.get(rest[0]!) : undefined;
      return o === undefined ? undefined : toBytes(o.value);
    }
    case "connection_id":
      return s && !rest.length ? BigInt(s.connectionId) : undefined;
    case "connection":
      if (!s) return undefined;
      if (rest[0] === "id" && rest.length === 1) return BigInt(s.connectionId);
      return undefined;
    case "request": {
      if (!s || !s.http) return undefined;
      const h = s.requestHeaders;
      const [field, ...tail] = rest;
      switch (field) {
        case undefined:
          return undefined;
        case "headers":
          return mapLookup(h, tail);
        case "time":
          return leaf(s.startTimeNs);
        case "duration":
          return s.logPhase ? leaf(s.nowNs - s.startTimeNs) : undefined;
        case "size": {
          const cl = header(h, "content-length");
          if (cl !== undefined) {
            const n = /^\d+$/.test(toText(cl)) ? BigInt(toText(cl)) : undefined;
            return leaf(n);
          }
          return leaf(BigInt(s.requestBytes));
        }
      }
      if (!h || tail.length) return undefined;
      switch (field) {
        case "path":
          return header(h, ":path");
        case "url_path": {
          const p = header(h, ":path");
          if (!p) return undefined;
          const q = p.indexOf(0x3f);
          return q < 0 ? p : p.slice(0, q);
        }
        case "query": {
          const p = header(h, ":path");
          if (!p) return undefined;
          const q = p.indexOf(0x3f);
          return q < 0 ? new Uint8Array(0) : p.slice(q + 1);
        }
        case "host":
          return header(h, ":authority");
        case "scheme":
          return header(h, ":scheme");
        case "method":
          return header(h, ":method");
        case "referer":
          return header(h, "referer");
        case "useragent":
          return header(h, "user-agent");
        case "id":
          return header(h, "x-request-id");
        case "total_size":
          return BigInt(s.requestBytes + h.byteSize);
      }
      return undefined;
    }
    case "response": {
      if (!s || !s.http) return undefined;
      const [field, ...tail] = rest;
      switch (field) {
        case "code":
          return s.responseCode !== undefined && !tail.length ? BigInt(s.responseCode) : undefined;
        case "code_details":
          return s.responseCodeDetails !== undefined && !tail.length ? toBytes(s.responseCodeDetails) : undefined;
        case "flags":
          return tail.length ? undefined : 0n;
        case "size":
          return tail.length ? undefined : BigInt(s.responseBytes);
        case "headers":
          return mapLookup(s.responseHeaders, tail);
        case "trailers":
          return mapLookup(s.responseTrailers, tail);
        case "grpc_status": {
          const g = header(s.responseTrailers, "grpc-status") ?? header(s.responseHeaders, "grpc-status");
          return g && /^\d+$/.test(toText(g)) && !tail.length ? BigInt(toText(g)) : undefined;
        }
      }
      return undefined;
    }
  }
  // Anything else is looked up in the stream's filter state, by its top-level name (as Envoy does).
  if (!s) return undefined;
  const state = s.filterState.get(top);
  if (state === undefined || rest.length) return undefined;
  return state;
}
