import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { httpGet } from "../envoy/instance";
import { locateEnvoy } from "../envoy/locate";
import { waitFor } from "../envoy/wait";
import { freePort, ServiceProcess } from "./child";
import type { StartedControlPlane } from "./controlplane";
import { locateIstioBinary, locateIstioBootstrap } from "./meshtools";

/**
 * A real sidecar without a kubelet: istio-agent (pilot-agent proxy sidecar) running the pinned Envoy, with
 * the identity Istio gives a pod, connected to the test control plane's istiod.
 *
 * The workload's objects are created as a kubelet-less cluster needs them: Namespace, ServiceAccount, a Pod
 * whose status carries the loopback address the sidecar uses (patched on the status subresource), and a
 * Service selecting it. The API server refuses loopback addresses in EndpointSlices, so there is none; the
 * inbound side comes from a Sidecar resource instead: interception mode NONE (no iptables here), an ingress
 * listener bound to `ip:port` that forwards to the upstream. Its egress names istio-system only, so istiod
 * sends no outbound listeners for the workload's own services.
 *
 * Identity: a ServiceAccount token from the TokenRequest API (audience istio-ca) in the file istio-agent
 * reads with JWT_POLICY=third-party-jwt, and istiod's root certificate from the istio-ca-root-cert
 * ConfigMap istiod writes into every namespace (PILOT_CERT_PROVIDER=istiod); with them the agent gets its
 * workload certificate from istiod's CA over gRPC and opens xDS to the same address.
 *
 * The agent's paths are relative to its working folder (./var/run/secrets/..., ./etc/istio/proxy), which
 * lives inside the control plane's folder. Envoy's bootstrap comes from Istio's own template of the same
 * commit, with its fixed ports (Prometheus 15090, health 15021) and wildcard address replaced by free
 * loopback ones, so a sidecar binds nothing outside 127.0.0.0/8 but the listeners istiod asks for.
 */
/** Where istio-agent caches downloaded Wasm modules: fixed in its code, outside the agent's working folder. */
export const ISTIO_DATA_DIR = "/var/lib/istio/data";

export interface SidecarOptions {
  namespace: string;
  /** The Pod's name; the ServiceAccount and Service are named after `app`. */
  podName?: string;
  /** The workload's `app` label (also the ServiceAccount and Service name); default "echo". */
  app?: string;
  /** The pod IP the sidecar uses, 127.0.0.x (not 127.0.0.1, where the upstreams listen). */
  ip: string;
  /** The service port the inbound listener serves on `ip`. */
  port: number;
  /** The application the inbound listener forwards to, "127.0.0.1:<port>". */
  upstream: string;
  /** Registries ("host:port") the agent may pull oci:// modules from over plain http (WASM_INSECURE_REGISTRIES). */
  insecureRegistries?: string[];
  readyTimeoutMs?: number;
}

export interface StartedSidecar {
  /** "http://<ip>:<port>": the inbound listener in front of the upstream. */
  readonly url: string;
  /** Envoy's admin API, "http://127.0.0.1:<port>". */
  readonly adminUrl: string;
  /** The folder the agent runs in: its certificates, Envoy's config, the Wasm module cache. */
  readonly dir: string;
  /** GET on Envoy's admin API (e.g. "/config_dump"), the body as text. */
  admin(path: string): Promise<string>;
  /** The agent's and Envoy's output (Envoy writes through the agent). */
  output(lines?: number): string;
  stop(): Promise<void>;
}

export async function startSidecar(cp: StartedControlPlane, opts: SidecarOptions): Promise<StartedSidecar> {
  const istiod = cp.istiod;
  if (!istiod) throw new Error("startSidecar needs a control plane started with istiod");
  const agent = required(locateIstioBinary("pilot-agent"));
  const template = required(locateIstioBootstrap());
  const envoy = locateEnvoy();
  const app = opts.app ?? "echo";
  const podName = opts.podName ?? `${app}-0`;
  const ns = opts.namespace;
  const timeout = opts.readyTimeoutMs ?? 60_000;
  const [upstreamHost, upstreamPort] = opts.upstream.split(":");

  await cp.kubectlOk(["apply", "-f", "-"], [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: app, namespace: ns } },
    {
      apiVersion: "v1", kind: "Pod", metadata: { name: podName, namespace: ns, labels: { app } },
      spec: { serviceAccountName: app, nodeName: "test-node", containers: [{ name: app, image: app, ports: [{ containerPort: opts.port }] }] },
    },
    { apiVersion: "v1", kind: "Service", metadata: { name: app, namespace: ns }, spec: { selector: { app }, ports: [{ name: "http", port: opts.port, targetPort: opts.port }] } },
    {
      apiVersion: "networking.istio.io/v1", kind: "Sidecar", metadata: { name: app, namespace: ns },
      spec: {
        workloadSelector: { labels: { app } },
        ingress: [{ port: { number: opts.port, protocol: "HTTP", name: "http" }, bind: opts.ip, defaultEndpoint: `${upstreamHost}:${upstreamPort}` }],
        egress: [{ hosts: ["istio-system/*"] }],
      },
    },
  ].map((d) => stringify(d)).join("---\n"));
  const status = { phase: "Running", podIP: opts.ip, podIPs: [{ ip: opts.ip }], hostIP: "127.0.0.1", conditions: [{ type: "Ready", status: "True" }] };
  await cp.kubectlOk(["patch", "pod", "-n", ns, podName, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);

  const dir = join(cp.dir, `sidecar-${ns}-${podName}`);
  mkdirSync(join(dir, "var/run/secrets/tokens"), { recursive: true });
  mkdirSync(join(dir, "var/run/secrets/istio"), { recursive: true });
  const token = await cp.kubectlOk(["create", "token", app, "-n", ns, "--audience", "istio-ca", "--duration", "1h"]);
  writeFileSync(join(dir, "var/run/secrets/tokens/istio-token"), token.trim());
  const rootCert = await waitFor(async () => {
    const r = await cp.kubectl(["get", "configmap", "-n", ns, "istio-ca-root-cert", "-o", "jsonpath={.data.root-cert\\.pem}"]);
    return r.code === 0 && r.stdout.includes("BEGIN CERTIFICATE") ? r.stdout : undefined;
  }, { timeoutMs: timeout, what: `istiod to write the istio-ca-root-cert ConfigMap into ${ns}` });
  writeFileSync(join(dir, "var/run/secrets/istio/root-cert.pem"), rootCert);

  // istio-agent's Wasm module cache has a fixed place (constants.IstioDataDir); it creates only the folders below it.
  try {
    mkdirSync(ISTIO_DATA_DIR, { recursive: true });
  } catch (err) {
    throw new Error(`istio-agent caches Wasm modules in ${ISTIO_DATA_DIR}, which cannot be created here: ${(err as Error).message}`);
  }
  // What was cached before this sidecar stays; what it adds is removed by stop().
  const cachedBefore = new Set(readdirSync(ISTIO_DATA_DIR));
  const dropCache = () => {
    for (const entry of readdirSync(ISTIO_DATA_DIR)) {
      if (!cachedBefore.has(entry)) rmSync(join(ISTIO_DATA_DIR, entry), { recursive: true, force: true });
    }
  };
  const [admin, agentStatus, prometheus, health] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const bootstrap = join(dir, "envoy_bootstrap.json");
  writeFileSync(bootstrap, readFileSync(template, "utf8")
    .replaceAll("{{ .envoy_prometheus_port }}", String(prometheus))
    .replaceAll("{{ .envoy_status_port }}", String(health))
    .replaceAll("{{ .wildcard }}", "127.0.0.1")
    .replaceAll("{{ .additional_wildcard }}", "127.0.0.1"));
  // istiod's DNS certificate names "localhost" (ISTIOD_CUSTOM_HOST), which the agent checks against the host it dials.
  const discovery = istiod.secureGrpcAddress.replace("127.0.0.1", "localhost");
  const proxyConfig = {
    discoveryAddress: discovery, binaryPath: envoy, configPath: join(dir, "etc/istio/proxy"),
    proxyAdminPort: admin, statusPort: agentStatus, terminationDrainDuration: "0s", drainDuration: "1s", concurrency: 1,
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: dir,
    POD_NAME: podName, POD_NAMESPACE: ns, INSTANCE_IP: opts.ip, SERVICE_ACCOUNT: app,
    JWT_POLICY: "third-party-jwt", PILOT_CERT_PROVIDER: "istiod", CA_ADDR: discovery,
    ISTIO_META_CLUSTER_ID: "Kubernetes", ISTIO_META_INTERCEPTION_MODE: "NONE", ISTIO_META_WORKLOAD_NAME: app,
    ISTIO_METAJSON_LABELS: JSON.stringify({ app }),
    PROXY_CONFIG: JSON.stringify(proxyConfig),
    ...(opts.insecureRegistries ? { WASM_INSECURE_REGISTRIES: opts.insecureRegistries.join(",") } : {}),
  };
  const proc = new ServiceProcess("pilot-agent", agent, ["proxy", "sidecar", "--templateFile", bootstrap, "--proxyLogLevel", "warning", "--log_output_level", "default:info,wasm:debug"], env, dir);
  const url = `http://${opts.ip}:${opts.port}`;
  const adminUrl = `http://127.0.0.1:${admin}`;
  try {
    // Ready when the inbound listener istiod sent answers from the upstream.
    await proc.waitUntil(async () => {
      const res = await httpGet(`${url}/`, 1000).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    }, `the sidecar's inbound listener ${url} to answer from the upstream`, timeout);
  } catch (err) {
    await proc.stop(10_000);
    dropCache();
    throw err;
  }
  return {
    url,
    adminUrl,
    dir,
    async admin(path) {
      const res = await httpGet(`${adminUrl}${path}`, 5000);
      if (res.status !== 200) throw new Error(`GET ${adminUrl}${path}: ${res.status}`);
      return res.body;
    },
    output: (lines) => proc.output(lines),
    // SIGTERM: the agent stops Envoy itself (drain time 0). Then the modules it cached go.
    async stop() {
      await proc.stop(10_000);
      dropCache();
    },
  };
}

function required(r: { ok: true; path: string } | { ok: false; reason: string }): string {
  if (!r.ok) throw new Error(r.reason);
  return r.path;
}
