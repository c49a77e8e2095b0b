// proxy_call_foreign_function: host extensions called by name.

import { WasmResult } from "../abi";
import { toText } from "../bytes";
import { type Fn, type HostCalls, u } from "./access";

/** Envoy-side (C++ host) signatures; see wasi.ts for the notation. */
export const SIGNATURES: Record<string, string> = {
  proxy_call_foreign_function: "iiiiii:i",
};

export function foreignImports(h: HostCalls): Record<string, Fn> {
  const R = WasmResult;
  return {
    proxy_call_foreign_function: (nptr, nlen, aptr, alen, rptrPtr, rsizePtr) => {
      const name = h.mem.read(u(nptr), u(nlen));
      if (!name) return R.InvalidMemoryAccess;
      const args = h.mem.read(u(aptr), u(alen));
      if (!args) return R.InvalidMemoryAccess;
      const fname = toText(name);
      const fn = h.foreign.get(fname);
      if (!fn) return R.NotFound;
      h.foreignCounts.set(fname, (h.foreignCounts.get(fname) ?? 0) + 1);
      const ctx = h.effective();
      const out = fn(args, { host: h.host, contextId: ctx.id, stream: ctx.stream });
      const result = out && !(out instanceof Uint8Array) ? out.result : R.Ok;
      const value = out instanceof Uint8Array ? out : out?.value;
      let address = 0;
      if (value && value.length && u(rptrPtr) !== 0) {
        address = h.mem.alloc(value.length);
        if (address === 0 || !h.mem.inBounds(address, value.length)) return R.InvalidMemoryAccess;
        h.mem.u8().set(value, address);
      }
      if (u(rptrPtr) !== 0 && !h.mem.setU32(u(rptrPtr), address)) return R.InvalidMemoryAccess;
      if (u(rsizePtr) !== 0 && !h.mem.setU32(u(rsizePtr), value?.length ?? 0)) return R.InvalidMemoryAccess;
      return result;
    },

  };
}
