import { execFile, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { renderBootstrap, type Bootstrap, type JsonObject, type WasmPlugin } from "./bootstrap";
import { EnvoyBase, httpGet, LogBuffer, parseListenerPorts, startFailure } from "./instance";
import type { EnvoyOptions } from "./process";
import { envoyArgs } from "./process";
import { ENVOY_IMAGE } from "./version";
import { waitFor } from "./wait";

/*
 * The container backend runs the official image through the `testcontainers` npm package, for machines with
 * a Docker engine. It is never the default. Two choices keep the rendered bootstrap identical to the
 * process backend's:
 *  - host networking, so 127.0.0.1 upstreams (the echo server) and Envoy-bound port 0 work unchanged;
 *  - bind mounts at the same paths, so the config, the admin address file and the .wasm files have the
 *    same absolute paths inside and outside the container.
 * `testcontainers` is loaded lazily, so the rest of the toolkit works without it installed.
 */

export interface ContainerEnvoyOptions extends EnvoyOptions {
  /** Defaults to the pinned official image. */
  image?: string;
}

/** The slice of the testcontainers API this backend uses (checked against testcontainers 11.x). */
interface TcStarted {
  stop(opts?: { timeout?: number; remove?: boolean }): Promise<unknown>;
}
interface TcContainer {
  withCommand(cmd: string[]): TcContainer;
  withEntrypoint(ep: string[]): TcContainer;
  withNetworkMode(mode: string): TcContainer;
  withBindMounts(mounts: Array<{ source: string; target: string; mode?: "ro" | "rw" }>): TcContainer;
  withUser(user: string): TcContainer;
  withLogConsumer(consumer: (stream: Readable) => unknown): TcContainer;
  withStartupTimeout(ms: number): TcContainer;
  start(): Promise<TcStarted>;
}
interface TcModule {
  GenericContainer: new (image: string) => TcContainer;
}

function loadTestcontainers(): TcModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("testcontainers") as TcModule;
  } catch {
    throw new Error("the container backend needs the npm package testcontainers: run `npm install --save-dev testcontainers@11`");
  }
}

export interface DockerProbe {
  ok: boolean;
  /** Why the engine is considered unavailable (or where it answered). */
  reason: string;
}

/** The engine endpoint testcontainers would use first: DOCKER_HOST, else the default unix socket. */
function dockerEndpoint(): { socketPath?: string; host?: string; port?: number; label: string } {
  const host = process.env.DOCKER_HOST;
  if (host?.startsWith("tcp://")) {
    const u = new URL(host.replace(/^tcp:/, "http:"));
    return { host: u.hostname, port: Number(u.port || 2375), label: host };
  }
  const socketPath = host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
  return { socketPath, label: `unix://${socketPath}` };
}

/**
 * The probe itself: a self-contained script run in a child Node process, so the synchronous and the async
 * probe share one implementation. Asks the engine's `GET /_ping` with a 1 s budget.
 */
function probeScript(): string {
  return `
const ep = ${JSON.stringify(dockerEndpoint())};
const out = (p) => process.stdout.write(JSON.stringify(p));
const req = require("node:http").request({ ...ep, path: "/_ping", method: "GET", timeout: 1000, agent: false }, (res) => {
  res.resume();
  res.on("end", () => out(res.statusCode === 200
    ? { ok: true, reason: "Docker engine answered at " + ep.label }
    : { ok: false, reason: "Docker engine at " + ep.label + " answered " + res.statusCode }));
});
req.on("timeout", () => req.destroy(new Error("no answer within 1 s")));
req.on("error", (err) => out({ ok: false, reason: "no Docker engine answers at " + ep.label + " (" + err.message + ")" }));
req.end();`;
}

function parseProbe(stdout: string, stderr: string): DockerProbe {
  try {
    return JSON.parse(stdout) as DockerProbe;
  } catch {
    return { ok: false, reason: `Docker probe failed: ${stderr.trim() || "no output"}` };
  }
}

/** Whether a Docker engine answers (DOCKER_HOST, else /var/run/docker.sock). */
export function probeDockerEngine(): Promise<DockerProbe> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, ["-e", probeScript()], { encoding: "utf8", timeout: 5000 }, (_err, stdout, stderr) =>
      resolvePromise(parseProbe(stdout, stderr)),
    );
  });
}

/** The same probe, synchronously, for test files that choose between `test` and `test.skip` while jest collects them. */
export function probeDockerEngineSync(): DockerProbe {
  const res = spawnSync(process.execPath, ["-e", probeScript()], { encoding: "utf8", timeout: 5000 });
  return parseProbe(res.stdout ?? "", res.stderr ?? res.error?.message ?? "");
}

/** Starts Envoy in a container and waits until it is ready. Requires a Docker engine and testcontainers. */
export async function startContainerEnvoy(spec: Bootstrap, opts: ContainerEnvoyOptions = {}): Promise<ContainerEnvoy> {
  const tc = loadTestcontainers();
  const probe = await probeDockerEngine();
  if (!probe.ok) throw new Error(`the container backend needs a Docker engine: ${probe.reason}`);

  const config = renderBootstrap(spec, { resolvePath: (p) => resolve(p) });
  const dir = mkdtempSync(join(tmpdir(), "pwas-envoy-"));
  chmodSync(dir, 0o755);
  const configPath = join(dir, "envoy.json");
  const adminPath = join(dir, "admin-address");
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const wasmDirs = new Set<string>();
  for (const l of spec.listeners) {
    const plugins: WasmPlugin[] = l.kind === "http" ? (l.httpFilters ?? []).flatMap((f) => (f.kind === "wasm" ? [f.plugin] : [])) : (l.networkFilters ?? []);
    for (const p of plugins) wasmDirs.add(dirname(resolve(p.wasmFile)));
  }

  const args = envoyArgs(configPath, adminPath, opts);

  const logBuffer = new LogBuffer();
  const state = { ended: false };
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const container = await new tc.GenericContainer(opts.image ?? ENVOY_IMAGE)
    // Run envoy directly as the caller's user, so the files it writes in `dir` are ours to remove.
    .withEntrypoint(["/usr/local/bin/envoy"])
    .withCommand(args)
    .withUser(`${uid}:${gid}`)
    .withNetworkMode("host")
    .withBindMounts([{ source: dir, target: dir, mode: "rw" }, ...[...wasmDirs].map((d) => ({ source: d, target: d, mode: "ro" as const }))])
    .withLogConsumer((stream) => {
      stream.on("data", (c: Buffer | string) => logBuffer.append(c.toString()));
      stream.on("end", () => (state.ended = true));
    })
    .withStartupTimeout(readyTimeoutMs)
    .start();

  const exitReason = () => (state.ended ? "the Envoy container exited" : undefined);
  let adminUrl: string;
  try {
    adminUrl = await waitFor(
      async () => {
        let address: string;
        try {
          address = readFileSync(adminPath, "utf8").trim();
        } catch {
          return undefined;
        }
        if (!address) return undefined;
        const res = await httpGet(`http://${address}/ready`, 1000);
        return res.status === 200 && res.body.trim() === "LIVE" ? `http://${address}` : undefined;
      },
      { timeoutMs: readyTimeoutMs, what: "Envoy's admin /ready to answer LIVE", abort: exitReason },
    );
  } catch (err) {
    await container.stop({ timeout: 0 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw startFailure(exitReason() ?? (err as Error).message, logBuffer);
  }
  const ports = parseListenerPorts((await httpGet(`${adminUrl}/listeners?format=json`)).body);
  return new ContainerEnvoy(adminUrl, ports, config, spec.listeners.map((l) => l.name), container, dir, logBuffer, state, opts.stopTimeoutMs ?? 5000);
}

export class ContainerEnvoy extends EnvoyBase {
  readonly backend = "container" as const;
  private stopping?: Promise<void>;
  private done = false;

  constructor(
    adminUrl: string,
    ports: Record<string, number>,
    config: JsonObject,
    listenerOrder: string[],
    private readonly container: TcStarted,
    private readonly dir: string,
    protected readonly logBuffer: LogBuffer,
    private readonly state: { ended: boolean },
    private readonly stopTimeoutMs: number,
  ) {
    super(adminUrl, ports, config, listenerOrder);
  }

  get stopped(): boolean {
    return this.done || this.state.ended;
  }

  protected exitReason(): string | undefined {
    return this.state.ended ? "the Envoy container exited" : undefined;
  }

  stop(): Promise<void> {
    // Docker sends SIGTERM and SIGKILLs after the timeout (in seconds), which is the same contract.
    this.stopping ??= this.container
      .stop({ timeout: Math.ceil(this.stopTimeoutMs / 1000), remove: true })
      .then(() => undefined)
      .finally(() => {
        rmSync(this.dir, { recursive: true, force: true });
        this.done = true;
      });
    return this.stopping;
  }
}
