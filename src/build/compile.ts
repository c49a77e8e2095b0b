import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { promisify } from "node:util";
import { locateAsc } from "./locate";

const run = promisify(execFile);

/** Where the SDK's replacements for AssemblyScript's `env.abort` / `env.seed` imports and its allocation hooks live (see sdk/assembly/runtime.ts). */
const RUNTIME_HOOKS = "~lib/proxy-wasm-as/assembly/runtime";

export interface CompileOptions {
  /** AssemblyScript entry file (it re-exports the SDK's ABI exports). */
  entry: string;
  /** Output .wasm path; parent folders are created. */
  outFile: string;
  /** Debug build: no optimisation, debug info, a text format file next to the module. */
  debug?: boolean;
  /** Directory whose node_modules resolve `proxy-wasm-as` and the compiler; defaults to the entry's folder. */
  projectDir?: string;
  /** Extra asc arguments, appended last. */
  extraArgs?: string[];
  /** Stops the compiler (Ctrl-C); the promise then rejects with an AbortError. */
  signal?: AbortSignal;
}

export interface CompileResult {
  wasmPath: string;
  bytes: number;
  imports: WebAssembly.ModuleImportDescriptor[];
  exports: WebAssembly.ModuleExportDescriptor[];
}

/**
 * The asc flags every proxy-wasm module needs:
 * - minimal runtime: no shadow stack and no collection behind the filter's back; the SDK collects at
 *   callback boundaries, where nothing managed lives on the Wasm stack (docs/memory.md explains why).
 * - `_initialize` instead of a start section, so nothing runs before Envoy has a context for the VM.
 * - abort/seed routed to the SDK so the module imports only what Envoy provides.
 * - __new/__renew routed through the SDK's counting hooks, so it can collect after any callback once
 *   enough was allocated, and __alloc/__free through its cache of small blocks (docs/memory.md).
 */
export function ascArgs(opts: CompileOptions): string[] {
  const o = ascOptions();
  const args = [
    opts.entry,
    "--outFile", opts.outFile,
    "--runtime", o.runtime,
    "--exportStart", o.exportStart,
    ...o.use.flatMap((u) => ["--use", u]),
    "--initialMemory", String(o.initialMemory),
  ];
  if (opts.debug) {
    args.push("--debug", "--textFile", opts.outFile.replace(/\.wasm$/, ".wat"));
  } else {
    args.push("--optimizeLevel", "3", "--shrinkLevel", "0", "--converge");
  }
  return args.concat(opts.extraArgs ?? []);
}

/** The options above in asconfig.json form (one source for the CLI and for generated projects). */
export function ascOptions() {
  return {
    runtime: "minimal",
    exportStart: "_initialize",
    use: [
      `abort=${RUNTIME_HOOKS}/pwasAbort`, `seed=${RUNTIME_HOOKS}/pwasSeed`,
      `__new=${RUNTIME_HOOKS}/pwasNew`, `__renew=${RUNTIME_HOOKS}/pwasRenew`,
      `__alloc=${RUNTIME_HOOKS}/pwasAlloc`, `__free=${RUNTIME_HOOKS}/pwasFree`,
    ],
    initialMemory: 2,
  };
}

/** Compiles an AssemblyScript entry into a proxy-wasm module and reports its size and its import/export lists. */
export async function compile(opts: CompileOptions): Promise<CompileResult> {
  opts = { ...opts, entry: resolve(opts.entry), outFile: resolve(opts.outFile) };
  const projectDir = opts.projectDir ?? dirname(opts.entry);
  mkdirSync(dirname(opts.outFile), { recursive: true });
  const asc = locateAsc(projectDir);
  try {
    await run(process.execPath, [asc, ...ascArgs(opts)], { cwd: projectDir, maxBuffer: 64 << 20, signal: opts.signal });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`asc failed for ${opts.entry}:\n${e.stderr || e.stdout || e.message}`);
  }
  const bytes = readFileSync(opts.outFile);
  const mod = new WebAssembly.Module(bytes);
  return {
    wasmPath: opts.outFile,
    bytes: statSync(opts.outFile).size,
    imports: WebAssembly.Module.imports(mod),
    exports: WebAssembly.Module.exports(mod),
  };
}
