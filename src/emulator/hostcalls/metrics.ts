// Metrics: counters, gauges, histograms.

import { WasmResult } from "../abi";
import { toText } from "../bytes";
import { type Fn, type HostCalls, u } from "./access";

/** Envoy-side (C++ host) signatures; see wasi.ts for the notation. */
export const SIGNATURES: Record<string, string> = {
  proxy_define_metric: "iiii:i",
  proxy_increment_metric: "iI:i",
  proxy_record_metric: "iI:i",
  proxy_get_metric: "ii:i",
};

export function metricImports(h: HostCalls): Record<string, Fn> {
  const R = WasmResult;
  return {
    proxy_define_metric: (type, nptr, nlen, idPtr) => {
      const name = h.mem.read(u(nptr), u(nlen));
      if (!name) return R.InvalidMemoryAccess;
      const r = h.metrics.define(u(type), toText(name));
      if (r.result !== R.Ok) return r.result;
      return h.mem.setU32(u(idPtr), r.id!) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_increment_metric: (id, offset) => h.metrics.increment(u(id), BigInt.asIntN(64, BigInt(offset))),
    proxy_record_metric: (id, value) => h.metrics.record(u(id), BigInt.asUintN(64, BigInt(value))),
    proxy_get_metric: (id, ptr) => {
      const r = h.metrics.get(u(id));
      if (r.result !== R.Ok) return r.result;
      return h.mem.setU64(u(ptr), r.value!) ? R.Ok : R.InvalidMemoryAccess;
    },

  };
}
