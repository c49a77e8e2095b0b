/**
 * `pwas run --docker` and `pwas test --docker` as a user runs them: the bundled CLI in a child process, Envoy
 * in a container of the local image (no registry is reachable here), each run's containers found by a label
 * of their own (PWAS_ENVOY_LABELS), and none left once the CLI has exited.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { waitFor } from "../src/envoy";
import { dockerImagePresentSync, LOCAL_ENVOY_IMAGE, probeDockerEngineSync } from "../src/envoy/container";
import { inspectContainer, labelledContainers } from "../src/envoy/docker";
import { httpGet } from "../src/envoy/instance";
import { describeRequiring } from "../src/requirements";
import { httpRequest } from "./support/client";

const ROOT = resolve(__dirname, "..");
const CLI = resolve(ROOT, "dist/pwas.js");
const execFileP = promisify(execFile);

function missing(): string | undefined {
  const engine = probeDockerEngineSync();
  if (!engine.ok) return `pwas --docker e2e: ${engine.reason} (make setup starts one)`;
  const image = dockerImagePresentSync(LOCAL_ENVOY_IMAGE);
  return image.ok ? undefined : `pwas --docker e2e: ${image.reason} (make setup builds it)`;
}

/** The CLI's environment: the local image, no reaper, and a label only this run's containers carry. */
function cliEnv(run: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PWAS_ENVOY_IMAGE: LOCAL_ENVOY_IMAGE, TESTCONTAINERS_RYUK_DISABLED: "true", PWAS_ENVOY_LABELS: `pwas.test=1,pwas.test.run=${run}` };
  // --docker is what chooses the backend here, not an inherited PWAS_ENVOY_BACKEND.
  delete env.PWAS_ENVOY_BACKEND;
  return env;
}

describeRequiring(missing())("pwas --docker", () => {
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // The CLI bundle is a build output (git-ignored): make it from the current sources.
    await execFileP(process.execPath, [resolve(ROOT, "scripts/bundle-cli.mjs")], { cwd: ROOT });
  }, 60_000);

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill("SIGTERM");
      await waitFor(() => (child.exitCode !== null || child.signalCode !== null ? true : undefined), { timeoutMs: 15_000, what: "pwas to exit" })
        .catch(() => child.kill("SIGKILL"));
    }
  });

  test("pwas run --docker templates/http-headers answers through a container, which is removed on SIGTERM", async () => {
    const run = randomUUID();
    const child = spawn(process.execPath, [CLI, "run", "--docker", "templates/http-headers", "--config", '{"response_headers":{"x-demo":"yes"}}'], {
      cwd: ROOT, env: cliEnv(run), stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let out = "";
    let err = "";
    child.stdout?.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr?.on("data", (c: Buffer) => (err += c.toString("utf8")));
    await waitFor(() => (/^Ctrl-C to stop$/m.test(out) ? true : undefined), {
      timeoutMs: 120_000,
      what: "pwas run --docker to print its addresses",
      abort: () => (child.exitCode !== null ? `pwas exited with ${child.exitCode}:\n${err}` : undefined),
    });
    expect(err).toContain(`starting Envoy in a container (${LOCAL_ENVOY_IMAGE})`);
    const [, listener] = /^listener\s+(\S+)$/m.exec(out) ?? [];
    const [, admin] = /^admin\s+(\S+)$/m.exec(out) ?? [];
    expect(listener).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await httpRequest(`${listener}hello`);
    expect(res.status).toBe(200);
    expect(res.headers["x-demo"]).toBe("yes");
    expect(res.headers.server).toBe("envoy");
    expect(JSON.parse(res.body.toString("utf8"))).toMatchObject({ path: "/hello" });

    // The Envoy that answered is the one container of this run, with the module mounted read-only.
    const ids = await labelledContainers(`pwas.test.run=${run}`);
    expect(ids).toHaveLength(1);
    const info = await inspectContainer(ids[0]);
    expect(info.Config.Image).toBe(LOCAL_ENVOY_IMAGE);
    expect(info.Mounts.find((m) => m.Destination === resolve(ROOT, "templates/http-headers/build"))?.RW).toBe(false);

    child.kill("SIGTERM");
    await waitFor(() => (child.exitCode !== null ? true : undefined), { timeoutMs: 20_000, what: "pwas run to exit after SIGTERM" });
    expect(child.exitCode).toBe(0);
    expect(await labelledContainers(`pwas.test.run=${run}`)).toEqual([]);
    await expect(httpGet(`${admin}/ready`, 1000)).rejects.toThrow(/ECONNREFUSED/);
  }, 180_000);

  test("pwas run --docker with a configuration the plugin rejects prints Envoy's error from the container log", async () => {
    const run = randomUUID();
    const failed = await execFileP(process.execPath, [CLI, "run", "--docker", "templates/http-headers", "--config", '{"nope":1}'], { cwd: ROOT, env: cliEnv(run) })
      .then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/E_ENVOY Envoy did not start \(its container's log\)/);
    expect(failed?.stderr).toContain("http-headers: invalid configuration: nope: unknown field");
    expect(await labelledContainers(`pwas.test.run=${run}`)).toEqual([]);
  }, 180_000);

  test("a process that exits without stopping its containerised Envoy leaves no container behind", async () => {
    const run = randomUUID();
    // The published pwas/envoy bundle, as a generated project loads it: start an Envoy, then exit at once.
    const script = `
      const { startEnvoy, httpListener } = require(${JSON.stringify(resolve(ROOT, "dist/envoy.js"))});
      startEnvoy({ listeners: [httpListener("ingress", { virtualHosts: [{ name: "all", routes: [{ directResponse: { status: 204 } }] }] })] }, { backend: "container" })
        .then((e) => { console.log(e.containerId); process.exit(3); }, (err) => { console.error(err.message); process.exit(1); });`;
    const exited = await execFileP(process.execPath, ["-e", script], { cwd: ROOT, env: cliEnv(run) }).then(
      () => ({ code: 0, stdout: "", stderr: "" }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(exited).toMatchObject({ code: 3 });
    const id = exited.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await expect(inspectContainer(id)).rejects.toThrow(/answered 404/);
    expect(await labelledContainers(`pwas.test.run=${run}`)).toEqual([]);
  }, 120_000);

  test("pwas test --docker runs the template's e2e tests with Envoy in containers and leaves none", async () => {
    const run = randomUUID();
    const since = Math.floor(Date.now() / 1000);
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, "test", "templates/http-headers", "--docker"], { cwd: ROOT, env: cliEnv(run), maxBuffer: 16 << 20 })
      .catch((e: { stdout: string; stderr: string }) => {
        throw new Error(`pwas test --docker failed:\n${e.stdout}\n${e.stderr}`);
      });
    expect(`${stdout}\n${stderr}`).toMatch(/Tests:\s+\d+ passed, \d+ total/);
    // The engine's own record: containers of this run were started, and none is left.
    const { stdout: events } = await execFileP("docker", ["events", "--since", String(since), "--until", String(Math.floor(Date.now() / 1000) + 1),
      "--filter", `label=pwas.test.run=${run}`, "--filter", "event=start", "--format", "{{.ID}}"]);
    expect(new Set(events.split("\n").filter(Boolean)).size).toBeGreaterThanOrEqual(2);
    expect(await labelledContainers(`pwas.test.run=${run}`)).toEqual([]);
  }, 240_000);
});
