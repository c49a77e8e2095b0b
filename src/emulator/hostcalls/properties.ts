// Properties: Envoy's attributes (proxy_get_property) and the filter state proxy_set_property writes.

import { WasmResult } from "../abi";
import { getProperty } from "../properties";
import { type Fn, type HostCalls, u } from "./access";

/** Envoy-side (C++ host) signatures; see wasi.ts for the notation. */
export const SIGNATURES: Record<string, string> = {
  proxy_get_property: "iiii:i",
  proxy_set_property: "iiii:i",
};

export function propertyImports(h: HostCalls): Record<string, Fn> {
  const R = WasmResult;
  return {
    proxy_get_property: (pptr, plen, vptrPtr, vsizePtr) => {
      const path = h.mem.read(u(pptr), u(plen));
      if (!path) return R.InvalidMemoryAccess;
      const r = getProperty(h.propertyScope(h.effective()), path);
      if (r.result !== R.Ok) return r.result;
      return h.mem.copyOut(r.value!, u(vptrPtr), u(vsizePtr)) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_property: (pptr, plen, vptr, vlen) => {
      const path = h.mem.read(u(pptr), u(plen));
      const value = h.mem.read(u(vptr), u(vlen));
      if (!path || !value) return R.InvalidMemoryAccess;
      const ctx = h.effective();
      const stream = ctx.stream;
      if (!stream) return R.NotFound;
      const key = Buffer.from(path).toString("utf8");
      // Envoy's CelState: a property its root declared read-only takes one value, once.
      const declared = ctx.root ? h.declaredProperties(ctx.root.id).get(key) : undefined;
      if (declared?.readOnly && stream.filterState.has(key)) return R.BadArgument;
      stream.filterState.set(key, value);
      return R.Ok;
    },
  };
}
