/**
 * The manifests of the validator differential (e2e/controlplane.test.ts): valid ones, and invalid ones in
 * each way the pinned CRDs' schemas and CEL rules forbid, plus the rules Istio states beyond the CRD. Each
 * row says what the API server is expected to answer; the test checks that `pwas deploy`'s validator
 * (src/mesh/validate.ts) gives the same verdict as the real API server, row by row.
 */

/** "valid": the API server stores it; "invalid": it refuses it; "istio": it stores it, but Istio's rules (ours, istioctl's) refuse it. */
export type Expected = "valid" | "invalid" | "istio";

export interface Row {
  name: string;
  kind: "WasmPlugin" | "TrafficExtension";
  expect: Expected;
  doc: Record<string, unknown>;
  /** For "istio" rows: what `istioctl validate` answers (it does not check every rule Istio's reference states). */
  istioctl?: "ok" | "refused";
}

const SHA = "a".repeat(64);
const meta = { name: "t", namespace: "diff" };

function wp(spec: Record<string, unknown>, metadata: Record<string, unknown> = meta): Record<string, unknown> {
  return { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata, spec };
}

function te(spec: Record<string, unknown>, metadata: Record<string, unknown> = meta): Record<string, unknown> {
  return { apiVersion: "extensions.istio.io/v1alpha1", kind: "TrafficExtension", metadata, spec };
}

const url = "oci://registry.test/filters/fault:1.0.0";
const gateway = { group: "gateway.networking.k8s.io", kind: "Gateway", name: "ingress" };

const W = (name: string, expect: Expected, doc: Record<string, unknown>): Row => ({ name, kind: "WasmPlugin", expect, doc });
const T = (name: string, expect: Expected, doc: Record<string, unknown>): Row => ({ name, kind: "TrafficExtension", expect, doc });

export const ROWS: Row[] = [
  W("minimal: a url only", "valid", wp({ url })),
  W("every field set", "valid", wp({
    selector: { matchLabels: { app: "reviews", version: "v2" } }, url, sha256: SHA, imagePullPolicy: "Always",
    imagePullSecret: "pull-secret", pluginName: "fault", phase: "AUTHN", priority: 10, failStrategy: "FAIL_RELOAD", type: "HTTP",
    vmConfig: { env: [{ name: "MODE", value: "strict" }, { name: "POD_NAME", valueFrom: "HOST" }] },
    match: [{ mode: "SERVER", ports: [{ number: 8080 }, { number: 9090 }] }],
    pluginConfig: { abort: { http_status: 503, percentage: { numerator: 5 } }, list: [1, "two", { three: true }] },
  })),
  W("targetRefs to a Gateway and a Service", "valid", wp({ targetRefs: [gateway, { group: "", kind: "Service", name: "reviews" }], url })),
  W("url without a scheme (oci:// is implied)", "valid", wp({ url: "registry.test/filters/fault:1.0.0" })),
  W("https url with the module's sha256", "valid", wp({ url: "https://filters.test/fault.wasm", sha256: SHA })),
  W("NETWORK plugin", "valid", wp({ url, type: "NETWORK", phase: "STATS", priority: -5 })),
  W("url missing", "invalid", wp({ pluginName: "x" })),
  W("spec missing", "invalid", { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: meta }),
  W("url scheme ftp", "invalid", wp({ url: "ftp://registry.test/f.wasm" })),
  W("url empty", "invalid", wp({ url: "" })),
  W("sha256 not 64 hex digits", "invalid", wp({ url, sha256: "12345" })),
  W("sha256 upper-case hex", "invalid", wp({ url, sha256: "A".repeat(64) })),
  W("phase misspelt", "invalid", wp({ url, phase: "AUTH" })),
  W("failStrategy unknown", "invalid", wp({ url, failStrategy: "FAIL_SOMETIMES" })),
  W("imagePullPolicy Never", "invalid", wp({ url, imagePullPolicy: "Never" })),
  W("type TCP", "invalid", wp({ url, type: "TCP" })),
  W("priority is a string", "invalid", wp({ url, priority: "high" })),
  W("priority beyond int32", "invalid", wp({ url, priority: 2147483648 })),
  W("selector and targetRefs together", "invalid", wp({ selector: { matchLabels: { app: "a" } }, targetRefs: [gateway], url })),
  W("selector and the deprecated targetRef together", "invalid", wp({ selector: { matchLabels: { app: "a" } }, targetRef: gateway, url })),
  W("wildcard in a label value", "invalid", wp({ selector: { matchLabels: { app: "rev*" } }, url })),
  W("wildcard in a label key", "invalid", wp({ selector: { matchLabels: { "app*": "reviews" } }, url })),
  W("label value over 63 characters", "invalid", wp({ selector: { matchLabels: { app: "x".repeat(64) } }, url })),
  W("17 targetRefs", "invalid", wp({ targetRefs: Array.from({ length: 17 }, (_, i) => ({ ...gateway, name: `g${i}` })), url })),
  W("targetRef in another namespace", "invalid", wp({ targetRefs: [{ ...gateway, namespace: "other" }], url })),
  W("targetRef kind not a kind name", "invalid", wp({ targetRefs: [{ ...gateway, kind: "1Gateway" }], url })),
  W("targetRef group not a DNS subdomain", "invalid", wp({ targetRefs: [{ ...gateway, group: "Gateway_API" }], url })),
  W("targetRef without a name", "invalid", wp({ targetRefs: [{ group: gateway.group, kind: "Gateway" }], url })),
  W("env value with valueFrom HOST", "invalid", wp({ url, vmConfig: { env: [{ name: "A", value: "x", valueFrom: "HOST" }] } })),
  W("env names repeated", "invalid", wp({ url, vmConfig: { env: [{ name: "A", value: "1" }, { name: "A", value: "2" }] } })),
  W("env name empty", "invalid", wp({ url, vmConfig: { env: [{ name: "", value: "1" }] } })),
  W("env valueFrom unknown", "invalid", wp({ url, vmConfig: { env: [{ name: "A", valueFrom: "FILE" }] } })),
  W("257 env entries", "invalid", wp({ url, vmConfig: { env: Array.from({ length: 257 }, (_, i) => ({ name: `E${i}`, value: "v" })) } })),
  W("port 0", "invalid", wp({ url, match: [{ ports: [{ number: 0 }] }] })),
  W("port 65536", "invalid", wp({ url, match: [{ ports: [{ number: 65536 }] }] })),
  W("ports repeated", "invalid", wp({ url, match: [{ ports: [{ number: 80 }, { number: 80 }] }] })),
  W("match mode unknown", "invalid", wp({ url, match: [{ mode: "BOTH" }] })),
  W("unknown field (misspelt failStrategy)", "invalid", wp({ url, failstrategy: "FAIL_OPEN" })),
  W("pluginName empty", "invalid", wp({ url, pluginName: "" })),
  W("imagePullSecret over 253 characters", "invalid", wp({ url, imagePullSecret: "s".repeat(254) })),
  W("pluginConfig a list", "invalid", wp({ url, pluginConfig: [1, 2] })),
  W("metadata.name with capitals and _", "invalid", wp({ url }, { name: "Bad_Name", namespace: "diff" })),
  { ...W("targetRef kind Istio does not attach to (Deployment)", "istio", wp({ targetRefs: [{ group: "apps", kind: "Deployment", name: "reviews" }], url })), istioctl: "refused" },
  // The API reference says the two must match; istioctl does not check it (istio-agent fails the fetch instead).
  { ...W("sha256 disagreeing with the url's digest", "istio", wp({ url: `oci://registry.test/f@sha256:${"b".repeat(64)}`, sha256: SHA })), istioctl: "ok" },
  T("wasm body", "valid", te({ selector: { matchLabels: { app: "reviews" } }, phase: "AUTHZ", priority: 5, wasm: { url, sha256: SHA, failStrategy: "FAIL_OPEN", pluginConfig: { a: 1 } } })),
  T("lua body", "valid", te({ lua: { inlineCode: "function envoy_on_request(h) end" } })),
  T("phase UNSPECIFIED, match and targetRefs", "valid", te({ targetRefs: [gateway], phase: "UNSPECIFIED", match: [{ mode: "CLIENT", ports: [{ number: 80 }] }], wasm: { url } })),
  T("wasm and lua together", "invalid", te({ wasm: { url }, lua: { inlineCode: "x" } })),
  T("neither wasm nor lua", "invalid", te({ phase: "AUTHN" })),
  T("wasm without url", "invalid", te({ wasm: { pluginName: "x" } })),
  T("phase spelt as WasmPlugin's UNSPECIFIED_PHASE", "invalid", te({ phase: "UNSPECIFIED_PHASE", wasm: { url } })),
  T("selector and targetRefs together", "invalid", te({ selector: { matchLabels: { app: "a" } }, targetRefs: [gateway], wasm: { url } })),
  T("lua inlineCode empty", "invalid", te({ lua: { inlineCode: "" } })),
  T("wasm url scheme ftp", "invalid", te({ wasm: { url: "ftp://x/y.wasm" } })),
  T("url at the top of spec (WasmPlugin's place)", "invalid", te({ url, wasm: { url } })),
  T("the deprecated targetRef (TrafficExtension has none)", "invalid", te({ targetRef: gateway, wasm: { url } })),
];
