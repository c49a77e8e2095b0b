/**
 * Waypoints (Istio ambient): the control plane runs with the Gateway API CRDs (standard channel, the version
 * the pinned Istio requires) and istiod in ambient mode, and a real waypoint proxy (`pilot-agent proxy
 * waypoint` with the pinned Envoy, src/services/waypoint.ts) connects to it. Checks that
 *   - a Gateway of class istio-waypoint is stored, istiod accepts it, and once its Service has an endpoint
 *     reports the Service's address (Programmed); the API server refuses Gateways its CRD rules forbid;
 *   - a WasmPlugin and a TrafficExtension rendered by `pwas deploy --apply` with targetRefs to that Gateway
 *     and to a Service (labelled istio.io/use-waypoint) are stored as printed, istiod lists them, and the
 *     API server refuses what the CRD rules forbid for targetRefs;
 *   - the official Envoy refuses two of the waypoint's listeners, naming istio/proxy's peer metadata filter,
 *     until the EnvoyFilter of src/services/waypoint.ts (officialEnvoyPatch) is applied;
 *   - istiod computes the waypoint's config with the plugins: the service's HTTP chain in main_internal
 *     names their ECDS filters, and Envoy's ECDS config of each, named after the plugin, is the Wasm filter
 *     with the module and the configuration pwas deploy wrote;
 *   - traffic through it over HBONE (mutual TLS with a workload certificate of istiod's CA, HTTP/2 CONNECT
 *     to the service's cluster IP on 15008) gets each plugin's abort status on its header and reaches the
 *     upstream otherwise; deleting a plugin with kubectl takes it out of the chain.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { execFileSync } from "node:child_process";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { findOnPath } from "../src/binaries";
import { buildFilter } from "../src/build/build";
import { locateEnvoy } from "../src/envoy/locate";
import { waitFor } from "../src/envoy/wait";
import { describeRequiring } from "../src/requirements";
import { locateGatewayApiCrds, startControlPlane, type StartedControlPlane } from "../src/services/controlplane";
import { locateControlPlaneTools, locateIstioBinary, locateIstioBootstrap } from "../src/services/meshtools";
import { pwasWith } from "./support/mesh";
import { HBONE_PORT, hboneRequest, mintSelfSignedCert, mintWorkloadCert, officialEnvoyPatch, startWaypoint, type StartedWaypoint } from "../src/services/waypoint";

function missing(): string | undefined {
  for (const l of [locateControlPlaneTools(), locateIstioBinary("pilot-agent"), locateIstioBootstrap(), locateGatewayApiCrds()]) {
    if (!l.ok) return `waypoint e2e: ${l.reason}`;
  }
  // The test signs its client certificates with the openssl command line.
  if (!findOnPath("openssl")) return "waypoint e2e: openssl is not on PATH (it signs the HBONE client's certificates); install the openssl package";
  try {
    locateEnvoy();
  } catch (err) {
    return `waypoint e2e: ${(err as Error).message}`;
  }
  return undefined;
}
const describeWithWaypoint = describeRequiring(missing());

jest.setTimeout(120_000);

const FAULT_DIR = join(__dirname, "..", "filters", "fault");
const FAULT_WASM = join(FAULT_DIR, "build", "fault.wasm");
const NS = "shop";
/** The waypoint Pod's address: only a key istiod finds the Pod by (the proxy listens on 0.0.0.0); 240/4 is reserved and routed nowhere. */
const WAYPOINT_IP = "240.0.0.8";

const pwas = (cp: StartedControlPlane, ...args: string[]) => pwasWith(cp.env(), ...args);

const gateway = (name: string, listeners: unknown[]) => JSON.stringify({
  apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway",
  metadata: { name, namespace: NS, labels: { "istio.io/waypoint-for": "service" } },
  spec: { gatewayClassName: "istio-waypoint", listeners },
});

const abortOn = (status: number, header: string) => JSON.stringify({ abort: { http_status: status, percentage: { numerator: 100 } }, headers: [{ name: header, string_match: { exact: "yes" } }] });

describeWithWaypoint("waypoint: Gateway API, targetRefs and a waypoint proxy on istiod's xDS", () => {
  let cp: StartedControlPlane;
  let waypoint: StartedWaypoint | undefined;
  let upstream: Server | undefined;
  let upstreamAddress: string;
  let hostIp = "";
  let addedAddress = false;

  beforeAll(async () => {
    const [built, started] = await Promise.allSettled([
      buildFilter(FAULT_DIR),
      startControlPlane({
        gatewayApi: true,
        // Ambient on; the Gateway deployment controller off (there is no kubelet to run what it would
        // create: src/services/waypoint.ts creates the Pod and Service in its place).
        istiodEnv: { PILOT_ENABLE_AMBIENT: "true", PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER: "false" },
      }),
    ]);
    if (started.status === "fulfilled") cp = started.value;
    if (built.status === "rejected") throw built.reason;
    if (started.status === "rejected") throw started.reason;
    // The labels ambient reads: the namespace is in the ambient data plane, the Service uses the waypoint.
    await cp.kubectlOk(["apply", "-f", "-"], [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "istio.io/dataplane-mode": "ambient" } } },
      {
        apiVersion: "v1", kind: "Service", metadata: { name: "echo", namespace: NS, labels: { "istio.io/use-waypoint": "waypoint" } },
        spec: { selector: { app: "echo" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
      },
    ].map((d) => JSON.stringify(d)).join("\n"));
    // The service's backend: the API server refuses loopback addresses (127.0.0.0/8) in EndpointSlices, so
    // the test puts an address of the benchmarking range 198.18.0.0/15 on the loopback interface for the
    // run and the upstream listens there (traffic stays on lo; with no kube-controller-manager, the test
    // writes the EndpointSlice). afterAll removes the address.
    const taken = new Set(Object.values(networkInterfaces()).flat().map((i) => i?.address));
    hostIp = `198.18.${1 + (process.pid % 250)}.${1 + Math.floor(Math.random() * 250)}`;
    if (taken.has(hostIp)) throw new Error(`waypoint e2e: ${hostIp} is already on an interface of this machine`);
    try {
      execFileSync("ip", ["addr", "add", `${hostIp}/32`, "dev", "lo"], { stdio: "pipe" });
      addedAddress = true;
    } catch (e) {
      throw new Error(`waypoint e2e: could not add ${hostIp}/32 to the loopback interface (needs root and iproute2): ${(e as { stderr?: Buffer }).stderr?.toString().trim() ?? e}`);
    }
    upstream = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ path: req.url, headers: req.headers }));
    });
    await new Promise<void>((r) => upstream!.listen(0, hostIp, r));
    const port = (upstream.address() as AddressInfo).port;
    upstreamAddress = `${hostIp}:${port}`;
    await cp.kubectlOk(["apply", "-f", "-"], JSON.stringify({
      apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
      metadata: { name: "echo-host", namespace: NS, labels: { "kubernetes.io/service-name": "echo", "endpointslice.kubernetes.io/managed-by": "pwas-test" } },
      addressType: "IPv4", ports: [{ name: "http", port, protocol: "TCP" }], endpoints: [{ addresses: [hostIp], conditions: { ready: true } }],
    }));
  });
  afterAll(async () => {
    await waypoint?.stop();
    await cp?.stop();
    await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)));
    if (addedAddress) execFileSync("ip", ["addr", "del", `${hostIp}/32`, "dev", "lo"], { stdio: "pipe" });
  });

  test("a Gateway of class istio-waypoint is stored and accepted by istiod; one the CRD rules forbid is refused", async () => {
    const refused = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], gateway("bad", [{ name: "mesh", port: 0, protocol: "HBONE" }]));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/spec\.listeners\[0\]\.port/);
    const noListeners = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], gateway("bad", []));
    expect(noListeners.code).not.toBe(0);
    expect(noListeners.stderr).toMatch(/spec\.listeners in body should have at least 1 items/);
    await cp.kubectlOk(["apply", "-f", "-"], gateway("waypoint", [{ name: "mesh", port: 15008, protocol: "HBONE" }]));
    // istiod writes the istio-waypoint GatewayClass and accepts the Gateway.
    await waitFor(async () => {
      const r = await cp.kubectl(["get", "gateway", "-n", NS, "waypoint", "-o", "jsonpath={.status.conditions[?(@.type==\"Accepted\")].status}"]);
      return r.stdout.trim() === "True" ? true : undefined;
    }, { timeoutMs: 45_000, what: "istiod to accept the waypoint Gateway" });
    const cls = JSON.parse(await cp.kubectlOk(["get", "gatewayclass", "istio-waypoint", "-o", "json"])) as { spec: { controllerName: string } };
    expect(cls.spec.controllerName).toBe("istio.io/mesh-controller");
  });

  test("pwas deploy --apply with targetRefs to the Gateway and to the Service: stored as printed, listed by istiod; the CRD rules refuse bad targetRefs", async () => {
    // Both kinds of target in one resource: the API server stores it as pwas deploy printed it.
    const both = await pwas(cp, "deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin", "--image", `file://${FAULT_WASM}`, "--name", "both",
      "--namespace", NS, "--target-ref", "Gateway/waypoint", "--target-ref", "Service/echo", "--config", abortOn(499, "x-both"));
    expect(both.code).toBe(0);
    const dry = JSON.parse(await cp.kubectlOk(["apply", "--dry-run=server", "-o", "json", "-f", "-"], both.out)) as { spec: Record<string, unknown> };
    expect(dry.spec).toEqual((parseAllDocuments(both.out)[0].toJS() as { spec: unknown }).spec);
    expect(dry.spec.targetRefs).toEqual([
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "waypoint" },
      { group: "", kind: "Service", name: "echo" },
    ]);

    // The two that run below: the WasmPlugin attached to the waypoint, the TrafficExtension to the Service.
    const r = await pwas(cp, "deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin", "--image", `file://${FAULT_WASM}`, "--name", "fault",
      "--namespace", NS, "--target-ref", "Gateway/waypoint", "--config", abortOn(418, "x-fault"), "--apply");
    expect(r.err).toContain("wasmplugin.extensions.istio.io/fault created");
    expect(r.code).toBe(0);
    const stored = JSON.parse(await cp.kubectlOk(["get", "wasmplugin", "-n", NS, "fault", "-o", "json"])) as { spec: Record<string, unknown> };
    expect(stored.spec).toEqual((parseAllDocuments(r.out)[0].toJS() as { spec: unknown }).spec);
    const te = await pwas(cp, "deploy", FAULT_DIR, "--no-build", "--kind", "TrafficExtension", "--image", `file://${FAULT_WASM}`, "--name", "fault-te",
      "--namespace", NS, "--target-ref", "Service/echo", "--config", abortOn(433, "x-te"), "--apply");
    expect(te.err).toContain("trafficextension.extensions.istio.io/fault-te created");
    expect(te.code).toBe(0);
    const storedTe = JSON.parse(await cp.kubectlOk(["get", "trafficextension", "-n", NS, "fault-te", "-o", "json"])) as { spec: Record<string, unknown> };
    expect(storedTe.spec).toEqual((parseAllDocuments(te.out)[0].toJS() as { spec: unknown }).spec);
    expect(storedTe.spec.targetRefs).toEqual([{ group: "", kind: "Service", name: "echo" }]);

    await waitFor(async () => {
      const configz = JSON.parse(await cp.istiod!.debug("/debug/configz")) as { kind?: string; metadata?: { name: string; namespace: string } }[];
      const names = configz.filter((c) => c.metadata?.namespace === NS).map((c) => `${c.kind}/${c.metadata!.name}`);
      return names.includes("WasmPlugin/fault") && names.includes("TrafficExtension/fault-te") ? names : undefined;
    }, { timeoutMs: 30_000, what: "istiod to list both plugins in /debug/configz" });

    // What the CRD rules refuse for targetRefs: another namespace, selector and targetRefs together.
    const base = { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: "bad", namespace: NS } };
    const crossNs = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], JSON.stringify({ ...base, spec: { url: `file://${FAULT_WASM}`, targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "waypoint", namespace: "other" }] } }));
    expect(crossNs.code).not.toBe(0);
    expect(crossNs.stderr).toMatch(/cross namespace referencing is not currently supported/);
    const withSelector = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], JSON.stringify({ ...base, spec: { url: `file://${FAULT_WASM}`, selector: { matchLabels: { app: "echo" } }, targetRefs: [{ group: "", kind: "Service", name: "echo" }] } }));
    expect(withSelector.code).not.toBe(0);
    expect(withSelector.stderr).toMatch(/only one of targetRefs or selector can be set/i);
  });

  test("istiod computes the waypoint proxy's config with the plugins: the official Envoy refuses it unpatched, accepts it patched; the service's chain names their ECDS filters, whose config is the Wasm filter", async () => {
    // First without the patch for the official Envoy: it refuses the two listeners that use istio/proxy's
    // extensions, and says which.
    waypoint = await startWaypoint(cp, { namespace: NS, ip: WAYPOINT_IP, patchForOfficialEnvoy: false });
    const refused = await waitFor(async () => {
      const d = JSON.parse(await waypoint!.admin("/config_dump")) as ConfigDump;
      const errors = d.configs.flatMap((c) => c.dynamic_listeners ?? []).filter((l) => l.error_state);
      return errors.length >= 2 ? errors : undefined;
    }, { timeoutMs: 45_000, what: "the official Envoy to refuse the waypoint's listeners" });
    expect(refused.map((l) => l.name).sort()).toEqual(["connect_terminate", "main_internal"]);
    expect(JSON.stringify(refused.map((l) => l.error_state))).toContain("io.istio.http.peer_metadata.Config");
    // With it (an EnvoyFilter on the Gateway), istiod sends listeners Envoy accepts.
    await cp.kubectlOk(["apply", "-f", "-"], JSON.stringify(officialEnvoyPatch(NS, "waypoint")));
    // The Gateway is programmed once its Service has an instance: istiod reports the Service's address.
    const addresses = await waitFor(async () => {
      const gw = JSON.parse(await cp.kubectlOk(["get", "gateway", "-n", NS, "waypoint", "-o", "json"])) as GatewayStatus;
      const programmed = gw.status?.conditions?.find((c) => c.type === "Programmed")?.status === "True";
      return programmed ? gw.status!.addresses!.map((a) => a.value) : undefined;
    }, { timeoutMs: 45_000, what: "istiod to program the waypoint Gateway" });
    expect(addresses).toContain(waypoint.serviceIp);

    const ecdsName = (kind: string, name: string) => `extensions.istio.io/${kind}/${NS}.${name}`;
    const plugins = { fault: ecdsName("trafficextension", "fault~istio-translated-wasmplugin"), te: ecdsName("trafficextension", "fault-te") };
    const dump = await waitFor(async () => {
      const d = JSON.parse(await waypoint!.admin("/config_dump")) as ConfigDump;
      const ecds = d.configs.find((c) => c["@type"].endsWith("EcdsConfigDump"))?.ecds_filters ?? [];
      const refusedNow = d.configs.flatMap((c) => c.dynamic_listeners ?? []).filter((l) => l.error_state);
      return ecds.length >= 2 && refusedNow.length === 0 ? d : undefined;
    }, { timeoutMs: 45_000, what: "the waypoint's Envoy to accept every listener and receive both ECDS filters" }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- agent\n${waypoint!.output(40)}`);
    });
    // Every listener istiod sent is active (none refused), and the service's chain names both filters.
    const listeners = dump.configs.find((c) => c["@type"].endsWith("ListenersConfigDump"))!.dynamic_listeners!;
    expect(listeners.filter((l) => l.error_state)).toEqual([]);
    expect(listeners.map((l) => l.name).sort()).toEqual(["connect_originate", "connect_terminate", "main_internal"]);
    const mainInternal = JSON.stringify(listeners.find((l) => l.name === "main_internal")!.active_state);
    expect(mainInternal).toContain(`inbound-vip|80|http|echo.${NS}.svc.cluster.local`);
    expect(mainInternal).toContain(`"${plugins.fault}"`);
    expect(mainInternal).toContain(`"${plugins.te}"`);
    // The ECDS config of each: Envoy's Wasm filter, the module istio-agent handed it, the plugin's configuration.
    const ecds = dump.configs.find((c) => c["@type"].endsWith("EcdsConfigDump"))!.ecds_filters!.map((e) => e.ecds_filter);
    for (const [name, status, header] of [[plugins.fault, 418, "x-fault"], [plugins.te, 433, "x-te"]] as const) {
      const filter = ecds.find((e) => e.name === name);
      expect(filter?.typed_config["@type"]).toBe("type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm");
      const config = filter!.typed_config.config as { root_id: string; vm_config: { code: { local: { filename: string } } }; configuration: { value: string }; failure_policy: string };
      expect(config.root_id).toBe("fault");
      expect(config.vm_config.code.local.filename).toBe(FAULT_WASM);
      expect(JSON.parse(config.configuration.value)).toEqual(JSON.parse(abortOn(status, header)));
      expect(config.failure_policy).toBe("FAIL_CLOSED");
    }
    // The resource stored but not applied (the targetRefs check above was a dry run) is nowhere.
    expect(JSON.stringify(dump)).not.toContain(`${NS}.both`);
  });

  test("HBONE through the waypoint: each plugin aborts on its header, other requests reach the upstream; a deleted plugin stops answering", async () => {
    const client = await mintWorkloadCert(cp, NS, "client");
    const echoIp = (await cp.kubectlOk(["get", "service", "-n", NS, "echo", "-o", "jsonpath={.spec.clusterIP}"])).trim();
    const send = (headers: Record<string, string>) => hboneRequest({
      address: `127.0.0.1:${HBONE_PORT}`, client, expectServer: `spiffe://cluster.local/ns/${NS}/sa/waypoint`,
      authority: `${echoIp}:80`, host: `echo.${NS}.svc.cluster.local`, path: "/hello", headers,
    });
    // The upstream's endpoint reaches the waypoint by EDS; until then a request gets 503 (no healthy upstream).
    const passed = await waitFor(async () => {
      const r = await send({});
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 30_000, what: `a request through the waypoint to reach the upstream ${upstreamAddress}` });
    const seen = JSON.parse(passed.body) as { path: string; headers: Record<string, string> };
    expect(seen.path).toBe("/hello");
    expect(seen.headers.host).toBe(`echo.${NS}.svc.cluster.local`);
    // Envoy, not the client, added it: the request went through the waypoint's HTTP chain.
    expect(seen.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(passed.headers["x-envoy-decorator-operation"]).toBe(`echo.${NS}.svc.cluster.local:80/*`);

    const fault = await send({ "x-fault": "yes" });
    expect(fault.status).toBe(418);
    expect(fault.body).toBe("fault filter abort");
    expect((await send({ "x-te": "yes" })).status).toBe(433);

    // A client certificate from another CA is refused at the TLS handshake (the waypoint trusts istiod's root only).
    const stranger = await mintSelfSignedCert(cp, "stranger");
    await expect(hboneRequest({
      address: `127.0.0.1:${HBONE_PORT}`, client: { ...stranger, ca: client.ca }, expectServer: `spiffe://cluster.local/ns/${NS}/sa/waypoint`,
      authority: `${echoIp}:80`, host: `echo.${NS}.svc.cluster.local`, path: "/", headers: {},
    })).rejects.toThrow(/alert unknown ca/);

    await cp.kubectlOk(["delete", "trafficextension", "-n", NS, "fault-te"]);
    await waitFor(async () => ((await send({ "x-te": "yes" })).status === 200 ? true : undefined), { timeoutMs: 30_000, what: "the deleted TrafficExtension to leave the waypoint's chain" });
    expect((await send({ "x-fault": "yes" })).status).toBe(418);
  });
});

interface GatewayStatus {
  status?: { conditions?: { type: string; status: string }[]; addresses?: { type: string; value: string }[] };
}

interface ConfigDump {
  configs: {
    "@type": string;
    dynamic_listeners?: { name?: string; active_state?: unknown; error_state?: unknown }[];
    ecds_filters?: { ecds_filter: { name: string; typed_config: { "@type": string; config?: unknown } } }[];
  }[];
}
