import { spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { httpGet } from "../envoy/instance";
import { GATEWAY_API_CRDS_FILE } from "../mesh/versions";
import { freePort, ServiceProcess } from "./child";
import type { Located } from "./locate";
import { locateEtcd, locateIstioBinary, locateIstioCrds, locateKubeApiserver, locateKubectl } from "./meshtools";

/**
 * A Kubernetes API server and istiod on loopback, for tests: etcd, kube-apiserver (no kubelet, no
 * controller manager: a test creates the Namespace, ServiceAccount, Pod, Service and EndpointSlice objects a
 * workload needs), Istio's CRDs from the pinned commit applied server-side, and optionally istiod
 * (pilot-discovery) watching that API server. Every port is a free one on 127.0.0.1; everything lives in one
 * temporary folder, removed by stop().
 */
export interface ControlPlaneOptions {
  /** Start istiod too (default true). Without it: etcd, kube-apiserver and the CRDs only. */
  istiod?: boolean;
  /**
   * Also apply the Gateway API CRDs (standard channel, the version the pinned Istio requires; see
   * locateGatewayApiCrds), so Gateway objects can be stored and istiod watches them. Default false.
   */
  gatewayApi?: boolean;
  /** Extra environment for istiod (e.g. PILOT_ENABLE_AMBIENT=true), on top of the test defaults. */
  istiodEnv?: Record<string, string>;
  readyTimeoutMs?: number;
}

/** The Gateway API CRDs setup-mesh.sh copies: GATEWAY_API_CRDS, else .tools/mesh/istio-<version>/gateway-api-standard.yaml. */
export function locateGatewayApiCrds(env: NodeJS.ProcessEnv = process.env): Located {
  if (env.GATEWAY_API_CRDS) return existsSync(env.GATEWAY_API_CRDS) ? { ok: true, path: env.GATEWAY_API_CRDS } : { ok: false, reason: `GATEWAY_API_CRDS points at ${env.GATEWAY_API_CRDS}, which does not exist` };
  for (const start of [process.cwd(), __dirname]) {
    for (let dir = resolve(start); ; dir = resolve(dir, "..")) {
      if (existsSync(join(dir, GATEWAY_API_CRDS_FILE))) return { ok: true, path: join(dir, GATEWAY_API_CRDS_FILE) };
      if (resolve(dir, "..") === dir) break;
    }
  }
  return { ok: false, reason: `${GATEWAY_API_CRDS_FILE} is missing; run \`bash scripts/setup-mesh.sh\` or set GATEWAY_API_CRDS` };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface StartedIstiod {
  /** istiod's HTTP port: /ready, /debug/configz, /debug/syncz. */
  readonly httpUrl: string;
  /** Plaintext xDS (gRPC), "127.0.0.1:<port>". */
  readonly grpcAddress: string;
  /** xDS and the CA over TLS (what istio-agent connects to), "127.0.0.1:<port>". */
  readonly secureGrpcAddress: string;
  /** GET on the HTTP port, e.g. "/debug/configz". */
  debug(path: string): Promise<string>;
  output(lines?: number): string;
}

export interface StartedControlPlane {
  /** "https://127.0.0.1:<port>". */
  readonly apiServerUrl: string;
  /** A kubeconfig for it (a static token with cluster-admin rights). */
  readonly kubeconfig: string;
  /** The API server's serving certificate (self-signed), which the kubeconfig trusts. */
  readonly caFile: string;
  /** The folder holding everything; removed by stop(). */
  readonly dir: string;
  readonly istiod?: StartedIstiod;
  /** kubectl with this kubeconfig; never throws on a non-zero exit. */
  kubectl(args: string[], stdin?: string): Promise<KubectlResult>;
  /** kubectl that must succeed; returns stdout. */
  kubectlOk(args: string[], stdin?: string): Promise<string>;
  /** GET on the API server with the admin token, parsed as JSON. */
  get(path: string): Promise<unknown>;
  /** The environment for a kubectl-based command (pwas deploy --apply): KUBECONFIG and KUBECTL set. */
  env(): NodeJS.ProcessEnv;
  output(component: "etcd" | "kube-apiserver" | "istiod", lines?: number): string;
  stop(): Promise<void>;
}

function required(l: Located): string {
  if (!l.ok) throw new Error(l.reason);
  return l.path;
}

/** Starts etcd, kube-apiserver, applies the CRDs, and (by default) starts istiod; stops what started if a step fails. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<StartedControlPlane> {
  const bins = {
    etcd: required(locateEtcd()),
    apiserver: required(locateKubeApiserver()),
    kubectl: required(locateKubectl()),
    crds: required(locateIstioCrds()),
    gatewayApi: opts.gatewayApi ? required(locateGatewayApiCrds()) : undefined,
    istiod: opts.istiod === false ? undefined : required(locateIstioBinary("pilot-discovery")),
  };
  const timeout = opts.readyTimeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), "pwas-controlplane-"));
  const procs: ServiceProcess[] = [];
  const stopAll = async () => {
    while (procs.length) await procs.pop()!.stop(10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const etcd = await startEtcd(bins.etcd, dir, timeout);
    procs.push(etcd.proc);
    const api = await startApiServer(bins.apiserver, dir, etcd.clientUrl, timeout);
    procs.push(api.proc);
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "test", cluster: { server: api.url, "certificate-authority": api.caFile } }],
      users: [{ name: "admin", user: { token: api.token } }],
      contexts: [{ name: "test", context: { cluster: "test", user: "admin" } }],
      "current-context": "test",
    }, null, 2));
    const kubectl = (args: string[], stdin?: string) => runKubectl(bins.kubectl, kubeconfig, dir, args, stdin);
    const kubectlOk = async (args: string[], stdin?: string) => {
      const r = await kubectl(args, stdin);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
      return r.stdout;
    };
    // Server-side apply, as a cluster installs them; then wait until each CRD serves its resource.
    await kubectlOk(["apply", "--server-side", "--field-manager", "pwas-test", "-f", bins.crds]);
    if (bins.gatewayApi) await kubectlOk(["apply", "--server-side", "--field-manager", "pwas-test", "-f", bins.gatewayApi]);
    await kubectlOk(["wait", "--for", "condition=Established", "crd", "--all", "--timeout", `${Math.round(timeout / 1000)}s`]);
    let istiod: StartedIstiod | undefined;
    if (bins.istiod) {
      await kubectlOk(["create", "namespace", "istio-system"]);
      const started = await startIstiod(bins.istiod, dir, kubeconfig, timeout, opts.istiodEnv ?? {});
      procs.push(started.proc);
      istiod = started.handle;
    }
    const byName = new Map(procs.map((p) => [p.name, p]));
    return {
      apiServerUrl: api.url,
      kubeconfig,
      caFile: api.caFile,
      dir,
      istiod,
      kubectl,
      kubectlOk,
      get: (path) => apiGet(api.url, api.token, api.caFile, path).then((r) => JSON.parse(r.body)),
      env: () => ({ ...process.env, KUBECONFIG: kubeconfig, KUBECTL: bins.kubectl }),
      output: (component, lines) => byName.get(component)?.output(lines) ?? "",
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** etcd on two free ports (client, peer), data in a temporary folder, waited for on /health. */
async function startEtcd(binary: string, dir: string, timeoutMs: number): Promise<{ proc: ServiceProcess; clientUrl: string }> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [client, peer] = [await freePort(), await freePort()];
    const clientUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const data = join(dir, `etcd-${attempt}`);
    const proc = new ServiceProcess("etcd", binary, [
      "--name", "test", "--data-dir", data,
      "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
      "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
      "--initial-cluster", `test=${peerUrl}`, "--log-level", "warn", "--logger", "zap",
    ], { PATH: process.env.PATH, HOME: dir });
    try {
      await proc.waitUntil(async () => {
        const res = await httpGet(`${clientUrl}/health`, 1000);
        return res.status === 200 && res.body.includes('"health":"true"') ? true : undefined;
      }, `etcd on ${clientUrl} to report healthy`, timeoutMs);
      return { proc, clientUrl };
    } catch (err) {
      last = err;
      await proc.stop();
      if (!/address already in use/i.test(proc.log)) throw err;
    }
  }
  throw last;
}

interface ApiServer {
  proc: ServiceProcess;
  url: string;
  token: string;
  caFile: string;
}

/**
 * kube-apiserver on 127.0.0.1: a static admin token (group system:masters), RBAC, a service-account key
 * pair (tokens for pods, which istiod verifies with TokenReview), a self-signed serving certificate it
 * writes itself, and no endpoint reconciler (there is no kubelet and no real node address).
 */
async function startApiServer(binary: string, dir: string, etcdUrl: string, timeoutMs: number): Promise<ApiServer> {
  const token = randomBytes(24).toString("hex");
  const tokens = join(dir, "tokens.csv");
  writeFileSync(tokens, `${token},admin,admin-uid,"system:masters"\n`);
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const saKey = join(dir, "sa.key");
  const saPub = join(dir, "sa.pub");
  writeFileSync(saKey, keys.privateKey.export({ type: "pkcs1", format: "pem" }));
  writeFileSync(saPub, keys.publicKey.export({ type: "spki", format: "pem" }));
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const certDir = join(dir, `apiserver-certs-${attempt}`);
    mkdirSync(certDir);
    const url = `https://127.0.0.1:${port}`;
    const proc = new ServiceProcess("kube-apiserver", binary, [
      "--etcd-servers", etcdUrl,
      "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", String(port),
      "--cert-dir", certDir,
      "--token-auth-file", tokens,
      "--authorization-mode", "RBAC",
      "--service-account-key-file", saPub, "--service-account-signing-key-file", saKey,
      "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
      "--api-audiences", "https://kubernetes.default.svc.cluster.local,istio-ca",
      "--service-cluster-ip-range", "10.96.0.0/16",
      "--endpoint-reconciler-type", "none",
      "--enable-priority-and-fairness=false",
      "--profiling=false",
      "--v", "1",
    ], { PATH: process.env.PATH, HOME: dir });
    // The serving certificate appears once the server has generated it (apiserver.crt in --cert-dir).
    const caFile = join(certDir, "apiserver.crt");
    try {
      await proc.waitUntil(async () => {
        const r = await apiGet(url, token, caFile, "/readyz");
        return r.status === 200 ? true : undefined;
      }, `kube-apiserver on ${url} to answer /readyz`, timeoutMs);
      return { proc, url, token, caFile };
    } catch (err) {
      last = err;
      await proc.stop();
      if (!/address already in use/i.test(proc.log)) throw err;
    }
  }
  throw last;
}

function apiGet(base: string, token: string, caFile: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const ca = readFileSync(caFile);
    const req = request(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, ca, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => resolveGet({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * istiod (pilot-discovery) with --kubeconfig: watches the API server, signs workload certificates with its
 * self-signed CA (kept in the istio-ca-secret Secret), serves xDS. Its working folder is inside `dir`
 * (istiod writes its DNS certificates under ./var/run/secrets relative to it). Webhook configuration
 * patching is off: there are no webhook configurations without a Helm install.
 */
async function startIstiod(binary: string, dir: string, kubeconfig: string, timeoutMs: number, extraEnv: Record<string, string>): Promise<{ proc: ServiceProcess; handle: StartedIstiod }> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [http, grpc, secure, monitoring, webhook] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const cwd = join(dir, `istiod-${attempt}`);
    mkdirSync(cwd);
    const meshConfig = join(cwd, "mesh.yaml");
    writeFileSync(meshConfig, "rootNamespace: istio-system\ntrustDomain: cluster.local\n");
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: cwd,
      POD_NAME: "istiod-test",
      POD_NAMESPACE: "istio-system",
      REVISION: "default",
      CLUSTER_ID: "Kubernetes",
      PILOT_CERT_PROVIDER: "istiod",
      ISTIOD_CUSTOM_HOST: "localhost",
      VALIDATION_WEBHOOK_CONFIG_NAME: "",
      INJECTION_WEBHOOK_CONFIG_NAME: "",
      PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION: "false",
      // The sidecars of these tests run the official Envoy, which has none of istio/proxy's extensions: no
      // metadata exchange filters (Envoy would refuse every listener and cluster that names one).
      PILOT_ENABLE_METADATA_EXCHANGE: "false",
      ...extraEnv,
    };
    const proc = new ServiceProcess("istiod", binary, [
      "discovery", "--kubeconfig", kubeconfig, "--meshConfig", meshConfig, "--domain", "cluster.local",
      "--httpAddr", `127.0.0.1:${http}`, "--grpcAddr", `127.0.0.1:${grpc}`, "--secureGRPCAddr", `127.0.0.1:${secure}`,
      "--monitoringAddr", `127.0.0.1:${monitoring}`, "--httpsAddr", `127.0.0.1:${webhook}`,
      "--log_output_level", "default:warn",
    ], env, cwd);
    const httpUrl = `http://127.0.0.1:${http}`;
    try {
      await proc.waitUntil(async () => ((await httpGet(`${httpUrl}/ready`, 1000)).status === 200 ? true : undefined), `istiod's ${httpUrl}/ready`, timeoutMs);
    } catch (err) {
      last = err;
      await proc.stop();
      if (/address already in use/i.test(proc.log)) continue;
      throw err;
    }
    return {
      proc,
      handle: {
        httpUrl,
        grpcAddress: `127.0.0.1:${grpc}`,
        secureGrpcAddress: `127.0.0.1:${secure}`,
        async debug(path) {
          const res = await httpGet(`${httpUrl}${path}`, 5000);
          if (res.status !== 200) throw new Error(`GET ${httpUrl}${path}: ${res.status} ${res.body.slice(0, 200)}`);
          return res.body;
        },
        output: (lines) => proc.output(lines),
      },
    };
  }
  throw last;
}

function runKubectl(binary: string, kubeconfig: string, dir: string, args: string[], stdin?: string): Promise<KubectlResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(binary, args, { env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? "");
  });
}
