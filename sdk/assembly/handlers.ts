// The handler classes callouts take. They live apart from callouts.ts so that the dispatcher, which keeps
// them by token and calls them, and the callout functions, which register them, both depend on this file
// and not on each other. callouts.ts re-exports them: import them from "proxy-wasm-as" as before.

/** Receives the response of one HTTP callout. */
export abstract class HttpCallHandler {
  /**
   * The response arrived, or the call failed (then numHeaders is 0: timeout, reset, no healthy upstream).
   * Read it with httpCallResponseHeaders / httpCallResponseBody / httpCallResponseTrailers, only here.
   */
  abstract onResponse(numHeaders: u32, bodySize: usize, numTrailers: u32): void;
}

/** Receives the events of one gRPC call or stream. */
export abstract class GrpcHandler {
  /** Initial metadata arrived (read grpcInitialMetadata). */
  onInitialMetadata(numElements: u32): void {}
  /** A message arrived (read grpcReceiveBuffer). */
  onMessage(size: usize): void {}
  /** Trailing metadata arrived (read grpcTrailingMetadata). */
  onTrailingMetadata(numElements: u32): void {}
  /**
   * The call ended with a gRPC status; `grpcStatusMessage()` gives its message, only here. Every call ends
   * here exactly once: a unary call that succeeded gets onClose(GrpcStatus.Ok) right after its onMessage
   * (Envoy reports only failures of unary calls as a close).
   */
  onClose(status: u32): void {}
}
