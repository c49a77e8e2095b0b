/**
 * A real sidecar: istio-agent (pilot-agent) running the pinned Envoy with a pod's identity (a
 * ServiceAccount token from the API server, a workload certificate from istiod's CA), on istiod's xDS, in
 * front of the echo upstream (src/services/sidecar.ts). Checks that
 *   - the workload certificate names the pod's SPIFFE identity and requests pass through to the upstream;
 *   - a WasmPlugin rendered and applied by `pwas deploy --apply` is fetched by the agent (file://, then
 *     http:// from a loopback server, checked against the sha256 pwas deploy wrote, then oci:// from the
 *     local docker-registry, what `pwas push` pushed, pinned by its manifest digest) and the fault stock
 *     filter answers through the sidecar;
 *   - `pwas deploy --kind TrafficExtension` of the fault filter with an oci:// image, applied with kubectl,
 *     answers through the sidecar (istiod turns it into the same ECDS Wasm filter);
 *   - two plugins in one phase run in istiod's order, higher priority first, and a new priority applied
 *     with kubectl reorders them;
 *   - a wrong sha256 gets Istio's behaviour: FAIL_CLOSE denies every request (the agent puts a deny-all
 *     RBAC filter in the module's place), FAIL_OPEN lets them through without the plugin.
 */
import { join } from "node:path";
import { describeRequiring } from "../src/requirements";
import type { StartedControlPlane } from "../src/services/controlplane";
import type { StartedRegistry } from "../src/services/registry";
import type { StartedSidecar } from "../src/services/sidecar";
import { missingSidecarTools, send, startSidecarMesh, untilStatus, type SidecarMesh } from "./support/mesh";

const describeWithSidecar = describeRequiring(missingSidecarTools());

jest.setTimeout(120_000);

const FAULT_DIR = join(__dirname, "..", "filters", "fault");
const FAULT_WASM = join(FAULT_DIR, "build", "fault.wasm");

describeWithSidecar("sidecar: istio-agent and the pinned Envoy on istiod's xDS", () => {
  let mesh: SidecarMesh;
  let cp: StartedControlPlane;
  let sidecar: StartedSidecar;
  let filesUrl: string;
  let registry: StartedRegistry;

  beforeAll(async () => {
    // Every deploy below uses this build of the fault filter (--no-build).
    mesh = await startSidecarMesh({ build: [FAULT_DIR], files: { "/fault.wasm": FAULT_WASM } });
    ({ cp, sidecar, filesUrl, registry } = mesh);
  });
  afterAll(async () => {
    await mesh?.stop();
  });

  test("the workload certificate from istiod's CA names the pod's SPIFFE identity, and requests reach the upstream", async () => {
    const certs = JSON.parse(await sidecar.admin("/certs")) as { certificates: { cert_chain: { subject_alt_names: { uri?: string }[] }[] }[] };
    const uris = certs.certificates.flatMap((c) => c.cert_chain.flatMap((cc) => cc.subject_alt_names.map((s) => s.uri)));
    expect(uris).toContain("spiffe://cluster.local/ns/shop/sa/echo");
    const r = await send(`${sidecar.url}/hello`);
    expect(r.status).toBe(200);
    const reply = JSON.parse(r.body) as { path: string; headers: Record<string, string> };
    expect(reply.path).toBe("/hello");
    // Envoy, not the client, added it: the request went through the inbound listener istiod configured.
    expect(reply.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  const abortOn = (status: number) => JSON.stringify({ abort: { http_status: status, percentage: { numerator: 100 } }, headers: [{ name: "x-fault", string_match: { exact: "yes" } }] });

  test("file://: pwas deploy --apply renders the WasmPlugin, the agent loads the module and the fault filter aborts 418 on the header", async () => {
    const r = await mesh.pwas("deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin", "--image", `file://${FAULT_WASM}`, "--name", "fault",
      "--namespace", "shop", "--selector", "app=echo", "--config", abortOn(418), "--apply");
    expect(r.err).toContain("wasmplugin.extensions.istio.io/fault created");
    expect(r.code).toBe(0);
    const aborted = await untilStatus(sidecar, 418, { "x-fault": "yes" }, "the fault plugin to abort with 418 through the sidecar");
    expect(aborted.body).toContain("fault filter abort");
    const passed = await send(`${sidecar.url}/`);
    expect(passed.status).toBe(200);
    expect(JSON.parse(passed.body)).toMatchObject({ path: "/" });
  });

  test("http:// with the module's sha256: the agent downloads it from a loopback server and the new configuration answers 429", async () => {
    const r = await mesh.pwas("deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin", "--image", `${filesUrl}/fault.wasm`, "--name", "fault",
      "--namespace", "shop", "--selector", "app=echo", "--config", abortOn(429), "--apply");
    expect(r.err).toContain("wasmplugin.extensions.istio.io/fault configured");
    expect(r.out).toMatch(/sha256: [0-9a-f]{64}/);
    await untilStatus(sidecar, 429, { "x-fault": "yes" }, "the plugin fetched over http:// to abort with 429");
    expect((await send(`${sidecar.url}/`)).status).toBe(200);
  });

  test("a wrong sha256: FAIL_CLOSE denies every request (RBAC deny in the module's place), FAIL_OPEN runs without the plugin", async () => {
    const wrong = "1".repeat(64);
    const manifest = (failStrategy: string, status: number) => [
      "apiVersion: extensions.istio.io/v1alpha1", "kind: WasmPlugin", "metadata: {name: fault, namespace: shop}", "spec:",
      "  selector: {matchLabels: {app: echo}}", `  url: ${filesUrl}/fault.wasm`, `  sha256: "${wrong}"`, "  pluginName: fault",
      `  failStrategy: ${failStrategy}`, `  pluginConfig: ${abortOn(status)}`, "",
    ].join("\n");
    await cp.kubectlOk(["apply", "-f", "-"], manifest("FAIL_CLOSE", 430));
    const denied = await untilStatus(sidecar, 403, {}, "a wrong sha256 with FAIL_CLOSE to deny requests");
    expect(denied.body).toBe("RBAC: access denied");
    expect(sidecar.output(400)).toMatch(/which does not match: 1{64}/);
    expect((await send(`${sidecar.url}/`, { "x-fault": "yes" })).status).toBe(403);

    await cp.kubectlOk(["apply", "-f", "-"], manifest("FAIL_OPEN", 431));
    await untilStatus(sidecar, 200, {}, "a wrong sha256 with FAIL_OPEN to let requests through");
    // The module never loaded: the header that would abort does nothing.
    expect((await send(`${sidecar.url}/`, { "x-fault": "yes" })).status).toBe(200);
  });

  test("oci://: what pwas push pushed to the local registry, pinned by its manifest digest, is pulled by the agent and answers 432", async () => {
    const pushed = await mesh.pwas("push", FAULT_WASM, `${registry.host}/filters/fault:1.0.0`, "--insecure");
    expect(pushed.code).toBe(0);
    const digest = /sha256:([0-9a-f]{64})/.exec(pushed.out)?.[1];
    expect(digest).toBeDefined();
    const r = await mesh.pwas("deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin", "--image", `oci://${registry.host}/filters/fault:1.0.0`,
      "--sha256", digest!, "--name", "fault", "--namespace", "shop", "--selector", "app=echo", "--config", abortOn(432), "--apply");
    expect(r.err).toContain("wasmplugin.extensions.istio.io/fault configured");
    expect(r.code).toBe(0);
    await untilStatus(sidecar, 432, { "x-fault": "yes" }, "the plugin pulled over oci:// to abort with 432");
    expect((await send(`${sidecar.url}/`)).status).toBe(200);
  });

  test("two plugins in one phase: the higher priority runs first, and swapping the priorities with kubectl swaps which one answers", async () => {
    const deploy = (name: string, status: number, priority: number) => mesh.pwas("deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin",
      "--image", `file://${FAULT_WASM}`, "--name", name, "--namespace", "shop", "--selector", "app=echo", "--phase", "AUTHZ",
      "--priority", String(priority), "--config", JSON.stringify({ abort: { http_status: status, percentage: { numerator: 100 } }, headers: [{ name: "x-order", string_match: { exact: "yes" } }] }),
      "--apply");
    // The lower one alone first, so the higher one, added later, must be put in front of it.
    expect((await deploy("second", 452, 10)).code).toBe(0);
    await untilStatus(sidecar, 452, { "x-order": "yes" }, "the priority 10 plugin alone to answer");
    expect((await deploy("first", 451, 20)).code).toBe(0);
    await untilStatus(sidecar, 451, { "x-order": "yes" }, "the priority 20 plugin to answer before the priority 10 one");
    // The inbound listener names both ECDS filters, in that order.
    const listeners = await sidecar.admin("/config_dump?resource=dynamic_listeners");
    const at = (name: string) => listeners.indexOf(`shop.${name}`);
    expect(at("first")).toBeGreaterThan(-1);
    expect(at("second")).toBeGreaterThan(at("first"));
    expect((await deploy("second", 452, 30)).code).toBe(0);
    await untilStatus(sidecar, 452, { "x-order": "yes" }, "the plugin raised to priority 30 to answer first");
    expect((await send(`${sidecar.url}/`)).status).toBe(200);
  });

  test("TrafficExtension: pwas deploy --kind TrafficExtension filters/fault --image oci://… --apply answers 433 through the sidecar", async () => {
    const pushed = await mesh.pwas("push", FAULT_WASM, `${registry.host}/filters/fault:te`, "--insecure");
    expect(pushed.code).toBe(0);
    const digest = /sha256:([0-9a-f]{64})/.exec(pushed.out)![1];
    const r = await mesh.pwas("deploy", FAULT_DIR, "--no-build", "--kind", "TrafficExtension", "--image", `oci://${registry.host}/filters/fault:te`,
      "--sha256", digest, "--name", "fault-te", "--namespace", "shop", "--selector", "app=echo",
      "--config", JSON.stringify({ abort: { http_status: 433, percentage: { numerator: 100 } }, headers: [{ name: "x-te", string_match: { exact: "yes" } }] }), "--apply");
    expect(r.err).toContain("trafficextension.extensions.istio.io/fault-te created");
    expect(r.code).toBe(0);
    await untilStatus(sidecar, 433, { "x-te": "yes" }, "the TrafficExtension's fault plugin to abort with 433");
    expect((await send(`${sidecar.url}/`)).status).toBe(200);
  });
});
