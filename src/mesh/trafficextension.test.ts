import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { PwasError } from "../errors";
import { deployKind, planDeploy } from "./deploy";
import { loadWasmPluginFiles } from "./preview";
import { TRAFFICEXTENSION_CRD, TRAFFICEXTENSION_SCHEMA } from "./generated/trafficextension-schema";
import { celRulesIn } from "./schema";
import { istioHasTrafficExtension, TRAFFICEXTENSION_PHASES } from "./trafficextension";
import { CEL_RULES, validateTrafficExtension } from "./validate";

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "pwas-te-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function wasm(): string {
  const f = join(dir, "plugin.wasm");
  writeFileSync(f, Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
  return f;
}

describe("TrafficExtension", () => {
  test("the generated schema is the pinned CRD's, every CEL rule in it is implemented, and its phases are ours", () => {
    expect(TRAFFICEXTENSION_CRD).toMatchObject({ group: "extensions.istio.io", version: "v1alpha1", kind: "TrafficExtension", plural: "trafficextensions" });
    for (const rule of celRulesIn(TRAFFICEXTENSION_SCHEMA)) expect(Object.keys(CEL_RULES)).toContain(rule);
    expect(TRAFFICEXTENSION_SCHEMA.properties!.spec.properties!.phase.enum).toEqual([...TRAFFICEXTENSION_PHASES]);
  });

  test("deploy's kind: --kind wins, --istio 1.30+ defaults to TrafficExtension, older Istio or none to WasmPlugin", () => {
    expect(deployKind(undefined, undefined)).toBe("WasmPlugin");
    expect(deployKind(undefined, "1.29.3")).toBe("WasmPlugin");
    expect(deployKind(undefined, "1.30")).toBe("TrafficExtension");
    expect(deployKind(undefined, "1.31.0-beta.1")).toBe("TrafficExtension");
    expect(deployKind(undefined, "2.0")).toBe("TrafficExtension");
    expect(deployKind("trafficextension", undefined)).toBe("TrafficExtension");
    expect(deployKind("WasmPlugin", "1.31")).toBe("WasmPlugin");
    expect(() => deployKind("TrafficExtension", "1.29")).toThrow(/needs Istio 1.30 or later/);
    expect(() => deployKind("EnvoyFilter", undefined)).toThrow(PwasError);
    expect(() => deployKind(undefined, "latest")).toThrow(/--istio must be a version/);
    expect(istioHasTrafficExtension("v1.30.0")).toBe(true);
    expect(istioHasTrafficExtension("1.9")).toBe(false);
  });

  test("pwas deploy --kind TrafficExtension puts placement at the top of spec and the module under spec.wasm", async () => {
    const plan = await planDeploy({
      target: wasm(), image: "https://filters.test/plugin.wasm", kind: "TrafficExtension", namespace: "shop",
      selector: ["app=reviews"], phase: "UNSPECIFIED_PHASE", priority: 4, failStrategy: "FAIL_RELOAD",
      config: '{"b":1,"a":{"c":[1,2]}}', env: ["MODE=strict"], hostEnv: ["POD_NAME"],
    });
    expect(plan.kind).toBe("TrafficExtension");
    const doc = parse(plan.yaml) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(["apiVersion", "kind", "metadata", "spec"]);
    expect(doc.spec).toEqual({
      selector: { matchLabels: { app: "reviews" } }, phase: "UNSPECIFIED", priority: 4,
      wasm: {
        url: "https://filters.test/plugin.wasm", sha256: plan.moduleSha256, pluginName: "plugin", failStrategy: "FAIL_RELOAD",
        vmConfig: { env: [{ name: "MODE", value: "strict" }, { name: "POD_NAME", valueFrom: "HOST" }] }, pluginConfig: { b: 1, a: { c: [1, 2] } },
      },
    });
    expect(Object.keys((doc.spec as { wasm: object }).wasm)).toEqual(["url", "sha256", "pluginName", "failStrategy", "vmConfig", "pluginConfig"]);
    expect(validateTrafficExtension(doc)).toEqual([]);
    // The same plugin as a WasmPlugin, for preview.
    expect(plan.plugin.spec).toMatchObject({ phase: "UNSPECIFIED_PHASE", priority: 4, url: "https://filters.test/plugin.wasm" });
    // The same inputs give the same bytes.
    const again = await planDeploy({
      target: wasm(), image: "https://filters.test/plugin.wasm", kind: "TrafficExtension", namespace: "shop",
      selector: ["app=reviews"], phase: "UNSPECIFIED_PHASE", priority: 4, failStrategy: "FAIL_RELOAD",
      config: '{"b":1,"a":{"c":[1,2]}}', env: ["MODE=strict"], hostEnv: ["POD_NAME"],
    });
    expect(again.yaml).toBe(plan.yaml);
  });

  test("validation: wasm and lua together, or neither, or a misplaced url, are refused with the field named", () => {
    const base = { apiVersion: "extensions.istio.io/v1alpha1", kind: "TrafficExtension", metadata: { name: "t" } };
    const paths = (spec: object) => validateTrafficExtension({ ...base, spec }).map((v) => `${v.path}: ${v.message}`);
    expect(paths({ wasm: { url: "oci://r/f:1" }, lua: { inlineCode: "x" } })).toEqual(expect.arrayContaining(["spec: exactly one of wasm or lua must be set"]));
    expect(paths({ phase: "AUTHN" })).toEqual(["spec: exactly one of wasm or lua must be set"]);
    expect(paths({ url: "oci://r/f:1", wasm: { url: "oci://r/f:1" } })).toEqual(["spec.url: unknown field"]);
    expect(paths({ wasm: { url: "oci://r/f:1", sha256: "a".repeat(64) }, phase: "UNSPECIFIED_PHASE" })[0]).toMatch(/^spec.phase: must be one of UNSPECIFIED, AUTHN/);
    expect(paths({ lua: { inlineCode: "function envoy_on_request(h) end" } })).toEqual([]);
  });

  test("preview reads a TrafficExtension's wasm body as the WasmPlugin istiod treats it as; a lua body is refused", async () => {
    const opts = {
      target: wasm(), image: "https://filters.test/plugin.wasm", namespace: "shop", selector: ["app=reviews"],
      phase: "STATS", priority: 9, failStrategy: "FAIL_OPEN", config: '{"k":"v"}', env: ["A=1"],
    };
    const te = await planDeploy({ ...opts, kind: "TrafficExtension" });
    const wp = await planDeploy({ ...opts, kind: "WasmPlugin" });
    writeFileSync(join(dir, "te.yaml"), te.yaml);
    expect(loadWasmPluginFiles([join(dir, "te.yaml")])).toEqual([wp.plugin]);
    writeFileSync(join(dir, "lua.yaml"), "apiVersion: extensions.istio.io/v1alpha1\nkind: TrafficExtension\nmetadata: {name: l}\nspec: {lua: {inlineCode: x}}\n");
    expect(() => loadWasmPluginFiles([join(dir, "lua.yaml")])).toThrow(/lua body is not a Wasm plugin/);
    writeFileSync(join(dir, "bad.yaml"), "apiVersion: extensions.istio.io/v1alpha1\nkind: TrafficExtension\nmetadata: {name: b}\nspec: {wasm: {url: 'ftp://x/y'}}\n");
    expect(() => loadWasmPluginFiles([join(dir, "bad.yaml")])).toThrow(/not a valid TrafficExtension[\s\S]*spec.wasm.url: url must have schema/);
  });
});
