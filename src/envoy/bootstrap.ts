/**
 * A small typed model of the Envoy v3 bootstrap this toolkit needs (listeners, an ordered HTTP filter chain
 * with Wasm and native filters, routes, static clusters), rendered to the JSON Envoy reads with `-c file.json`.
 *
 * The model is the "configured" side: ports may be left at 0 and are bound by Envoy itself when it starts
 * (`startEnvoy` reads the real ports back from the admin API). Rendering is pure and deterministic, so a
 * rendered config can be snapshot-tested.
 */

import { PwasError } from "../errors";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A protobuf `Any` in JSON form: the `@type` URL plus the message's fields. */
export interface TypedConfig {
  "@type": string;
  [field: string]: JsonValue;
}

/** `type.googleapis.com/<message>`: the type URL form Envoy expects in `@type`. */
export function typeUrl(message: string): string {
  return `type.googleapis.com/${message}`;
}

export const WASM_RUNTIME_V8 = "envoy.wasm.runtime.v8";
export const HTTP_WASM_FILTER = "envoy.filters.http.wasm";
export const NETWORK_WASM_FILTER = "envoy.filters.network.wasm";
const ROUTER_FILTER = "envoy.filters.http.router";

/** Type URLs of the native HTTP filters this toolkit compares its Wasm filters with, by filter name. */
export const NATIVE_HTTP_FILTER_TYPES: Readonly<Record<string, string>> = {
  "envoy.filters.http.fault": typeUrl("envoy.extensions.filters.http.fault.v3.HTTPFault"),
  "envoy.filters.http.local_ratelimit": typeUrl("envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"),
  "envoy.filters.http.jwt_authn": typeUrl("envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"),
  "envoy.filters.http.lua": typeUrl("envoy.extensions.filters.http.lua.v3.Lua"),
  "envoy.filters.http.ext_authz": typeUrl("envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"),
  "envoy.filters.http.header_to_metadata": typeUrl("envoy.extensions.filters.http.header_to_metadata.v3.Config"),
  "envoy.filters.http.ratelimit": typeUrl("envoy.extensions.filters.http.ratelimit.v3.RateLimit"),
};

// ---------------------------------------------------------------------------------------------------------
// The model

/** What Envoy does when the plugin fails (trap, failed start): 503 (default), bypass, or reload the VM. */
export type FailurePolicy = "FAIL_CLOSED" | "FAIL_OPEN" | "FAIL_RELOAD";

/** One Wasm plugin: becomes a PluginConfig with an inline VmConfig (HTTP and network filters alike). */
export interface WasmPlugin {
  /** PluginConfig.name: shows in Envoy's logs and in `wasm.<name>.*` stats. */
  name: string;
  /** PluginConfig.root_id: selects the root context inside the module; empty by default. */
  rootId?: string;
  /** The .wasm file on local disk (VmConfig.code.local.filename). */
  wasmFile: string;
  /** Plugin configuration, delivered to proxy_on_configure as the raw string; objects are JSON-encoded. */
  configuration?: string | JsonObject;
  /** VmConfig.vm_id: plugins share a VM (and shared data) only when their whole vm_config is identical. */
  vmId?: string;
  /** VM configuration, delivered to proxy_on_vm_start as the raw string; objects are JSON-encoded. */
  vmConfiguration?: string | JsonObject;
  /** Environment variables visible to the module through WASI (VmConfig.environment_variables.key_values). */
  env?: Record<string, string>;
  /** Names of Envoy's own environment variables passed through to the module (host_env_keys). */
  hostEnvKeys?: string[];
  /** Defaults to Envoy's default, FAIL_CLOSED. */
  failurePolicy?: FailurePolicy;
  /** Lets the plugin return StopIteration from header callbacks instead of Envoy forcing StopAllIterationAndWatermark. */
  allowOnHeadersStopIteration?: boolean;
}

/** An entry of the HTTP filter chain, in order; the router is always appended last by the renderer. */
export type HttpFilter =
  | { kind: "wasm"; plugin: WasmPlugin }
  | { kind: "native"; name: string; typedConfig: TypedConfig };

/** A string matcher (one form only), as in Envoy's StringMatcher; `regex` is RE2. */
export type StringMatch =
  | { exact: string }
  | { prefix: string }
  | { suffix: string }
  | { contains: string }
  | { regex: string };

/** A route header matcher: a string match on the header's value, or presence alone. */
export type HeaderMatch = { name: string; invert?: boolean } & (StringMatch | { present: boolean });

/** A filter state matcher (Envoy's FilterStateMatcher): the object under `key`, as a string, must match. */
export type FilterStateMatch = { key: string } & StringMatch;

/**
 * The request part of a route: `prefix` or `path`, not both (default: prefix "/"); all headers and all
 * filter state matchers must match. Filter state is what earlier filters stored in the request's
 * filter state (a Wasm filter through `set_envoy_filter_state`); a missing object does not match.
 */
export interface RouteMatch {
  prefix?: string;
  path?: string;
  headers?: HeaderMatch[];
  filterState?: FilterStateMatch[];
}

export interface RetryPolicy {
  /** Envoy's retry_on conditions, e.g. "5xx", "reset,connect-failure". */
  retryOn: string;
  numRetries?: number;
  perTryTimeoutMs?: number;
}

/** One route: where matching requests go. Exactly one of `cluster` / `directResponse`. */
export type Route = {
  /** The route's name: what a filter reads as the `xds.route_name` attribute. */
  name?: string;
  match?: RouteMatch;
  /** Route timeout; Envoy's default is 15 s, 0 disables it. */
  timeoutMs?: number;
  retry?: RetryPolicy;
} & ({ cluster: string } | { directResponse: { status: number; body?: string } });

export interface VirtualHost {
  name: string;
  /** Host/authority values served; defaults to ["*"]. */
  domains?: string[];
  /** First match wins, as in Envoy. */
  routes: Route[];
}

export interface HttpListener {
  kind: "http";
  name: string;
  /** 0 (the default) lets Envoy bind a free port; `startEnvoy` reports the one it got. */
  port?: number;
  /** HTTP connection manager stat prefix: stats read `http.<statPrefix>.*`; defaults to the listener name. */
  statPrefix?: string;
  /** Ordered filter chain; the router is appended last. */
  httpFilters?: HttpFilter[];
  /** Wasm network filters, in order, before the HTTP connection manager (as Istio places type NETWORK plugins). */
  networkFilters?: WasmPlugin[];
  virtualHosts: VirtualHost[];
}

export interface TcpListener {
  kind: "tcp";
  name: string;
  port?: number;
  /** TCP proxy stat prefix: stats read `tcp.<statPrefix>.*`; defaults to the listener name. */
  statPrefix?: string;
  /** Wasm network filters, in order, before the TCP proxy. */
  networkFilters?: WasmPlugin[];
  /** Upstream cluster the TCP proxy forwards to. */
  cluster: string;
}

export type Listener = HttpListener | TcpListener;

/**
 * A static upstream cluster with one endpoint. Clusters need not be referenced by a route: a cluster that
 * only Wasm HTTP/gRPC callouts use (proxy_http_call's `upstream`) is declared the same way.
 */
export interface Cluster {
  name: string;
  port: number;
  /** Defaults to 127.0.0.1. STATIC needs an IP address; STRICT_DNS accepts a host name. */
  address?: string;
  /** Defaults to STATIC. */
  type?: "STATIC" | "STRICT_DNS";
  /** Talk HTTP/2 (h2c) to the upstream, as gRPC needs; default HTTP/1.1. */
  http2?: boolean;
  /** Defaults to 1000 ms. */
  connectTimeoutMs?: number;
}

export interface Bootstrap {
  /** node.id / node.cluster; visible to Wasm through the `node` property. Defaults to "pwas". */
  nodeId?: string;
  /** Admin port; 0 (default) lets Envoy bind a free one. The admin listener binds 127.0.0.1 only. */
  adminPort?: number;
  listeners: Listener[];
  clusters?: Cluster[];
  /**
   * File-based listener discovery (LDS): Envoy also takes listeners from this file (a DiscoveryResponse,
   * see renderListenerDiscovery) and applies each new version moved into its place while it runs. The path
   * must be visible to Envoy itself (the process backend; a container does not see the host's files).
   */
  ldsPath?: string;
}

// ---------------------------------------------------------------------------------------------------------
// Builders: small functions so a config reads top-down without repeating discriminators.

export function wasmFilter(plugin: WasmPlugin): HttpFilter {
  return { kind: "wasm", plugin };
}

/**
 * A native Envoy HTTP filter by name. `config` holds the filter's fields; its `@type` is filled in for the
 * filters in NATIVE_HTTP_FILTER_TYPES, and must be given for any other filter.
 */
export function nativeFilter(name: string, config: JsonObject = {}, type?: string): HttpFilter {
  const resolved = type ?? (typeof config["@type"] === "string" ? config["@type"] : NATIVE_HTTP_FILTER_TYPES[name]);
  if (!resolved) {
    throw new PwasError("E_CONFIG", `native filter ${name}: pass its type URL (e.g. ${typeUrl("envoy.extensions.filters.http.<name>.v3.<Message>")})`);
  }
  return { kind: "native", name, typedConfig: { ...config, "@type": resolved } };
}

export function httpListener(name: string, spec: Omit<HttpListener, "kind" | "name">): HttpListener {
  return { kind: "http", name, ...spec };
}

export function tcpListener(name: string, spec: Omit<TcpListener, "kind" | "name">): TcpListener {
  return { kind: "tcp", name, ...spec };
}

export function cluster(name: string, port: number, opts: Omit<Cluster, "name" | "port"> = {}): Cluster {
  return { name, port, ...opts };
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

export interface RenderOptions {
  /** Maps each Wasm file path before it is written into the config (the backends make them absolute). */
  resolvePath?: (path: string) => string;
}

/** Renders the model to Envoy's v3 bootstrap JSON. Throws a sentence naming the problem for inconsistent models. */
export function renderBootstrap(spec: Bootstrap, opts: RenderOptions = {}): JsonObject {
  checkModel(spec);
  const resolvePath = opts.resolvePath ?? ((p: string) => p);
  const nodeId = spec.nodeId ?? "pwas";
  const out: JsonObject = {
    node: { id: nodeId, cluster: nodeId },
    admin: { address: socketAddress("127.0.0.1", spec.adminPort ?? 0) },
    static_resources: {
      listeners: spec.listeners.map((l) => renderListener(l, resolvePath)),
      clusters: (spec.clusters ?? []).map(renderCluster),
    },
  };
  if (spec.ldsPath !== undefined) {
    out.dynamic_resources = { lds_config: { resource_api_version: "V3", path_config_source: { path: spec.ldsPath } } };
  }
  return out;
}

/**
 * The content of a file-based LDS file (Bootstrap.ldsPath): a DiscoveryResponse with `version` and these
 * listeners, which replace every listener the file gave before. Envoy applies a new version when the file
 * is replaced by a rename (write a temporary file beside it, then move it over the old one).
 */
export function renderListenerDiscovery(listeners: Listener[], version: string, opts: RenderOptions = {}): JsonObject {
  unique("listener", listeners.map((l) => l.name));
  const resolvePath = opts.resolvePath ?? ((p: string) => p);
  return {
    version_info: version,
    resources: listeners.map((l) => ({ "@type": typeUrl("envoy.config.listener.v3.Listener"), ...renderListener(l, resolvePath) })),
  };
}

function renderListener(l: Listener, resolvePath: (path: string) => string): JsonObject {
  return l.kind === "http" ? renderHttpListener(l, resolvePath) : renderTcpListener(l, resolvePath);
}

function checkModel(spec: Bootstrap): void {
  if (spec.listeners.length === 0 && spec.ldsPath === undefined) throw new PwasError("E_CONFIG", "bootstrap: declare at least one listener");
  unique("listener", spec.listeners.map((l) => l.name));
  const clusters = new Set(unique("cluster", (spec.clusters ?? []).map((c) => c.name)));
  const known = (name: string, where: string) => {
    if (!clusters.has(name)) throw new PwasError("E_CONFIG", `bootstrap: ${where} sends to cluster "${name}", which is not declared in clusters`);
  };
  for (const l of spec.listeners) {
    if (l.kind === "tcp") {
      known(l.cluster, `tcp listener "${l.name}"`);
      continue;
    }
    for (const f of l.httpFilters ?? []) {
      if (f.kind === "native" && f.name === ROUTER_FILTER) {
        throw new PwasError("E_CONFIG", `bootstrap: listener "${l.name}" lists ${ROUTER_FILTER}; the router is appended last automatically`);
      }
    }
    for (const vh of l.virtualHosts) {
      for (const r of vh.routes) {
        if (r.match?.path !== undefined && r.match.prefix !== undefined) {
          throw new PwasError("E_CONFIG", `bootstrap: a route in virtual host "${vh.name}" sets both path and prefix; use one`);
        }
        if ("cluster" in r) known(r.cluster, `route in virtual host "${vh.name}"`);
      }
    }
  }
}

function unique(what: string, names: string[]): string[] {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new PwasError("E_CONFIG", `bootstrap: two ${what}s are named "${n}"; names must be unique`);
    seen.add(n);
  }
  return names;
}

function socketAddress(address: string, port: number): JsonObject {
  return { socket_address: { address, port_value: port } };
}

function duration(ms: number): string {
  // protobuf Duration JSON: seconds with up to 9 fractional digits and an "s" suffix.
  return `${(ms / 1000).toFixed(3).replace(/\.?0+$/, "")}s`;
}

function stringValue(value: string | JsonObject): TypedConfig {
  return { "@type": typeUrl("google.protobuf.StringValue"), value: typeof value === "string" ? value : JSON.stringify(value) };
}

function renderPluginConfig(p: WasmPlugin, resolvePath: (path: string) => string): JsonObject {
  const vm: JsonObject = {
    vm_id: p.vmId ?? "",
    runtime: WASM_RUNTIME_V8,
    code: { local: { filename: resolvePath(p.wasmFile) } },
  };
  if (p.vmConfiguration !== undefined) vm.configuration = stringValue(p.vmConfiguration);
  if (p.env || p.hostEnvKeys) {
    const envVars: JsonObject = {};
    if (p.hostEnvKeys) envVars.host_env_keys = p.hostEnvKeys;
    if (p.env) envVars.key_values = { ...p.env };
    vm.environment_variables = envVars;
  }
  const config: JsonObject = { name: p.name, root_id: p.rootId ?? "", vm_config: vm };
  if (p.configuration !== undefined) config.configuration = stringValue(p.configuration);
  if (p.failurePolicy) config.failure_policy = p.failurePolicy;
  if (p.allowOnHeadersStopIteration !== undefined) config.allow_on_headers_stop_iteration = p.allowOnHeadersStopIteration;
  return config;
}

function renderHttpFilter(f: HttpFilter, resolvePath: (path: string) => string): JsonObject {
  if (f.kind === "native") return { name: f.name, typed_config: f.typedConfig };
  return {
    name: HTTP_WASM_FILTER,
    typed_config: {
      "@type": typeUrl("envoy.extensions.filters.http.wasm.v3.Wasm"),
      config: renderPluginConfig(f.plugin, resolvePath),
    },
  };
}

function renderStringMatch(m: StringMatch): JsonObject {
  if ("exact" in m) return { exact: m.exact };
  if ("prefix" in m) return { prefix: m.prefix };
  if ("suffix" in m) return { suffix: m.suffix };
  if ("contains" in m) return { contains: m.contains };
  return { safe_regex: { regex: m.regex } };
}

function renderHeaderMatch(h: HeaderMatch): JsonObject {
  const out: JsonObject = { name: h.name };
  if ("present" in h) out.present_match = h.present;
  else out.string_match = renderStringMatch(h);
  if (h.invert) out.invert_match = true;
  return out;
}

function renderRoute(r: Route): JsonObject {
  const m = r.match ?? {};
  const match: JsonObject = m.path !== undefined ? { path: m.path } : { prefix: m.prefix ?? "/" };
  if (m.headers?.length) match.headers = m.headers.map(renderHeaderMatch);
  if (m.filterState?.length) match.filter_state = m.filterState.map((f) => ({ key: f.key, string_match: renderStringMatch(f) }));
  const named: JsonObject = r.name !== undefined ? { name: r.name } : {};
  if ("directResponse" in r) {
    const dr: JsonObject = { status: r.directResponse.status };
    if (r.directResponse.body !== undefined) dr.body = { inline_string: r.directResponse.body };
    return { ...named, match, direct_response: dr };
  }
  const action: JsonObject = { cluster: r.cluster };
  if (r.timeoutMs !== undefined) action.timeout = duration(r.timeoutMs);
  if (r.retry) {
    const retry: JsonObject = { retry_on: r.retry.retryOn, num_retries: r.retry.numRetries ?? 1 };
    if (r.retry.perTryTimeoutMs !== undefined) retry.per_try_timeout = duration(r.retry.perTryTimeoutMs);
    action.retry_policy = retry;
  }
  return { ...named, match, route: action };
}

function renderHttpListener(l: HttpListener, resolvePath: (path: string) => string): JsonObject {
  const hcm: TypedConfig = {
    "@type": typeUrl("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"),
    stat_prefix: l.statPrefix ?? l.name,
    // AUTO serves HTTP/1.1 and prior-knowledge HTTP/2 (h2c, as gRPC clients use) on one port.
    codec_type: "AUTO",
    route_config: {
      name: `${l.name}_routes`,
      virtual_hosts: l.virtualHosts.map((vh) => ({
        name: vh.name,
        domains: vh.domains ?? ["*"],
        routes: vh.routes.map(renderRoute),
      })),
    },
    http_filters: [
      ...(l.httpFilters ?? []).map((f) => renderHttpFilter(f, resolvePath)),
      { name: ROUTER_FILTER, typed_config: { "@type": typeUrl("envoy.extensions.filters.http.router.v3.Router") } },
    ],
  };
  return {
    name: l.name,
    address: socketAddress("127.0.0.1", l.port ?? 0),
    filter_chains: [{ filters: [...renderNetworkWasm(l.networkFilters, resolvePath), { name: "envoy.filters.network.http_connection_manager", typed_config: hcm }] }],
  };
}

function renderNetworkWasm(plugins: WasmPlugin[] | undefined, resolvePath: (path: string) => string): JsonObject[] {
  return (plugins ?? []).map((p) => ({
    name: NETWORK_WASM_FILTER,
    typed_config: {
      "@type": typeUrl("envoy.extensions.filters.network.wasm.v3.Wasm"),
      config: renderPluginConfig(p, resolvePath),
    },
  }));
}

function renderTcpListener(l: TcpListener, resolvePath: (path: string) => string): JsonObject {
  const wasm = renderNetworkWasm(l.networkFilters, resolvePath);
  const proxy = {
    name: "envoy.filters.network.tcp_proxy",
    typed_config: {
      "@type": typeUrl("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"),
      stat_prefix: l.statPrefix ?? l.name,
      cluster: l.cluster,
    },
  };
  return {
    name: l.name,
    address: socketAddress("127.0.0.1", l.port ?? 0),
    filter_chains: [{ filters: [...wasm, proxy] }],
  };
}

function renderCluster(c: Cluster): JsonObject {
  const out: JsonObject = {
    name: c.name,
    type: c.type ?? "STATIC",
    connect_timeout: duration(c.connectTimeoutMs ?? 1000),
    load_assignment: {
      cluster_name: c.name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(c.address ?? "127.0.0.1", c.port) } }] }],
    },
  };
  if (c.http2) {
    out.typed_extension_protocol_options = {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": typeUrl("envoy.extensions.upstreams.http.v3.HttpProtocolOptions"),
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return out;
}
