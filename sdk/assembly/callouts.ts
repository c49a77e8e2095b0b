// HTTP and gRPC callouts. AssemblyScript has no closures, so a callout takes a handler object (handlers.ts):
// put the state the response needs (for example the HttpContext to resume) in the handler's fields. The SDK
// keeps the handler by token and, before calling it, makes the context that started the call effective again.

import * as abi from "./abi/imports";
import { WasmResult, GrpcStatus } from "./abi/enums";
import { Header } from "./header";
import { encodePairs } from "./internal/pairs";
import { RET_U32, RET_PTR, RET_LEN, clearReturnSlots, takeReturnedBuffer } from "./internal/memory";
import { registerHttpCall, registerGrpcCall, forgetGrpcCall, closingUnaryWithOk } from "./internal/dispatch";
import { encodeUtf8, decodeUtf8 } from "./utf8";
import { HttpCallHandler, GrpcHandler } from "./handlers";

export { HttpCallHandler, GrpcHandler };

/** A callout's token, or the host's error. */
export class CallResult {
  constructor(public readonly result: WasmResult, public readonly token: u32) {}
  get ok(): bool { return this.result == WasmResult.Ok; }
}

/**
 * Starts an HTTP request to an Envoy cluster. `headers` must include `:method`, `:path` and `:authority`.
 * Valid from any callback. From an HTTP stream, return Action.Pause and resume the stream in the handler.
 * BadArgument: missing pseudo-headers or unknown cluster (Envoy also logs why).
 */
export function httpCall(cluster: string, headers: Header[], body: ArrayBuffer | null, trailers: Header[], timeoutMilliseconds: u32, handler: HttpCallHandler): CallResult {
  const c = encodeUtf8(cluster);
  const h = encodePairs(headers);
  const t = encodePairs(trailers);
  const bptr = body !== null ? changetype<usize>(body) : 0;
  const blen = body !== null ? <usize>body.byteLength : 0;
  store<u32>(RET_U32, 0);
  const r = <WasmResult>abi.proxy_http_call(
    changetype<usize>(c), <usize>c.byteLength, changetype<usize>(h), <usize>h.byteLength,
    bptr, blen, changetype<usize>(t), <usize>t.byteLength, timeoutMilliseconds, RET_U32);
  const token = load<u32>(RET_U32);
  if (r == WasmResult.Ok) registerHttpCall(token, handler);
  return new CallResult(r, token);
}

/**
 * A unary gRPC call. `upstream` is a cluster name (or a serialized envoy.config.core.v3.GrpcService);
 * `service` is the fully qualified service ("envoy.service.ratelimit.v3.RateLimitService").
 */
export function grpcCall(upstream: string, service: string, method: string, initialMetadata: Header[], message: ArrayBuffer, timeoutMilliseconds: u32, handler: GrpcHandler): CallResult {
  const u = encodeUtf8(upstream);
  const s = encodeUtf8(service);
  const m = encodeUtf8(method);
  const md = encodePairs(initialMetadata);
  store<u32>(RET_U32, 0);
  const r = <WasmResult>abi.proxy_grpc_call(
    changetype<usize>(u), <usize>u.byteLength, changetype<usize>(s), <usize>s.byteLength,
    changetype<usize>(m), <usize>m.byteLength, changetype<usize>(md), <usize>md.byteLength,
    changetype<usize>(message), <usize>message.byteLength, timeoutMilliseconds, RET_U32);
  const token = load<u32>(RET_U32);
  if (r == WasmResult.Ok) registerGrpcCall(token, handler, true);
  return new CallResult(r, token);
}

/** An open gRPC stream; send messages with `send`, end it with `close` or abort it with `cancel`. */
export class GrpcStream {
  constructor(public readonly token: u32) {}

  send(message: ArrayBuffer, endStream: bool = false): WasmResult {
    return <WasmResult>abi.proxy_grpc_send(this.token, changetype<usize>(message), <usize>message.byteLength, endStream ? 1 : 0);
  }
  /** Half-closes the stream gracefully; the handler still receives onClose. */
  close(): WasmResult {
    return <WasmResult>abi.proxy_grpc_close(this.token);
  }
  /** Cancels the stream; no further events reach the handler. */
  cancel(): WasmResult {
    forgetGrpcCall(this.token);
    return <WasmResult>abi.proxy_grpc_cancel(this.token);
  }
}

/** Opens a streaming gRPC call; null when the host refused (see `lastGrpcStreamResult`). */
export function grpcStream(upstream: string, service: string, method: string, initialMetadata: Header[], handler: GrpcHandler): GrpcStream | null {
  const u = encodeUtf8(upstream);
  const s = encodeUtf8(service);
  const m = encodeUtf8(method);
  const md = encodePairs(initialMetadata);
  store<u32>(RET_U32, 0);
  lastGrpcStreamResult = <WasmResult>abi.proxy_grpc_stream(
    changetype<usize>(u), <usize>u.byteLength, changetype<usize>(s), <usize>s.byteLength,
    changetype<usize>(m), <usize>m.byteLength, changetype<usize>(md), <usize>md.byteLength, RET_U32);
  if (lastGrpcStreamResult != WasmResult.Ok) return null;
  const token = load<u32>(RET_U32);
  registerGrpcCall(token, handler, false);
  return new GrpcStream(token);
}

/** Result of the last grpcStream call. */
export let lastGrpcStreamResult: WasmResult = WasmResult.Ok;

/** Cancels a unary gRPC call started with grpcCall. */
export function cancelGrpcCall(token: u32): WasmResult {
  forgetGrpcCall(token);
  return <WasmResult>abi.proxy_grpc_cancel(token);
}

/** The status message of the gRPC call being closed (valid only inside GrpcHandler.onClose). */
export function grpcStatusMessage(): string {
  if (closingUnaryWithOk) return "";
  clearReturnSlots();
  const r = abi.proxy_get_status(RET_U32, RET_PTR, RET_LEN);
  if (r != WasmResult.Ok) return "";
  return decodeUtf8(takeReturnedBuffer());
}

export { GrpcStatus };
