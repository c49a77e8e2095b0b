import { WASMPLUGIN_SCHEMA } from "./generated/wasmplugin-schema";
import { celRulesIn } from "./schema";
import { assertWasmPlugin, CEL_RULES, validateWasmPlugin } from "./validate";

const resource = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: "p", namespace: "demo" }) => ({
  apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata, spec,
});
const problems = (spec: Record<string, unknown>) => validateWasmPlugin(resource(spec)).map((v) => `${v.path}: ${v.message}`);

describe("WasmPlugin validation", () => {
  test("every CEL rule of the pinned CRD has a TypeScript implementation", () => {
    const rules = celRulesIn(WASMPLUGIN_SCHEMA);
    expect(rules.length).toBeGreaterThanOrEqual(7);
    for (const rule of rules) expect(Object.keys(CEL_RULES)).toContain(rule);
  });

  test("a complete, valid resource has no problems", () => {
    expect(problems({
      targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "ingress" }, { group: "", kind: "Service", name: "reviews" }],
      url: "oci://ghcr.io/me/f:1", sha256: "0".repeat(64), imagePullPolicy: "Always", imagePullSecret: "regcred",
      pluginName: "f", pluginConfig: { a: { b: [1, true, null] } }, phase: "AUTHN", priority: -5, failStrategy: "FAIL_RELOAD",
      type: "HTTP", vmConfig: { env: [{ name: "A", value: "1" }, { name: "B", valueFrom: "HOST" }] },
      match: [{ mode: "CLIENT_AND_SERVER", ports: [{ number: 80 }, { number: 443 }] }],
    })).toEqual([]);
  });

  test("a bad sha256 is refused with what a sha256 looks like", () => {
    expect(problems({ url: "oci://x/y:1", sha256: "ABC" })).toEqual(['spec.sha256: must be 64 lower-case hex digits (a SHA-256 digest); got "ABC"']);
  });

  test("more than 16 targetRefs are refused", () => {
    const refs = Array.from({ length: 17 }, (_, i) => ({ group: "", kind: "Service", name: `s${i}` }));
    expect(problems({ url: "oci://x/y:1", targetRefs: refs })).toEqual(["spec.targetRefs: must have at most 16 items, got 17"]);
    expect(problems({ url: "oci://x/y:1", targetRefs: refs.slice(0, 16) })).toEqual([]);
  });

  test("an unknown phase is refused, listing the valid ones", () => {
    expect(problems({ url: "oci://x/y:1", phase: "AUTH" })).toEqual(['spec.phase: must be one of UNSPECIFIED_PHASE, AUTHN, AUTHZ, STATS; got "AUTH"']);
  });

  test("targetRefs kinds and groups are Istio's four", () => {
    expect(problems({ url: "oci://x/y:1", targetRefs: [{ kind: "Deployment", name: "d" }] }))
      .toEqual(['spec.targetRefs[0].kind: must be one of Gateway, GatewayClass, Service, ServiceEntry; got "Deployment"']);
    expect(problems({ url: "oci://x/y:1", targetRefs: [{ kind: "Gateway", name: "g" }] }))
      .toEqual(['spec.targetRefs[0].group: a Gateway is in group "gateway.networking.k8s.io"; got ""']);
    expect(problems({ url: "oci://x/y:1", targetRefs: [{ kind: "ServiceEntry", group: "networking.istio.io", name: "e", namespace: "other" }] }))
      .toEqual(["spec.targetRefs[0].namespace: cross namespace referencing is not currently supported"]);
  });

  test("the CRD's rules: one of selector/targetRefs, url scheme, HOST env without value, unique env names", () => {
    expect(problems({ url: "oci://x/y:1", selector: { matchLabels: { a: "b" } }, targetRefs: [{ kind: "Service", name: "s" }] }))
      .toEqual(["spec: only one of targetRefs or selector can be set"]);
    expect(problems({ url: "ftp://host/f.wasm" })).toEqual(["spec.url: url must have schema one of [http, https, file, oci]"]);
    expect(problems({ url: "registry.local/f:1" })).toEqual([]);
    expect(problems({ url: "oci://x/y:1", vmConfig: { env: [{ name: "A", value: "x", valueFrom: "HOST" }, { name: "A" }] } })).toEqual([
      "spec.vmConfig.env[0]: value may only be set when valueFrom is INLINE",
      'spec.vmConfig.env[1]: duplicate entry for name="A" (first at spec.vmConfig.env[0])',
    ]);
    expect(problems({ url: "oci://x/y:1", selector: { matchLabels: { "a*": "b*" } } })).toEqual([
      "spec.selector.matchLabels.a*: wildcard not allowed in label value match",
      "spec.selector.matchLabels: wildcard not allowed in label key match",
    ]);
  });

  test("types, ranges and unknown fields are reported with the field path", () => {
    expect(problems({ url: "oci://x/y:1", priority: 2 ** 31, failstrategy: "FAIL_OPEN", match: [{ ports: [{ number: 0 }] }], pluginName: "" })).toEqual([
      "spec.priority: must be a 32-bit integer (-2147483648..2147483647), got 2147483648",
      "spec.failstrategy: unknown field (did you mean failStrategy?)",
      "spec.match[0].ports[0].number: must be at least 1, got 0",
      "spec.pluginName: must not be empty",
    ]);
    expect(problems({ url: 7 })).toEqual(["spec.url: must be a string, got an integer (quote the value: YAML reads it as a number)"]);
    expect(problems({})).toEqual(["spec.url: is required"]);
  });

  test("the envelope: apiVersion, kind, a DNS name and namespace", () => {
    const bad = { apiVersion: "extensions.istio.io/v1beta9", kind: "WasmPlugin", metadata: { name: "Bad_Name", namespace: "x.y" }, spec: { url: "oci://x/y:1" } };
    expect(validateWasmPlugin(bad).map((v) => v.path)).toEqual(["apiVersion", "metadata.name", "metadata.namespace"]);
    // YAML 1.1 reads an unquoted y / no / 123 as a boolean or number.
    expect(validateWasmPlugin({ ...bad, apiVersion: "extensions.istio.io/v1alpha1", metadata: { name: true, namespace: 123 } }).map((v) => `${v.path}: ${v.message}`)).toEqual([
      "metadata.name: must be a string, got true (quote the value: YAML reads it as a boolean)",
      "metadata.namespace: must be a string, got 123 (quote the value: YAML reads it as a number)",
    ]);
    expect(validateWasmPlugin("url: x")).toEqual([{ path: "(root)", message: "must be a mapping with apiVersion, kind, metadata and spec" }]);
  });

  test("a url digest and sha256 must agree", () => {
    const d = "1".repeat(64);
    expect(problems({ url: `oci://x/y@sha256:${d}`, sha256: d })).toEqual([]);
    expect(problems({ url: `oci://x/y@sha256:${d}`, sha256: "2".repeat(64) })).toEqual([`spec.sha256: must match the digest in url (${d}); got ${"2".repeat(64)}`]);
  });

  test("assertWasmPlugin throws E_VALIDATION listing every problem under the source name", () => {
    try {
      assertWasmPlugin(resource({ url: "oci://x/y:1", sha256: "z", phase: "LAST" }), "plugins.yaml (document 2)");
      throw new Error("expected a failure");
    } catch (e) {
      expect((e as { code?: string }).code).toBe("E_VALIDATION");
      expect((e as Error).message).toBe([
        "plugins.yaml (document 2) is not a valid WasmPlugin (2 problems):",
        '  spec.sha256: must be 64 lower-case hex digits (a SHA-256 digest); got "z"',
        '  spec.phase: must be one of UNSPECIFIED_PHASE, AUTHN, AUTHZ, STATS; got "LAST"',
      ].join("\n"));
    }
  });
});
