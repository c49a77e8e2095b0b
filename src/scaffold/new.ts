import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { ascOptions } from "../build/compile";
import { PwasError } from "../errors";
import { toolkitRoot } from "../paths";

const run = promisify(execFile);

/**
 * What `pwas new` can start from. A project template is a complete filter project under templates/;
 * a stock template is a copy of a stock filter's source (filters/<name>) with generated tests from
 * templates/stock/tests, to fork and adapt.
 */
export const TEMPLATES: Record<string, { kind: "project" | "stock"; summary: string }> = {
  "http-headers": { kind: "project", summary: "add response headers, count requests (the smallest HTTP filter)" },
  "http-body": { kind: "project", summary: "rewrite bodies byte for byte across chunks" },
  tcp: { kind: "project", summary: "a network filter: byte counters, refused prefixes" },
  fault: { kind: "stock", summary: "the stock fault-injection filter, to adapt" },
  routing: { kind: "stock", summary: "the stock canary/A-B routing filter, to adapt" },
  ratelimit: { kind: "stock", summary: "the stock rate limiter (local and global), to adapt" },
  auth: { kind: "stock", summary: "the stock JWT / API key / external auth filter, to adapt" },
};

export interface NewOptions {
  name: string;
  template?: string;
  /** Folder to create the project in (default: ./<name>). */
  dir?: string;
  /** Run npm install in the new project (default true). */
  install?: boolean;
  progress?: (step: string) => void;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** Creates a filter project from a template; returns its folder. */
export async function newFilter(opts: NewOptions): Promise<string> {
  const template = opts.template ?? "http-headers";
  const spec = TEMPLATES[template];
  if (!spec) throw new PwasError("E_USAGE", `unknown template "${template}"; choose one of: ${Object.keys(TEMPLATES).join(", ")}`);
  if (!NAME.test(opts.name)) throw new PwasError("E_USAGE", `"${opts.name}" is not a valid filter name: use lower-case letters, digits and dashes, starting with a letter`);
  const dir = resolve(opts.dir ?? opts.name);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new PwasError("E_USAGE", `${dir} exists and is not empty`);
  const root = toolkitRoot();
  const progress = opts.progress ?? (() => undefined);
  progress(`creating ${dir} from the ${template} template`);
  mkdirSync(dir, { recursive: true });

  if (spec.kind === "project") {
    const src = join(root, "templates", template);
    for (const part of ["assembly", "tests", "README.md"]) cpSync(join(src, part), join(dir, part), { recursive: true });
  } else {
    const src = join(root, "filters", template);
    cpSync(join(src, "assembly"), join(dir, "assembly"), { recursive: true });
    cpSync(join(src, "README.md"), join(dir, "README.md"));
    mkdirSync(join(dir, "tests"));
    for (const f of readdirSync(join(root, "templates", "stock", "tests"))) {
      if (f.startsWith(`${template}.`)) cpSync(join(root, "templates", "stock", "tests", f), join(dir, "tests", f));
    }
  }
  writeJson(join(dir, "package.json"), {
    name: opts.name,
    version: "0.1.0",
    private: true,
    description: `${opts.name}: a proxy-wasm filter for Envoy and Istio (from the ${template} template)`,
    scripts: { build: "pwas build .", test: "pwas test .", run: "pwas run ." },
    dependencies: { "proxy-wasm-as": `file:${join(root, "sdk")}` },
    devDependencies: { pwas: `file:${root}` },
  });
  // For editors and for running asc by hand; `pwas build` passes the same options itself.
  writeJson(join(dir, "asconfig.json"), {
    entries: ["assembly/index.ts"],
    targets: {
      release: { outFile: `build/${opts.name}.wasm`, optimizeLevel: 3, shrinkLevel: 0, converge: true },
      debug: { outFile: `build/${opts.name}.debug.wasm`, debug: true },
    },
    options: ascOptions(),
  });
  writeFileSync(join(dir, ".gitignore"), "node_modules/\nbuild/\n");
  if (opts.install !== false) {
    progress("npm install (links the SDK and the toolkit)");
    try {
      await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir });
    } catch (e) {
      throw new PwasError("E_NOT_FOUND", `npm install failed in ${dir}: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
    }
  }
  return dir;
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}
