// Answers to the module's callouts (the test plays the upstreams): HTTP call responses and resets, unary gRPC
// replies and failures, gRPC stream data and closes, and the timeouts Envoy applies itself. Each answer is
// delivered to the root context that made the call, with the response readable only during its callback.

import { WasmResult } from "./abi";
import { toBytes } from "./bytes";
import { CalloutKind, calloutKind, GrpcCallRecord, GrpcStreamRecord, HttpCallRecord } from "./callouts";
import type { Execution } from "./execution";
import { HeaderMap } from "./headers";
import { viaUpstream } from "./host-helpers";
import type { GrpcResponse, HttpCallResponse, RootContext } from "./host-types";

export class CalloutDelivery {
  /** Pending calls and open streams by token (the host functions add to them). */
  readonly httpCalls = new Map<number, HttpCallRecord>();
  readonly grpcCalls = new Map<number, GrpcCallRecord>();
  readonly grpcStreams = new Map<number, GrpcStreamRecord>();

  constructor(private readonly vm: Execution) {}

  /** Answers a pending proxy_http_call: proxy_on_http_call_response on the root that made it. */
  respondHttpCall(token: number, response: HttpCallResponse): void {
    const call = this.httpCalls.get(token);
    if (!call) throw new Error(`no pending HTTP call with token ${token}`);
    this.httpCalls.delete(token);
    const root = this.rootOf(call.contextId);
    if (!root) return;
    const headers = HeaderMap.from(response.headers);
    const body = toBytes(response.body ?? "");
    const trailers = response.trailers && response.trailers.length ? HeaderMap.from(response.trailers) : null;
    root.httpCallResponse = { headers, body, trailers };
    try {
      this.vm.dispatch(root, "proxy_on_http_call_response", [root.id, token, headers.size, body.length, trailers?.size ?? 0]);
    } finally {
      root.httpCallResponse = null;
    }
  }

  /** Fails a pending HTTP call as a reset does: 0 headers, 0 body, get_status = BrokenConnection "reset". */
  failHttpCall(token: number): void {
    const call = this.httpCalls.get(token);
    if (!call) throw new Error(`no pending HTTP call with token ${token}`);
    this.httpCalls.delete(token);
    const root = this.rootOf(call.contextId);
    if (!root) return;
    root.status = { code: WasmResult.BrokenConnection, message: "reset" };
    try {
      this.vm.dispatch(root, "proxy_on_http_call_response", [root.id, token, 0, 0, 0]);
    } finally {
      root.status = { code: WasmResult.BrokenConnection, message: "" };
    }
  }

  /**
   * Answers a gRPC call or stream. A unary call gets proxy_on_grpc_receive when status is 0 (Envoy does
   * not deliver metadata for unary calls) or proxy_on_grpc_close(status) otherwise. A stream gets
   * initial metadata, the message, trailing metadata and then close, for whichever are given.
   * `statusMessage` is what the upstream sent; the module reads it back as Envoy reports it ("msg{via_upstream}").
   */
  respondGrpcCall(token: number, res: GrpcResponse): void {
    if (calloutKind(token) === CalloutKind.GrpcStream) {
      this.grpcStreamReceive(token, res);
      this.closeGrpcStream(token, res.status, res.statusMessage ?? "");
      return;
    }
    const call = this.grpcCalls.get(token);
    if (!call) throw new Error(`no pending gRPC call with token ${token}`);
    this.grpcCalls.delete(token);
    const root = this.rootOf(call.contextId);
    if (!root) return;
    if (res.status === 0) this.grpcReceive(root, token, toBytes(res.message ?? ""));
    else this.grpcClose(root, token, res.status, viaUpstream(res.statusMessage ?? ""));
  }

  /** Delivers data on an open gRPC stream (any of initial metadata, a message, trailing metadata). */
  grpcStreamReceive(token: number, data: Omit<GrpcResponse, "status" | "statusMessage">): void {
    const s = this.grpcStreams.get(token);
    if (!s) throw new Error(`no open gRPC stream with token ${token}`);
    const root = this.rootOf(s.contextId);
    if (!root) return;
    if (data.initialMetadata) {
      root.grpcInitialMetadata = HeaderMap.from(data.initialMetadata);
      try {
        this.vm.dispatch(root, "proxy_on_grpc_receive_initial_metadata", [root.id, token, root.grpcInitialMetadata.size]);
      } finally {
        root.grpcInitialMetadata = null;
      }
    }
    if (data.message !== undefined) this.grpcReceive(root, token, toBytes(data.message));
    if (data.trailingMetadata) {
      root.grpcTrailingMetadata = HeaderMap.from(data.trailingMetadata);
      try {
        this.vm.dispatch(root, "proxy_on_grpc_receive_trailing_metadata", [root.id, token, root.grpcTrailingMetadata.size]);
      } finally {
        root.grpcTrailingMetadata = null;
      }
    }
  }

  /**
   * The remote end closes a gRPC stream: proxy_on_grpc_close(status), get_status gives status and message
   * (for a failure, as Envoy reports it: "msg{via_upstream}").
   */
  closeGrpcStream(token: number, status: number, message = ""): void {
    const s = this.grpcStreams.get(token);
    if (!s) throw new Error(`no open gRPC stream with token ${token}`);
    s.remoteClosed = true;
    if (s.localClosed) this.grpcStreams.delete(token);
    const root = this.rootOf(s.contextId);
    if (!root) return;
    this.grpcClose(root, token, status, status === 0 ? message : viaUpstream(message));
  }

  /** The calls that have a deadline, with it (elapsed milliseconds on the clock). */
  deadlines(): Array<{ token: number; deadlineMs: number }> {
    const out: Array<{ token: number; deadlineMs: number }> = [];
    for (const c of [...this.httpCalls.values(), ...this.grpcCalls.values()]) {
      if (c.deadlineMs !== undefined) out.push({ token: c.token, deadlineMs: c.deadlineMs });
    }
    return out;
  }

  /** A call's deadline passed: an HTTP call gets Envoy's 504, a gRPC call closes with DEADLINE_EXCEEDED. */
  timeOut(token: number): void {
    const http = this.httpCalls.get(token);
    if (http) {
      const body = "upstream request timeout";
      this.respondHttpCall(token, {
        headers: [[":status", "504"], ["content-length", String(body.length)], ["content-type", "text/plain"]],
        body,
      });
      return;
    }
    const call = this.grpcCalls.get(token);
    if (!call) return;
    // Envoy's own timeout, not the upstream's answer: no "{via_upstream}" detail on the message.
    this.grpcCalls.delete(token);
    const root = this.rootOf(call.contextId);
    if (root) this.grpcClose(root, token, 4, "");
  }

  /** The root a call belongs to, unless it is gone or the VM failed (then nothing is delivered). */
  private rootOf(contextId: number): RootContext | undefined {
    const root = this.vm.contexts.get(contextId) as RootContext | undefined;
    return root && !this.vm.failed ? root : undefined;
  }

  private grpcReceive(root: RootContext, token: number, message: Uint8Array): void {
    root.grpcReceiveBuffer = message;
    try {
      this.vm.dispatch(root, "proxy_on_grpc_receive", [root.id, token, message.length]);
    } finally {
      root.grpcReceiveBuffer = null;
    }
  }

  private grpcClose(root: RootContext, token: number, status: number, message: string): void {
    root.status = { code: status, message };
    try {
      this.vm.dispatch(root, "proxy_on_grpc_close", [root.id, token, status]);
    } finally {
      root.status = { code: status, message: "" };
    }
  }
}
