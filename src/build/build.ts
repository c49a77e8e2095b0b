import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { PwasError } from "../errors";
import { checkImports, REQUIRED_EXPORTS } from "../abi/spec";
import { compile, CompileResult } from "./compile";

export interface FilterProject {
  dir: string;
  /** Module name: the package.json name without scope, else the folder name. */
  name: string;
  entry: string;
}

export interface BuildOptions {
  debug?: boolean;
  /** Output file; default `<dir>/build/<name>.wasm` (`<name>.debug.wasm` for debug builds). */
  outFile?: string;
  /** Stops the compiler (Ctrl-C). */
  signal?: AbortSignal;
}

export interface BuildResult extends CompileResult {
  project: FilterProject;
}

/** Reads a filter folder: it must contain assembly/index.ts. */
export function loadFilterProject(dir: string): FilterProject {
  const abs = resolve(dir);
  const entry = join(abs, "assembly", "index.ts");
  if (!existsSync(entry)) {
    throw new PwasError("E_NOT_FOUND", `${dir} is not a filter folder: ${entry} does not exist (create one with \`pwas new <name>\`)`);
  }
  let name = basename(abs);
  const pkgPath = join(abs, "package.json");
  if (existsSync(pkgPath)) {
    let pkg: { name?: string };
    try {
      pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { name?: string };
    } catch (e) {
      throw new PwasError("E_CONFIG", `${pkgPath} is not valid JSON: ${(e as Error).message}`);
    }
    if (pkg.name) name = pkg.name.replace(/^@[^/]+\//, "");
  }
  return { dir: abs, name, entry };
}

export function defaultOutFile(project: FilterProject, debug = false): string {
  return join(project.dir, "build", `${project.name}${debug ? ".debug" : ""}.wasm`);
}

/** Compiles a filter folder and checks that Envoy will load the module. */
export async function buildFilter(dir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const project = loadFilterProject(dir);
  const outFile = opts.outFile ?? defaultOutFile(project, opts.debug);
  let result: CompileResult;
  try {
    result = await compile({ entry: project.entry, outFile, debug: opts.debug, projectDir: project.dir, signal: opts.signal });
  } catch (err) {
    if (err instanceof PwasError || opts.signal?.aborted) throw err;
    throw new PwasError("E_BUILD", (err as Error).message);
  }
  const problems = checkImports(result.imports);
  const exported = new Set(result.exports.map((e) => e.name));
  for (const name of REQUIRED_EXPORTS) {
    if (!exported.has(name)) problems.push(`missing export ${name} (does assembly/index.ts start with \`export * from "proxy-wasm-as/exports"\`?)`);
  }
  if (problems.length > 0) {
    throw new PwasError("E_ABI", `${outFile} would not load in Envoy:\n  - ${problems.join("\n  - ")}`);
  }
  return { ...result, project };
}
