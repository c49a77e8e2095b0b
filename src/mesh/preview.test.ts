import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatChain, loadWasmPluginFiles, planPreview, renderPreviewBootstrap, upstreamRoutes } from "./preview";

const WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
let dir: string;
let wasm: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pwas-preview-plan-"));
  wasm = join(dir, "m.wasm");
  writeFileSync(wasm, WASM);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, ...docs: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, docs.join("---\n"));
  return p;
}
const doc = (name: string, extra = "") =>
  `apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: ${name}\n  namespace: demo\nspec:\n  url: file://${wasm}\n${extra}`;

describe("preview planning (no processes)", () => {
  test("the same namespace/name in two files is refused, naming both", () => {
    const a = file("a.yaml", doc("x"));
    const b = file("b.yaml", doc("w"), doc("x"));
    expect(() => loadWasmPluginFiles([a, b])).toThrow(`${b} (document 2): WasmPlugin demo.x is also defined in ${a}`);
    expect(() => loadWasmPluginFiles([join(dir, "nope.yaml")])).toThrow(/nope.yaml: no such file/);
    expect(() => loadWasmPluginFiles([])).toThrow(/at least one WasmPlugin YAML file/);
  });

  test("a WasmPlugin and a TrafficExtension may share a name: both are planned, each with its own module and served name", async () => {
    const te = `apiVersion: extensions.istio.io/v1alpha1\nkind: TrafficExtension\nmetadata:\n  name: x\n  namespace: demo\nspec:\n  phase: AUTHN\n  wasm:\n    url: file://${wasm}\n    pluginName: te\n`;
    const f = file("same.yaml", doc("x", "  phase: AUTHN\n  pluginName: wp\n"), te);
    const plan = await planPreview({ files: [f], fetch: { cacheDir: join(dir, "c") } });
    expect(plan.translation.http.map((p) => [p.envoy.name, p.envoy.rootId])).toEqual([["demo.x", "te"], ["demo.x~istio-translated-wasmplugin", "wp"]]);
    expect(Object.keys(plan.modules).sort()).toEqual(["demo.x", "demo.x~istio-translated-wasmplugin"]);
    expect(plan.chain.map((r) => [r.plugin, r.kind])).toEqual([["demo.x", "TrafficExtension"], ["demo.x", "WasmPlugin"]]);
    expect(formatChain(plan.chain)[1]).toMatch(/^1\s+demo\.x \(TrafficExtension\)\s+AUTHN/);
    const twice = file("twice.yaml", te, te);
    expect(() => loadWasmPluginFiles([twice])).toThrow(`${twice} (document 2): TrafficExtension demo.x is also defined in ${twice} (document 1)`);
  });

  test("NETWORK plugins: network filters before the HTTP connection manager in istiod's order, listed first in the table", async () => {
    const f = file("n.yaml", doc("http", "  phase: AUTHN\n"), doc("tcp-stats", "  type: NETWORK\n  phase: STATS\n"),
      doc("tcp-authn", "  type: NETWORK\n  phase: AUTHN\n  failStrategy: FAIL_OPEN\n  pluginConfig: {mode: tcp}\n"));
    const plan = await planPreview({ files: [f], fetch: { cacheDir: join(dir, "c") } });
    expect(plan.chain.map((r) => [r.position, r.plugin, r.type])).toEqual([[1, "demo.tcp-authn", "NETWORK"], [2, "demo.tcp-stats", "NETWORK"], [3, "demo.http", "HTTP"]]);
    const listener = (renderPreviewBootstrap(plan) as any).static_resources.listeners[0]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const filters = listener.filter_chains[0].filters as { name: string; typed_config: { config?: { name: string; failure_policy: string; configuration?: { value: string } } } }[];
    expect(filters.map((x) => x.typed_config.config?.name ?? x.name)).toEqual([
      "demo.tcp-authn~istio-translated-wasmplugin", "demo.tcp-stats~istio-translated-wasmplugin", "envoy.filters.network.http_connection_manager",
    ]);
    expect(filters.slice(0, 2).map((x) => x.name)).toEqual(["envoy.filters.network.wasm", "envoy.filters.network.wasm"]);
    expect(filters[0].typed_config.config).toMatchObject({ failure_policy: "FAIL_OPEN", configuration: { value: '{"mode":"tcp"}' } });
    const table = formatChain(plan.chain);
    expect(table.slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(" "))).toEqual([
      "1 demo.tcp-authn AUTHN", "2 demo.tcp-stats STATS", "3 envoy.filters.network.http_connection_manager -", "4 demo.http AUTHN", "5 envoy.filters.http.router -",
    ]);
  });

  test("routes: one per upstream on the route header, then the first upstream for the rest", () => {
    expect(upstreamRoutes(["v1", "v2"], "x-route-subset")).toEqual([
      { match: { prefix: "/", headers: [{ name: "x-route-subset", exact: "v1" }] }, cluster: "v1" },
      { match: { prefix: "/", headers: [{ name: "x-route-subset", exact: "v2" }] }, cluster: "v2" },
      { match: { prefix: "/" }, cluster: "v1" },
    ]);
  });

  test("the plan: chain rows in order, clusters for upstreams and callouts", async () => {
    const f = file("p.yaml", doc("stats", "  phase: STATS\n"), doc("authn", "  phase: AUTHN\n  failStrategy: FAIL_OPEN\n  pluginName: r\n"));
    const plan = await planPreview({ files: [f], upstreams: ["v1", "v2"], clusters: ["jwks=http://127.0.0.1:9"], fetch: { cacheDir: join(dir, "c") } });
    expect(plan.chain.map((r) => [r.plugin, r.phase, r.failurePolicy, r.rootId])).toEqual([
      ["demo.authn", "AUTHN", "FAIL_OPEN", "r"], ["demo.stats", "STATS", "FAIL_CLOSED", "-"],
    ]);
    expect(plan.bootstrap.clusters!.map((c) => c.name)).toEqual(["v1", "v2", "jwks"]);
    const table = formatChain(plan.chain);
    expect(table[0]).toMatch(/^#\s+plugin\s+phase\s+priority\s+failure_policy\s+root_id\s+module sha256\s+url$/);
    expect(table[3]).toMatch(/^3\s+envoy\.filters\.http\.router/);
    const json = JSON.stringify(renderPreviewBootstrap(plan));
    expect(json).toContain('"failure_policy":"FAIL_OPEN"');

    await expect(planPreview({ files: [f], upstreams: ["v1", "v1"] })).rejects.toThrow(/upstream v1 is listed twice/);
    await expect(planPreview({ files: [f], upstreams: ["v1"], clusters: ["v1=http://127.0.0.1:9"] })).rejects.toThrow(/that name is an upstream already/);
  });
});
