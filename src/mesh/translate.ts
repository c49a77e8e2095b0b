/**
 * WasmPlugins → Envoy filter configuration, the way istiod builds it and istio-agent rewrites it, as a pure
 * function (no I/O: module files are resolved beforehand and passed in).
 *
 * What istiod does, and this mirrors:
 * - the Envoy plugin is named `<namespace>.<name>` (served over ECDS as `extensions.istio.io/wasmplugin/<namespace>.<name>`);
 * - root_id is `pluginName`; runtime is V8; vm_id is left empty;
 * - `pluginConfig` reaches the plugin as a `google.protobuf.StringValue` holding its JSON (keys sorted, compact,
 *   as Go's jsonpb writes a Struct); no pluginConfig (or an empty one) means no configuration at all;
 * - `vmConfig.env`: INLINE entries become `environment_variables.key_values`, HOST entries `host_env_keys`;
 * - `failStrategy` FAIL_CLOSE / FAIL_OPEN / FAIL_RELOAD → `failure_policy` FAIL_CLOSED / FAIL_OPEN / FAIL_RELOAD;
 * - order: by phase (AUTHN, then AUTHZ, then STATS, then unspecified just before the router); within a phase by
 *   priority, higher first, an unset priority after every set one; ties keep istiod's listing order: plugins of
 *   the root namespace first, each group by creationTimestamp, then name, then namespace.
 * What istio-agent does, and this mirrors: the module is fetched (oci/http) and the source becomes a local file;
 * its internal `ISTIO_META_*` variables never reach the VM. What this does not model: selector, targetRefs and
 * match choose *which* proxies and listeners get a plugin; here every plugin applies to the one listener.
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

export const ECDS_RESOURCE_PREFIX = "extensions.istio.io/wasmplugin/";
export const DEFAULT_ROOT_NAMESPACE = "istio-system";

export interface TranslateOptions {
  /**
   * The local module file of each plugin, by `<namespace>.<name>` (what istio-agent writes after fetching).
   * A file:// plugin without an entry uses its url's path, as istiod does.
   */
  modules?: Readonly<Record<string, string>>;
  /** Istio's root namespace (meshConfig.rootNamespace): its plugins are listed first. Default istio-system. */
  rootNamespace?: string;
}

/** One WasmPlugin as it lands in Envoy. */
export interface TranslatedPlugin {
  /** `<namespace>.<name>`; also the Envoy PluginConfig.name. */
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

/** The Struct as the JSON string the plugin receives: keys sorted at every level, no spaces. */
export function pluginConfigJson(value: StructValue): string {
  const sort = (v: StructValue): StructValue => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])]));
    return v;
  };
  return JSON.stringify(sort(value));
}

/** The local path a file:// url names (istiod strips the scheme and passes the rest to Envoy as is). */
export function fileUrlPath(url: string): string {
  return url.replace(/^file:\/\//, "");
}

function toEnvoy(p: WasmPlugin, wasmFile: string): EnvoyPlugin {
  const spec = p.spec;
  const env: Record<string, string> = {};
  const hostEnvKeys: string[] = [];
  for (const e of spec.vmConfig?.env ?? []) {
    if (e.valueFrom === "HOST") hostEnvKeys.push(e.name);
    else env[e.name] = e.value ?? "";
  }
  const hasConfig = spec.pluginConfig !== undefined && Object.keys(spec.pluginConfig).length > 0;
  return {
    name: resourceName(p),
    rootId: spec.pluginName ?? "",
    wasmFile,
    ...(hasConfig ? { configuration: pluginConfigJson(spec.pluginConfig!) } : {}),
    ...(Object.keys(env).length > 0 ? { env } : {}),
    ...(hostEnvKeys.length > 0 ? { hostEnvKeys } : {}),
    failurePolicy: FAILURE_POLICIES[spec.failStrategy ?? "FAIL_CLOSE"],
  };
}

/** istiod's listing order before the priority sort (see the file comment). */
function listingOrder(plugins: WasmPlugin[], rootNamespace: string): WasmPlugin[] {
  const created = (p: WasmPlugin) => (p.metadata.creationTimestamp ? Date.parse(p.metadata.creationTimestamp) : 0);
  const byCreation = [...plugins].sort((a, b) =>
    created(a) - created(b)
    || compare(a.metadata.name, b.metadata.name)
    || compare(a.metadata.namespace ?? "default", b.metadata.namespace ?? "default"));
  const inRoot = (p: WasmPlugin) => (p.metadata.namespace ?? "default") === rootNamespace;
  return [...byCreation.filter(inRoot), ...byCreation.filter((p) => !inRoot(p))];
}

/** Higher first; unset after any set value (istiod reads a missing priority as the lowest int64). */
function byPriority(a: number | undefined, b: number | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return b - a;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Translates validated WasmPlugins into Envoy plugin configs in chain order. */
export function translateWasmPlugins(plugins: WasmPlugin[], opts: TranslateOptions = {}): Translation {
  const seen = new Set<string>();
  for (const p of plugins) {
    const name = resourceName(p);
    if (seen.has(name)) throw new PwasError("E_VALIDATION", `two WasmPlugins are named ${name} (namespace.name): a namespace holds one resource per name, so Istio would keep only one; rename one of them`);
    seen.add(name);
  }
  const listed = listingOrder(plugins, opts.rootNamespace ?? DEFAULT_ROOT_NAMESPACE);
  const translated = listed.map((p): TranslatedPlugin => {
    const name = resourceName(p);
    const url = normalizedUrl(p.spec.url);
    const local = opts.modules?.[name] ?? (url.startsWith("file://") ? fileUrlPath(url) : undefined);
    if (local === undefined) throw new Error(`${name}: no local module for ${url}; fetch it first and pass it in modules`);
    return {
      resourceName: name,
      ecdsResourceName: ECDS_RESOURCE_PREFIX + name,
      phase: p.spec.phase ?? "UNSPECIFIED_PHASE",
      priority: p.spec.priority,
      type: p.spec.type === "NETWORK" ? "NETWORK" : "HTTP",
      url,
      match: p.spec.match,
      envoy: toEnvoy(p, local),
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
