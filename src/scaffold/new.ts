import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { ascOptions } from "../build/compile";
import { PwasError } from "../errors";

const run = promisify(execFile);

/**
 * What `pwas new` and `npm create proxy-wasm-as` can start from. A project template is a complete filter
 * project under templates/; a stock template is a copy of a stock filter's source (filters/<name>) with
 * generated tests from templates/stock/tests, to fork and adapt. Every project also gets the files in
 * templates/common (CI workflow, tsconfig, .gitignore, README commands).
 */
export const TEMPLATES: Record<string, { kind: "project" | "stock"; summary: string }> = {
  "http-headers": { kind: "project", summary: "add response headers, count requests (the smallest HTTP filter)" },
  "http-body": { kind: "project", summary: "rewrite bodies byte for byte across chunks" },
  tcp: { kind: "project", summary: "a network filter: byte counters, refused prefixes" },
  "signed-requests": { kind: "project", summary: "refuse requests not signed by a partner key (verify_signature, zlib, CEL, filter state)" },
  fault: { kind: "stock", summary: "the stock fault-injection filter, to adapt" },
  routing: { kind: "stock", summary: "the stock canary/A-B routing filter, to adapt" },
  ratelimit: { kind: "stock", summary: "the stock rate limiter (local and global), to adapt" },
  auth: { kind: "stock", summary: "the stock JWT / API key / external auth filter, to adapt" },
};

export const DEFAULT_TEMPLATE = "http-headers";

/** The version of the editor types the generated tests use (matches the jest major pwas runs). */
const JEST_TYPES_RANGE = "^29.5.14";

export interface NewOptions {
  name: string;
  template?: string;
  /** Folder to create the project in (default: ./<name>). */
  dir?: string;
  /** Run npm install in the new project, which also writes its lockfile (default true). */
  install?: boolean;
  /**
   * Depend on this checkout through `file:` links instead of on the published packages: for working on
   * the toolkit itself. Needs a checkout (sdk/ beside templates/).
   */
  link?: boolean;
  /**
   * The folder holding templates/ and filters/, and whose package.json version the new project depends on
   * (`^<version>` of proxy-wasm-as and pwas, released together). Default: found above this module, which
   * is the pwas package, the create-proxy-wasm-as package or this checkout.
   */
  source?: string;
  progress?: (step: string) => void;
  /** Ctrl-C: stops the npm install. */
  signal?: AbortSignal;
}

/** Lower-case letters, digits and dashes: a valid npm package name that also names the module and its metrics. */
const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** Why `name` cannot name a filter project, or undefined when it can. */
export function invalidNameReason(name: string): string | undefined {
  if (NAME.test(name)) return undefined;
  return `"${name}" is not a valid package name for a filter: use lower-case letters, digits and dashes, starting with a letter (at most 63 characters)`;
}

/** The folder above this module that holds templates/common: the package this code was shipped in, or the checkout. */
export function templateSource(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, "templates", "common")) && existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new PwasError("E_NOT_FOUND", `cannot find the filter templates (templates/common) above ${from}: reinstall pwas or create-proxy-wasm-as`);
    }
    dir = parent;
  }
}

/** Creates a filter project from a template; returns its folder. */
export async function newFilter(opts: NewOptions): Promise<string> {
  const template = opts.template ?? DEFAULT_TEMPLATE;
  const spec = TEMPLATES[template];
  if (!spec) throw new PwasError("E_USAGE", `unknown template "${template}"; choose one of: ${Object.keys(TEMPLATES).join(", ")}`);
  const badName = invalidNameReason(opts.name);
  if (badName) throw new PwasError("E_USAGE", badName);
  const dir = resolve(opts.dir ?? opts.name);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new PwasError("E_USAGE", `${dir} already exists and is not empty: choose another name, or empty or remove that folder`);
  }
  const root = opts.source ?? templateSource();
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  let deps: { sdk: string; toolkit: string };
  if (opts.link) {
    if (!existsSync(join(root, "sdk", "package.json"))) throw new PwasError("E_USAGE", `--link needs a checkout of proxy-wasm-as; ${root} has no sdk/`);
    deps = { sdk: `file:${join(root, "sdk")}`, toolkit: `file:${root}` };
  } else {
    deps = { sdk: `^${version}`, toolkit: `^${version}` };
  }
  const progress = opts.progress ?? (() => undefined);
  progress(`creating ${dir} from the ${template} template`);
  mkdirSync(dir, { recursive: true });

  let readme: string;
  // Facts a stock filter declares about itself (package.json "pwas", e.g. {"failOpen": "forbidden"}) go with the copy.
  let facts: unknown;
  if (spec.kind === "project") {
    const src = join(root, "templates", template);
    for (const part of ["assembly", "tests"]) cpSync(join(src, part), join(dir, part), { recursive: true, filter: notBuildOutput });
    readme = readFileSync(join(src, "README.md"), "utf8");
  } else {
    const src = join(root, "filters", template);
    cpSync(join(src, "assembly"), join(dir, "assembly"), { recursive: true, filter: notBuildOutput });
    readme = readFileSync(join(src, "README.md"), "utf8");
    const stockPkg = join(src, "package.json");
    if (existsSync(stockPkg)) facts = (JSON.parse(readFileSync(stockPkg, "utf8")) as { pwas?: unknown }).pwas;
    mkdirSync(join(dir, "tests"));
    for (const f of readdirSync(join(root, "templates", "stock", "tests"))) {
      if (f.startsWith(`${template}.`)) cpSync(join(root, "templates", "stock", "tests", f), join(dir, "tests", f));
    }
  }

  const common = join(root, "templates", "common");
  const fill = (file: string) => readFileSync(join(common, file), "utf8").replaceAll("{{name}}", opts.name).replaceAll("{{template}}", template);
  writeFileSync(join(dir, "README.md"), `${fill("README.md").trimEnd()}\n\n---\n\n${readme}`);
  mkdirSync(join(dir, ".github", "workflows"), { recursive: true });
  writeFileSync(join(dir, ".github", "workflows", "ci.yml"), fill("ci.yml"));
  // npm leaves files named .gitignore out of packages, so the template keeps it without the dot.
  writeFileSync(join(dir, ".gitignore"), fill("gitignore"));
  writeFileSync(join(dir, "tsconfig.json"), fill("tsconfig.json"));
  writeFileSync(join(dir, "assembly", "tsconfig.json"), fill("assembly.tsconfig.json"));

  writeJson(join(dir, "package.json"), {
    name: opts.name,
    version: "0.1.0",
    private: true,
    description: `${opts.name}: a proxy-wasm filter for Envoy and Istio (from the ${template} template)`,
    scripts: {
      build: "pwas build .",
      test: "pwas test .",
      "test:emulator": "pwas test . -- --testPathIgnorePatterns '\\.e2e\\.test\\.ts$'",
      "test:e2e": "pwas test . -- --testPathPattern '\\.e2e\\.test\\.ts$' --passWithNoTests",
      start: "pwas run .",
    },
    engines: { node: ">=20" },
    dependencies: { "proxy-wasm-as": deps.sdk },
    devDependencies: { pwas: deps.toolkit, "@types/jest": JEST_TYPES_RANGE },
    ...(facts !== undefined ? { pwas: facts } : {}),
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
  if (opts.install !== false) {
    progress(opts.link ? "npm install (links the SDK and the toolkit of this checkout)" : "npm install (writes package-lock.json)");
    try {
      await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, env: installEnv(), maxBuffer: 16 << 20, signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw new PwasError("E_IO", `npm install failed in ${dir} (the project files are written; run npm install there once the cause is fixed): ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
    }
  }
  return dir;
}

/**
 * The environment for npm install in the new folder. Under `npm create` this process runs inside `npm exec`,
 * which exports its own working folder (npm_config_local_prefix and friends): inherited, those would make
 * the inner npm install into the folder `npm create` ran in. The user's own settings (registry, cache,
 * userconfig, proxies) stay.
 */
function installEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^npm_(config_(local_prefix|prefix|call|yes|package_lock_only)|package_json|lifecycle_|command$|execpath$)/i.test(key)) delete env[key];
  }
  return env;
}

/** Build outputs of a template compiled in place are not part of the template. */
function notBuildOutput(path: string): boolean {
  return !/[\\/](build|node_modules)$/.test(path);
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}
