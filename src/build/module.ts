/**
 * The one place that turns what a user names on the command line, "a filter folder or a .wasm", into a built
 * module: `pwas run`, `package`, `push` and `deploy` all take their module from here, so they agree on what
 * is accepted, what gets built and what the module is called.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, relative, resolve } from "node:path";
import { PwasError } from "../errors";
import { buildFilter, defaultOutFile, loadFilterProject, type FilterProject } from "./build";

export interface ModuleSource {
  /** Absolute path of the module. */
  wasmPath: string;
  wasm: Buffer;
  /** The filter's name (package.json name without scope, else the folder's), or the file's name without `(.debug).wasm`. */
  name: string;
  /** The filter project, when a folder was given. */
  project?: FilterProject;
  /** True when the module was compiled by this call. */
  built: boolean;
}

export interface LoadModuleOptions {
  /** For a folder: use its existing build/<name>.wasm instead of building (an error when there is none). */
  noBuild?: boolean;
  /** For a folder: a debug build. */
  debug?: boolean;
  progress?(step: string): void;
  /** Stops a build in progress. */
  signal?: AbortSignal;
}

const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

/**
 * A filter folder is built (release, checked as `pwas build` checks it) unless `noBuild`; a .wasm file is
 * taken as it is once it is seen to be a WebAssembly module. Anything else is an error that says what is
 * expected.
 */
export async function loadModule(target: string, opts: LoadModuleOptions = {}): Promise<ModuleSource> {
  const abs = resolve(target);
  if (!existsSync(abs)) throw new PwasError("E_NOT_FOUND", `${target}: no such filter folder or .wasm file`);
  if (statSync(abs).isDirectory()) {
    const project = loadFilterProject(abs);
    if (opts.noBuild) {
      const wasmPath = defaultOutFile(project, opts.debug);
      if (!existsSync(wasmPath)) {
        throw new PwasError("E_NOT_FOUND", `${shown(wasmPath)} does not exist: build it first (pwas build ${target}) or drop --no-build`);
      }
      return { wasmPath, wasm: readFileSync(wasmPath), name: project.name, project, built: false };
    }
    opts.progress?.(`building ${target}`);
    const built = await buildFilter(abs, { debug: opts.debug, signal: opts.signal });
    return { wasmPath: built.wasmPath, wasm: readFileSync(built.wasmPath), name: project.name, project, built: true };
  }
  const wasm = readFileSync(abs);
  if (wasm.length < 8 || !wasm.subarray(0, 4).equals(WASM_MAGIC)) {
    throw new PwasError("E_USAGE", `${target} is not a WebAssembly module (give a filter folder or a .wasm file)`);
  }
  return { wasmPath: abs, wasm, name: basename(abs).replace(/(\.debug)?\.wasm$/, ""), built: false };
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") ? rel : path;
}
