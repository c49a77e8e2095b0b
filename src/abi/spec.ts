/**
 * The proxy-wasm ABI 0.2.1 as the toolchain sees it: which imports a module may use and which exports
 * Envoy looks for. One list, used by `pwas build` (import/export checks) and the emulator.
 * Names are the spec's (github.com/proxy-wasm/spec, abi-versions/v0.2.1/README.md).
 */

/** Host functions in module `env` that Envoy provides under ABI 0.2.1. */
export const ENV_IMPORTS = [
  "proxy_done", "proxy_set_effective_context", "proxy_log", "proxy_get_log_level",
  "proxy_get_current_time_nanoseconds", "proxy_set_tick_period_milliseconds",
  "proxy_get_buffer_bytes", "proxy_set_buffer_bytes", "proxy_get_buffer_status",
  "proxy_get_header_map_size", "proxy_get_header_map_pairs", "proxy_set_header_map_pairs",
  "proxy_get_header_map_value", "proxy_add_header_map_value", "proxy_replace_header_map_value",
  "proxy_remove_header_map_value",
  "proxy_continue_stream", "proxy_close_stream", "proxy_get_status", "proxy_send_local_response",
  "proxy_http_call", "proxy_grpc_call", "proxy_grpc_stream", "proxy_grpc_send", "proxy_grpc_cancel", "proxy_grpc_close",
  "proxy_get_shared_data", "proxy_set_shared_data",
  "proxy_register_shared_queue", "proxy_resolve_shared_queue", "proxy_enqueue_shared_queue", "proxy_dequeue_shared_queue",
  "proxy_define_metric", "proxy_record_metric", "proxy_increment_metric", "proxy_get_metric",
  "proxy_get_property", "proxy_set_property", "proxy_call_foreign_function",
] as const;

/** ABI 0.1.0 names that must not appear in a 0.2.1 module. */
export const ABI_0_1_0_ONLY = ["proxy_get_configuration", "proxy_continue_request", "proxy_continue_response", "proxy_clear_route_cache"] as const;

/** WASI modules Envoy accepts. */
export const WASI_MODULES = ["wasi_snapshot_preview1", "wasi_unstable"] as const;

/** Exports every module built with this SDK has. */
export const REQUIRED_EXPORTS = [
  "proxy_abi_version_0_2_1", "malloc", "proxy_on_memory_allocate", "_initialize", "memory",
  "proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure", "proxy_on_tick",
  "proxy_on_done", "proxy_on_log", "proxy_on_delete",
  "proxy_on_new_connection", "proxy_on_downstream_data", "proxy_on_upstream_data",
  "proxy_on_downstream_connection_close", "proxy_on_upstream_connection_close",
  "proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers",
  "proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers",
  "proxy_on_http_call_response", "proxy_on_grpc_receive_initial_metadata", "proxy_on_grpc_receive",
  "proxy_on_grpc_receive_trailing_metadata", "proxy_on_grpc_close", "proxy_on_queue_ready",
  "proxy_on_foreign_function",
] as const;

/** Problems with a module's import list, as sentences; empty when Envoy will accept it. */
export function checkImports(imports: WebAssembly.ModuleImportDescriptor[]): string[] {
  const problems: string[] = [];
  const env = new Set<string>(ENV_IMPORTS);
  for (const imp of imports) {
    const name = `${imp.module}.${imp.name}`;
    if (imp.module === "env") {
      if ((ABI_0_1_0_ONLY as readonly string[]).includes(imp.name)) {
        problems.push(`${name} belongs to proxy-wasm ABI 0.1.0; Envoy will not provide it to a 0.2.1 module`);
      } else if (!env.has(imp.name)) {
        problems.push(`${name} is not a proxy-wasm host function, so Envoy refuses to load the module` + hintFor(imp.name));
      }
    } else if (!(WASI_MODULES as readonly string[]).includes(imp.module)) {
      problems.push(`${name}: Envoy provides only "env" (proxy-wasm) and WASI imports`);
    }
  }
  return problems;
}

function hintFor(name: string): string {
  if (name === "Date.now") return " (use nowMillis() from proxy-wasm-as instead of Date.now())";
  if (name === "seed") return " (build with pwas build, which routes Math.random's seed to WASI random_get)";
  if (name === "abort") return " (build with pwas build, which routes abort to the SDK's handler)";
  if (name === "trace" || name.startsWith("console.")) return " (use log.info() from proxy-wasm-as instead)";
  return "";
}
