// Pending HTTP and gRPC callouts. Tokens follow Envoy's scheme: the low two bits carry the kind
// (0 HTTP call, 1 gRPC call, 2 gRPC stream) and each kind counts up in steps of 4.

import type { Pair } from "./pairs";

export interface HttpCallRecord {
  token: number;
  upstream: string;
  headers: Array<[string, string]>;
  headerBytes: Pair[];
  body: Uint8Array;
  trailers: Array<[string, string]>;
  timeoutMs: number;
  /** The root context that receives proxy_on_http_call_response. */
  contextId: number;
  /** The context that made the call (a stream, when called from one). */
  callerContextId: number;
  /** Virtual time (ms since host start) at which Envoy would time the call out, or undefined for none. */
  deadlineMs?: number;
}

export interface GrpcCallRecord {
  token: number;
  upstream: string;
  service: string;
  method: string;
  initialMetadata: Array<[string, string]>;
  message: Uint8Array;
  timeoutMs: number;
  contextId: number;
  callerContextId: number;
  deadlineMs?: number;
}

export interface GrpcStreamRecord {
  token: number;
  upstream: string;
  service: string;
  method: string;
  initialMetadata: Array<[string, string]>;
  /** Messages the module sent with proxy_grpc_send, in order. */
  sent: Uint8Array[];
  /** The module half-closed (end_stream on send, or proxy_grpc_close). */
  localClosed: boolean;
  remoteClosed: boolean;
  contextId: number;
  callerContextId: number;
}

export const CALLOUT_MASK = 0x3;
export enum CalloutKind {
  Http = 0,
  GrpcCall = 1,
  GrpcStream = 2,
}

export class CalloutTokens {
  private next = [CalloutKind.Http, CalloutKind.GrpcCall, CalloutKind.GrpcStream] as number[];
  take(kind: CalloutKind): number {
    this.next[kind] = (this.next[kind] + 4) >>> 0;
    return this.next[kind];
  }
}

export const calloutKind = (token: number): CalloutKind => (token & CALLOUT_MASK) as CalloutKind;
