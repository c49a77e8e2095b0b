// The Host's option and context types, apart from the Host class so the host functions (hostcalls/, foreign/)
// and the streams can name them without importing the class.

import type { LogLevel, WasmResult } from "./abi";
import type { BytesLike } from "./bytes";
import type { HeaderInput, HeaderMap } from "./headers";
import type { Host } from "./host";
import type { PropertyOverrides } from "./properties";
import type { SharedData, SharedQueues } from "./shared";
import type { HttpStream } from "./http-stream";
import type { TcpStream } from "./tcp-stream";

export interface HostOptions {
  /** Plugin configuration, readable as buffer 7 during proxy_on_configure. */
  pluginConfig?: BytesLike;
  /** VM configuration, readable as buffer 6 (Envoy serves it at any time). */
  vmConfig?: BytesLike;
  /** root_id of the first root context (default ""). */
  rootId?: string;
  vmId?: string;
  pluginName?: string;
  /** Environment variables for WASI environ_get (Envoy's vm_config.environment_variables). */
  env?: Record<string, string>;
  /** Attribute overrides for proxy_get_property, by dotted path; null hides an attribute. */
  properties?: PropertyOverrides;
  /** Wall-clock start time of the virtual clock, in Unix nanoseconds. */
  startTimeNs?: bigint;
  /** Envoy's log level: what proxy_get_log_level returns; messages below it are not recorded. Default Trace. */
  logLevel?: LogLevel;
  /** Shared data store; pass one store to several hosts with the same vmId to model several workers. */
  sharedData?: SharedData;
  queues?: SharedQueues;
  /** Source of WASI random_get bytes. Default: a deterministic generator seeded with `seed`. */
  randomBytes?: (n: number) => Uint8Array;
  seed?: number;
  /** Cluster names proxy_http_call/proxy_grpc_call may target; by default any name is accepted. */
  clusters?: string[];
  /** Envoy's allow_on_headers_stop_iteration: keep Pause from a headers callback as StopIteration. */
  allowOnHeadersStopIteration?: boolean;
  /** failure_policy FAIL_OPEN: streams bypass a failed VM instead of getting a 503. */
  failOpen?: boolean;
  /**
   * Envoy foreign functions this host lacks (they answer NotFound), as another host or an Envoy built without
   * them would: "set_envoy_filter_state", "declare_property", "verify_signature", "sign", "compress",
   * "uncompress", "clear_route_cache".
   */
  withoutForeignFunctions?: string[];
}

/** A foreign function the module can call with proxy_call_foreign_function. */
export type ForeignFunction = (
  args: Uint8Array,
  call: { host: Host; contextId: number; stream?: HttpStream | TcpStream },
) => Uint8Array | void | { result: WasmResult; value?: Uint8Array };

export interface HttpCallResponse {
  headers: HeaderInput;
  body?: BytesLike;
  trailers?: HeaderInput;
}

export interface GrpcResponse {
  initialMetadata?: HeaderInput;
  message?: BytesLike;
  trailingMetadata?: HeaderInput;
  status: number;
  statusMessage?: string;
}

/** @internal */
export interface Context {
  id: number;
  kind: "vm" | "root" | "http" | "tcp";
  root: RootContext | null;
  stream?: HttpStream | TcpStream;
  created: boolean;
}

/** @internal */
export interface RootContext extends Context {
  kind: "root";
  rootId: string;
  pluginConfig: Uint8Array;
  /** Envoy's temp_plugin_: the plugin configuration is readable only while this is set. */
  configReadable: boolean;
  tickPeriodNs: bigint;
  nextTickNs: bigint | null;
  status: { code: number; message: string };
  httpCallResponse: { headers: HeaderMap; body: Uint8Array; trailers: HeaderMap | null } | null;
  grpcReceiveBuffer: Uint8Array | null;
  grpcInitialMetadata: HeaderMap | null;
  grpcTrailingMetadata: HeaderMap | null;
  foreignArgs: Uint8Array | null;
  pendingDone: boolean;
  deleted: boolean;
}

/** @internal A body/data buffer the module may read and, when `mutable`, change in place. */
export interface BufferBox {
  data: Uint8Array;
  mutable: boolean;
}
