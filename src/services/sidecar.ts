import { join } from "node:path";
import { stringify } from "yaml";
import { httpGet } from "../envoy/instance";
import type { StartedControlPlane } from "./controlplane";
import { startIstioAgent } from "./istio-agent";

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
 * Identity and bootstrap: src/services/istio-agent.ts. The bootstrap binds nothing outside 127.0.0.0/8 but
 * the listeners istiod asks for.
 */
export { ISTIO_DATA_DIR } from "./istio-agent";

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
  const app = opts.app ?? "echo";
  const podName = opts.podName ?? `${app}-0`;
  const ns = opts.namespace;
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

  const url = `http://${opts.ip}:${opts.port}`;
  const agent = await startIstioAgent(cp, {
    type: "sidecar", namespace: ns, podName, serviceAccount: app, ip: opts.ip,
    folder: join(cp.dir, `sidecar-${ns}-${podName}`),
    env: {
      ISTIO_META_INTERCEPTION_MODE: "NONE", ISTIO_META_WORKLOAD_NAME: app,
      ISTIO_METAJSON_LABELS: JSON.stringify({ app }),
      ...(opts.insecureRegistries ? { WASM_INSECURE_REGISTRIES: opts.insecureRegistries.join(",") } : {}),
    },
    // Ready when the inbound listener istiod sent answers from the upstream.
    ready: {
      probe: async () => ((await httpGet(`${url}/`, 1000).catch(() => undefined))?.status === 200 ? true : undefined),
      what: () => `the sidecar's inbound listener ${url} to answer from the upstream`,
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
  });
  return { url, adminUrl: agent.adminUrl, dir: agent.dir, admin: agent.admin, output: agent.output, stop: agent.stop };
}
