import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { httpGet } from "../envoy/instance";
import { locateEnvoy } from "../envoy/locate";
import { waitFor } from "../envoy/wait";
import { freePort, ServiceProcess } from "./child";
import type { StartedControlPlane } from "./controlplane";
import { locateIstioBinary, locateIstioBootstrap } from "./meshtools";

/**
 * istio-agent (pilot-agent) running the pinned Envoy with the identity Istio gives a pod, connected to the
 * test control plane's istiod: what a sidecar (src/services/sidecar.ts) and a waypoint
 * (src/services/waypoint.ts) share. The caller creates the workload's Kubernetes objects first.
 *
 * Identity: a ServiceAccount token from the TokenRequest API (audience istio-ca) in the file istio-agent
 * reads with JWT_POLICY=third-party-jwt, and istiod's root certificate from the istio-ca-root-cert
 * ConfigMap istiod writes into every namespace (PILOT_CERT_PROVIDER=istiod); with them the agent gets its
 * workload certificate from istiod's CA over gRPC and opens xDS to the same address.
 *
 * The agent's paths are relative to its working folder (./var/run/secrets/..., ./etc/istio/proxy), which
 * lives inside the control plane's folder. Envoy's bootstrap comes from Istio's own template of the same
 * commit, with its fixed ports (Prometheus 15090, health 15021) and wildcard address replaced by free
 * loopback ones.
 */

/** Where istio-agent caches downloaded Wasm modules: fixed in its code, outside the agent's working folder. */
export const ISTIO_DATA_DIR = "/var/lib/istio/data";

export interface AgentSpec {
  /** `pilot-agent proxy <type>`. */
  type: "sidecar" | "waypoint";
  namespace: string;
  podName: string;
  serviceAccount: string;
  /** The pod's address (INSTANCE_IP). */
  ip: string;
  /** The agent's working folder, under the control plane's. */
  folder: string;
  /** Arguments after `proxy <type>` and before the bootstrap template's. */
  args?: string[];
  /** The environment the role adds (ISTIO_META_*, labels, registries); the identity's is set here. */
  env: NodeJS.ProcessEnv;
  /** A change to Istio's bootstrap template beyond the ports and wildcard addresses. */
  editBootstrap?: (text: string) => string;
  /** When the proxy is ready, given its admin URL; `what` names it in the timeout error. */
  ready: { probe: (adminUrl: string) => Promise<true | undefined>; what: (adminUrl: string) => string };
  readyTimeoutMs: number;
}

export interface StartedAgent {
  /** Envoy's admin API, "http://127.0.0.1:<port>". */
  readonly adminUrl: string;
  /** The folder the agent runs in: its certificates, Envoy's config. */
  readonly dir: string;
  /** GET on Envoy's admin API, the body as text. */
  admin(path: string): Promise<string>;
  /** The agent's and Envoy's output (Envoy writes through the agent). */
  output(lines?: number): string;
  /** SIGTERM: the agent stops Envoy itself (drain time 0). Then the modules it cached go. */
  stop(): Promise<void>;
}

export async function startIstioAgent(cp: StartedControlPlane, spec: AgentSpec): Promise<StartedAgent> {
  const istiod = cp.istiod;
  if (!istiod) throw new Error(`a ${spec.type} needs a control plane started with istiod`);
  const agent = required(locateIstioBinary("pilot-agent"));
  const template = required(locateIstioBootstrap());
  const envoy = locateEnvoy();
  const { namespace: ns, serviceAccount, folder: dir } = spec;

  mkdirSync(join(dir, "var/run/secrets/tokens"), { recursive: true });
  mkdirSync(join(dir, "var/run/secrets/istio"), { recursive: true });
  const token = await cp.kubectlOk(["create", "token", serviceAccount, "-n", ns, "--audience", "istio-ca", "--duration", "1h"]);
  writeFileSync(join(dir, "var/run/secrets/tokens/istio-token"), token.trim());
  const rootCert = await waitFor(async () => {
    const r = await cp.kubectl(["get", "configmap", "-n", ns, "istio-ca-root-cert", "-o", "jsonpath={.data.root-cert\\.pem}"]);
    return r.code === 0 && r.stdout.includes("BEGIN CERTIFICATE") ? r.stdout : undefined;
  }, { timeoutMs: spec.readyTimeoutMs, what: `istiod to write the istio-ca-root-cert ConfigMap into ${ns}` });
  writeFileSync(join(dir, "var/run/secrets/istio/root-cert.pem"), rootCert);

  const dropCache = guardModuleCache();
  const [admin, agentStatus, prometheus, health] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const bootstrap = join(dir, "envoy_bootstrap.json");
  const text = readFileSync(template, "utf8")
    .replaceAll("{{ .envoy_prometheus_port }}", String(prometheus))
    .replaceAll("{{ .envoy_status_port }}", String(health))
    .replaceAll("{{ .wildcard }}", "127.0.0.1")
    .replaceAll("{{ .additional_wildcard }}", "127.0.0.1");
  writeFileSync(bootstrap, spec.editBootstrap ? spec.editBootstrap(text) : text);
  // istiod's DNS certificate names "localhost" (ISTIOD_CUSTOM_HOST), which the agent checks against the host it dials.
  const discovery = istiod.secureGrpcAddress.replace("127.0.0.1", "localhost");
  const proxyConfig = {
    discoveryAddress: discovery, binaryPath: envoy, configPath: join(dir, "etc/istio/proxy"),
    proxyAdminPort: admin, statusPort: agentStatus, terminationDrainDuration: "0s", drainDuration: "1s", concurrency: 1,
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: dir,
    POD_NAME: spec.podName, POD_NAMESPACE: ns, INSTANCE_IP: spec.ip, SERVICE_ACCOUNT: serviceAccount,
    JWT_POLICY: "third-party-jwt", PILOT_CERT_PROVIDER: "istiod", CA_ADDR: discovery,
    ISTIO_META_CLUSTER_ID: "Kubernetes",
    PROXY_CONFIG: JSON.stringify(proxyConfig),
    ...spec.env,
  };
  const proc = new ServiceProcess("pilot-agent", agent, [
    "proxy", spec.type, ...(spec.args ?? []),
    "--templateFile", bootstrap, "--proxyLogLevel", "warning", "--log_output_level", "default:info,wasm:debug",
  ], env, dir);
  const adminUrl = `http://127.0.0.1:${admin}`;
  try {
    await proc.waitUntil(() => spec.ready.probe(adminUrl), spec.ready.what(adminUrl), spec.readyTimeoutMs);
  } catch (err) {
    await proc.stop(10_000);
    dropCache();
    throw err;
  }
  return {
    adminUrl,
    dir,
    async admin(path) {
      const res = await httpGet(`${adminUrl}${path}`, 5000);
      if (res.status !== 200) throw new Error(`GET ${adminUrl}${path}: ${res.status}`);
      return res.body;
    },
    output: (lines) => proc.output(lines),
    async stop() {
      await proc.stop(10_000);
      dropCache();
    },
  };
}

/**
 * Makes istio-agent's module cache folder (the agent creates only the folders below it) and returns what
 * removes the entries added since: what was cached before this agent stays.
 */
function guardModuleCache(): () => void {
  try {
    mkdirSync(ISTIO_DATA_DIR, { recursive: true });
  } catch (err) {
    throw new Error(`istio-agent caches Wasm modules in ${ISTIO_DATA_DIR}, which cannot be created here: ${(err as Error).message}`);
  }
  const cachedBefore = new Set(readdirSync(ISTIO_DATA_DIR));
  return () => {
    for (const entry of readdirSync(ISTIO_DATA_DIR)) {
      if (!cachedBefore.has(entry)) rmSync(join(ISTIO_DATA_DIR, entry), { recursive: true, force: true });
    }
  };
}

function required(r: { ok: true; path: string } | { ok: false; reason: string }): string {
  if (!r.ok) throw new Error(r.reason);
  return r.path;
}
