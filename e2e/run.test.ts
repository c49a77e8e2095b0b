/**
 * `pwas run` as a user runs it: the bundled CLI in a child process builds a filter, starts Envoy in front of
 * the echo upstream on free ports, prints where it listens, serves until SIGTERM, then stops Envoy.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { waitFor } from "../src/envoy";
import { httpGet } from "../src/envoy/instance";
import { httpRequest } from "./support/client";

const ROOT = resolve(__dirname, "..");
const CLI = resolve(ROOT, "dist/pwas.js");

interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Exit code, or the signal name, once the process has exited. */
  exit(): number | string | undefined;
}

const running: Cli[] = [];

function pwas(...args: string[]): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let exit: number | string | undefined;
  child.stdout?.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr?.on("data", (c: Buffer) => (err += c.toString("utf8")));
  child.on("exit", (code, signal) => (exit = code ?? signal ?? undefined));
  const cli: Cli = { child, stdout: () => out, stderr: () => err, exit: () => exit };
  running.push(cli);
  return cli;
}

function waitForExit(cli: Cli, timeoutMs: number): Promise<number | string> {
  return waitFor(() => cli.exit(), { timeoutMs, what: `pwas (pid ${cli.child.pid}) to exit; stderr so far:\n${cli.stderr()}` });
}

beforeAll(async () => {
  // The CLI bundle is a build output (git-ignored): make it from the current sources so a fresh clone works.
  const bundler = spawn(process.execPath, [resolve(ROOT, "scripts/bundle-cli.mjs")], { cwd: ROOT, stdio: "inherit" });
  const code = await new Promise<number | null>((res) => bundler.on("exit", (c) => res(c)));
  expect(code).toBe(0);
}, 60_000);

afterEach(async () => {
  // Always stop what a test started: SIGTERM (pwas stops its Envoy), SIGKILL if it does not exit in time.
  for (const cli of running.splice(0)) {
    if (cli.exit() !== undefined) continue;
    cli.child.kill("SIGTERM");
    await waitForExit(cli, 15_000).catch(() => {
      cli.child.kill("SIGKILL");
    });
  }
});

test("pwas run: serves the filter in front of the echo upstream until SIGTERM, then Envoy is gone", async () => {
  const cli = pwas("run", "templates/http-headers", "--config", '{"response_headers":{"x-demo":"yes"}}', "--port", "0", "--admin-port", "0");
  // The addresses arrive as separate lines (and may arrive in separate chunks): wait for the last one.
  await waitFor(() => (/^Ctrl-C to stop$/m.test(cli.stdout()) ? true : undefined), {
    timeoutMs: 90_000,
    what: "pwas run to print its addresses",
    abort: () => (cli.exit() !== undefined ? `pwas exited with ${cli.exit()}:\n${cli.stderr()}` : undefined),
  });
  const [, listener] = /^listener\s+(\S+)$/m.exec(cli.stdout()) ?? [];
  const [, admin] = /^admin\s+(\S+)$/m.exec(cli.stdout()) ?? [];
  expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect((await httpGet(`${admin}/ready`)).body.trim()).toBe("LIVE");

  const res = await httpRequest(`${listener}hello?x=1`, { headers: { "x-client": "e2e" } });
  expect(res.status).toBe(200);
  expect(res.headers["x-demo"]).toBe("yes");
  const echoed = JSON.parse(res.body.toString("utf8")) as { method: string; path: string; headers: Record<string, string> };
  expect(echoed.method).toBe("GET");
  expect(echoed.path).toBe("/hello?x=1");
  expect(echoed.headers["x-client"]).toBe("e2e");

  cli.child.kill("SIGTERM");
  expect(await waitForExit(cli, 15_000)).toBe(0);
  // Envoy went with it: its admin port no longer answers (connection refused), nor does the listener.
  await expect(httpGet(`${admin}/ready`, 1000)).rejects.toThrow(/ECONNREFUSED/);
  await expect(httpRequest(listener, { timeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/);
}, 120_000);

test("pwas run: a configuration the plugin rejects exits non-zero with the plugin's error line", async () => {
  const cli = pwas("run", "templates/http-headers", "--config", '{"response_headers":{"x-demo":"yes"},"nope":1}');
  const code = await waitForExit(cli, 90_000);
  expect(code).toBe(1);
  expect(cli.stderr()).toMatch(/pwas run: E_ENVOY Envoy did not start/);
  expect(cli.stderr()).toContain("http-headers: invalid configuration: nope: unknown field");
  expect(cli.stdout()).not.toMatch(/^listener/m);
}, 120_000);

test("pwas run filters/fault with the documented abort config answers 503 through real Envoy", async () => {
  const cli = pwas("run", "filters/fault", "--config", '{"abort":{"http_status":503,"percentage":{"numerator":100}}}');
  await waitFor(() => (/^Ctrl-C to stop$/m.test(cli.stdout()) ? true : undefined), {
    timeoutMs: 90_000,
    what: "pwas run to print its addresses",
    abort: () => (cli.exit() !== undefined ? `pwas exited with ${cli.exit()}:\n${cli.stderr()}` : undefined),
  });
  const [, listener] = /^listener\s+(\S+)$/m.exec(cli.stdout()) ?? [];
  const res = await httpRequest(`${listener}anything`);
  expect(res.status).toBe(503);
  expect(res.body.toString("utf8")).toBe("fault filter abort");
  cli.child.kill("SIGTERM");
  expect(await waitForExit(cli, 15_000)).toBe(0);
});
