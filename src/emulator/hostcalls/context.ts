// Context, logging and time: proxy_log, the clock and tick, the effective context, proxy_done, proxy_get_status
// (and the emscripten leftovers Envoy still provides).

import { LogLevel, WasmResult } from "../abi";
import { toBytes, toText } from "../bytes";
import { type Fn, type HostCalls, u } from "./access";

/** Envoy-side (C++ host) signatures; see wasi.ts for the notation. */
export const SIGNATURES: Record<string, string> = {
  proxy_log: "iii:i",
  proxy_get_log_level: "i:i",
  proxy_get_current_time_nanoseconds: "i:i",
  proxy_set_tick_period_milliseconds: "i:i",
  proxy_set_effective_context: "i:i",
  proxy_done: ":i",
  proxy_get_status: "iii:i",
  pthread_equal: "ii:i",
  emscripten_notify_memory_growth: "i:",
};

export function contextImports(h: HostCalls): Record<string, Fn> {
  const R = WasmResult;
  return {
    proxy_log: (level, ptr, len) => {
      if (u(level) > LogLevel.Critical) return R.BadArgument;
      const msg = h.mem.read(u(ptr), u(len));
      if (!msg) return R.InvalidMemoryAccess;
      h.log(u(level) as LogLevel, toText(msg));
      return R.Ok;
    },
    proxy_get_log_level: (ptr) => (h.mem.setU32(u(ptr), h.logLevel) ? R.Ok : R.InvalidMemoryAccess),
    proxy_get_current_time_nanoseconds: (ptr) => (h.mem.setU64(u(ptr), h.clock.nowNs()) ? R.Ok : R.InvalidMemoryAccess),
    proxy_set_tick_period_milliseconds: (ms) => {
      const root = h.effective().root;
      if (!root) return R.Ok;
      // Envoy's setTickPeriod replaces the timer: a running one is disabled and a new one armed a whole
      // period from now, so a change never fires on the old schedule.
      const period = BigInt(u(ms)) * 1_000_000n;
      root.tickPeriodNs = period;
      root.nextTickNs = period === 0n ? null : h.clock.monotonicNowNs() + period;
      return R.Ok;
    },
    proxy_set_effective_context: (id) => {
      if (!h.contexts.has(u(id))) return R.BadArgument;
      h.setEffectiveContext(u(id));
      return R.Ok;
    },
    proxy_done: () => {
      const root = h.effective().root;
      if (!root || !root.pendingDone) return R.NotFound;
      root.pendingDone = false;
      h.defer(() => h.deleteRoot(root));
      return R.Ok;
    },
    proxy_get_status: (codePtr, msgPtrPtr, msgSizePtr) => {
      const root = h.effective().root;
      const status = root?.status ?? { code: 0, message: "" };
      if (!h.mem.setU32(u(codePtr), status.code)) return R.InvalidMemoryAccess;
      return h.mem.copyOut(toBytes(status.message), u(msgPtrPtr), u(msgSizePtr)) ? R.Ok : R.InvalidMemoryAccess;
    },


    // emscripten leftovers Envoy still provides
    pthread_equal: (a, b) => (u(a) === u(b) ? 1 : 0),
    emscripten_notify_memory_growth: () => undefined,
  };
}
