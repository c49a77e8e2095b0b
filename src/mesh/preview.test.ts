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

  test("routes: one per upstream on the route header, then the first upstream for the rest", () => {
    expect(upstreamRoutes(["v1", "v2"], "x-route-subset")).toEqual([
      { match: { prefix: "/", headers: [{ name: "x-route-subset", exact: "v1" }] }, cluster: "v1" },
      { match: { prefix: "/", headers: [{ name: "x-route-subset", exact: "v2" }] }, cluster: "v2" },
      { match: { prefix: "/" }, cluster: "v1" },
    ]);
  });

  test("the plan: chain rows in order, clusters for upstreams and callouts, NETWORK plugins refused", async () => {
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

    const net = file("n.yaml", doc("tcp", "  type: NETWORK\n"));
    await expect(planPreview({ files: [net] })).rejects.toThrow(/demo.tcp: type NETWORK plugins are not previewed/);
    await expect(planPreview({ files: [f], upstreams: ["v1", "v1"] })).rejects.toThrow(/upstream v1 is listed twice/);
    await expect(planPreview({ files: [f], upstreams: ["v1"], clusters: ["v1=http://127.0.0.1:9"] })).rejects.toThrow(/that name is an upstream already/);
  });
});
