// Module exports of the proxy-wasm ABI 0.2.1: the functions Envoy calls. A filter's entry file re-exports
// this module (`export * from "proxy-wasm-as/exports"`); each export forwards to the
// dispatcher, which finds the filter's context object.

import * as d from "../internal/dispatch";
import { allocateForHost } from "../internal/memory";
import { PeerType } from "./enums";

/** ABI marker: Envoy looks for this name to know which ABI the module speaks. Never called. */
export function proxy_abi_version_0_2_1(): void {}

/** Allocation for the host (Envoy looks for `malloc` first). */
export function malloc(size: usize): usize { return allocateForHost(size); }

/** Allocation for the host (the name the spec prefers). */
export function proxy_on_memory_allocate(size: usize): usize { return allocateForHost(size); }

export function proxy_on_context_create(context_id: u32, parent_context_id: u32): void { d.onContextCreate(context_id, parent_context_id); }
export function proxy_on_vm_start(root_context_id: u32, vm_configuration_size: u32): bool { return d.onVmStart(root_context_id, vm_configuration_size); }
export function proxy_on_configure(root_context_id: u32, plugin_configuration_size: u32): bool { return d.onConfigure(root_context_id, plugin_configuration_size); }
export function proxy_on_tick(root_context_id: u32): void { d.onTick(root_context_id); }
export function proxy_on_queue_ready(root_context_id: u32, queue_id: u32): void { d.onQueueReady(root_context_id, queue_id); }
export function proxy_on_foreign_function(root_context_id: u32, function_id: u32, arguments_size: u32): void { d.onForeignFunction(root_context_id, function_id, arguments_size); }
export function proxy_on_done(context_id: u32): bool { return d.onDone(context_id); }
export function proxy_on_log(context_id: u32): void { d.onLog(context_id); }
export function proxy_on_delete(context_id: u32): void { d.onDelete(context_id); }

export function proxy_on_new_connection(context_id: u32): u32 { return d.onNewConnection(context_id); }
export function proxy_on_downstream_data(context_id: u32, data_size: u32, end_of_stream: u32): u32 { return d.onDownstreamData(context_id, data_size, end_of_stream != 0); }
export function proxy_on_upstream_data(context_id: u32, data_size: u32, end_of_stream: u32): u32 { return d.onUpstreamData(context_id, data_size, end_of_stream != 0); }
export function proxy_on_downstream_connection_close(context_id: u32, peer_type: u32): void { d.onDownstreamClose(context_id, <PeerType>peer_type); }
export function proxy_on_upstream_connection_close(context_id: u32, peer_type: u32): void { d.onUpstreamClose(context_id, <PeerType>peer_type); }

export function proxy_on_request_headers(context_id: u32, num_headers: u32, end_of_stream: u32): u32 { return d.onRequestHeaders(context_id, num_headers, end_of_stream != 0); }
export function proxy_on_request_body(context_id: u32, body_size: u32, end_of_stream: u32): u32 { return d.onRequestBody(context_id, body_size, end_of_stream != 0); }
export function proxy_on_request_trailers(context_id: u32, num_trailers: u32): u32 { return d.onRequestTrailers(context_id, num_trailers); }
export function proxy_on_response_headers(context_id: u32, num_headers: u32, end_of_stream: u32): u32 { return d.onResponseHeaders(context_id, num_headers, end_of_stream != 0); }
export function proxy_on_response_body(context_id: u32, body_size: u32, end_of_stream: u32): u32 { return d.onResponseBody(context_id, body_size, end_of_stream != 0); }
export function proxy_on_response_trailers(context_id: u32, num_trailers: u32): u32 { return d.onResponseTrailers(context_id, num_trailers); }

export function proxy_on_http_call_response(root_context_id: u32, token: u32, num_headers: u32, body_size: u32, num_trailers: u32): void { d.onHttpCallResponse(root_context_id, token, num_headers, body_size, num_trailers); }
export function proxy_on_grpc_receive_initial_metadata(root_context_id: u32, token: u32, num_elements: u32): void { d.onGrpcInitialMetadata(root_context_id, token, num_elements); }
export function proxy_on_grpc_receive(root_context_id: u32, token: u32, message_size: u32): void { d.onGrpcMessage(root_context_id, token, message_size); }
export function proxy_on_grpc_receive_trailing_metadata(root_context_id: u32, token: u32, num_elements: u32): void { d.onGrpcTrailingMetadata(root_context_id, token, num_elements); }
export function proxy_on_grpc_close(root_context_id: u32, token: u32, status_code: u32): void { d.onGrpcClose(root_context_id, token, status_code); }
