// set_envoy_filter_state and declare_property with Envoy 1.40's semantics (context.cc): the filter state key
// names the object factory too (NotFound for a key no factory has; BadArgument for a value the factory refuses);
// a declaration is kept by the context that made it and never replaced (BadArgument the second time).

import { WasmResult } from "../abi";
import type { ForeignFunction } from "../host-types";
import { parseMessage, stringField, varintField } from "./protobuf";

const ANY = (_v: string) => true;
const ADDRESS = (v: string) => /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/.test(v);
const UINT32 = (v: string) => /^\d+$/.test(v) && Number(v) <= 0xffffffff;

/**
 * Object factories Envoy 1.40 registers (its well-known filter state keys and the generic string objects),
 * with the values each accepts. A key missing here answers NotFound, as in an Envoy without that extension.
 */
export const FILTER_STATE_FACTORIES: ReadonlyMap<string, (value: string) => boolean> = new Map([
  ["envoy.string", ANY],
  ["envoy.hashable_string", ANY],
  ["envoy.tcp_proxy.cluster", ANY],
  ["envoy.udp_proxy.cluster", ANY],
  ["envoy.upstream.dynamic_host", ANY],
  ["envoy.upstream.dynamic_port", UINT32],
  ["envoy.network.upstream_server_name", ANY],
  ["envoy.network.application_protocols", ANY],
  ["envoy.network.upstream_subject_alt_names", ANY],
  ["envoy.network.transport_socket.original_dst_address", ADDRESS],
  ["envoy.filters.listener.original_dst.local_ip", ADDRESS],
  ["envoy.filters.listener.original_dst.remote_ip", ADDRESS],
  ["envoy.ratelimit.hits_addend", UINT32],
]);

/** LifeSpan of declare_property.proto, as Envoy names the filter state life spans. */
export const LIFE_SPANS = ["FilterChain", "Request", "Connection"] as const;

/** SetEnvoyFilterStateArguments { string path = 1; string value = 2; LifeSpan span = 3; } */
export const setEnvoyFilterState: ForeignFunction = (args, call) => {
  const f = parseMessage(args);
  if (!f) return { result: WasmResult.BadArgument };
  const path = stringField(f, 1);
  const value = stringField(f, 2);
  const accepts = FILTER_STATE_FACTORIES.get(path);
  if (!accepts) return { result: WasmResult.NotFound };
  if (!accepts(value)) return { result: WasmResult.BadArgument };
  if (!call.stream) return { result: WasmResult.NotFound };
  const span = LIFE_SPANS[Number(varintField(f, 3))] ?? "FilterChain";
  call.stream.envoyFilterState.set(path, { value, span });
  return { result: WasmResult.Ok };
};

/** DeclarePropertyArguments { string name = 1; bool readonly = 2; WasmType type = 3; bytes schema = 4; LifeSpan span = 5; } */
export const declareProperty: ForeignFunction = (args, call) => {
  const f = parseMessage(args);
  if (!f) return { result: WasmResult.BadArgument };
  const name = stringField(f, 1);
  const declared = call.host.declaredProperties(call.contextId);
  if (declared.has(name)) return { result: WasmResult.BadArgument };
  declared.set(name, { readOnly: varintField(f, 2) !== 0n, type: Number(varintField(f, 3)), span: LIFE_SPANS[Number(varintField(f, 5))] ?? "FilterChain" });
  return { result: WasmResult.Ok };
};
