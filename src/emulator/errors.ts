// Typed errors the emulator throws. Each carries what a test needs to say what went wrong.

import type { LogEntry } from "./logs";

/** The module cannot run in Envoy as it is: bad bytes, no ABI marker, an import Envoy does not provide. */
export class ModuleLoadError extends Error {
  readonly name = "ModuleLoadError";
}

/** A serialized header map is truncated or inconsistent. */
export class PairsDecodeError extends Error {
  readonly name = "PairsDecodeError";
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/**
 * The module trapped (or threw from a host call) inside `callback`. The VM is marked failed, as Envoy
 * does: later callbacks are not delivered and HTTP streams fail closed (503) unless the host fails open.
 */
export class WasmTrapError extends Error {
  readonly name = "WasmTrapError";
  constructor(
    readonly callback: string,
    readonly cause: unknown,
    /** The module's last CRITICAL log line before the trap (what an SDK's panic handler writes), if any. */
    readonly lastCritical: string | undefined,
    readonly logs: LogEntry[],
  ) {
    super(
      `Wasm trap in ${callback}: ${cause instanceof Error ? cause.message : String(cause)}` +
        (lastCritical !== undefined ? ` (last critical log: ${lastCritical})` : ""),
    );
  }
}

/** Start-up or configuration returned false; the message includes the module's logs. */
export class PluginStartError extends Error {
  readonly name = "PluginStartError";
  constructor(message: string, readonly logs: LogEntry[]) {
    super(message + (logs.length ? "\nlogs:\n" + logs.map((l) => `  [${l.level}] ${l.message}`).join("\n") : ""));
  }
}
