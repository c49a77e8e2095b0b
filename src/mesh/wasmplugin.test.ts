import { WASMPLUGIN_CRD, WASMPLUGIN_SCHEMA } from "./generated/wasmplugin-schema";
import type { CrdSchema } from "./schema";
import {
  ENV_VALUE_SOURCES, FAIL_STRATEGIES, PLUGIN_PHASES, PLUGIN_TYPES, PULL_POLICIES, WORKLOAD_MODES,
  normalizedUrl, parseWasmPluginYaml, renderWasmPluginYaml, resourceName, structFromJson, urlPullPolicy, type WasmPlugin,
} from "./wasmplugin";

const spec = (path: string[]): CrdSchema => path.reduce<CrdSchema>((s, k) => (k === "[]" ? s.items! : s.properties![k]), WASMPLUGIN_SCHEMA);

const full: WasmPlugin = {
  apiVersion: "extensions.istio.io/v1alpha1",
  kind: "WasmPlugin",
  metadata: { annotations: { z: "1", a: "2" }, namespace: "demo", name: "headers", labels: { team: "edge", app: "x" } },
  spec: {
    pluginConfig: { response_headers: { "x-a": "yes", "x-b": "on" }, log_requests: true, ratio: 0.5, list: [1, "2", null] },
    failStrategy: "FAIL_CLOSE",
    priority: 10,
    phase: "AUTHZ",
    pluginName: "headers",
    sha256: "a".repeat(64),
    url: "oci://ghcr.io/me/headers:1.0",
    selector: { matchLabels: { version: "v1", app: "reviews" } },
    vmConfig: { env: [{ value: "strict", name: "MODE" }, { name: "POD_NAME", valueFrom: "HOST" }] },
    match: [{ mode: "SERVER", ports: [{ number: 8080 }] }],
    imagePullPolicy: "IfNotPresent",
  },
};

describe("WasmPlugin model", () => {
  test("its enum values are the pinned CRD's", () => {
    expect(WASMPLUGIN_CRD).toMatchObject({ group: "extensions.istio.io", version: "v1alpha1", kind: "WasmPlugin" });
    expect(spec(["spec", "phase"]).enum).toEqual([...PLUGIN_PHASES]);
    expect(spec(["spec", "failStrategy"]).enum).toEqual([...FAIL_STRATEGIES]);
    expect(spec(["spec", "imagePullPolicy"]).enum).toEqual([...PULL_POLICIES]);
    expect(spec(["spec", "type"]).enum).toEqual([...PLUGIN_TYPES]);
    expect(spec(["spec", "match", "[]", "mode"]).enum).toEqual([...WORKLOAD_MODES]);
    expect(spec(["spec", "vmConfig", "env", "[]", "valueFrom"]).enum).toEqual([...ENV_VALUE_SOURCES]);
  });

  test("renders apiVersion, kind, metadata, spec in a fixed order, whatever the input's key order", () => {
    const yaml = renderWasmPluginYaml(full);
    expect(yaml).toMatchSnapshot();
    const reversed = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reversed)
        : v !== null && typeof v === "object" ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)]))
        : v;
    const shuffled = reversed(full) as WasmPlugin;
    expect(Object.keys(shuffled)[0]).toBe("spec");
    // Only pluginConfig keeps its (the user's) key order; everything else comes out the same.
    expect(renderWasmPluginYaml({ ...shuffled, spec: { ...shuffled.spec, pluginConfig: full.spec.pluginConfig } })).toBe(yaml);
  });

  test("renders YAML 1.1-ambiguous strings quoted, so kubectl does not read them as booleans", () => {
    const yaml = renderWasmPluginYaml(full);
    expect(yaml).toContain('x-a: "yes"');
    expect(yaml).toContain('x-b: "on"');
  });

  test("renders several resources as one multi-document stream that reads back to the same objects", () => {
    const second: WasmPlugin = { ...full, metadata: { name: "other" }, spec: { url: "file:///x.wasm" } };
    const yaml = renderWasmPluginYaml([full, second]);
    expect(yaml.split(/^---$/m)).toHaveLength(2);
    const back = parseWasmPluginYaml(yaml, "multi.yaml");
    expect(back.map((d) => d.source)).toEqual(["multi.yaml (document 1)", "multi.yaml (document 2)"]);
    expect(back[0].resource).toEqual(full);
    expect(back[1].resource).toEqual(second);
  });

  test("reading refuses other kinds, broken YAML and files without a WasmPlugin, naming the file", () => {
    expect(() => parseWasmPluginYaml("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", "svc.yaml")).toThrow(/svc.yaml: kind is "Service"; only WasmPlugin/);
    expect(() => parseWasmPluginYaml("kind: WasmPlugin\nspec: [\n", "bad.yaml")).toThrow(/bad.yaml: not valid YAML/);
    expect(() => parseWasmPluginYaml("# nothing\n", "empty.yaml")).toThrow(/empty.yaml: no WasmPlugin resource/);
  });

  test("names, default scheme and pull policy follow istiod and istio-agent", () => {
    expect(resourceName(full)).toBe("demo.headers");
    expect(resourceName({ ...full, metadata: { name: "x" } })).toBe("default.x");
    expect(normalizedUrl("ghcr.io/me/f:1")).toBe("oci://ghcr.io/me/f:1");
    expect(normalizedUrl("https://h/f.wasm")).toBe("https://h/f.wasm");
    expect(urlPullPolicy("oci://ghcr.io/me/f:latest")).toBe("Always");
    expect(urlPullPolicy("ghcr.io/me/f:1.0")).toBe("IfNotPresent");
  });

  test("pluginConfig from JSON must be an object (a protobuf Struct)", () => {
    expect(structFromJson('{"a":1}', "--config")).toEqual({ a: 1 });
    expect(() => structFromJson("[1]", "--config")).toThrow(/--config must be a JSON object.*got an array/);
    expect(() => structFromJson("{", "--config")).toThrow(/--config is not valid JSON/);
  });
});
