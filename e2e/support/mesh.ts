/**
 * What the mesh e2e tests share: running the `pwas` CLI against the test cluster, and bringing up the
 * control plane (etcd, kube-apiserver, istiod) with one real sidecar (istio-agent and the pinned Envoy) in
 * front of the echo upstream, the filters the tests deploy built while the control plane starts.
 */
import { createServer, request as httpRequest, type Server } from "node:http";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Io } from "../../src/cli/command";
import { buildFilter } from "../../src/build/build";
import { main } from "../../src/cli/main";
import { startEcho, type EchoServer } from "../../src/envoy/echo";
import { locateEnvoy } from "../../src/envoy/locate";
import { waitFor } from "../../src/envoy/wait";
import { freePort } from "../../src/services/child";
import { startControlPlane, type StartedControlPlane } from "../../src/services/controlplane";
import { locateControlPlaneTools, locateIstioBinary, locateIstioBootstrap } from "../../src/services/meshtools";
import { locateDockerRegistry, startRegistry, type StartedRegistry } from "../../src/services/registry";
import { startSidecar, type StartedSidecar } from "../../src/services/sidecar";

export interface PwasRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the `pwas` CLI in this process, its kubectl (for --apply) pointed at the cluster `env` names. */
export async function pwasWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<PwasRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), progress: (l) => err.push(`• ${l}`) };
  // --apply runs kubectl with the process environment: point it at the test cluster for this call only.
  const saved = { KUBECONFIG: process.env.KUBECONFIG, KUBECTL: process.env.KUBECTL };
  Object.assign(process.env, { KUBECONFIG: env.KUBECONFIG, KUBECTL: env.KUBECTL });
  try {
    const code = await main(args, io);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Why the sidecar tests cannot run here (a tool setup did not install), or undefined. */
export function missingSidecarTools(): string | undefined {
  for (const l of [locateControlPlaneTools(), locateIstioBinary("pilot-agent"), locateIstioBootstrap(), locateDockerRegistry()]) {
    if (!l.ok) return `sidecar e2e: ${l.reason}`;
  }
  try {
    locateEnvoy();
  } catch (err) {
    return `sidecar e2e: ${(err as Error).message}`;
  }
  return undefined;
}

export interface SidecarMeshOptions {
  /** Filter folders built (pwas build) while the control plane starts, so deploys can use --no-build. */
  build: string[];
  /** Files the loopback http server serves: URL path ("/fault.wasm") → file on disk, read per request. */
  files?: Record<string, string>;
}

export interface SidecarMesh {
  readonly cp: StartedControlPlane;
  readonly echo: EchoServer;
  readonly sidecar: StartedSidecar;
  /** The local docker-registry the agent may pull from over plain http. */
  readonly registry: StartedRegistry;
  /** "http://127.0.0.1:<port>" of the loopback file server. */
  readonly filesUrl: string;
  /** `pwas` against this cluster. */
  pwas(...args: string[]): Promise<PwasRun>;
  stop(): Promise<void>;
}

/**
 * The control plane and one sidecar (namespace "shop", app "echo", pod IP 127.0.0.7) in front of the echo
 * upstream, with a local registry and a loopback file server the agent can fetch modules from.
 */
export async function startSidecarMesh(opts: SidecarMeshOptions): Promise<SidecarMesh> {
  const parts: { echo?: EchoServer; registry?: StartedRegistry; files?: Server; cp?: StartedControlPlane; sidecar?: StartedSidecar } = {};
  const stop = async () => {
    await parts.sidecar?.stop();
    await parts.cp?.stop();
    parts.files?.close();
    await parts.echo?.close();
    await parts.registry?.stop();
  };
  try {
    parts.echo = await startEcho();
    parts.registry = await startRegistry();
    const served = opts.files ?? {};
    parts.files = createServer((req, res) => {
      const file = served[req.url ?? ""];
      if (file) res.end(readFileSync(file));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => parts.files!.listen(0, "127.0.0.1", r));
    const filesUrl = `http://127.0.0.1:${(parts.files.address() as AddressInfo).port}`;
    // The builds and the control plane's start overlap.
    const [cp] = await Promise.all([startControlPlane({ readyTimeoutMs: 120_000 }), ...opts.build.map((dir) => buildFilter(dir))]);
    parts.cp = cp;
    parts.sidecar = await startSidecar(cp, {
      namespace: "shop", ip: "127.0.0.7", port: await freePort(), upstream: `127.0.0.1:${parts.echo.port}`, insecureRegistries: [parts.registry.host],
    });
    const { echo, registry, sidecar } = parts as Required<typeof parts>;
    return { cp, echo, sidecar, registry, filesUrl, pwas: (...args) => pwasWith(cp.env(), ...args), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * GET on a connection of its own, as curl does. A pooled keep-alive connection would stay on the filter
 * chain it was accepted by: when a new plugin changes the listener, istiod's LDS update replaces the chain
 * and old connections drain with the old filters, so what such a connection answers says nothing of the
 * new configuration.
 */
export function send(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    req.on("error", reject);
    req.end();
  });
}

/** Waits until a request with `headers` gets a reply `accept` takes: the agent has fetched the module and Envoy runs it. */
export function untilReply(sidecar: StartedSidecar, accept: (r: Reply) => boolean, headers: Record<string, string>, what: string, path = "/"): Promise<Reply> {
  return waitFor(async () => {
    const r = await send(`${sidecar.url}${path}`, headers).catch(() => undefined);
    return r && accept(r) ? r : undefined;
  }, { timeoutMs: 45_000, what }).catch((err: Error) => {
    throw new Error(`${err.message}\n--- agent\n${sidecar.output(40)}`);
  });
}

/** Waits until a request with `headers` gets `status`. */
export function untilStatus(sidecar: StartedSidecar, status: number, headers: Record<string, string>, what: string): Promise<Reply> {
  return untilReply(sidecar, (r) => r.status === status, headers, what);
}
