/**
 * Istio's `extensions.istio.io/v1alpha1` TrafficExtension (Istio 1.30 and later): the successor of
 * WasmPlugin, holding a `wasm` (or `lua`) body beside the placement fields (selector / targetRefs, phase,
 * priority, match). istiod turns every WasmPlugin into one internally; `pwas deploy --kind TrafficExtension`
 * renders the same plugin in this form. Field names and limits follow the CRD pinned in
 * generated/trafficextension-schema.ts; validate.ts checks a resource against it.
 */
import { stringify } from "yaml";
import {
  canonical, WASMPLUGIN_API_VERSION, type EnvVar, type FailStrategy, type ObjectMeta, type PluginType,
  type PolicyTargetReference, type PullPolicy, type Struct, type TrafficSelector, type WasmPlugin,
} from "./wasmplugin";

export const TRAFFICEXTENSION_KIND = "TrafficExtension";
/** The first Istio release that serves TrafficExtension. */
export const TRAFFICEXTENSION_SINCE = "1.30";

/** TrafficExtension spells the unset phase UNSPECIFIED (WasmPlugin: UNSPECIFIED_PHASE). */
export const TRAFFICEXTENSION_PHASES = ["UNSPECIFIED", "AUTHN", "AUTHZ", "STATS"] as const;
export type TrafficExtensionPhase = (typeof TRAFFICEXTENSION_PHASES)[number];

/** spec.wasm: the module and how it runs (the WasmPlugin fields minus placement). */
export interface WasmBody {
  url: string;
  sha256?: string;
  imagePullPolicy?: PullPolicy;
  imagePullSecret?: string;
  verificationKey?: string;
  pluginName?: string;
  pluginConfig?: Struct;
  failStrategy?: FailStrategy;
  type?: PluginType;
  vmConfig?: { env?: EnvVar[] };
}

export interface TrafficExtensionSpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRefs?: PolicyTargetReference[];
  phase?: TrafficExtensionPhase;
  priority?: number | null;
  match?: TrafficSelector[];
  wasm?: WasmBody;
  lua?: { inlineCode: string };
}

export interface TrafficExtension {
  apiVersion: typeof WASMPLUGIN_API_VERSION;
  kind: typeof TRAFFICEXTENSION_KIND;
  metadata: ObjectMeta;
  spec: TrafficExtensionSpec;
}

const SPEC_ORDER = ["selector", "targetRefs", "phase", "priority", "match", "wasm", "lua"];
const WASM_ORDER = ["url", "sha256", "imagePullPolicy", "imagePullSecret", "verificationKey", "pluginName", "failStrategy", "type", "vmConfig", "pluginConfig"];

function ordered(obj: Record<string, unknown>, order: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) if (obj[k] !== undefined) out[k] = obj[k];
  for (const k of Object.keys(obj).filter((k) => !order.includes(k)).sort()) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/**
 * The TrafficExtension carrying the same plugin as a WasmPlugin, field for field: placement at the top of
 * spec, the module fields under spec.wasm, phase UNSPECIFIED_PHASE spelt UNSPECIFIED. A WasmPlugin's
 * deprecated single targetRef becomes a one-entry targetRefs.
 */
export function trafficExtensionFrom(p: WasmPlugin): TrafficExtension {
  const s = p.spec;
  const wasm: WasmBody = {
    url: s.url, sha256: s.sha256, imagePullPolicy: s.imagePullPolicy, imagePullSecret: s.imagePullSecret,
    verificationKey: s.verificationKey, pluginName: s.pluginName, pluginConfig: s.pluginConfig,
    failStrategy: s.failStrategy, type: s.type, vmConfig: s.vmConfig,
  };
  const spec: TrafficExtensionSpec = {
    selector: s.selector,
    targetRefs: s.targetRefs ?? (s.targetRef ? [s.targetRef] : undefined),
    phase: s.phase === undefined ? undefined : s.phase === "UNSPECIFIED_PHASE" ? "UNSPECIFIED" : s.phase,
    priority: s.priority,
    match: s.match,
    wasm: Object.fromEntries(Object.entries(wasm).filter(([, v]) => v !== undefined)) as unknown as WasmBody,
  };
  return {
    apiVersion: WASMPLUGIN_API_VERSION,
    kind: TRAFFICEXTENSION_KIND,
    metadata: p.metadata,
    spec: Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as TrafficExtensionSpec,
  };
}

/**
 * The WasmPlugin istiod treats a TrafficExtension's wasm body as (same Envoy plugin name `<namespace>.<name>`,
 * same fields), for preview; undefined for a lua body, which is not a Wasm plugin.
 */
export function wasmPluginFromTrafficExtension(t: TrafficExtension): WasmPlugin | undefined {
  const s = t.spec;
  if (!s.wasm) return undefined;
  const spec: Record<string, unknown> = {
    selector: s.selector, targetRefs: s.targetRefs, ...s.wasm,
    phase: s.phase === undefined ? undefined : s.phase === "UNSPECIFIED" ? "UNSPECIFIED_PHASE" : s.phase,
    priority: s.priority ?? undefined, match: s.match,
  };
  for (const k of Object.keys(spec)) if (spec[k] === undefined) delete spec[k];
  return { apiVersion: WASMPLUGIN_API_VERSION, kind: "WasmPlugin", metadata: t.metadata, spec: spec as unknown as WasmPlugin["spec"] };
}

/** Deterministic YAML (apiVersion, kind, metadata, spec; fields in the API reference's order), as for WasmPlugin. */
export function renderTrafficExtensionYaml(t: TrafficExtension): string {
  // Metadata, selector, targetRefs, match and env are ordered exactly as a WasmPlugin's are.
  const asPlugin = canonical({ apiVersion: t.apiVersion, kind: "WasmPlugin", metadata: t.metadata, spec: { url: "", ...(t.spec as object) } } as WasmPlugin);
  const { url: _u, ...placed } = asPlugin.spec as Record<string, unknown>;
  const spec = ordered(placed, SPEC_ORDER);
  if (t.spec.wasm) {
    const wasm = canonical({ apiVersion: t.apiVersion, kind: "WasmPlugin", metadata: t.metadata, spec: t.spec.wasm } as WasmPlugin).spec as Record<string, unknown>;
    spec.wasm = ordered(wasm, WASM_ORDER);
  }
  const doc = { apiVersion: t.apiVersion, kind: t.kind, metadata: asPlugin.metadata, spec };
  return stringify(doc, { version: "1.1", lineWidth: 0, indentSeq: true });
}

/** Whether an Istio version (e.g. "1.29", "1.30.2") serves TrafficExtension. */
export function istioHasTrafficExtension(version: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const [sinceMajor, sinceMinor] = TRAFFICEXTENSION_SINCE.split(".").map(Number);
  return major > sinceMajor || (major === sinceMajor && minor >= sinceMinor);
}
