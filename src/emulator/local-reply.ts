// Local replies as Envoy builds them: the record of what the module sent, and the headers of the reply (a gRPC
// request gets 200 with grpc-status and grpc-message instead of the HTTP status and a text body).

import { GrpcStatus } from "./abi";
import { toBytes, toText } from "./bytes";
import { HeaderMap } from "./headers";
import type { Pair } from "./pairs";

export interface LocalResponse {
  status: number;
  /** Response code details, with whitespace replaced by '_' as Envoy does. */
  details: string;
  body: Uint8Array;
  /** The additional headers the module passed (keys lower-cased). */
  headers: Array<[string, string]>;
  /** gRPC status the module passed, or null for -1 / out of range. */
  grpcStatus: number | null;
}

/** Maps an HTTP status to a gRPC status the way Envoy's local replies to gRPC requests do. */
function httpToGrpc(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.Internal;
    case 401:
      return GrpcStatus.Unauthenticated;
    case 403:
      return GrpcStatus.PermissionDenied;
    case 404:
      return GrpcStatus.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.Unavailable;
    default:
      return GrpcStatus.Unknown;
  }
}

/** The reply's headers; `grpc` when the request's content-type is application/grpc*. */
export function localReplyHeaders(grpc: boolean, status: number, body: Uint8Array, extra: Pair[], grpcStatus: number | null): HeaderMap {
  const m = new HeaderMap();
  const put = (k: string, v: string) => m.add(toBytes(k), toBytes(v));
  if (grpc) {
    put(":status", "200");
    put("content-type", "application/grpc");
    put("grpc-status", String(grpcStatus ?? httpToGrpc(status)));
    if (body.length) put("grpc-message", toText(body));
  } else {
    put(":status", String(status));
    if (body.length) {
      put("content-length", String(body.length));
      put("content-type", "text/plain");
    }
  }
  for (const [k, v] of extra) m.add(k, v);
  return m;
}
