// Routes AssemblyScript's built-in imports to what a proxy-wasm host provides, so a module imports
// only `env.proxy_*` and WASI, and counts what the garbage collector's allocations cost. The build passes
// `--use abort=… --use seed=… --use __new=… --use __renew=…` pointing here (src/build/compile.ts).
import { proxy_log, wasi_random_get } from "./abi/imports";
import { LogLevel } from "./abi/enums";
import { __new as gcNew, __renew as gcRenew } from "~lib/rt/tcms";
import { countAllocation } from "./internal/memory";

/** Replaces `env.abort`: a failed assertion or throw is logged at CRITICAL, then the VM traps (Envoy applies failure_policy). */
export function pwasAbort(message: string | null = null, fileName: string | null = null, line: u32 = 0, column: u32 = 0): void {
  let text = "AssemblyScript abort: " + (message !== null ? message : "(no message)");
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  const bytes = String.UTF8.encode(text);
  proxy_log(LogLevel.Critical, changetype<usize>(bytes), <usize>bytes.byteLength);
  unreachable();
}

/** Replaces `env.seed` (used by Math.random): 8 bytes from WASI random_get. */
export function pwasSeed(): f64 {
  const buf = memory.data(8);
  wasi_random_get(buf, 8);
  return <f64>load<u64>(buf);
}

// Every managed allocation (objects, strings, arrays, buffers) goes through `__new`, and every growth of
// an array or string builder through `__renew`. Aliasing both here lets the dispatcher collect garbage
// after a callback once enough was allocated (docs/memory.md), at the cost of one add per allocation.

/** Replaces the runtime's `__new`: allocates as before and counts the bytes. */
export function pwasNew(size: usize, id: i32): usize {
  countAllocation(size);
  return gcNew(size, id);
}

/** Replaces the runtime's `__renew`: the new size is counted whole (the block may move). */
export function pwasRenew(oldPtr: usize, size: usize): usize {
  countAllocation(size);
  return gcRenew(oldPtr, size);
}
