// empty: the fixed cost of a proxy-wasm-as filter in Envoy. A root context and a per-stream HttpContext
// whose callbacks are the SDK's no-op defaults, so every request still pays for context creation, the
// dispatcher and each callback crossing the Wasm boundary, and nothing else.

export * from "proxy-wasm-as/exports";

import { RootContext, HttpContext, registerRootContext } from "proxy-wasm-as";

class EmptyRoot extends RootContext {
  newHttpContext(contextId: u32): HttpContext | null {
    return new HttpContext(contextId, this);
  }
}

registerRootContext((id: u32): RootContext => new EmptyRoot(id));
