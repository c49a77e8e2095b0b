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
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Io } from "../src/cli/command";
import { buildFilter } from "../src/build/build";
import { main } from "../src/cli/main";
import { startEcho, type EchoServer } from "../src/envoy/echo";
import { locateEnvoy } from "../src/envoy/locate";
import { waitFor } from "../src/envoy/wait";
import { describeRequiring } from "../src/requirements";
import { freePort } from "../src/services/child";
import { startControlPlane, type StartedControlPlane } from "../src/services/controlplane";
import { locateControlPlaneTools, locateIstioBinary, locateIstioBootstrap } from "../src/services/meshtools";
import { locateDockerRegistry, startRegistry, type StartedRegistry } from "../src/services/registry";
import { startSidecar, type StartedSidecar } from "../src/services/sidecar";

function missing(): string | undefined {
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
const describeWithSidecar = describeRequiring(missing());

jest.setTimeout(120_000);

const FAULT_DIR = join(__dirname, "..", "filters", "fault");
const FAULT_WASM = join(FAULT_DIR, "build", "fault.wasm");

async function pwas(cp: StartedControlPlane, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), progress: (l) => err.push(`• ${l}`) };
  // --apply runs kubectl with the process environment: point it at the test cluster for this call only.
  const env = cp.env();
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

async function send(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/** Waits until a request with `headers` gets `status`: the agent has fetched the module and Envoy runs it. */
function untilStatus(sidecar: StartedSidecar, status: number, headers: Record<string, string>, what: string): Promise<{ status: number; body: string }> {
  return waitFor(async () => {
    const r = await send(`${sidecar.url}/`, headers).catch(() => undefined);
    return r?.status === status ? r : undefined;
  }, { timeoutMs: 45_000, what }).catch((err: Error) => {
    throw new Error(`${err.message}\n--- agent\n${sidecar.output(40)}`);
  });
}

describeWithSidecar("sidecar: istio-agent and the pinned Envoy on istiod's xDS", () => {
  let cp: StartedControlPlane;
  let echo: EchoServer;
  let sidecar: StartedSidecar;
  let files: Server;
  let filesUrl: string;
  let registry: StartedRegistry;

  beforeAll(async () => {
    echo = await startEcho();
    registry = await startRegistry();
    files = createServer((req, res) => {
      if (req.url === "/fault.wasm") res.end(readFileSync(FAULT_WASM));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    // The build and the control plane's start overlap; every deploy below uses this build (--no-build).
    const [started] = await Promise.all([startControlPlane({ readyTimeoutMs: 120_000 }), buildFilter(FAULT_DIR)]);
    cp = started;
    sidecar = await startSidecar(cp, { namespace: "shop", ip: "127.0.0.7", port: await freePort(), upstream: `127.0.0.1:${echo.port}`, insecureRegistries: [registry.host] });
  });
  afterAll(async () => {
    await sidecar?.stop();
    await cp?.stop();
    files?.close();
    await echo?.close();
    await registry?.stop();
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
    const r = await pwas(cp, "deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin", "--image", `file://${FAULT_WASM}`, "--name", "fault",
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
    const r = await pwas(cp, "deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin", "--image", `${filesUrl}/fault.wasm`, "--name", "fault",
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
    const pushed = await pwas(cp, "push", FAULT_WASM, `${registry.host}/filters/fault:1.0.0`, "--insecure");
    expect(pushed.code).toBe(0);
    const digest = /sha256:([0-9a-f]{64})/.exec(pushed.out)?.[1];
    expect(digest).toBeDefined();
    const r = await pwas(cp, "deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin", "--image", `oci://${registry.host}/filters/fault:1.0.0`,
      "--sha256", digest!, "--name", "fault", "--namespace", "shop", "--selector", "app=echo", "--config", abortOn(432), "--apply");
    expect(r.err).toContain("wasmplugin.extensions.istio.io/fault configured");
    expect(r.code).toBe(0);
    await untilStatus(sidecar, 432, { "x-fault": "yes" }, "the plugin pulled over oci:// to abort with 432");
    expect((await send(`${sidecar.url}/`)).status).toBe(200);
  });

  test("two plugins in one phase: the higher priority runs first, and swapping the priorities with kubectl swaps which one answers", async () => {
    const deploy = (name: string, status: number, priority: number) => pwas(cp, "deploy", FAULT_DIR, "--no-build", "--kind", "WasmPlugin",
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
    const pushed = await pwas(cp, "push", FAULT_WASM, `${registry.host}/filters/fault:te`, "--insecure");
    expect(pushed.code).toBe(0);
    const digest = /sha256:([0-9a-f]{64})/.exec(pushed.out)![1];
    const r = await pwas(cp, "deploy", FAULT_DIR, "--no-build", "--kind", "TrafficExtension", "--image", `oci://${registry.host}/filters/fault:te`,
      "--sha256", digest, "--name", "fault-te", "--namespace", "shop", "--selector", "app=echo",
      "--config", JSON.stringify({ abort: { http_status: 433, percentage: { numerator: 100 } }, headers: [{ name: "x-te", string_match: { exact: "yes" } }] }), "--apply");
    expect(r.err).toContain("trafficextension.extensions.istio.io/fault-te created");
    expect(r.code).toBe(0);
    await untilStatus(sidecar, 433, { "x-te": "yes" }, "the TrafficExtension's fault plugin to abort with 433");
    expect((await send(`${sidecar.url}/`)).status).toBe(200);
  });
});
