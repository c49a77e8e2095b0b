// Loading a module as Envoy does: compile it, refuse what Envoy refuses (no or an unsupported ABI marker, no
// allocator, an import Envoy does not provide or with another signature), instantiate it against the host's
// imports, and guard those imports during the module's own start-up (only logging and a few WASI calls).

import { readFileSync } from "node:fs";
import { ABI_MARKERS, AbiVersion } from "./abi";
import { ModuleLoadError } from "./errors";
import type { Fn } from "./hostcalls";
import { ENV_SIGNATURES } from "./hostcalls";
import { parseImports } from "./module";
import { WASI_ALLOWED_DURING_START, WASI_SIGNATURES } from "./wasi";

export type ImportObject = Record<string, Record<string, unknown>>;

export interface CompiledModule {
  bytes: Uint8Array;
  module: WebAssembly.Module;
  abi: AbiVersion;
}

/** Compiles a module (bytes or a file path) and checks its exports: ABI marker and allocator. */
export async function compileModule(wasm: Uint8Array | string): Promise<CompiledModule> {
  const bytes = typeof wasm === "string" ? new Uint8Array(readFileSync(wasm)) : wasm;
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(new Uint8Array(bytes));
  } catch (e) {
    throw new ModuleLoadError(`Failed to load Wasm bytecode: ${(e as Error).message}`);
  }
  const exportNames = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const abi = (Object.keys(ABI_MARKERS) as AbiVersion[]).reverse().find((v) => exportNames.has(ABI_MARKERS[v]));
  if (!abi) {
    throw new ModuleLoadError(
      `Missing or unknown Proxy-Wasm ABI version: export one of ${Object.values(ABI_MARKERS).join(", ")}`,
    );
  }
  if (abi === "0.1.0") throw new ModuleLoadError("Proxy-Wasm ABI 0.1.0 is not supported by this emulator");
  if (!exportNames.has("malloc") && !exportNames.has("proxy_on_memory_allocate")) {
    throw new ModuleLoadError("Wasm module is missing malloc function (export malloc or proxy_on_memory_allocate)");
  }
  return { bytes, module, abi };
}

/**
 * Instantiates against `provided` (an imported memory is created to the module's declared limits), refusing a
 * missing import or one whose signature differs from Envoy's. Returns the instance and its memory.
 */
export function instantiateModule(compiled: CompiledModule, provided: ImportObject): { instance: WebAssembly.Instance; memory: WebAssembly.Memory } {
  const declared = WebAssembly.Module.imports(compiled.module);
  const parsed = parseImports(compiled.bytes);
  const sigs: Record<string, string> = {};
  for (const p of parsed ?? []) if (p.signature) sigs[`${p.module}.${p.name}`] = p.signature;
  for (const imp of declared) {
    const where = `${imp.module}.${imp.name}`;
    if (imp.kind === "memory" && imp.module === "env") {
      const lim = parsed?.find((p) => p.kind === "memory")?.memory;
      provided.env[imp.name] = new WebAssembly.Memory({
        initial: lim?.initial ?? 1,
        ...(lim?.maximum !== undefined ? { maximum: lim.maximum } : {}),
      });
      continue;
    }
    const fn = provided[imp.module]?.[imp.name];
    if (imp.kind !== "function" || typeof fn !== "function") {
      throw new ModuleLoadError(`Failed to load Wasm module due to a missing import: ${where}`);
    }
    const want = imp.module === "env" ? ENV_SIGNATURES[imp.name] : WASI_SIGNATURES[imp.name];
    if (sigs[where] !== undefined && want !== undefined && sigs[where] !== want) {
      throw new ModuleLoadError(
        `Failed to load Wasm module due to an import type mismatch: ${where}, want ${want}, but the module declares ${sigs[where]}`,
      );
    }
  }
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(compiled.module, provided as WebAssembly.Imports);
  } catch (e) {
    throw new ModuleLoadError(`Failed to instantiate Wasm module: ${(e as Error).message}`);
  }
  const memory = instance.exports.memory ?? Object.values(provided.env).find((v) => v instanceof WebAssembly.Memory);
  if (!(memory instanceof WebAssembly.Memory)) throw new ModuleLoadError("Wasm module exports no memory");
  return { instance, memory };
}

/**
 * The import object: env and both WASI namespaces, each function refusing to run while `restricted()` (the
 * module's start-up) unless Envoy allows it then.
 */
export function guardedImports(env: Record<string, Fn>, wasi: Record<string, Fn>, restricted: () => boolean): ImportObject {
  const guard = (module: string, table: Record<string, Fn>, allowed: (n: string) => boolean) => {
    const out: Record<string, Fn> = {};
    for (const [name, fn] of Object.entries(table)) {
      out[name] = (...args) => {
        if (restricted() && !allowed(name)) {
          throw new Error(`restricted_callback: ${module}.${name} may not be called during VM start-up`);
        }
        return fn(...args);
      };
    }
    return out;
  };
  const envAllowed = (n: string) => n === "proxy_log" || n === "emscripten_notify_memory_growth";
  const wasiAllowed = (n: string) => WASI_ALLOWED_DURING_START.has(n);
  return {
    env: guard("env", env, envAllowed),
    wasi_snapshot_preview1: guard("wasi_snapshot_preview1", wasi, wasiAllowed),
    wasi_unstable: guard("wasi_unstable", wasi, wasiAllowed),
  };
}
