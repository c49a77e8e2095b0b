/**
 * `pwas preview` against real istiod: for each set of WasmPlugins / TrafficExtensions in the table, the set is
 * applied with kubectl to the test control plane, and the Wasm filters a real sidecar (istio-agent + the pinned
 * Envoy, src/services/sidecar.ts) ends up running on its inbound listener are compared with what `pwas preview`
 * plans for the same manifests: ECDS names, filter order (HTTP connection manager, and the network filter chain
 * for NETWORK plugins), PluginConfig name, root_id, vm_id, runtime, the configuration bytes, the VM's
 * environment (key_values and host_env_keys), the failure policy and the module's bytes
 * (e2e/support/ecds-projection.ts says what is normalised and why). Modules are file://, http:// from a loopback
 * server and oci:// from the local docker-registry. One control plane and one sidecar serve
 * every row; a row waits (by condition) until the sidecar's config_dump shows its set, compares, deletes the
 * set and waits until it is gone. istiod runs with PILOT_ENABLE_METADATA_EXCHANGE=false, which only removes
 * Istio's own metadata-exchange filters, none of which sit among the Wasm filters compared.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFilter } from "../src/build/build";
import { startEcho, type EchoServer } from "../src/envoy/echo";
import { locateEnvoy } from "../src/envoy/locate";
import { waitFor } from "../src/envoy/wait";
import { planPreview, renderPreviewBootstrap } from "../src/mesh/preview";
import type { SidecarListener } from "../src/mesh/translate";
import { describeRequiring } from "../src/requirements";
import { freePort } from "../src/services/child";
import { startControlPlane, type StartedControlPlane } from "../src/services/controlplane";
import { locateControlPlaneTools, locateIstioBinary, locateIstioBootstrap } from "../src/services/meshtools";
import { packageModule, parseReference, pushImage } from "../src/oci";
import { locateDockerRegistry, startRegistry, type StartedRegistry } from "../src/services/registry";
import { startSidecar, type StartedSidecar } from "../src/services/sidecar";
import { ecdsNames, projectPluginConfig, projectSidecar, type ChainProjection } from "./support/ecds-projection";

function missing(): string | undefined {
  for (const l of [locateControlPlaneTools(), locateIstioBinary("pilot-agent"), locateIstioBootstrap(), locateDockerRegistry()]) {
    if (!l.ok) return `preview-istio e2e: ${l.reason}`;
  }
  try {
    locateEnvoy();
  } catch (err) {
    return `preview-istio e2e: ${(err as Error).message}`;
  }
  return undefined;
}
const describeWithSidecar = describeRequiring(missing());

jest.setTimeout(120_000);

const FAULT_DIR = join(__dirname, "..", "filters", "fault");
const FAULT_WASM = join(FAULT_DIR, "build", "fault.wasm");
const NS = "shop";
const IP = "127.0.0.8";
const LABELS = { app: "echo" };

/** Every row's module accepts its configuration (a rejected one would be NACKed and never run). */
const abortOn = (status: number, header = "x-fault") => ({ abort: { http_status: status, percentage: { numerator: 100 } }, headers: [{ name: header, string_match: { exact: "yes" } }] });

interface Ctx { port: number; otherPort: number; httpUrl: string; sha256: string; ociUrl: string; ociDigest: string }
interface Row {
  set: string;
  exercises: string;
  /** The manifests, as a user writes them (YAML documents). */
  yaml: (c: Ctx) => string;
  /** How many Wasm filters istiod attaches to the inbound listener: guards against a vacuous comparison. */
  attached: { http: number; network?: number };
}

const wp = (name: string, spec: string, ns = NS) => `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: ${name}, namespace: ${ns}}
spec:
  url: file://${FAULT_WASM}
${spec.replace(/^/gm, "  ")}
`;
const te = (name: string, spec: string) => `apiVersion: extensions.istio.io/v1alpha1
kind: TrafficExtension
metadata: {name: ${name}, namespace: ${NS}}
spec:
${spec.replace(/^/gm, "  ")}
`;
const docs = (...d: string[]) => d.join("---\n");
const sel = "selector: {matchLabels: {app: echo}}";

const ROWS: Row[] = [
  { set: "one plugin", exercises: "url, selector, nothing else: defaults (FAIL_CLOSED, no root_id, no configuration)",
    yaml: () => wp("r1-one", sel), attached: { http: 1 } },
  { set: "one plugin, common fields", exercises: "pluginName, failStrategy FAIL_OPEN, phase AUTHZ, pluginConfig",
    yaml: () => wp("r2-fields", `${sel}\npluginName: fault\nphase: AUTHZ\nfailStrategy: FAIL_OPEN\npluginConfig: ${JSON.stringify(abortOn(418))}`), attached: { http: 1 } },
  { set: "several per phase with priorities", exercises: "AUTHN 10 and 20, AUTHZ 5, unset and the lowest int32, STATS, unspecified: phase order, higher priority first, unset as the lowest",
    yaml: () => docs(
      wp("r3-unspec", `${sel}`), wp("r3-stats", `${sel}\nphase: STATS`), wp("r3-authz-none", `${sel}\nphase: AUTHZ`),
      wp("r3-authz-5", `${sel}\nphase: AUTHZ\npriority: 5`), wp("r3-authz-z-min", `${sel}\nphase: AUTHZ\npriority: -2147483648`), wp("r3-authn-10", `${sel}\nphase: AUTHN\npriority: 10`),
      wp("r3-authn-20", `${sel}\nphase: AUTHN\npriority: 20\nfailStrategy: FAIL_RELOAD`)), attached: { http: 7 } },
  { set: "ties on priority", exercises: "same phase and priority, names one a prefix of the other (istiod compares the synthetic names)",
    yaml: () => docs(wp("r4-auth", `${sel}\nphase: AUTHZ\npriority: 1`), wp("r4-auth-b", `${sel}\nphase: AUTHZ\npriority: 1`), wp("r4-authz", `${sel}\nphase: AUTHZ\npriority: 1`)), attached: { http: 3 } },
  { set: "root namespace and workload namespace", exercises: "a plugin in istio-system selecting the workload ties with one in its namespace",
    yaml: () => docs(wp("r5-mesh", `${sel}\nphase: STATS`, "istio-system"), wp("r5-local", `${sel}\nphase: STATS`)), attached: { http: 2 } },
  { set: "match by port", exercises: "match.ports: the listener's port, another port, none",
    yaml: (c) => docs(wp("r6-this-port", `${sel}\nmatch: [{ports: [{number: ${c.port}}]}]`), wp("r6-other-port", `${sel}\nmatch: [{ports: [{number: ${c.otherPort}}]}]`),
      wp("r6-any-port", `${sel}\nmatch: [{ports: [{number: ${c.otherPort}}]}, {mode: SERVER}]`)), attached: { http: 2 } },
  { set: "match by mode", exercises: "SERVER, CLIENT, CLIENT_AND_SERVER, UNDEFINED on the inbound listener",
    yaml: () => docs(wp("r7-server", `${sel}\nmatch: [{mode: SERVER}]`), wp("r7-client", `${sel}\nmatch: [{mode: CLIENT}]`),
      wp("r7-both", `${sel}\nmatch: [{mode: CLIENT_AND_SERVER}]`), wp("r7-undefined", `${sel}\nmatch: [{mode: UNDEFINED}]`)), attached: { http: 3 } },
  { set: "NETWORK type", exercises: "type NETWORK: network Wasm filters before the HTTP connection manager, with an HTTP plugin in the manager",
    yaml: () => docs(wp("r8-net", `${sel}\ntype: NETWORK\npluginName: tcp_root\nfailStrategy: FAIL_OPEN\npluginConfig: {mode: tcp}`), wp("r8-net-2", `${sel}\ntype: NETWORK\npriority: 7`),
      wp("r8-net-authn", `${sel}\ntype: NETWORK\nphase: AUTHN`), wp("r8-http", `${sel}\nphase: AUTHN`)),
    attached: { http: 1, network: 3 } },
  { set: "env and vmConfig", exercises: "vmConfig.env INLINE (explicit and default), an empty value, HOST",
    yaml: () => wp("r9-env", `${sel}\nvmConfig:\n  env:\n  - {name: MODE, value: strict}\n  - {name: EMPTY, valueFrom: INLINE}\n  - {name: HOME, valueFrom: HOST}\n  - {name: PATH, valueFrom: HOST}\n  - {name: ZED, value: "1"}`),
    attached: { http: 1 } },
  { set: "nested pluginConfig", exercises: "objects in lists in objects, key order, numbers (0.5, 100, 1.0), unicode, booleans: the exact bytes",
    yaml: () => wp("r10-nested", `${sel}\npluginConfig:\n  max_active_faults: 100\n  headers:\n  - {name: x-b, string_match: {prefix: "é✓", ignore_case: true}}\n  - {name: x-a, invert_match: false, range_match: {start: 1, end: 10}}\n  abort: {http_status: 503, percentage: {numerator: 25, denominator: HUNDRED}}\n  delay: {fixed_delay: 0.5s, percentage: {numerator: 1.0}}\n  downstream_nodes: [b, a]`),
    attached: { http: 1 } },
  { set: "YAML 1.1 scalars and null in pluginConfig", exercises: "unquoted yes and 0.10, a quoted \"on\", a null: what kubectl and the API server make of them",
    yaml: () => wp("r15-yaml", `${sel}\npluginConfig:\n  disable_downstream_cluster_stats: yes\n  upstream_cluster: ~\n  headers: [{name: "on", present_match: true, invert_match: null}]\n  downstream_nodes: [a, ~]\n  delay: {fixed_delay: 0.10s, percentage: {numerator: 0.10}}`),
    attached: { http: 1 } },
  { set: "imagePullPolicy, http:// with sha256", exercises: "Always and IfNotPresent on an http:// module: the agent fetches it, checks sha256, strips istiod's ISTIO_META_WASM_* entries",
    yaml: (c) => docs(wp("r11-always", `${sel}\nimagePullPolicy: Always\nsha256: ${c.sha256}\npluginConfig: ${JSON.stringify(abortOn(429))}`).replace(`file://${FAULT_WASM}`, c.httpUrl),
      wp("r11-ifnotpresent", `${sel}\nimagePullPolicy: IfNotPresent\nsha256: ${c.sha256}\nvmConfig: {env: [{name: K, value: v}]}`).replace(`file://${FAULT_WASM}`, c.httpUrl)),
    attached: { http: 2 } },
  { set: "oci:// pinned by digest", exercises: "oci:// from the local registry with the manifest digest as sha256, default and IfNotPresent pull policy, a HOST env entry",
    yaml: (c) => docs(wp("r16-oci", `${sel}\nsha256: ${c.ociDigest}\npluginConfig: ${JSON.stringify(abortOn(432))}`).replace(`file://${FAULT_WASM}`, c.ociUrl),
      wp("r16-oci-ifnotpresent", `${sel}\nphase: STATS\nimagePullPolicy: IfNotPresent\nsha256: ${c.ociDigest}\nvmConfig: {env: [{name: HOME, valueFrom: HOST}]}`).replace(`file://${FAULT_WASM}`, c.ociUrl)),
    attached: { http: 2 } },
  { set: "imagePullPolicy, file://", exercises: "imagePullPolicy Always on a file:// module: the agent never rewrites it, so istiod's entries reach the VM",
    yaml: () => wp("r12-file-always", `${sel}\nimagePullPolicy: Always`), attached: { http: 1 } },
  { set: "targetRefs vs selector", exercises: "targetRefs to the Service (a sidecar ignores it), a selector for other labels, no selector (the whole namespace), a matching selector",
    yaml: () => docs(wp("r13-targetref", "targetRefs: [{kind: Service, group: \"\", name: echo}]"), wp("r13-other", "selector: {matchLabels: {app: other}}"),
      wp("r13-namespace", "phase: AUTHN"), wp("r13-selected", sel)), attached: { http: 2 } },
  { set: "TrafficExtension with WasmPlugins", exercises: "a TrafficExtension wasm body and WasmPlugins in one phase (names with and without istiod's marker)",
    yaml: () => docs(te("r14-te", `${sel}\nphase: AUTHZ\nwasm: {url: "file://${FAULT_WASM}", pluginName: te_root, pluginConfig: ${JSON.stringify(abortOn(433, "x-te"))}}`),
      wp("r14-wp", `${sel}\nphase: AUTHZ`), wp("r14-wp-high", `${sel}\nphase: AUTHZ\npriority: 3`)), attached: { http: 3 } },
  { set: "a WasmPlugin and a TrafficExtension of one name", exercises: "one namespace, one name, both kinds: istiod keeps both (the WasmPlugin under its marked name)",
    yaml: () => docs(wp("r17-same", `${sel}\nphase: STATS\npluginName: wp_root`),
      te("r17-same", `${sel}\nphase: STATS\nwasm: {url: "file://${FAULT_WASM}", pluginName: te_root}`)), attached: { http: 2 } },
];

describeWithSidecar("pwas preview against real istiod: the sidecar's Wasm filters equal preview's", () => {
  let cp: StartedControlPlane;
  let echo: EchoServer;
  let sidecar: StartedSidecar;
  let files: Server;
  let registry: StartedRegistry;
  let ctx: Ctx;
  let work: string;
  const results: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pwas-preview-istio-"));
    echo = await startEcho();
    const [started] = await Promise.all([startControlPlane({ readyTimeoutMs: 120_000 }), buildFilter(FAULT_DIR)]);
    cp = started;
    files = createServer((req, res) => {
      if (req.url === "/fault.wasm") res.end(readFileSync(FAULT_WASM));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    registry = await startRegistry();
    const ociUrl = `oci://${registry.host}/filters/fault:1`;
    const pushed = await pushImage(packageModule(readFileSync(FAULT_WASM)), parseReference(ociUrl.slice("oci://".length)), { insecure: true });
    const port = await freePort();
    ctx = {
      ociUrl, ociDigest: pushed.digest.replace(/^sha256:/, ""),
      port, otherPort: await freePort(),
      httpUrl: `http://127.0.0.1:${(files.address() as AddressInfo).port}/fault.wasm`,
      sha256: createHash("sha256").update(readFileSync(FAULT_WASM)).digest("hex"),
    };
    sidecar = await startSidecar(cp, { namespace: NS, ip: IP, port, upstream: `127.0.0.1:${echo.port}`, insecureRegistries: [registry.host] });
  }, 240_000);
  afterAll(async () => {
    await sidecar?.stop();
    await cp?.stop();
    files?.close();
    await echo?.close();
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    if (results.length > 0) console.log(`pwas preview vs the sidecar:\n${results.join("\n")}`);
  });

  const dump = async () => JSON.parse(await sidecar.admin("/config_dump")) as Record<string, unknown>;

  /**
   * The row's manifests exactly as written, with what the API server assigned (creationTimestamp, resourceVersion:
   * istiod orders ties by the one and puts the other in the VM's environment) added to each metadata line.
   */
  async function previewInput(row: Row): Promise<{ file: string; created: Set<string> }> {
    let text = row.yaml(ctx);
    const created = new Set<string>();
    for (const m of [...text.matchAll(/^kind: (\w+)\nmetadata: \{name: ([\w-]+), namespace: ([\w-]+)\}$/gm)]) {
      const [line, kind, name, ns] = m;
      const stored = JSON.parse(await cp.kubectlOk(["get", `${kind.toLowerCase()}s.extensions.istio.io`, "-n", ns, name, "-o", "json"])) as { metadata: Record<string, string> };
      created.add(stored.metadata.creationTimestamp);
      text = text.replace(line, line.replace("}", `, creationTimestamp: "${stored.metadata.creationTimestamp}", resourceVersion: "${stored.metadata.resourceVersion}"}`));
    }
    const file = join(work, `${row.set.replace(/\W+/g, "-")}.yaml`);
    writeFileSync(file, text);
    return { file, created };
  }

  /** What preview plans for the sidecar's inbound listener, projected like the sidecar's. */
  async function previewProjection(file: string, workload: SidecarListener): Promise<ChainProjection> {
    const plan = await planPreview({ files: [file], workload, fetch: { cacheDir: join(work, "cache"), insecure: true } });
    const rendered = renderPreviewBootstrap(plan) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    type Filter = { name: string; typed_config: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const filters = rendered.static_resources.listeners[0].filter_chains[0].filters as Filter[];
    const hcmAt = filters.findIndex((f) => f.name === "envoy.filters.network.http_connection_manager");
    const network = filters.slice(0, hcmAt).filter((f) => f.name === "envoy.filters.network.wasm");
    const wasm = (filters[hcmAt].typed_config.http_filters as Filter[]).filter((f) => f.name === "envoy.filters.http.wasm");
    expect(network).toHaveLength(plan.translation.network.length);
    expect(wasm).toHaveLength(plan.translation.http.length);
    return {
      network: plan.translation.network.map((p, i) => projectPluginConfig(p.ecdsResourceName, network[i].typed_config)),
      http: plan.translation.http.map((p, i) => projectPluginConfig(p.ecdsResourceName, wasm[i].typed_config)),
    };
  }

  test.each(ROWS.map((r, i) => [i + 1, r.set, r] as const))("row %d, %s: the sidecar's config_dump equals preview's plan", async (_n, _set, row) => {
    const manifests = row.yaml(ctx);
    await cp.kubectlOk(["apply", "-f", "-"], manifests);
    try {
      const { file, created } = await previewInput(row);
      const want = await previewProjection(file, { namespace: NS, labels: LABELS, mode: "SERVER", port: ctx.port });
      const names = (c: ChainProjection) => [...c.network, ...c.http].map((p) => p.ecds).sort();
      let last: ChainProjection[] = [];
      // The set has arrived when every filter chain names exactly the ECDS filters preview expects, each with its config.
      const got = await waitFor(async () => {
        last = projectSidecar(await dump(), IP, ctx.port);
        const ready = last.length > 0 && last.every((c) => JSON.stringify(names(c)) === JSON.stringify(names(want))
          && [...c.network, ...c.http].every((p) => p.name !== "(no ECDS config yet)"));
        return ready ? last : undefined;
      }, { timeoutMs: 45_000, what: `the sidecar to run the set "${row.set}"` }).catch((err: Error) => {
        throw new Error(`${err.message}\npreview: ${JSON.stringify(want, null, 1)}\nsidecar: ${JSON.stringify(last, null, 1)}\n--- agent\n${sidecar.output(30)}`);
      });
      expect(got.length).toBeGreaterThanOrEqual(1);
      for (const chain of got) expect(chain).toEqual(want);
      expect(want.http).toHaveLength(row.attached.http);
      expect(want.network).toHaveLength(row.attached.network ?? 0);
      // Ties fall to the names only within one creation second (one kubectl apply nearly always is).
      const tie = created.size === 1 ? "" : `; created over ${created.size} seconds, so names decided no tie`;
      results.push(`  ${row.set}: identical (${want.http.length} HTTP, ${want.network.length} network${tie})`);
    } finally {
      await cp.kubectlOk(["delete", "-f", "-"], manifests);
      const ours = (n: string) => /\.r\d+-/.test(n);
      await waitFor(async () => {
        const d = await dump();
        const chains = projectSidecar(d, IP, ctx.port);
        return chains.length > 0 && chains.every((c) => c.http.length + c.network.length === 0) && !ecdsNames(d).some(ours) ? true : undefined;
      }, { timeoutMs: 45_000, what: `the set "${row.set}" to leave the sidecar` });
    }
  });
});
