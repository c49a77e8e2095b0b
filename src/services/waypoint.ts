import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import * as http2 from "node:http2";
import type { Socket } from "node:net";
import { join } from "node:path";
import { stringify } from "yaml";
import { httpGet } from "../envoy/instance";
import type { StartedControlPlane } from "./controlplane";
import { startIstioAgent } from "./istio-agent";

/**
 * A real waypoint proxy without a kubelet: istio-agent as `pilot-agent proxy waypoint` (the arguments and
 * environment Istio's waypoint template gives the container) running the pinned Envoy, for a Gateway of
 * class istio-waypoint that the caller creates. The control plane must run with the Gateway API CRDs and
 * istiod in ambient mode (PILOT_ENABLE_AMBIENT=true) with its Gateway deployment controller off. What that
 * controller and a kubelet would create is created here: a ServiceAccount, a Pod labelled
 * gateway.networking.k8s.io/gateway-name (its status patched to Running with the given address), a Service
 * named after the Gateway with the HBONE port 15008, and the EndpointSlice the endpoint controller would
 * write (istiod programs the Gateway, reporting the Service's cluster IP as its address, only once the
 * Service has an instance; that address is what binds the services labelled istio.io/use-waypoint to it).
 *
 * Identity and bootstrap as for the sidecar (src/services/istio-agent.ts): a ServiceAccount token from the
 * TokenRequest API, istiod's root from the istio-ca-root-cert ConfigMap, Istio's bootstrap template with its
 * fixed ports and wildcard address replaced by free loopback ones. Two things differ for the official Envoy
 * (it has none of istio/proxy's extensions): the bootstrap's metadata discovery extension, which the agent
 * turns on for every waypoint, is left out, and an EnvoyFilter (officialEnvoyPatch) replaces what the
 * waypoint's listeners use of istio/proxy. The listeners istiod sends are not rebound: the HBONE listener is
 * 0.0.0.0:15008 (and [::]:15008), as in a pod, so one waypoint runs on a machine at a time.
 */
export interface WaypointOptions {
  namespace: string;
  /** The Gateway's name (its Pod, ServiceAccount and Service are named after it); default "waypoint". */
  gateway?: string;
  /**
   * The Pod's address, by which istiod finds the Pod (and so the Gateway) of the connecting proxy. Not
   * bound by anything, and not loopback (the API server refuses loopback addresses in EndpointSlices).
   */
  ip: string;
  /**
   * Apply officialEnvoyPatch before the proxy starts (default true). Without it the official Envoy refuses
   * the waypoint's connect_terminate and main_internal listeners; startWaypoint then waits only for Envoy
   * to go live (its first listener update applied or refused).
   */
  patchForOfficialEnvoy?: boolean;
  readyTimeoutMs?: number;
}

export interface StartedWaypoint {
  /** Envoy's admin API, "http://127.0.0.1:<port>". */
  readonly adminUrl: string;
  /** The folder the agent runs in. */
  readonly dir: string;
  /** The cluster IP the API server gave the waypoint's Service. */
  readonly serviceIp: string;
  /** GET on Envoy's admin API, the body as text. */
  admin(path: string): Promise<string>;
  output(lines?: number): string;
  stop(): Promise<void>;
}

/** The HBONE port of a waypoint: istiod's connect_terminate listener, and the port of its Gateway listener. */
export const HBONE_PORT = 15008;

export async function startWaypoint(cp: StartedControlPlane, opts: WaypointOptions): Promise<StartedWaypoint> {
  if (!cp.istiod) throw new Error("startWaypoint needs a control plane started with istiod");
  const ns = opts.namespace;
  const name = opts.gateway ?? "waypoint";
  const podName = `${name}-0`;
  const labels = {
    "gateway.networking.k8s.io/gateway-name": name,
    "gateway.networking.k8s.io/gateway-class-name": "istio-waypoint",
    "istio.io/dataplane-mode": "none",
    "sidecar.istio.io/inject": "false",
  };
  await cp.kubectlOk(["apply", "-f", "-"], [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: ns } },
    {
      apiVersion: "v1", kind: "Pod", metadata: { name: podName, namespace: ns, labels },
      spec: { serviceAccountName: name, nodeName: "test-node", containers: [{ name: "istio-proxy", image: "istio-proxy", ports: [{ containerPort: HBONE_PORT }] }] },
    },
    {
      apiVersion: "v1", kind: "Service", metadata: { name, namespace: ns, labels: { "gateway.networking.k8s.io/gateway-name": name } },
      spec: { selector: { "gateway.networking.k8s.io/gateway-name": name }, ports: [{ name: "mesh", port: HBONE_PORT, protocol: "TCP" }] },
    },
  ].map((d) => stringify(d)).join("---\n"));
  const status = { phase: "Running", podIP: opts.ip, podIPs: [{ ip: opts.ip }], hostIP: "127.0.0.1", conditions: [{ type: "Ready", status: "True" }] };
  await cp.kubectlOk(["patch", "pod", "-n", ns, podName, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
  // What the endpoint controller (kube-controller-manager, which does not run here) would write.
  await cp.kubectlOk(["apply", "-f", "-"], stringify({
    apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
    metadata: { name: `${name}-pod`, namespace: ns, labels: { "kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "pwas-test" } },
    addressType: "IPv4",
    ports: [{ name: "mesh", port: HBONE_PORT, protocol: "TCP" }],
    endpoints: [{ addresses: [opts.ip], conditions: { ready: true }, nodeName: "test-node", targetRef: { kind: "Pod", name: podName, namespace: ns } }],
  }));
  const serviceIp = (await cp.kubectlOk(["get", "service", "-n", ns, name, "-o", "jsonpath={.spec.clusterIP}"])).trim();

  const patched = opts.patchForOfficialEnvoy ?? true;
  if (patched) await cp.kubectlOk(["apply", "-f", "-"], stringify(officialEnvoyPatch(ns, name)));

  const agent = await startIstioAgent(cp, {
    type: "waypoint", namespace: ns, podName, serviceAccount: name, ip: opts.ip,
    folder: join(cp.dir, `waypoint-${ns}-${name}`),
    args: ["--domain", `${ns}.svc.cluster.local`, "--serviceCluster", `${name}.${ns}`],
    // istio-agent turns on metadata discovery for every waypoint; its bootstrap extension
    // (istio.workload.BootstrapExtension) is istio/proxy's, which the official Envoy does not have.
    editBootstrap: (text) => text.replaceAll("{{- if .metadata_discovery }}", "{{- if false }}"),
    // The environment of Istio's waypoint template (manifests/.../files/waypoint.yaml), with the pod's values.
    env: {
      HOST_IP: "127.0.0.1", ISTIO_META_SERVICE_ACCOUNT: name, ISTIO_META_NODE_NAME: "test-node",
      ISTIO_META_INTERCEPTION_MODE: "REDIRECT", ISTIO_META_WORKLOAD_NAME: name,
      ISTIO_META_OWNER: `kubernetes://apis/apps/v1/namespaces/${ns}/deployments/${name}`,
      ISTIO_META_MESH_ID: "cluster.local", TRUST_DOMAIN: "cluster.local",
      ISTIO_METAJSON_LABELS: JSON.stringify(labels),
    },
    // Ready when Envoy has accepted istiod's HBONE listener (which, without officialEnvoyPatch, it refuses:
    // then when it is live).
    ready: {
      probe: async (adminUrl) => {
        const res = await httpGet(`${adminUrl}${patched ? "/listeners" : "/ready"}`, 1000).catch(() => undefined);
        return res?.status === 200 && (!patched || res.body.includes("connect_terminate")) ? true : undefined;
      },
      what: (adminUrl) => (patched ? `the waypoint's Envoy (admin ${adminUrl}) to accept istiod's connect_terminate listener` : `the waypoint's Envoy (admin ${adminUrl}) to go live`),
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
  });
  return { adminUrl: agent.adminUrl, dir: agent.dir, serviceIp, admin: agent.admin, output: agent.output, stop: agent.stop };
}

/**
 * What the official Envoy lacks of istio/proxy for a waypoint's listeners, patched with an EnvoyFilter
 * attached to the Gateway (istiod builds a waypoint's listeners in the SIDECAR_INBOUND context):
 *   - the peer metadata HTTP filters (io.istio.http.peer_metadata.Config) on connect_terminate and in every
 *     service chain of main_internal, which only feed telemetry: removed;
 *   - connect_terminate's set_filter_state filter stores the CONNECT authority and the peer principals with
 *     istio/proxy's object factory istio.hashable_string: replaced by the same filter with Envoy's own
 *     envoy.hashable_string (the original_dst keys, which route the tunnel to main_internal, are unchanged).
 */
export function officialEnvoyPatch(namespace: string, gateway: string): Record<string, unknown> {
  const inHcm = (listener: string | undefined, subFilter: string) => ({
    context: "SIDECAR_INBOUND",
    listener: { ...(listener ? { name: listener } : {}), filterChain: { filter: { name: "envoy.filters.network.http_connection_manager", subFilter: { name: subFilter } } } },
  });
  const state = (key: string, format: string, factory?: string) => ({
    object_key: key, format_string: { text_format_source: { inline_string: format } }, shared_with_upstream: "ONCE",
    ...(factory ? { factory_key: factory } : {}),
  });
  return {
    apiVersion: "networking.istio.io/v1alpha3", kind: "EnvoyFilter", metadata: { name: `${gateway}-official-envoy`, namespace },
    spec: {
      targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: gateway }],
      configPatches: [
        { applyTo: "HTTP_FILTER", match: inHcm(undefined, "waypoint_downstream_peer_metadata"), patch: { operation: "REMOVE" } },
        { applyTo: "HTTP_FILTER", match: inHcm(undefined, "waypoint_upstream_peer_metadata"), patch: { operation: "REMOVE" } },
        { applyTo: "HTTP_FILTER", match: inHcm("connect_terminate", "connect_authority"), patch: { operation: "REMOVE" } },
        {
          applyTo: "HTTP_FILTER", match: inHcm("connect_terminate", "envoy.filters.http.router"),
          patch: {
            operation: "INSERT_BEFORE",
            value: {
              name: "connect_authority_envoy",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.set_filter_state.v3.Config",
                on_request_headers: [
                  state("envoy.filters.listener.original_dst.local_ip", "%REQ(:AUTHORITY)%"),
                  state("io.istio.connect_authority", "%REQ(:AUTHORITY)%", "envoy.hashable_string"),
                  state("envoy.filters.listener.original_dst.remote_ip", "%DOWNSTREAM_REMOTE_ADDRESS%"),
                  state("io.istio.peer_principal", "%DOWNSTREAM_PEER_URI_SAN%", "envoy.hashable_string"),
                  state("io.istio.local_principal", "%DOWNSTREAM_LOCAL_URI_SAN%", "envoy.hashable_string"),
                ],
              },
            },
          },
        },
      ],
    },
  };
}

export interface WorkloadCert {
  /** SPIFFE URI the certificate names. */
  readonly spiffe: string;
  readonly cert: string;
  readonly key: string;
  /** istiod's root certificate. */
  readonly ca: string;
}

/**
 * A workload certificate for a client identity, signed with istiod's self-signed CA (the istio-ca-secret
 * Secret istiod keeps in istio-system) by the openssl command line: what istiod's CA would issue to a pod
 * of that ServiceAccount (an EC P-256 key, the SPIFFE URI as the only subject alternative name).
 */
export async function mintWorkloadCert(cp: StartedControlPlane, namespace: string, serviceAccount: string): Promise<WorkloadCert> {
  const field = async (name: string) => Buffer.from(await cp.kubectlOk(["get", "secret", "-n", "istio-system", "istio-ca-secret", "-o", `jsonpath={.data.${name.replace(".", "\\.")}}`]), "base64").toString("utf8");
  const dir = join(cp.dir, `cert-${namespace}-${serviceAccount}`);
  mkdirSync(dir, { recursive: true });
  const ca = await field("ca-cert.pem");
  writeFileSync(join(dir, "ca.pem"), ca);
  writeFileSync(join(dir, "ca.key"), await field("ca-key.pem"), { mode: 0o600 });
  const spiffe = `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`;
  writeFileSync(join(dir, "ext.cnf"), `subjectAltName=critical,URI:${spiffe}\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n`);
  const openssl = (...args: string[]) => run("openssl", args, dir);
  await openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "key.pem");
  await openssl("req", "-new", "-key", "key.pem", "-subj", "/O=cluster.local", "-out", "req.csr");
  await openssl("x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "cert.pem");
  return { spiffe, cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8"), ca };
}

/** A self-signed certificate with a SPIFFE URI, signed by no CA istiod knows: what a waypoint must refuse. */
export async function mintSelfSignedCert(cp: StartedControlPlane, name: string): Promise<Omit<WorkloadCert, "ca">> {
  const dir = join(cp.dir, `cert-self-${name}`);
  mkdirSync(dir, { recursive: true });
  const spiffe = `spiffe://cluster.local/ns/default/sa/${name}`;
  await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
    "-days", "1", "-subj", "/O=cluster.local", "-addext", `subjectAltName=critical,URI:${spiffe}`], dir);
  return { spiffe, cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
}

export interface HboneResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP/1.1 request through a waypoint as ztunnel sends it (HBONE): mutual TLS 1.3 to the HBONE port
 * with a workload certificate, HTTP/2 CONNECT to `authority` (the service's cluster IP and port), and the
 * request inside the tunnel. The waypoint's certificate must name `expectServer` (a SPIFFE URI).
 */
export async function hboneRequest(opts: {
  address: string;
  client: WorkloadCert;
  expectServer: string;
  authority: string;
  host: string;
  path: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}): Promise<HboneResponse> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const session = http2.connect(`https://${opts.address}`, {
    ca: opts.client.ca, cert: opts.client.cert, key: opts.client.key, minVersion: "TLSv1.3", ALPNProtocols: ["h2"],
    checkServerIdentity: (_host, cert) => {
      const sans = (cert.subjectaltname ?? "").split(", ");
      return sans.includes(`URI:${opts.expectServer}`) ? undefined : new Error(`the waypoint's certificate names ${cert.subjectaltname}, not ${opts.expectServer}`);
    },
  });
  try {
    return await new Promise<HboneResponse>((resolveReq, reject) => {
      const timer = setTimeout(() => reject(new Error(`HBONE request to ${opts.authority} through ${opts.address} timed out after ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      session.on("error", fail);
      const tunnel = session.request({ ":method": "CONNECT", ":authority": opts.authority });
      tunnel.on("error", fail);
      tunnel.on("response", (headers) => {
        const status = Number(headers[":status"]);
        if (status !== 200) {
          fail(new Error(`the waypoint answered the CONNECT to ${opts.authority} with ${status}`));
          return;
        }
        const req = httpRequest({
          createConnection: () => tunnel as unknown as Socket,
          method: "GET", path: opts.path, headers: { host: opts.host, connection: "close", ...opts.headers },
        }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString("utf8")));
          res.on("end", () => {
            clearTimeout(timer);
            resolveReq({ status: res.statusCode ?? 0, headers: res.headers, body });
          });
          res.on("error", fail);
        });
        req.on("error", fail);
        req.end();
      });
    });
  } finally {
    session.destroy();
  }
}

function run(binary: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(binary, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.on("error", (err) => reject(new Error(`${binary} could not start: ${err.message}`)));
    child.on("close", (code) => (code === 0 ? resolveRun(out) : reject(new Error(`${binary} ${args.join(" ")} exited ${code}: ${out.trim()}`))));
  });
}
