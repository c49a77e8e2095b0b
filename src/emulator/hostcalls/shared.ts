// Shared data (key/value with CAS) and shared queues, shared by every VM with the same vm_id.

import { WasmResult } from "../abi";
import { toText } from "../bytes";
import { type Fn, type HostCalls, u } from "./access";

/** Envoy-side (C++ host) signatures; see wasi.ts for the notation. */
export const SIGNATURES: Record<string, string> = {
  proxy_get_shared_data: "iiiii:i",
  proxy_set_shared_data: "iiiii:i",
  proxy_register_shared_queue: "iii:i",
  proxy_resolve_shared_queue: "iiiii:i",
  proxy_enqueue_shared_queue: "iii:i",
  proxy_dequeue_shared_queue: "iii:i",
};

export function sharedImports(h: HostCalls): Record<string, Fn> {
  const R = WasmResult;
  return {
    proxy_get_shared_data: (kptr, klen, vptrPtr, vsizePtr, casPtr) => {
      const key = h.mem.read(u(kptr), u(klen));
      if (!key) return R.InvalidMemoryAccess;
      const v = h.sharedData.get(h.vmId, key);
      if (!v) return R.NotFound;
      if (!h.mem.copyOut(v.value, u(vptrPtr), u(vsizePtr))) return R.InvalidMemoryAccess;
      return h.mem.setU32(u(casPtr), v.cas) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_shared_data: (kptr, klen, vptr, vlen, cas) => {
      const key = h.mem.read(u(kptr), u(klen));
      const value = h.mem.read(u(vptr), u(vlen));
      if (!key || !value) return R.InvalidMemoryAccess;
      return h.sharedData.set(h.vmId, key, value, u(cas));
    },
    proxy_register_shared_queue: (nptr, nlen, tokenPtr) => {
      const name = h.mem.read(u(nptr), u(nlen));
      if (!name) return R.InvalidMemoryAccess;
      const ctx = h.effective();
      const owner = ctx.root?.id ?? ctx.id;
      const token = h.queues.register(h.vmId, toText(name), h.queueOwner, owner);
      return h.mem.setU32(u(tokenPtr), token) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_resolve_shared_queue: (vptr, vlen, nptr, nlen, tokenPtr) => {
      const vm = h.mem.read(u(vptr), u(vlen));
      const name = h.mem.read(u(nptr), u(nlen));
      if (!vm || !name) return R.InvalidMemoryAccess;
      const token = h.queues.resolve(vm.length ? toText(vm) : h.vmId, toText(name));
      if (token === 0 || h.failed) return R.NotFound;
      return h.mem.setU32(u(tokenPtr), token) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_enqueue_shared_queue: (token, ptr, len) => {
      const data = h.mem.read(u(ptr), u(len));
      if (!data) return R.InvalidMemoryAccess;
      return h.queues.enqueue(u(token), data);
    },
    proxy_dequeue_shared_queue: (token, ptrPtr, sizePtr) => {
      const r = h.queues.dequeue(u(token));
      if (r.result !== R.Ok) return r.result;
      return h.mem.copyOut(r.value!, u(ptrPtr), u(sizePtr)) ? R.Ok : R.InvalidMemoryAccess;
    },

  };
}
