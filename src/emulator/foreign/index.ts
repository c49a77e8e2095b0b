// The foreign functions Envoy 1.40 registers (source/extensions/common/wasm/foreign.cc), implemented with its
// semantics: typed filter state, property declarations, signatures (node:crypto), zlib (node:zlib) and
// clear_route_cache, and CEL (expr_create/expr_evaluate/expr_delete, with @bufbuild/cel: see cel.ts).
// HostOptions.withoutForeignFunctions removes any of them, to test a filter against a host that lacks it.

import type { ForeignFunction } from "../host-types";
import { HttpStream } from "../http-stream";
import { exprCreate, exprDelete, exprEvaluate } from "./cel";
import { declareProperty, setEnvoyFilterState } from "./filter-state";
import { sign, verifySignature } from "./signatures";
import { compress, uncompress } from "./zlib";

export { FILTER_STATE_FACTORIES } from "./filter-state";

/** A property declared with declare_property. */
export interface DeclaredProperty {
  readOnly: boolean;
  /** WasmType: 0 bytes, 1 string, 2 flatbuffers, 3 protobuf. */
  type: number;
  span: "FilterChain" | "Request" | "Connection";
}

export const ENVOY_FOREIGN_FUNCTIONS: Readonly<Record<string, ForeignFunction>> = {
  clear_route_cache: (_args, call) => {
    if (call.stream instanceof HttpStream) call.stream.routeCacheClears++;
  },
  set_envoy_filter_state: setEnvoyFilterState,
  declare_property: declareProperty,
  verify_signature: verifySignature,
  sign,
  compress,
  uncompress,
  expr_create: exprCreate,
  expr_evaluate: exprEvaluate,
  expr_delete: exprDelete,
};
