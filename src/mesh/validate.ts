/**
 * Validation of WasmPlugin resources, in three layers, each reported with the field path and a sentence:
 *   1. the resource envelope (apiVersion, kind, metadata.name/namespace as Kubernetes requires them);
 *   2. the CRD schema pinned in generated/wasmplugin-schema.ts, with its CEL rules implemented below
 *      (what the API server enforces on `kubectl apply`);
 *   3. rules Istio states in the WasmPlugin reference but the CRD does not encode (targetRefs kinds and groups,
 *      a url digest agreeing with sha256), which istiod would otherwise reject or ignore at runtime.
 */
import { PwasError } from "../errors";
import { TRAFFICEXTENSION_SCHEMA } from "./generated/trafficextension-schema";
import { WASMPLUGIN_SCHEMA } from "./generated/wasmplugin-schema";
import { checkSchema, type CelCheck, type Violation } from "./schema";
import { TRAFFICEXTENSION_KIND, type TrafficExtension } from "./trafficextension";
import { WASMPLUGIN_API_VERSION, WASMPLUGIN_KIND, type WasmPlugin } from "./wasmplugin";

export type { Violation } from "./schema";

/** The scheme as Go's url.Parse reads it (letters first, then letters, digits, + - .), lower-cased; "" when none. */
export function urlScheme(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  return m ? m[1].toLowerCase() : "";
}

const has = (o: unknown, key: string) => o !== null && typeof o === "object" && key in (o as object);

/**
 * The CEL rules of the pinned CRD, keyed by their exact text. A rule found in the schema but missing here
 * makes validation throw (and a unit test fail), so a regenerated schema cannot drop a check silently.
 */
export const CEL_RULES: Readonly<Record<string, CelCheck>> = {
  // selector.matchLabels values and keys
  '!self.contains("*")': (self) => !String(self).includes("*"),
  'self.all(key, !key.contains("*"))': (self) => Object.keys(self as object).every((k) => !k.includes("*")),
  "self.all(key, key.size() != 0)": (self) => Object.keys(self as object).every((k) => k.length !== 0),
  // targetRef(s)[].namespace
  "self.size() == 0": (self) => String(self).length === 0,
  // url: the scheme, when there is one, is one Istio fetches from (no scheme means oci://).
  'isURL(self) ? (url(self).getScheme() in ["", "http", "https", "oci", "file"]) : (isURL("http://" + self) &&\nurl("http://" + self).getScheme() in ["", "http", "https", "oci", "file"])':
    (self) => ["", "http", "https", "oci", "file"].includes(urlScheme(String(self))),
  // the same rule as TrafficExtension's wasm.url spells it
  'isURL(self) ? (url(self).getScheme() in ["", "http", "https", "file", "oci"]) : (isURL("http://" + self) &&\nurl("http://" + self).getScheme() in ["", "http", "https", "file", "oci"])':
    (self) => ["", "http", "https", "oci", "file"].includes(urlScheme(String(self))),
  // vmConfig.env[]
  '(has(self.valueFrom) ? self.valueFrom : "") != "HOST" || !has(self.value)': (self) =>
    (self as { valueFrom?: unknown }).valueFrom !== "HOST" || !has(self, "value"),
  // spec
  "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1": (self) =>
    ["selector", "targetRef", "targetRefs"].filter((k) => has(self, k)).length <= 1,
  // TrafficExtension spec
  "(has(self.selector) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1": (self) =>
    ["selector", "targetRefs"].filter((k) => has(self, k)).length <= 1,
  "has(self.wasm) != has(self.lua)": (self) => has(self, "wasm") !== has(self, "lua"),
};

/** The kinds targetRefs may name, with the groups each accepts (from the WasmPlugin API reference). */
export const TARGET_REF_KINDS: Readonly<Record<string, readonly string[]>> = {
  Gateway: ["gateway.networking.k8s.io"],
  GatewayClass: ["gateway.networking.k8s.io"],
  Service: ["", "core"],
  ServiceEntry: ["networking.istio.io"],
};

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function quoteHint(v: unknown): string {
  return typeof v === "number" || typeof v === "boolean" ? ` (quote the value: YAML reads it as a ${typeof v})` : "";
}

function envelope(value: unknown, kind: string): Violation[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return [{ path: "(root)", message: "must be a mapping with apiVersion, kind, metadata and spec" }];
  }
  const v = value as Record<string, unknown>;
  const out: Violation[] = [];
  if (v.apiVersion !== WASMPLUGIN_API_VERSION) out.push({ path: "apiVersion", message: `must be ${WASMPLUGIN_API_VERSION}, got ${JSON.stringify(v.apiVersion)}` });
  if (v.kind !== kind) out.push({ path: "kind", message: `must be ${kind}, got ${JSON.stringify(v.kind)}` });
  const meta = v.metadata as Record<string, unknown> | undefined;
  if (!meta || typeof meta !== "object") {
    out.push({ path: "metadata", message: "is required (with at least a name)" });
    return out;
  }
  if (meta.name === undefined || meta.name === "") out.push({ path: "metadata.name", message: "is required" });
  else if (typeof meta.name !== "string") out.push({ path: "metadata.name", message: `must be a string, got ${JSON.stringify(meta.name)}${quoteHint(meta.name)}` });
  else if (meta.name.length > 253 || !DNS1123_SUBDOMAIN.test(meta.name)) {
    out.push({ path: "metadata.name", message: `must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (at most 253); got ${JSON.stringify(meta.name)}` });
  }
  if (meta.namespace !== undefined && typeof meta.namespace !== "string") {
    out.push({ path: "metadata.namespace", message: `must be a string, got ${JSON.stringify(meta.namespace)}${quoteHint(meta.namespace)}` });
  } else if (meta.namespace !== undefined && (meta.namespace.length > 63 || !DNS1123_LABEL.test(meta.namespace))) {
    out.push({ path: "metadata.namespace", message: `must be a DNS label (lower-case letters, digits and '-', at most 63); got ${JSON.stringify(meta.namespace)}` });
  }
  for (const rec of ["labels", "annotations"] as const) {
    const m = meta[rec];
    if (m === undefined) continue;
    if (m === null || typeof m !== "object" || Array.isArray(m) || Object.values(m).some((x) => typeof x !== "string")) {
      out.push({ path: `metadata.${rec}`, message: "must be a mapping of strings to strings" });
    }
  }
  return out;
}

/** `module` is where url and sha256 live: the spec itself (WasmPlugin) or spec.wasm (TrafficExtension). */
function istioRules(spec: Record<string, unknown>, module: Record<string, unknown> | undefined, modulePath: string): Violation[] {
  const out: Violation[] = [];
  const refs = [
    ...(Array.isArray(spec.targetRefs) ? spec.targetRefs.map((r, i) => [r, `spec.targetRefs[${i}]`] as const) : []),
    ...(spec.targetRef ? [[spec.targetRef, "spec.targetRef"] as const] : []),
  ];
  for (const [ref, path] of refs) {
    const { kind, group } = (ref ?? {}) as { kind?: unknown; group?: unknown };
    if (typeof kind !== "string") continue; // the schema reports it
    const groups = TARGET_REF_KINDS[kind];
    if (!groups) {
      out.push({ path: `${path}.kind`, message: `must be one of ${Object.keys(TARGET_REF_KINDS).join(", ")}; got ${JSON.stringify(kind)}` });
      continue;
    }
    const g = typeof group === "string" ? group : "";
    if (!groups.includes(g)) {
      out.push({ path: `${path}.group`, message: `a ${kind} is in group ${groups.map((x) => JSON.stringify(x)).join(" or ")}; got ${JSON.stringify(g)}` });
    }
  }
  // "If the url field already references a SHA256 (using the @sha256: notation), it must match the value of this field."
  if (module && typeof module.url === "string" && typeof module.sha256 === "string" && module.sha256 !== "") {
    const m = /@sha256:([a-f0-9]{64})$/.exec(module.url);
    if (m && m[1] !== module.sha256) out.push({ path: `${modulePath}.sha256`, message: `must match the digest in url (${m[1]}); got ${module.sha256}` });
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The layers a problem comes from: what the API server enforces (envelope, schema, CEL) or Istio's own rules on top. */
export interface LayeredViolations {
  /** What `kubectl apply` against the pinned CRD refuses. */
  server: Violation[];
  /** What Istio's reference states and istiod (or istioctl validate) enforces beyond the CRD. */
  istio: Violation[];
}

function layered(value: unknown, kind: string, schema: typeof WASMPLUGIN_SCHEMA, module: (spec: Record<string, unknown>) => [Record<string, unknown> | undefined, string]): LayeredViolations {
  const server = envelope(value, kind);
  if (server.some((v) => v.path === "(root)")) return { server, istio: [] };
  const v = value as Record<string, unknown>;
  // The schema describes the whole object; apiVersion, kind and metadata were checked above.
  const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = v;
  server.push(...checkSchema(schema, rest, CEL_RULES));
  const istio = isRecord(v.spec) ? istioRules(v.spec, ...module(v.spec)) : [];
  return { server, istio };
}

/** A WasmPlugin's problems by layer. */
export function validateWasmPluginLayers(value: unknown): LayeredViolations {
  return layered(value, WASMPLUGIN_KIND, WASMPLUGIN_SCHEMA, (spec) => [spec, "spec"]);
}

/** A TrafficExtension's problems by layer (url and sha256 live in spec.wasm). */
export function validateTrafficExtensionLayers(value: unknown): LayeredViolations {
  return layered(value, TRAFFICEXTENSION_KIND, TRAFFICEXTENSION_SCHEMA, (spec) => [isRecord(spec.wasm) ? spec.wasm : undefined, "spec.wasm"]);
}

/** Every problem with a would-be WasmPlugin (empty when it is valid). */
export function validateWasmPlugin(value: unknown): Violation[] {
  const { server, istio } = validateWasmPluginLayers(value);
  return [...server, ...istio];
}

/** Every problem with a would-be TrafficExtension (empty when it is valid). */
export function validateTrafficExtension(value: unknown): Violation[] {
  const { server, istio } = validateTrafficExtensionLayers(value);
  return [...server, ...istio];
}

/** Formats violations as one message: "<source>: <n> problem(s)" then one line per problem. */
export function formatViolations(source: string, violations: Violation[], kind: string = WASMPLUGIN_KIND): string {
  const n = violations.length;
  return [`${source} is not a valid ${kind} (${n} problem${n === 1 ? "" : "s"}):`, ...violations.map((v) => `  ${v.path}: ${v.message}`)].join("\n");
}

/** The value as a TrafficExtension, or an E_VALIDATION error listing every problem. */
export function assertTrafficExtension(value: unknown, source: string): TrafficExtension {
  const violations = validateTrafficExtension(value);
  if (violations.length > 0) throw new PwasError("E_VALIDATION", formatViolations(source, violations, TRAFFICEXTENSION_KIND));
  return value as TrafficExtension;
}

/** The value as a WasmPlugin, or an E_VALIDATION error listing every problem. */
export function assertWasmPlugin(value: unknown, source: string): WasmPlugin {
  const violations = validateWasmPlugin(value);
  if (violations.length > 0) throw new PwasError("E_VALIDATION", formatViolations(source, violations));
  return value as WasmPlugin;
}
