/**
 * WasmPlugins → Envoy filter configuration, the way istiod builds it and istio-agent rewrites it, as a pure
 * function (no I/O: module files are resolved beforehand and passed in).
 *
 * What istiod does (checked against a real sidecar's config_dump, e2e/preview-istio.test.ts), and this mirrors:
 * - istiod serves every plugin as a TrafficExtension: a WasmPlugin becomes a synthetic one named
 *   `<name>~istio-translated-wasmplugin` (a name no real object can have), so its Envoy plugin is named
 *   `<namespace>.<name>~istio-translated-wasmplugin` and a TrafficExtension's `<namespace>.<name>`, both served
 *   over ECDS as `extensions.istio.io/trafficextension/<that name>`;
 * - root_id is `pluginName`; runtime is V8; vm_id is left empty;
 * - `pluginConfig` reaches the plugin as a `google.protobuf.StringValue` holding its JSON (keys sorted, compact,
 *   as Go's jsonpb writes a Struct, without the null fields of objects, which the stored resource no longer
 *   has); no pluginConfig (or one with no field left) means no configuration at all;
 * - `vmConfig.env`: INLINE entries become `environment_variables.key_values`, HOST entries `host_env_keys`;
 *   istiod adds its own `ISTIO_META_WASM_*` entries for the agent (the resource version, the pull policy), which
 *   the agent removes when it fetches a remote module; a `file://` module is not fetched, so they reach the VM;
 * - `failStrategy` FAIL_CLOSE / FAIL_OPEN / FAIL_RELOAD → `failure_policy` FAIL_CLOSED / FAIL_OPEN / FAIL_RELOAD;
 * - order: by phase (AUTHN, then AUTHZ, then STATS, then unspecified just before the router); within a phase by
 *   priority, higher first, an unset priority read as the lowest int32; ties keep istiod's listing order:
 *   plugins of the proxy's own namespace first, then the root namespace's, each group by creationTimestamp,
 *   then the synthetic name above (so `a-b~…` sorts before `a~…`), then namespace.
 * What istio-agent does, and this mirrors: the module is fetched (oci/http) and the source becomes a local file.
 * Which plugins a proxy gets (selector, targetRefs, match) is applied only when `workload` names the sidecar
 * listener; without it every plugin applies to the one listener.
 */
import type { FailurePolicy, HttpFilter, WasmPlugin as EnvoyPlugin } from "../envoy/bootstrap";
import { PwasError } from "../errors";
import { wasmFilter } from "../envoy/bootstrap";
import {
  normalizedUrl, resourceName, type FailStrategy, type PluginPhase, type StructValue, type TrafficSelector, type WasmPlugin,
} from "./wasmplugin";

/** Phases in chain order. */
export const PHASE_ORDER: readonly PluginPhase[] = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"];

/** failStrategy (Istio) → failure_policy (Envoy). */
export const FAILURE_POLICIES: Readonly<Record<FailStrategy, FailurePolicy>> = {
  FAIL_CLOSE: "FAIL_CLOSED",
  FAIL_OPEN: "FAIL_OPEN",
  FAIL_RELOAD: "FAIL_RELOAD",
};

export const ECDS_RESOURCE_PREFIX = "extensions.istio.io/trafficextension/";
/** What istiod appends to a WasmPlugin's name when it serves it as a TrafficExtension. */
export const TRANSLATED_WASMPLUGIN_MARKER = "~istio-translated-wasmplugin";
/** istiod's own VM environment entries, read by istio-agent (pilot/pkg/model WasmResourceVersionEnv, WasmPolicyEnv). */
export const WASM_RESOURCE_VERSION_ENV = "ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION";
export const WASM_PULL_POLICY_ENV = "ISTIO_META_WASM_IMAGE_PULL_POLICY";
export const DEFAULT_ROOT_NAMESPACE = "istio-system";

export interface TranslateOptions {
  /**
   * The local module file of each plugin (what istio-agent writes after fetching), by the name istiod serves it
   * under (`servedPluginName`) or by `<namespace>.<name>` (which a WasmPlugin and a TrafficExtension of one
   * name share). A file:// plugin without an entry uses its url's path, as istiod does.
   */
  modules?: Readonly<Record<string, string>>;
  /** Istio's root namespace (meshConfig.rootNamespace): its plugins are listed after the proxy's own. Default istio-system. */
  rootNamespace?: string;
  /**
   * The plugins that were TrafficExtensions (named without the WasmPlugin marker): the objects themselves, or
   * their `<namespace>.<name>` (which cannot tell a TrafficExtension from a WasmPlugin of the same name).
   */
  trafficExtensions?: ReadonlySet<WasmPlugin | string>;
  /**
   * The sidecar listener the translation is for. When given, only what istiod attaches to it is kept: plugins
   * of its namespace or the root namespace, without targetRefs (a sidecar takes selector-scoped policy only),
   * whose selector matches its labels and whose match selects its mode and port.
   */
  workload?: SidecarListener;
}

/** A sidecar's listener as istiod's plugin matching sees it. */
export interface SidecarListener {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** SERVER for the inbound listener, CLIENT for an outbound one. */
  mode: "SERVER" | "CLIENT";
  port: number;
}

/** One WasmPlugin as it lands in Envoy. */
export interface TranslatedPlugin {
  /** `<namespace>.<name>` of the resource. */
  resourceName: string;
  /** The name istiod serves the filter config under (ECDS). */
  ecdsResourceName: string;
  phase: PluginPhase;
  priority?: number;
  type: "HTTP" | "NETWORK";
  /** The url with the default scheme applied. */
  url: string;
  match?: TrafficSelector[];
  /** The PluginConfig, in the toolkit's bootstrap model. */
  envoy: EnvoyPlugin;
  source: WasmPlugin;
}

export interface Translation {
  /** HTTP plugins in chain order. */
  http: TranslatedPlugin[];
  /** NETWORK plugins in chain order (network filters before the HTTP connection manager). */
  network: TranslatedPlugin[];
}

/**
 * The Struct as the JSON string the plugin receives: keys sorted at every level, no spaces, and a null field of
 * an object left out (istiod's Struct never carries it to Envoy; a null in a list stays).
 */
export function pluginConfigJson(value: StructValue): string {
  const sort = (v: StructValue): StructValue => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().filter((k) => v[k] !== null).map((k) => [k, sort(v[k])]));
    return v;
  };
  return JSON.stringify(sort(value));
}

/** The local path a file:// url names (istiod strips the scheme and passes the rest to Envoy as is). */
export function fileUrlPath(url: string): string {
  return url.replace(/^file:\/\//, "");
}

/** The name istiod gives the plugin: a WasmPlugin is served as the synthetic TrafficExtension `<name>~istio-translated-wasmplugin`. */
function servedName(p: WasmPlugin, trafficExtensions: ReadonlySet<WasmPlugin | string> | undefined): string {
  const te = trafficExtensions?.has(p) || trafficExtensions?.has(resourceName(p));
  return te ? p.metadata.name : p.metadata.name + TRANSLATED_WASMPLUGIN_MARKER;
}

/**
 * `<namespace>.<served name>`: the Envoy plugin's name and istiod's key for it, unique even when a WasmPlugin
 * and a TrafficExtension share a name (istiod keeps both; only two resources of one kind cannot).
 */
export function servedPluginName(p: WasmPlugin, trafficExtensions?: ReadonlySet<WasmPlugin | string>): string {
  return `${p.metadata.namespace ?? "default"}.${servedName(p, trafficExtensions)}`;
}

function toEnvoy(p: WasmPlugin, wasmFile: string, name: string, url: string): EnvoyPlugin {
  const spec = p.spec;
  const env: Record<string, string> = {};
  const hostEnvKeys: string[] = [];
  // istiod's entries for the agent; the agent strips them from a remote module's VM only (it never sees a file:// one).
  if (url.startsWith("file://")) {
    if (spec.imagePullPolicy && spec.imagePullPolicy !== "UNSPECIFIED_POLICY") env[WASM_PULL_POLICY_ENV] = spec.imagePullPolicy;
    env[WASM_RESOURCE_VERSION_ENV] = p.metadata.resourceVersion ?? "";
  }
  for (const e of spec.vmConfig?.env ?? []) {
    if (e.valueFrom === "HOST") hostEnvKeys.push(e.name);
    else env[e.name] = e.value ?? "";
  }
  // A pluginConfig with no field left (none, {}, or only nulls) is istiod's empty Any: no bytes for the plugin.
  const hasConfig = spec.pluginConfig !== undefined && Object.values(spec.pluginConfig).some((v) => v !== null);
  return {
    name,
    rootId: spec.pluginName ?? "",
    wasmFile,
    ...(hasConfig ? { configuration: pluginConfigJson(spec.pluginConfig!) } : {}),
    ...(Object.keys(env).length > 0 ? { env } : {}),
    ...(hostEnvKeys.length > 0 ? { hostEnvKeys } : {}),
    failurePolicy: FAILURE_POLICIES[spec.failStrategy ?? "FAIL_CLOSE"],
  };
}

/** Whether istiod attaches the plugin to the sidecar listener (model.WorkloadPolicyMatcher and TrafficSelector matching). */
export function attachesTo(p: WasmPlugin, l: SidecarListener, rootNamespace = DEFAULT_ROOT_NAMESPACE): boolean {
  const ns = p.metadata.namespace ?? "default";
  if (ns !== l.namespace && ns !== rootNamespace) return false;
  if ((p.spec.targetRefs?.length ?? 0) > 0 || p.spec.targetRef) return false;
  const wanted = p.spec.selector?.matchLabels ?? {};
  if (!Object.entries(wanted).every(([k, v]) => l.labels[k] === v)) return false;
  const match = p.spec.match ?? [];
  if (match.length === 0) return true;
  return match.some((m) => {
    const mode = m.mode ?? "UNDEFINED";
    const modeOk = mode === "UNDEFINED" || mode === "CLIENT_AND_SERVER" || mode === l.mode;
    const ports = m.ports ?? [];
    return modeOk && (ports.length === 0 || ports.some((x) => x.number !== 0 && x.number === l.port));
  });
}

/**
 * istiod's listing order before the priority sort: every resource by creationTimestamp, then served name, then
 * namespace; then grouped by namespace, the proxy's own (any namespace but the root) before the root's.
 */
function listingOrder(plugins: WasmPlugin[], rootNamespace: string, trafficExtensions: ReadonlySet<WasmPlugin | string> | undefined): WasmPlugin[] {
  const created = (p: WasmPlugin) => (p.metadata.creationTimestamp ? Date.parse(p.metadata.creationTimestamp) : 0);
  const byCreation = [...plugins].sort((a, b) =>
    created(a) - created(b)
    || compare(servedName(a, trafficExtensions), servedName(b, trafficExtensions))
    || compare(a.metadata.namespace ?? "default", b.metadata.namespace ?? "default"));
  const inRoot = (p: WasmPlugin) => (p.metadata.namespace ?? "default") === rootNamespace;
  return [...byCreation.filter((p) => !inRoot(p)), ...byCreation.filter(inRoot)];
}

/**
 * Higher first. istiod reads a missing priority as the lowest int32, so an unset one runs after every set one
 * but ties with -2147483648 (the listing order decides).
 */
function byPriority(a: number | undefined, b: number | undefined): number {
  return (b ?? LOWEST_PRIORITY) - (a ?? LOWEST_PRIORITY);
}

const LOWEST_PRIORITY = -2147483648;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Translates validated WasmPlugins into Envoy plugin configs in chain order. */
export function translateWasmPlugins(plugins: WasmPlugin[], opts: TranslateOptions = {}): Translation {
  const seen = new Set<string>();
  for (const p of plugins) {
    const served = servedPluginName(p, opts.trafficExtensions);
    if (seen.has(served)) {
      const kind = served.endsWith(TRANSLATED_WASMPLUGIN_MARKER) ? "WasmPlugins" : "TrafficExtensions";
      throw new PwasError("E_VALIDATION", `two ${kind} are named ${resourceName(p)} (namespace.name): a namespace holds one resource of a kind per name, so Istio would keep only one; rename one of them`);
    }
    seen.add(served);
  }
  const root = opts.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const attached = opts.workload ? plugins.filter((p) => attachesTo(p, opts.workload!, root)) : plugins;
  const listed = listingOrder(attached, root, opts.trafficExtensions);
  const translated = listed.map((p): TranslatedPlugin => {
    const name = resourceName(p);
    const served = servedPluginName(p, opts.trafficExtensions);
    const url = normalizedUrl(p.spec.url);
    const local = opts.modules?.[served] ?? opts.modules?.[name] ?? (url.startsWith("file://") ? fileUrlPath(url) : undefined);
    if (local === undefined) throw new Error(`${name}: no local module for ${url}; fetch it first and pass it in modules`);
    return {
      resourceName: name,
      ecdsResourceName: ECDS_RESOURCE_PREFIX + served,
      phase: p.spec.phase ?? "UNSPECIFIED_PHASE",
      priority: p.spec.priority,
      type: p.spec.type === "NETWORK" ? "NETWORK" : "HTTP",
      url,
      match: p.spec.match,
      envoy: toEnvoy(p, local, served, url),
      source: p,
    };
  });
  const rank = (t: TranslatedPlugin) => PHASE_ORDER.indexOf(t.phase);
  // Array.prototype.sort is stable: equal phase and priority keep the listing order.
  const chain = translated.sort((a, b) => rank(a) - rank(b) || byPriority(a.priority, b.priority));
  return { http: chain.filter((t) => t.type === "HTTP"), network: chain.filter((t) => t.type === "NETWORK") };
}

/**
 * The HTTP filter chain (without the router, which the bootstrap renderer appends): the plugins of each phase,
 * each phase followed by the filters Istio itself would put there (its authn, authz and stats filters), given
 * as `istioFilters` by phase, e.g. a native jwt_authn standing in for Istio's authn.
 */
export function httpFilterChain(t: Translation, istioFilters: Partial<Record<Exclude<PluginPhase, "UNSPECIFIED_PHASE">, HttpFilter[]>> = {}): HttpFilter[] {
  const out: HttpFilter[] = [];
  for (const phase of PHASE_ORDER) {
    out.push(...t.http.filter((p) => p.phase === phase).map((p) => wasmFilter(p.envoy)));
    if (phase !== "UNSPECIFIED_PHASE") out.push(...(istioFilters[phase] ?? []));
  }
  return out;
}
