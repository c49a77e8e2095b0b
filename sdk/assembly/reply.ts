// Local replies: answer the client from the filter without reaching the upstream.

import { proxy_send_local_response } from "./abi/imports";
import { WasmResult, NO_GRPC_STATUS } from "./abi/enums";
import { Header } from "./header";
import { encodePairs } from "./internal/pairs";
import { encodeUtf8 } from "./utf8";

/**
 * Sends a local reply on the current HTTP stream. Valid in request and response callbacks (and in a callout
 * handler of the stream). After it, return Action.Pause from the callback: the stream is finished.
 * `details` becomes Envoy's response code details (visible in access logs as %RESPONSE_CODE_DETAILS%);
 * use a short token without spaces. `grpcStatus` >= 0 makes it a gRPC reply (HTTP 200 with grpc-status).
 */
export function sendLocalResponse(status: u32, details: string, body: ArrayBuffer, headers: Header[], grpcStatus: i32 = NO_GRPC_STATUS): WasmResult {
  const d = encodeUtf8(details);
  const h = encodePairs(headers);
  return <WasmResult>proxy_send_local_response(
    status, changetype<usize>(d), <usize>d.byteLength,
    changetype<usize>(body), <usize>body.byteLength,
    changetype<usize>(h), <usize>h.byteLength, grpcStatus);
}

/** sendLocalResponse with a string body. */
export function sendHttpResponse(status: u32, details: string, body: string, headers: Header[] = []): WasmResult {
  return sendLocalResponse(status, details, encodeUtf8(body), headers);
}

/** A gRPC error reply: HTTP 200 with grpc-status and grpc-message, as a gRPC client expects. */
export function sendGrpcError(grpcStatus: u32, message: string, details: string, headers: Header[] = []): WasmResult {
  return sendLocalResponse(200, details, encodeUtf8(message), headers, <i32>grpcStatus);
}
