// Logging through the host (Envoy's `wasm` logger; it prefixes the plugin name and root id).
// Building a message costs allocations even when the level is off: guard debug-level messages with
// `log.enabled(LogLevel.Debug)` on hot paths.

import { proxy_log, proxy_get_log_level } from "./abi/imports";
import { LogLevel, WasmResult } from "./abi/enums";
import { RET_U32 } from "./internal/memory";
import { encodeUtf8 } from "./utf8";

export namespace log {
  export function write(level: LogLevel, message: string): void {
    const bytes = encodeUtf8(message);
    proxy_log(level, changetype<usize>(bytes), <usize>bytes.byteLength);
  }
  export function trace(message: string): void { write(LogLevel.Trace, message); }
  export function debug(message: string): void { write(LogLevel.Debug, message); }
  export function info(message: string): void { write(LogLevel.Info, message); }
  export function warn(message: string): void { write(LogLevel.Warn, message); }
  export function error(message: string): void { write(LogLevel.Error, message); }
  export function critical(message: string): void { write(LogLevel.Critical, message); }

  /** The host's current log level (Info when the host cannot tell). */
  export function level(): LogLevel {
    store<u32>(RET_U32, LogLevel.Info);
    if (proxy_get_log_level(RET_U32) != WasmResult.Ok) return LogLevel.Info;
    return <LogLevel>load<u32>(RET_U32);
  }
  /** True when a message at `lvl` would be written. */
  export function enabled(lvl: LogLevel): bool { return lvl >= level(); }
}
