import { existsSync, readFileSync, statSync } from "node:fs";
import { loadModule } from "../build/module";
import { PwasError } from "../errors";
import { cluster, httpListener, wasmFilter, type Bootstrap, type Cluster, type FailurePolicy } from "./bootstrap";
import { startEcho, type EchoServer } from "./echo";
import { provideEnvoy } from "./locate";
import { containerImage } from "./container";
import { selectBackend, startEnvoy } from "./envoy";
import { EnvoyStartError, type StartedEnvoy } from "./instance";

export interface RunOptions {
  /** A filter folder (built first) or a .wasm file. */
  target: string;
  /** Plugin configuration: inline JSON, or a path to a file holding it. */
  config?: string;
  port?: number;
  adminPort?: number;
  concurrency?: number;
  /** "echo" (default) or an http:// URL of the upstream. */
  upstream?: string;
  failurePolicy?: "closed" | "open" | "reload";
  /** Plugin root_id. */
  rootId?: string;
  /** Extra clusters for callouts, as name=http://host:port. */
  clusters?: string[];
  /** Progress lines (build, Envoy start). */
  progress?: (step: string) => void;
  /** Stops a build or an Envoy download in progress. */
  signal?: AbortSignal;
  /** Run Envoy in a container (the image of PWAS_ENVOY_IMAGE, default the official one) instead of a local process. */
  docker?: boolean;
}

export interface RunningFilter {
  envoy: StartedEnvoy;
  echo?: EchoServer;
  wasmFile: string;
  listenerUrl: string;
  adminUrl: string;
  stop(): Promise<void>;
}

const POLICIES: Record<string, FailurePolicy> = { closed: "FAIL_CLOSED", open: "FAIL_OPEN", reload: "FAIL_RELOAD" };

/** Reads --config: inline JSON (starts with { or [) or a file; checks it is JSON so the error names the input, not Envoy. */
export function readPluginConfig(config: string | undefined): string {
  if (config === undefined) return "";
  const trimmed = config.trim();
  const text = trimmed.startsWith("{") || trimmed.startsWith("[") ? trimmed : readConfigFile(config);
  try {
    JSON.parse(text);
  } catch (e) {
    throw new PwasError("E_CONFIG", `--config is not valid JSON: ${(e as Error).message}`);
  }
  return text;
}

function readConfigFile(path: string): string {
  if (!existsSync(path)) throw new PwasError("E_NOT_FOUND", `--config ${path}: no such file (pass inline JSON starting with "{" or a file path)`);
  if (statSync(path).isDirectory()) throw new PwasError("E_USAGE", `--config ${path} is a folder (pass inline JSON starting with "{" or a file path)`);
  return readFileSync(path, "utf8");
}

/** An upstream URL as a cluster (STATIC for an IP address, STRICT_DNS for a host name). */
export function clusterFromUrl(name: string, url: string): Cluster {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PwasError("E_USAGE", `${url} is not a URL (expected http://host:port)`);
  }
  if (u.protocol !== "http:") throw new PwasError("E_USAGE", `${url}: only plain http:// upstreams are supported`);
  const port = u.port ? Number(u.port) : 80;
  const isIp = /^[0-9.]+$/.test(u.hostname);
  return cluster(name, port, { address: u.hostname, type: isIp ? "STATIC" : "STRICT_DNS" });
}

/** Builds (if needed) and runs a filter in a real Envoy in front of an upstream. The caller stops it. */
export async function runFilter(opts: RunOptions): Promise<RunningFilter> {
  const progress = opts.progress ?? (() => undefined);
  const wasmFile = (await loadModule(opts.target, { progress, signal: opts.signal })).wasmPath;
  const configuration = readPluginConfig(opts.config);
  const policy = opts.failurePolicy ? POLICIES[opts.failurePolicy] : undefined;
  if (opts.failurePolicy && !policy) throw new PwasError("E_USAGE", `--failure-policy must be closed, open or reload, got ${opts.failurePolicy}`);

  const backend = opts.docker ? "container" : selectBackend();
  // The process backend's binary is found (or downloaded, the first time) here, where Ctrl-C can stop it.
  const binary = backend === "process" ? await provideEnvoy({ signal: opts.signal }) : undefined;

  let echo: EchoServer | undefined;
  let upstream: Cluster;
  if (!opts.upstream || opts.upstream === "echo") {
    echo = await startEcho();
    upstream = cluster("upstream", echo.port);
  } else {
    upstream = clusterFromUrl("upstream", opts.upstream);
  }
  const extra = (opts.clusters ?? []).map((spec) => {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new PwasError("E_USAGE", `--cluster ${spec}: expected name=http://host:port`);
    return clusterFromUrl(spec.slice(0, eq), spec.slice(eq + 1));
  });

  const spec: Bootstrap = {
    adminPort: opts.adminPort ?? 0,
    listeners: [
      httpListener("main", {
        port: opts.port ?? 0,
        httpFilters: [
          wasmFilter({
            name: "pwas-run", rootId: opts.rootId, wasmFile, configuration, failurePolicy: policy,
          }),
        ],
        virtualHosts: [{ name: "all", routes: [{ match: { prefix: "/" }, cluster: "upstream" }] }],
      }),
    ],
    clusters: [upstream, ...extra],
  };
  progress(backend === "container" ? `starting Envoy in a container (${containerImage()})` : "starting Envoy");
  let envoy: StartedEnvoy;
  try {
    envoy = await startEnvoy(spec, { concurrency: opts.concurrency ?? 1, backend, binary });
  } catch (e) {
    await echo?.close();
    if (e instanceof EnvoyStartError) {
      // No log at all: Envoy never ran (no engine, an image the engine cannot run); the error says why.
      if (!e.envoyLog.trim()) throw new PwasError("E_ENVOY", e.message);
      const pluginLines = e.envoyLog.split("\n").filter((l) => /wasm log|Wasm|wasm/.test(l) && /error|critical|fail/i.test(l));
      const where = backend === "container" ? " (its container's log)" : "";
      throw new PwasError("E_ENVOY", `Envoy did not start${where}:\n${(pluginLines.length ? pluginLines : e.envoyLog.trimEnd().split("\n").slice(-15)).join("\n")}`);
    }
    throw e;
  }
  return {
    envoy, echo, wasmFile,
    listenerUrl: envoy.url("/"),
    adminUrl: envoy.adminUrl,
    async stop() {
      await envoy.stop();
      await echo?.close();
    },
  };
}
