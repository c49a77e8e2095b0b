// The proxy-wasm host emulator: run a compiled filter in Node with Envoy's ABI semantics.
export { Host } from "./host";
export type { HostOptions, ForeignFunction, HttpCallResponse, GrpcResponse } from "./host";
export { HttpStream } from "./http-stream";
export { TcpStream } from "./tcp-stream";
export type { HttpStreamOptions, LocalResponse, Forwarded } from "./http-stream";
export {
  Action,
  BufferFlags,
  BufferType,
  GrpcStatus,
  LogLevel,
  MapType,
  MetricType,
  PeerType,
  StreamType,
  WasmResult,
  ABI_MARKERS,
  LIMITS,
} from "./abi";
export type { AbiVersion } from "./abi";
export { ModuleLoadError, PairsDecodeError, PluginStartError, WasmTrapError } from "./errors";
export type { LogEntry } from "./logs";
export { encodePairs, decodePairs, decodePairsLikeEnvoy } from "./pairs";
export type { Pair, DecodeOptions } from "./pairs";
export { HeaderMap } from "./headers";
export type { HeaderInput } from "./headers";
export { SharedData, SharedQueues } from "./shared";
export type { SharedValue } from "./shared";
export { VirtualClock } from "./clock";
export { DEFAULT_PROPERTIES } from "./properties";
export type { PropertyOverrides, PropertyValue } from "./properties";
export type { HttpCallRecord, GrpcCallRecord, GrpcStreamRecord } from "./callouts";
export { toBytes, toText } from "./bytes";
