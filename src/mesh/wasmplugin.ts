/**
 * Istio's `extensions.istio.io/v1alpha1` WasmPlugin: a typed model, YAML reading, deterministic YAML rendering.
 * Field names, enum values and limits follow the CRD pinned in generated/wasmplugin-schema.ts; validate.ts
 * checks a resource against it.
 */
import { parseAllDocuments, stringify } from "yaml";
import { PwasError } from "../errors";

export const WASMPLUGIN_API_VERSION = "extensions.istio.io/v1alpha1";
export const WASMPLUGIN_KIND = "WasmPlugin";

// Enum values as the CRD spells them (a unit test checks them against the generated schema).
export const PLUGIN_PHASES = ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"] as const;
export const FAIL_STRATEGIES = ["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"] as const;
export const PULL_POLICIES = ["UNSPECIFIED_POLICY", "IfNotPresent", "Always"] as const;
export const PLUGIN_TYPES = ["UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"] as const;
export const WORKLOAD_MODES = ["UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"] as const;
export const ENV_VALUE_SOURCES = ["INLINE", "HOST"] as const;

/** Where in the chain a plugin goes: before Istio's authn, authz or stats filters, or (unspecified) just before the router. */
export type PluginPhase = (typeof PLUGIN_PHASES)[number];
/** FAIL_CLOSE (default): 5xx once the plugin fails fatally; FAIL_OPEN: bypass it; FAIL_RELOAD: a new VM for the next request. */
export type FailStrategy = (typeof FAIL_STRATEGIES)[number];
export type PullPolicy = (typeof PULL_POLICIES)[number];
export type PluginType = (typeof PLUGIN_TYPES)[number];
export type WorkloadMode = (typeof WORKLOAD_MODES)[number];
export type EnvValueSource = (typeof ENV_VALUE_SOURCES)[number];

/** A JSON value, as a protobuf Struct holds it (pluginConfig). */
export type StructValue = string | number | boolean | null | StructValue[] | { [key: string]: StructValue };
export type Struct = { [key: string]: StructValue };

/** targetRefs entries: Gateway / GatewayClass (gateway.networking.k8s.io), Service ("" or core), ServiceEntry (networking.istio.io). */
export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  /** Must be empty: cross-namespace references are not supported. */
  namespace?: string;
}

export interface EnvVar {
  /** A C identifier; unique within the list. */
  name: string;
  /** Only with valueFrom INLINE (the default). */
  value?: string;
  /** INLINE (default): `value` is the value; HOST: the proxy's own environment variable of that name. */
  valueFrom?: EnvValueSource;
}

export interface TrafficSelector {
  mode?: WorkloadMode;
  ports?: { number: number }[];
}

export interface WasmPluginSpec {
  /** Workloads by labels; at most one of selector / targetRef / targetRefs. */
  selector?: { matchLabels?: Record<string, string> };
  /** Deprecated single form of targetRefs. */
  targetRef?: PolicyTargetReference;
  /** At most 16. */
  targetRefs?: PolicyTargetReference[];
  /** Required. oci:// (the default when no scheme), file://, http:// or https://. */
  url: string;
  /** 64 lower-case hex digits. For oci:// it is the image manifest digest; for http(s) and file the module's. */
  sha256?: string;
  imagePullPolicy?: PullPolicy;
  /** Name of a docker-registry Secret in the plugin's namespace. */
  imagePullSecret?: string;
  /** Becomes the Envoy plugin's root_id. */
  pluginName?: string;
  /** Reaches the plugin as a JSON string (proxy_on_configure). */
  pluginConfig?: Struct;
  phase?: PluginPhase;
  /** Higher runs first within a phase. */
  priority?: number;
  failStrategy?: FailStrategy;
  type?: PluginType;
  vmConfig?: { env?: EnvVar[] };
  match?: TrafficSelector[];
  verificationKey?: string;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** RFC 3339; orders plugins of equal phase and priority (older first), as istiod does. */
  creationTimestamp?: string;
  resourceVersion?: string;
}

export interface WasmPlugin {
  apiVersion: typeof WASMPLUGIN_API_VERSION;
  kind: typeof WASMPLUGIN_KIND;
  metadata: ObjectMeta;
  spec: WasmPluginSpec;
}

/** Where a resource came from, for messages ("plugins.yaml (document 2)"). */
export interface Sourced<T> {
  resource: T;
  source: string;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

/** The order fields are written in: metadata and spec follow the order of the API reference. */
const METADATA_ORDER = ["name", "namespace", "labels", "annotations", "creationTimestamp", "resourceVersion"];
const SPEC_ORDER = [
  "selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret", "verificationKey",
  "pluginName", "phase", "priority", "failStrategy", "type", "vmConfig", "match", "pluginConfig",
];

const TARGET_REF_ORDER = ["group", "kind", "name", "namespace"];

function ordered(obj: Record<string, unknown>, order: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) if (obj[k] !== undefined) out[k] = obj[k];
  // Anything not in the list (a field from a newer Istio) keeps its place after the known ones, sorted.
  for (const k of Object.keys(obj).filter((k) => !order.includes(k)).sort()) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

function sortedKeys<T>(rec: Record<string, T> | undefined): Record<string, T> | undefined {
  if (!rec) return undefined;
  return Object.fromEntries(Object.keys(rec).sort().map((k) => [k, rec[k]]));
}

/** The resource with keys in canonical order: apiVersion, kind, metadata, spec; label/annotation maps sorted. */
export function canonical(p: WasmPlugin): Record<string, unknown> {
  const meta = ordered({ ...p.metadata, labels: sortedKeys(p.metadata.labels), annotations: sortedKeys(p.metadata.annotations) }, METADATA_ORDER);
  const spec = { ...p.spec } as Record<string, unknown>;
  const each = <T extends object>(list: T[] | undefined, order: string[]) => list?.map((x) => ordered(x as Record<string, unknown>, order));
  if (p.spec.selector) spec.selector = ordered({ ...p.spec.selector, matchLabels: sortedKeys(p.spec.selector.matchLabels) }, ["matchLabels"]);
  if (p.spec.targetRef) spec.targetRef = ordered({ ...p.spec.targetRef }, TARGET_REF_ORDER);
  spec.targetRefs = each(p.spec.targetRefs, TARGET_REF_ORDER);
  if (p.spec.vmConfig) spec.vmConfig = ordered({ ...p.spec.vmConfig, env: each(p.spec.vmConfig.env, ["name", "value", "valueFrom"]) }, ["env"]);
  spec.match = p.spec.match?.map((m) => ordered({ ...m, ports: each(m.ports, ["number"]) }, ["mode", "ports"]));
  // pluginConfig keeps the user's key order: it is their document, and the same input renders the same way.
  return { apiVersion: p.apiVersion, kind: p.kind, metadata: meta, spec: ordered(spec, SPEC_ORDER) };
}

/**
 * YAML for one or more resources (joined with `---`), byte-for-byte the same for the same input. Written as
 * YAML 1.1 so that strings such as "yes", "on" or "y" are quoted: kubectl reads YAML 1.1 and would take them
 * for booleans.
 */
export function renderWasmPluginYaml(plugins: WasmPlugin | WasmPlugin[]): string {
  const list = Array.isArray(plugins) ? plugins : [plugins];
  return list.map((p) => stringify(canonical(p), { version: "1.1", lineWidth: 0, indentSeq: true })).join("---\n");
}

// ---------------------------------------------------------------------------------------------------------
// Reading

/**
 * Reads every document of a YAML file. Documents must be WasmPlugins (empty documents are skipped); what a
 * document holds is not checked here: pass each to `validateWasmPlugin`.
 */
export function parseWasmPluginYaml(text: string, source: string): Sourced<unknown>[] {
  const docs = parseAllDocuments(text, { version: "1.1", prettyErrors: true });
  const out: Sourced<unknown>[] = [];
  const many = Array.isArray(docs) && docs.length > 1;
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    const where = many ? `${source} (document ${i + 1})` : source;
    if (doc.errors.length > 0) throw new PwasError("E_VALIDATION", `${where}: not valid YAML: ${doc.errors[0].message}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    const kind = (value as { kind?: unknown }).kind;
    if (kind !== WASMPLUGIN_KIND && kind !== "TrafficExtension") {
      throw new PwasError("E_VALIDATION", `${where}: kind is ${JSON.stringify(kind)}; only ${WASMPLUGIN_KIND} and TrafficExtension resources (${WASMPLUGIN_API_VERSION}) are read here`);
    }
    out.push({ resource: value, source: where });
  }
  if (out.length === 0) throw new PwasError("E_VALIDATION", `${source}: no ${WASMPLUGIN_KIND} resource in the file`);
  return out;
}

/** `<namespace>.<name>`: the Envoy plugin name istiod gives a WasmPlugin ("default" when no namespace is set). */
export function resourceName(p: WasmPlugin): string {
  return `${p.metadata.namespace ?? "default"}.${p.metadata.name}`;
}

/** The url with istiod's default scheme applied: no scheme means oci://. */
export function normalizedUrl(url: string): string {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url) ? url : `oci://${url}`;
}

/** Plain Struct from JSON text, for pluginConfig: an object at the top, as a protobuf Struct must be. */
export function structFromJson(text: string, what: string): Struct {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new PwasError("E_CONFIG", `${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new PwasError("E_CONFIG", `${what} must be a JSON object: pluginConfig is a protobuf Struct (got ${Array.isArray(value) ? "an array" : typeof value})`);
  }
  return value as Struct;
}

/**
 * The pull policy istio-agent applies to an oci:// url when imagePullPolicy is unset: Always for a `:latest`
 * tag, IfNotPresent otherwise (http(s) urls are always fetched unless a sha256 finds a cached copy).
 */
export function urlPullPolicy(url: string): Exclude<PullPolicy, "UNSPECIFIED_POLICY"> {
  return normalizedUrl(url).endsWith(":latest") ? "Always" : "IfNotPresent";
}

/**
 * Annotation `pwas deploy` writes with the module's own sha256. For oci:// urls spec.sha256 is the image
 * manifest digest, so this is the only record of which module the resource was rendered for; `pwas preview`
 * checks the fetched module against it.
 */
export const MODULE_SHA256_ANNOTATION = "proxy-wasm-as/module-sha256";
