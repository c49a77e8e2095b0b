// Properties: Envoy's attributes (request.*, source.*, connection.*, xds.*, plugin_*), filter state and
// metadata. A path is a list of segments. The host encodes strings as raw bytes, integers, timestamps
// and durations as 8 little-endian bytes (timestamps/durations in nanoseconds), booleans as one byte and
// maps in the header-map format.

import { proxy_set_property } from "./abi/imports";
import { WasmResult } from "./abi/enums";
import { Header } from "./header";
import { decodePairs } from "./internal/pairs";
import { getPropertyBytes, encodePath, lastResult } from "./internal/hostcalls";
import { decodeUtf8, encodeUtf8 } from "./utf8";

/** Result of the last property read (NotFound when the attribute does not exist or is not known yet). */
export function lastPropertyResult(): WasmResult { return lastResult; }

/** A property's raw bytes, or null when it is absent. */
export function getProperty(path: string[]): ArrayBuffer | null {
  return getPropertyBytes(encodePath(path));
}

/** A string property decoded as UTF-8, or null when absent. */
export function getPropertyString(path: string[]): string | null {
  const v = getPropertyBytes(encodePath(path));
  return v === null ? null : decodeUtf8(v);
}

/** An integer property (8 little-endian bytes), or `orElse` when absent or not an integer. */
export function getPropertyInt(path: string[], orElse: i64 = -1): i64 {
  return asInt(getPropertyBytes(encodePath(path)), orElse);
}

/** A property path encoded once (for example at configure time), for getPropertyByPath on hot paths. */
export function propertyPath(path: string[]): ArrayBuffer { return encodePath(path); }

/** getProperty with a path made by propertyPath: no encoding per call. */
export function getPropertyByPath(path: ArrayBuffer): ArrayBuffer | null { return getPropertyBytes(path); }

/** Sets a property (Envoy: filter state under the path, readable by later filters and the access log). */
export function setProperty(path: string[], value: ArrayBuffer): WasmResult {
  const p = encodePath(path);
  return <WasmResult>proxy_set_property(changetype<usize>(p), <usize>p.byteLength, changetype<usize>(value), <usize>value.byteLength);
}

function asInt(v: ArrayBuffer | null, orElse: i64): i64 {
  if (v === null || v.byteLength != 8) return orElse;
  return load<i64>(changetype<usize>(v));
}

function asString(v: ArrayBuffer | null): string | null {
  return v === null ? null : decodeUtf8(v);
}

function asMap(v: ArrayBuffer | null): Header[] | null {
  return v === null ? null : decodePairs(v);
}

// Paths are encoded once, not per call.
// @ts-ignore: decorator
@lazy const REQUEST_PATH = encodePath(["request", "path"]);
// @ts-ignore: decorator
@lazy const REQUEST_URL_PATH = encodePath(["request", "url_path"]);
// @ts-ignore: decorator
@lazy const REQUEST_HOST = encodePath(["request", "host"]);
// @ts-ignore: decorator
@lazy const REQUEST_SCHEME = encodePath(["request", "scheme"]);
// @ts-ignore: decorator
@lazy const REQUEST_METHOD = encodePath(["request", "method"]);
// @ts-ignore: decorator
@lazy const REQUEST_HEADERS = encodePath(["request", "headers"]);
// @ts-ignore: decorator
@lazy const REQUEST_REFERER = encodePath(["request", "referer"]);
// @ts-ignore: decorator
@lazy const REQUEST_USERAGENT = encodePath(["request", "useragent"]);
// @ts-ignore: decorator
@lazy const REQUEST_TIME = encodePath(["request", "time"]);
// @ts-ignore: decorator
@lazy const REQUEST_ID = encodePath(["request", "id"]);
// @ts-ignore: decorator
@lazy const REQUEST_PROTOCOL = encodePath(["request", "protocol"]);
// @ts-ignore: decorator
@lazy const REQUEST_QUERY = encodePath(["request", "query"]);
// @ts-ignore: decorator
@lazy const REQUEST_DURATION = encodePath(["request", "duration"]);
// @ts-ignore: decorator
@lazy const REQUEST_SIZE = encodePath(["request", "size"]);
// @ts-ignore: decorator
@lazy const REQUEST_TOTAL_SIZE = encodePath(["request", "total_size"]);
// @ts-ignore: decorator
@lazy const RESPONSE_CODE = encodePath(["response", "code"]);
// @ts-ignore: decorator
@lazy const RESPONSE_CODE_DETAILS = encodePath(["response", "code_details"]);
// @ts-ignore: decorator
@lazy const RESPONSE_FLAGS = encodePath(["response", "flags"]);
// @ts-ignore: decorator
@lazy const RESPONSE_GRPC_STATUS = encodePath(["response", "grpc_status"]);
// @ts-ignore: decorator
@lazy const RESPONSE_SIZE = encodePath(["response", "size"]);
// @ts-ignore: decorator
@lazy const SOURCE_ADDRESS = encodePath(["source", "address"]);
// @ts-ignore: decorator
@lazy const SOURCE_PORT = encodePath(["source", "port"]);
// @ts-ignore: decorator
@lazy const DESTINATION_ADDRESS = encodePath(["destination", "address"]);
// @ts-ignore: decorator
@lazy const DESTINATION_PORT = encodePath(["destination", "port"]);
// @ts-ignore: decorator
@lazy const UPSTREAM_ADDRESS = encodePath(["upstream", "address"]);
// @ts-ignore: decorator
@lazy const UPSTREAM_PORT = encodePath(["upstream", "port"]);
// @ts-ignore: decorator
@lazy const CONNECTION_ID = encodePath(["connection", "id"]);
// @ts-ignore: decorator
@lazy const CONNECTION_MTLS = encodePath(["connection", "mtls"]);
// @ts-ignore: decorator
@lazy const CONNECTION_SNI = encodePath(["connection", "requested_server_name"]);
// @ts-ignore: decorator
@lazy const CONNECTION_TLS_VERSION = encodePath(["connection", "tls_version"]);
// @ts-ignore: decorator
@lazy const CONNECTION_SUBJECT_PEER = encodePath(["connection", "subject_peer_certificate"]);
// @ts-ignore: decorator
@lazy const CONNECTION_URI_SAN_PEER = encodePath(["connection", "uri_san_peer_certificate"]);
// @ts-ignore: decorator
@lazy const CONNECTION_DNS_SAN_PEER = encodePath(["connection", "dns_san_peer_certificate"]);
// @ts-ignore: decorator
@lazy const CONNECTION_PEER_DIGEST = encodePath(["connection", "sha256_peer_certificate_digest"]);
// @ts-ignore: decorator
@lazy const XDS_CLUSTER_NAME = encodePath(["xds", "cluster_name"]);
// @ts-ignore: decorator
@lazy const XDS_ROUTE_NAME = encodePath(["xds", "route_name"]);
// @ts-ignore: decorator
@lazy const XDS_VIRTUAL_HOST_NAME = encodePath(["xds", "virtual_host_name"]);
// @ts-ignore: decorator
@lazy const XDS_LISTENER_DIRECTION = encodePath(["xds", "listener_direction"]);
// @ts-ignore: decorator
@lazy const XDS_NODE = encodePath(["xds", "node"]);
// @ts-ignore: decorator
@lazy const PLUGIN_NAME = encodePath(["plugin_name"]);
// @ts-ignore: decorator
@lazy const PLUGIN_ROOT_ID = encodePath(["plugin_root_id"]);
// @ts-ignore: decorator
@lazy const PLUGIN_VM_ID = encodePath(["plugin_vm_id"]);

/** Typed accessors for Envoy's attributes. Each returns null (or -1 for integers) when the attribute is absent. */
export namespace attributes {
  export namespace request {
    /** The request path including the query string (request headers on). */
    export function path(): string | null { return asString(getPropertyBytes(REQUEST_PATH)); }
    /** The path without the query string. */
    export function urlPath(): string | null { return asString(getPropertyBytes(REQUEST_URL_PATH)); }
    export function host(): string | null { return asString(getPropertyBytes(REQUEST_HOST)); }
    export function scheme(): string | null { return asString(getPropertyBytes(REQUEST_SCHEME)); }
    export function method(): string | null { return asString(getPropertyBytes(REQUEST_METHOD)); }
    export function headers(): Header[] | null { return asMap(getPropertyBytes(REQUEST_HEADERS)); }
    export function referer(): string | null { return asString(getPropertyBytes(REQUEST_REFERER)); }
    export function userAgent(): string | null { return asString(getPropertyBytes(REQUEST_USERAGENT)); }
    /** Time of the first byte, nanoseconds since the epoch. */
    export function time(): i64 { return asInt(getPropertyBytes(REQUEST_TIME), -1); }
    /** The x-request-id. */
    export function id(): string | null { return asString(getPropertyBytes(REQUEST_ID)); }
    /** "HTTP/1.1", "HTTP/2"… */
    export function protocol(): string | null { return asString(getPropertyBytes(REQUEST_PROTOCOL)); }
    export function query(): string | null { return asString(getPropertyBytes(REQUEST_QUERY)); }
    /** Nanoseconds since the first byte (available once the request is complete). */
    export function duration(): i64 { return asInt(getPropertyBytes(REQUEST_DURATION), -1); }
    export function size(): i64 { return asInt(getPropertyBytes(REQUEST_SIZE), -1); }
    export function totalSize(): i64 { return asInt(getPropertyBytes(REQUEST_TOTAL_SIZE), -1); }
  }
  export namespace response {
    export function code(): i64 { return asInt(getPropertyBytes(RESPONSE_CODE), -1); }
    export function codeDetails(): string | null { return asString(getPropertyBytes(RESPONSE_CODE_DETAILS)); }
    export function flags(): i64 { return asInt(getPropertyBytes(RESPONSE_FLAGS), -1); }
    export function grpcStatus(): i64 { return asInt(getPropertyBytes(RESPONSE_GRPC_STATUS), -1); }
    export function size(): i64 { return asInt(getPropertyBytes(RESPONSE_SIZE), -1); }
  }
  export namespace source {
    /** "ip:port" of the downstream peer. */
    export function address(): string | null { return asString(getPropertyBytes(SOURCE_ADDRESS)); }
    export function port(): i64 { return asInt(getPropertyBytes(SOURCE_PORT), -1); }
  }
  export namespace destination {
    export function address(): string | null { return asString(getPropertyBytes(DESTINATION_ADDRESS)); }
    export function port(): i64 { return asInt(getPropertyBytes(DESTINATION_PORT), -1); }
  }
  export namespace upstream {
    export function address(): string | null { return asString(getPropertyBytes(UPSTREAM_ADDRESS)); }
    export function port(): i64 { return asInt(getPropertyBytes(UPSTREAM_PORT), -1); }
  }
  export namespace connection {
    export function id(): i64 { return asInt(getPropertyBytes(CONNECTION_ID), -1); }
    export function mtls(): bool {
      const v = getPropertyBytes(CONNECTION_MTLS);
      return v !== null && v.byteLength > 0 && load<u8>(changetype<usize>(v)) != 0;
    }
    export function requestedServerName(): string | null { return asString(getPropertyBytes(CONNECTION_SNI)); }
    export function tlsVersion(): string | null { return asString(getPropertyBytes(CONNECTION_TLS_VERSION)); }
    export function subjectPeerCertificate(): string | null { return asString(getPropertyBytes(CONNECTION_SUBJECT_PEER)); }
    export function uriSanPeerCertificate(): string | null { return asString(getPropertyBytes(CONNECTION_URI_SAN_PEER)); }
    export function dnsSanPeerCertificate(): string | null { return asString(getPropertyBytes(CONNECTION_DNS_SAN_PEER)); }
    export function sha256PeerCertificateDigest(): string | null { return asString(getPropertyBytes(CONNECTION_PEER_DIGEST)); }
  }
  export namespace xds {
    export function clusterName(): string | null { return asString(getPropertyBytes(XDS_CLUSTER_NAME)); }
    export function routeName(): string | null { return asString(getPropertyBytes(XDS_ROUTE_NAME)); }
    export function virtualHostName(): string | null { return asString(getPropertyBytes(XDS_VIRTUAL_HOST_NAME)); }
    /** 0 unspecified, 1 inbound, 2 outbound (Envoy's TrafficDirection). */
    export function listenerDirection(): i64 { return asInt(getPropertyBytes(XDS_LISTENER_DIRECTION), -1); }
    /** The serialized envoy.config.core.v3.Node. */
    export function node(): ArrayBuffer | null { return getPropertyBytes(XDS_NODE); }
  }
  export namespace plugin {
    export function name(): string | null { return asString(getPropertyBytes(PLUGIN_NAME)); }
    export function rootId(): string | null { return asString(getPropertyBytes(PLUGIN_ROOT_ID)); }
    export function vmId(): string | null { return asString(getPropertyBytes(PLUGIN_VM_ID)); }
  }
}

