import { randomUUID } from "node:crypto";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { renderBootstrap, type Bootstrap, type JsonObject, type WasmPlugin } from "./bootstrap";
import { probeDockerEngine, removeLabelledContainers, removeLabelledContainersSync } from "./docker";
import { EnvoyBase, EnvoyStartError, httpGet, LogBuffer, parseListenerPorts, startFailure } from "./instance";
import type { EnvoyOptions } from "./process";
import { envoyArgs } from "./process";
import { ENVOY_IMAGE, ENVOY_VERSION } from "./version";
import { waitFor } from "./wait";

export { dockerImagePresentSync, probeDockerEngine, probeDockerEngineSync, type DockerProbe } from "./docker";

/*
 * The container backend runs Envoy's image through the `testcontainers` npm package, for machines with a
 * Docker engine. It is never the default. Two choices keep the rendered bootstrap identical to the process
 * backend's (src/envoy/README.md explains them):
 *  - host networking, so upstreams on the host's 127.0.0.1 (echo, auth and rate-limit servers) are reached
 *    unchanged, and Envoy binds its listeners and admin API (port 0 included) on 127.0.0.1 only;
 *  - bind mounts at the same paths, so the config, the admin address file and the .wasm files have the same
 *    absolute paths inside and outside the container. The config and the modules are mounted read-only.
 * testcontainers is loaded lazily, so the rest of the toolkit works without it installed. Its reaper (Ryuk)
 * is not relied on: every container is removed by stop(), by the start path when a start fails, and by the
 * process exit hook for whatever a crashed run leaves behind (TESTCONTAINERS_RYUK_DISABLED=true is safe).
 */

/** The image this project builds from the pinned binary (`scripts/setup-envoy-image.sh`, run by `make setup`). */
export const LOCAL_ENVOY_IMAGE = `pwas-envoy:${ENVOY_VERSION}`;

/** The label every container of this backend carries (value: the Envoy version pinned here). */
export const ENVOY_CONTAINER_LABEL = "pwas.envoy";

export interface ContainerEnvoyOptions extends EnvoyOptions {
  /** The image; defaults to PWAS_ENVOY_IMAGE, then the official envoyproxy/envoy:v<pinned version>. */
  image?: string;
  /** Environment variables inside the container (e.g. for a plugin's host_env_keys); the host's are not passed. */
  env?: NodeJS.ProcessEnv;
  /** Extra container labels, added to those of PWAS_ENVOY_LABELS ("k=v,k2=v2"). */
  labels?: Record<string, string>;
}

/** The image to run: the option, then PWAS_ENVOY_IMAGE, then the pinned official image. */
export function containerImage(opts: ContainerEnvoyOptions = {}, env: NodeJS.ProcessEnv = process.env): string {
  return opts.image ?? (env.PWAS_ENVOY_IMAGE || ENVOY_IMAGE);
}

/** The labels a container gets: the backend's own, PWAS_ENVOY_LABELS, then the option's. */
export function containerLabels(opts: ContainerEnvoyOptions = {}, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const labels: Record<string, string> = { [ENVOY_CONTAINER_LABEL]: ENVOY_VERSION };
  for (const pair of (env.PWAS_ENVOY_LABELS ?? "").split(",")) {
    if (!pair.trim()) continue;
    const eq = pair.indexOf("=");
    labels[(eq < 0 ? pair : pair.slice(0, eq)).trim()] = eq < 0 ? "" : pair.slice(eq + 1).trim();
  }
  return { ...labels, ...opts.labels };
}

/** The slice of the testcontainers API this backend uses (checked against testcontainers 11.x). */
interface TcStarted {
  getId(): string;
  stop(opts?: { timeout?: number; remove?: boolean }): Promise<unknown>;
}
interface TcContainer {
  withCommand(cmd: string[]): TcContainer;
  withEntrypoint(ep: string[]): TcContainer;
  withNetworkMode(mode: string): TcContainer;
  withBindMounts(mounts: Array<{ source: string; target: string; mode?: "ro" | "rw" }>): TcContainer;
  withEnvironment(env: Record<string, string>): TcContainer;
  withLabels(labels: Record<string, string>): TcContainer;
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

/** Labels this Node process's containers, so the exit hook removes them all in one engine call. */
const OWNER_LABEL = "pwas.envoy.owner";
const owner = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
const live = new Set<ContainerEnvoy>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous by necessity: 'exit' handlers cannot await. Without a reaper this is what keeps a crashed
  // or interrupted run from leaving containers behind.
  process.on("exit", () => {
    if (live.size > 0) removeLabelledContainersSync(`${OWNER_LABEL}=${owner}`);
  });
}

/** The .wasm folders a bootstrap loads from, to be mounted read-only at their own paths. */
function wasmDirs(spec: Bootstrap): string[] {
  const dirs = new Set<string>();
  for (const l of spec.listeners) {
    const http: WasmPlugin[] = l.kind === "http" ? (l.httpFilters ?? []).flatMap((f) => (f.kind === "wasm" ? [f.plugin] : [])) : [];
    const plugins = [...(l.networkFilters ?? []), ...http];
    for (const p of plugins) dirs.add(dirname(resolve(p.wasmFile)));
  }
  return [...dirs];
}

/** Starts Envoy in a container and waits until it is ready. Requires a Docker engine and testcontainers. */
export async function startContainerEnvoy(spec: Bootstrap, opts: ContainerEnvoyOptions = {}): Promise<ContainerEnvoy> {
  const tc = loadTestcontainers();
  const image = containerImage(opts);
  const probe = await probeDockerEngine();
  if (!probe.ok) throw new EnvoyStartError(`Envoy did not start: the container backend needs a Docker engine: ${probe.reason}`, "");

  const config = renderBootstrap(spec, { resolvePath: (p) => resolve(p) });
  const dir = mkdtempSync(join(tmpdir(), "pwas-envoy-"));
  // conf/ is mounted read-only; run/ is where Envoy writes the admin address.
  const confDir = join(dir, "conf");
  const runDir = join(dir, "run");
  mkdirSync(confDir);
  mkdirSync(runDir);
  for (const d of [dir, confDir, runDir]) chmodSync(d, 0o755);
  const configPath = join(confDir, "envoy.json");
  const adminPath = join(runDir, "admin-address");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const args = envoyArgs(configPath, adminPath, opts);

  const logBuffer = new LogBuffer();
  const state = { ended: false };
  const id = randomUUID();
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;

  let container: TcStarted;
  installExitHook();
  try {
    container = await new tc.GenericContainer(image)
      // Run envoy directly as the caller's user, so the files it writes in `dir` are ours to remove.
      .withEntrypoint(["/usr/local/bin/envoy"])
      .withCommand(args)
      .withUser(`${uid}:${gid}`)
      .withNetworkMode("host")
      .withEnvironment(env)
      .withLabels({ ...containerLabels(opts), [OWNER_LABEL]: owner, "pwas.envoy.id": id })
      .withBindMounts([
        { source: confDir, target: confDir, mode: "ro" },
        { source: runDir, target: runDir, mode: "rw" },
        ...wasmDirs(spec).map((d) => ({ source: d, target: d, mode: "ro" as const })),
      ])
      .withLogConsumer((stream) => {
        stream.on("data", (c: Buffer | string) => {
          logBuffer.append(c.toString());
          if (opts.logFile) appendFileSync(opts.logFile, c.toString());
        });
        stream.on("end", () => (state.ended = true));
      })
      .withStartupTimeout(readyTimeoutMs)
      .start();
  } catch (err) {
    // A container created before the failure (a bad mount, an exec error) is ours to remove.
    await removeLabelledContainers(`pwas.envoy.id=${id}`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw new EnvoyStartError(`Envoy did not start: could not run the container image ${image}: ${(err as Error).message}${imageHint(image)}`, logBuffer.text());
  }

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
    // Let the log stream deliver Envoy's last words before quoting them.
    await waitFor(() => (state.ended ? true : undefined), { timeoutMs: 1000, what: "the container log to end" }).catch(() => undefined);
    await container.stop({ timeout: 0, remove: true }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw startFailure(exitReason() ?? (err as Error).message, logBuffer);
  }
  const ports = parseListenerPorts((await httpGet(`${adminUrl}/listeners?format=json`)).body);
  const envoy = new ContainerEnvoy(adminUrl, ports, config, spec.listeners.map((l) => l.name), container, image, id, dir, logBuffer, state, opts.stopTimeoutMs ?? 5000);
  live.add(envoy);
  return envoy;
}

/** What to do about an image that cannot be run, for the two images this project names. */
function imageHint(image: string): string {
  if (image === LOCAL_ENVOY_IMAGE) return `\n(build it with \`bash scripts/setup-envoy-image.sh\` or \`make setup\`)`;
  if (image === ENVOY_IMAGE) return `\n(pull it with \`docker pull ${image}\`, or set PWAS_ENVOY_IMAGE to an Envoy ${ENVOY_VERSION} image the engine holds)`;
  return "";
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
    /** The image this Envoy runs. */
    readonly image: string,
    /** The value of its pwas.envoy.id label. */
    private readonly runId: string,
    private readonly dir: string,
    protected readonly logBuffer: LogBuffer,
    private readonly state: { ended: boolean },
    private readonly stopTimeoutMs: number,
  ) {
    super(adminUrl, ports, config, listenerOrder);
  }

  /** The Docker container id. */
  get containerId(): string {
    return this.container.getId();
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
      .then(
        () => undefined,
        // Whatever went wrong (the container already gone, an engine hiccup), none may be left behind.
        async (err: unknown) => {
          const removed = await removeLabelledContainers(`pwas.envoy.id=${this.runId}`).catch(() => undefined);
          if (removed === undefined) throw err;
        },
      )
      .finally(() => {
        rmSync(this.dir, { recursive: true, force: true });
        live.delete(this);
        this.done = true;
      });
    return this.stopping;
  }
}
