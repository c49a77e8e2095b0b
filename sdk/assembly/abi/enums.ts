// Enum values of the proxy-wasm ABI 0.2.1, defined once. The public API re-exports these;
// nothing else in the SDK or the filters spells the numbers.

/** Result of every host call. */
export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
}

export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

/** What a stream callback tells the host to do next. */
export enum Action {
  Continue = 0,
  Pause = 1,
}

/**
 * Envoy-specific, body and TCP data callbacks only: stop iterating and apply watermarks (Envoy's
 * StopIterationAndWatermark), so Envoy stops reading from the peer instead of buffering without limit.
 * In a headers callback the same number means something else (ContinueAndEndStream): never return it there.
 */
// @ts-ignore: decorator
@inline export const PAUSE_AND_WATERMARK: Action = <Action>2;

export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  ForeignFunctionArguments = 8,
}

export enum BufferFlags {
  EndOfStream = 1,
}

export enum MapType {
  HttpRequestHeaders = 0,
  HttpRequestTrailers = 1,
  HttpResponseHeaders = 2,
  HttpResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
}

export enum PeerType {
  Unknown = 0,
  Local = 1,
  Remote = 2,
}

export enum StreamType {
  HttpRequest = 0,
  HttpResponse = 1,
  Downstream = 2,
  Upstream = 3,
}

export enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}

/** gRPC status codes (google.rpc.Code). */
export enum GrpcStatus {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** `grpc_status` argument of proxy_send_local_response meaning "not a gRPC reply". */
// @ts-ignore: decorator
@inline export const NO_GRPC_STATUS: i32 = -1;
