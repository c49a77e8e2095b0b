/**
 * The mesh for real: etcd, kube-apiserver with Istio's CRDs from the pinned commit, and istiod, all on
 * loopback (src/services/controlplane.ts). Checks that
 *   - `pwas deploy`'s validator gives the API server's verdict on every manifest of the differential table
 *     (e2e/support/validation-table.ts), and Istio's own (istioctl validate) where Istio adds rules;
 *   - `pwas deploy --apply` stores the rendered WasmPlugin / TrafficExtension, which istiod then lists;
 *   - every manifest `pwas deploy` renders here passes `istioctl validate`.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { waitFor } from "../src/envoy/wait";
import { validateTrafficExtensionLayers, validateWasmPluginLayers } from "../src/mesh/validate";
import { describeRequiring } from "../src/requirements";
import { startControlPlane, type StartedControlPlane } from "../src/services/controlplane";
import { istioctlValidate, locateControlPlaneTools } from "../src/services/meshtools";
import { pwasWith as pwas } from "./support/mesh";
import { ROWS, type Row } from "./support/validation-table";

const tools = locateControlPlaneTools();
const describeWithMesh = describeRequiring(tools.ok ? undefined : `control-plane e2e: ${tools.reason}`);

jest.setTimeout(180_000);

const WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/** Runs `fn` over `items` with at most `n` at a time, keeping the order of results. */
async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

describeWithMesh("control plane: kube-apiserver with Istio's CRDs, and istiod", () => {
  let cp: StartedControlPlane;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pwas-cp-e2e-"));
    writeFileSync(join(work, "plugin.wasm"), WASM);
    cp = await startControlPlane({ readyTimeoutMs: 120_000 });
    await cp.kubectlOk(["create", "namespace", "diff"]);
    await cp.kubectlOk(["create", "namespace", "shop"]);
  });
  afterAll(async () => {
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the API server serves WasmPlugin and TrafficExtension from the pinned CRDs", async () => {
    const crds = (await cp.kubectlOk(["get", "crd", "-o", "name"])).split("\n");
    expect(crds).toEqual(expect.arrayContaining([
      "customresourcedefinition.apiextensions.k8s.io/wasmplugins.extensions.istio.io",
      "customresourcedefinition.apiextensions.k8s.io/trafficextensions.extensions.istio.io",
    ]));
    const list = (await cp.get("/apis/extensions.istio.io/v1alpha1")) as { resources: { kind: string }[] };
    expect(list.resources.map((r) => r.kind)).toEqual(expect.arrayContaining(["WasmPlugin", "TrafficExtension"]));
  });

  test(`validator differential: pwas deploy's verdict equals the API server's on ${ROWS.length} manifests`, async () => {
    const verdicts = await pool(ROWS, 3, async (row: Row) => {
      const ours = row.kind === "WasmPlugin" ? validateWasmPluginLayers(row.doc) : validateTrafficExtensionLayers(row.doc);
      const server = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], stringify(row.doc));
      return {
        row: `${row.kind}: ${row.name}`,
        expect: row.expect,
        server: server.code === 0 ? "stored" : "refused",
        ours: ours.server.length === 0 ? "stored" : "refused",
        oursIstio: ours.istio.length === 0 ? "ok" : "refused",
        why: server.code === 0 ? "" : server.stderr.trim().split("\n").slice(-1)[0],
        oursWhy: [...ours.server, ...ours.istio].map((v) => `${v.path}: ${v.message}`).join("; "),
      };
    });
    const disagreements = verdicts.filter((v) => v.server !== v.ours);
    expect(disagreements).toEqual([]);
    // The table means what it says: the server stores exactly the rows expected valid (or valid but for Istio's rules).
    expect(verdicts.filter((v) => (v.expect === "invalid") !== (v.server === "refused"))).toEqual([]);
    // Of the rows the server stores, our Istio layer refuses exactly those marked for Istio's own rules.
    expect(verdicts.filter((v) => v.server === "stored" && (v.expect === "istio") !== (v.oursIstio === "refused"))).toEqual([]);
    expect(verdicts.filter((v) => v.expect === "invalid").length).toBeGreaterThanOrEqual(20);
  });

  test("istioctl validate passes every valid row, and gives the recorded verdict on the rows for Istio's own rules", async () => {
    const rows = ROWS.filter((r) => r.expect !== "invalid");
    const results = await pool(rows, 2, async (row) => {
      const file = join(work, `row-${rows.indexOf(row)}.yaml`);
      writeFileSync(file, stringify(row.doc));
      const v = await istioctlValidate(file);
      const expected = row.expect === "valid" ? "ok" : row.istioctl;
      return { row: `${row.kind}: ${row.name}`, expected, istioctl: v.ok ? "ok" : "refused", output: v.ok ? "" : v.output };
    });
    expect(results.filter((r) => r.expected !== r.istioctl)).toEqual([]);
  });

  test("pwas deploy --apply stores the WasmPlugin it printed, istioctl validates it, and istiod lists it", async () => {
    const wasm = join(work, "plugin.wasm");
    const args = [
      "deploy", wasm, "--image", "oci://registry.test/filters/plugin:1.0.0", "--sha256", "c".repeat(64), "--name", "headers",
      "--namespace", "shop", "--selector", "app=echo", "--phase", "AUTHZ", "--priority", "7", "--fail-strategy", "FAIL_RELOAD",
      "--config", '{"response_headers":{"x-demo":"yes"}}', "--env", "MODE=strict", "--host-env", "POD_NAME", "--apply",
    ];
    const r = await pwas(cp.env(), ...args);
    expect(r.err).toContain("wasmplugin.extensions.istio.io/headers created");
    expect(r.code).toBe(0);
    const file = join(work, "deployed.yaml");
    writeFileSync(file, r.out + "\n");
    expect(await istioctlValidate(file)).toMatchObject({ ok: true });

    const stored = JSON.parse(await cp.kubectlOk(["get", "wasmplugin", "-n", "shop", "headers", "-o", "json"])) as { spec: unknown; metadata: { annotations: Record<string, string> } };
    expect(stored.spec).toEqual({
      selector: { matchLabels: { app: "echo" } }, url: "oci://registry.test/filters/plugin:1.0.0", sha256: "c".repeat(64),
      pluginName: "plugin", phase: "AUTHZ", priority: 7, failStrategy: "FAIL_RELOAD",
      vmConfig: { env: [{ name: "MODE", value: "strict" }, { name: "POD_NAME", valueFrom: "HOST" }] },
      pluginConfig: { response_headers: { "x-demo": "yes" } },
    });
    expect(Object.keys(stored.metadata.annotations)).toContain("proxy-wasm-as/module-sha256");

    // Applying the same YAML again changes nothing.
    const again = await pwas(cp.env(), ...args);
    expect(again.err).toContain("wasmplugin.extensions.istio.io/headers unchanged");

    const istiod = cp.istiod!;
    const configz = await waitFor(async () => {
      const body = await istiod.debug("/debug/configz");
      return body.includes('"headers"') && body.includes("WasmPlugin") ? body : undefined;
    }, { timeoutMs: 30_000, what: "istiod's /debug/configz to list the applied WasmPlugin" });
    const entries = JSON.parse(configz) as { kind: string; metadata: { name: string; namespace: string }; spec?: Record<string, unknown> }[];
    const seen = entries.find((e) => e.kind === "WasmPlugin" && e.metadata.name === "headers" && e.metadata.namespace === "shop");
    expect(seen?.spec).toMatchObject({ url: "oci://registry.test/filters/plugin:1.0.0", priority: 7, phase: "AUTHZ", failStrategy: "FAIL_RELOAD" });
  });

  test("pwas deploy --kind TrafficExtension --apply stores the TrafficExtension, istioctl validates it, and istiod lists it", async () => {
    const wasm = join(work, "plugin.wasm");
    const r = await pwas(cp.env(),
      "deploy", wasm, "--kind", "TrafficExtension", "--image", "oci://registry.test/filters/fault:1.0.0", "--name", "fault",
      "--namespace", "shop", "--selector", "app=echo", "--priority", "3", "--fail-strategy", "FAIL_OPEN",
      "--config", '{"abort":{"http_status":503,"percentage":{"numerator":100}}}', "--apply");
    expect(r.err).toContain("trafficextension.extensions.istio.io/fault created");
    expect(r.code).toBe(0);
    const file = join(work, "te.yaml");
    writeFileSync(file, r.out + "\n");
    expect(await istioctlValidate(file)).toMatchObject({ ok: true });
    const stored = JSON.parse(await cp.kubectlOk(["get", "trafficextension", "-n", "shop", "fault", "-o", "json"])) as { spec: unknown };
    expect(stored.spec).toEqual({
      selector: { matchLabels: { app: "echo" } }, priority: 3,
      wasm: { url: "oci://registry.test/filters/fault:1.0.0", pluginName: "plugin", failStrategy: "FAIL_OPEN", pluginConfig: { abort: { http_status: 503, percentage: { numerator: 100 } } } },
    });
    await waitFor(async () => {
      const body = await cp.istiod!.debug("/debug/configz");
      return body.includes("TrafficExtension") && body.includes('"fault"') ? true : undefined;
    }, { timeoutMs: 30_000, what: "istiod's /debug/configz to list the applied TrafficExtension" });
  });

  test("every manifest pwas deploy renders (both kinds, the option sets of the docs) passes istioctl validate", async () => {
    const wasm = join(work, "plugin.wasm");
    const sets: string[][] = [
      ["--image", "https://filters.test/plugin.wasm", "--phase", "STATS", "--priority", "10", "--env", "MODE=strict", "--host-env", "POD_NAME"],
      ["--image", "oci://registry.test/auth:1.0.0", "--namespace", "istio-ingress", "--target-ref", "Gateway/ingress", "--phase", "AUTHN"],
      ["--image", "oci://registry.test/rl:1.0.0", "--namespace", "shop", "--selector", "app=reviews", "--phase", "AUTHZ", "--fail-strategy", "FAIL_OPEN"],
      ["--image", "file:///opt/filters/plugin.wasm", "--target-ref", "Service/reviews", "--pull-policy", "Always", "--pull-secret", "regcred"],
    ];
    const rendered: string[] = [];
    for (const set of sets) {
      for (const kind of ["WasmPlugin", "TrafficExtension"]) {
        const r = await pwas(cp.env(), "deploy", wasm, "--kind", kind, ...set);
        expect(r.err.replace(/^note: .*$/gm, "").trim()).toBe("");
        expect(r.code).toBe(0);
        rendered.push(r.out);
      }
    }
    const file = join(work, "rendered.yaml");
    writeFileSync(file, rendered.join("\n---\n") + "\n");
    const v = await istioctlValidate(file);
    expect(v.output).not.toMatch(/error/i);
    expect(v.ok).toBe(true);
  });
});

describeWithMesh("control plane: start and cleanup", () => {
  test("etcd and kube-apiserver alone answer kubectl, and after stop() nothing answers and the folder is gone", async () => {
    const cp = await startControlPlane({ istiod: false, readyTimeoutMs: 120_000 });
    let stopped = false;
    try {
      expect(cp.istiod).toBeUndefined();
      const namespaces = await cp.kubectlOk(["get", "namespaces", "-o", "name"]);
      expect(namespaces.split("\n")).toEqual(expect.arrayContaining(["namespace/default", "namespace/kube-system"]));
      await cp.stop();
      stopped = true;
      expect(existsSync(cp.dir)).toBe(false);
      await expect(fetch(`${cp.apiServerUrl.replace("https", "http")}/readyz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    } finally {
      if (!stopped) await cp.stop();
    }
  });
});
