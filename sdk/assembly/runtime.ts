// Routes AssemblyScript's built-in imports to what a proxy-wasm host provides, so a module imports
// only `env.proxy_*` and WASI. The build passes `--use abort=… --use seed=…` pointing here.
import { proxy_log, wasi_random_get } from "./abi/imports";
import { LogLevel } from "./abi/enums";

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
