/**
 * `pwas preview`: WasmPlugin YAML → the Envoy config istiod and istio-agent would produce → a real Envoy in
 * front of echo upstreams. HTTP plugins run in the listener's HTTP connection manager, type NETWORK plugins as
 * network filters before it, each in istiod's order. The translation is translate.ts; this file reads files, fetches modules, lays out
 * listeners, routes and upstreams, and starts and stops the processes.
 */
import { existsSync, readFileSync } from "node:fs";
import { PwasError } from "../errors";
import {
  cluster, httpListener, renderBootstrap, type Bootstrap, type Cluster, type HttpFilter, type JsonObject, type Route,
} from "../envoy/bootstrap";
import { startEcho, type EchoServer } from "../envoy/echo";
import { selectBackend, startEnvoy } from "../envoy/envoy";
import { provideEnvoy } from "../envoy/locate";
import { EnvoyStartError, type StartedEnvoy } from "../envoy/instance";
import { clusterFromUrl } from "../envoy/run";
import { fetchModule, type FetchOptions, type LocalModule } from "./module";
import {
  httpFilterChain, servedPluginName, translateWasmPlugins, type SidecarListener, type TranslatedPlugin, type Translation,
} from "./translate";
import { TRAFFICEXTENSION_KIND, wasmPluginFromTrafficExtension } from "./trafficextension";
import { assertTrafficExtension, assertWasmPlugin } from "./validate";
import { MODULE_SHA256_ANNOTATION, parseWasmPluginYaml, resourceName, type PluginPhase, type WasmPlugin } from "./wasmplugin";

export const DEFAULT_ROUTE_HEADER = "x-route-subset";
export const LISTENER_NAME = "preview";

export interface PreviewOptions {
  /** WasmPlugin YAML files (several documents per file allowed). */
  files: string[];
  port?: number;
  adminPort?: number;
  concurrency?: number;
  /**
   * Names of echo upstreams to start, one cluster each. Requests whose `routeHeader` equals a name go to that
   * upstream; all others to the first. Default: one upstream named "echo".
   */
  upstreams?: string[];
  /** The request header routes match on (the routing filter's `subset_header`). Default x-route-subset. */
  routeHeader?: string;
  /** Extra clusters for plugin callouts, as name=http://host:port. */
  clusters?: string[];
  /** Native filters standing in for Istio's own authn / authz / stats filters, placed after that phase's plugins. */
  istioFilters?: Partial<Record<Exclude<PluginPhase, "UNSPECIFIED_PHASE">, HttpFilter[]>>;
  /** Module fetching (cache folder, OCI puller). */
  fetch?: FetchOptions;
  rootNamespace?: string;
  /**
   * Preview what istiod gives this sidecar listener (its namespace, labels, mode and port): plugins it would
   * not attach there (selector, targetRefs, match) are left out. Default: every plugin applies.
   */
  workload?: SidecarListener;
  progress?: (step: string) => void;
  /** Stops the Envoy download (the first time, into the user cache) before anything is started. */
  signal?: AbortSignal;
}

/** One row of the chain table. */
export interface ChainRow {
  position: number;
  /** `<namespace>.<name>` of the resource. */
  plugin: string;
  kind: "WasmPlugin" | "TrafficExtension";
  /** NETWORK plugins are network filters before the HTTP connection manager, HTTP plugins filters in it. */
  type: "HTTP" | "NETWORK";
  phase: PluginPhase;
  priority: string;
  failurePolicy: string;
  rootId: string;
  module: string;
  url: string;
}

export interface PreviewPlan {
  plugins: WasmPlugin[];
  /**
   * Each plugin's module by the name istiod serves it under (`servedPluginName`: `<namespace>.<name>~istio-
   * translated-wasmplugin` for a WasmPlugin, `<namespace>.<name>` for a TrafficExtension), its Envoy plugin name.
   */
  modules: Record<string, LocalModule>;
  translation: Translation;
  bootstrap: Bootstrap;
  chain: ChainRow[];
}

export interface RunningPreview extends PreviewPlan {
  envoy: StartedEnvoy;
  upstreams: EchoServer[];
  listenerUrl: string;
  adminUrl: string;
  stop(): Promise<void>;
}

/** The WasmPlugins loadWasmPluginFiles made from TrafficExtensions (istiod names those without the WasmPlugin marker). */
const FROM_TRAFFIC_EXTENSION = new WeakSet<WasmPlugin>();

/** A WasmPlugin as it is, or a TrafficExtension's wasm body as the WasmPlugin istiod treats it as; both validated first. */
function asWasmPlugin(resource: unknown, source: string): WasmPlugin {
  if ((resource as { kind?: unknown }).kind !== TRAFFICEXTENSION_KIND) return assertWasmPlugin(resource, source);
  const plugin = wasmPluginFromTrafficExtension(assertTrafficExtension(resource, source));
  if (!plugin) throw new PwasError("E_VALIDATION", `${source}: a TrafficExtension with a lua body is not a Wasm plugin; preview runs wasm bodies only`);
  FROM_TRAFFIC_EXTENSION.add(plugin);
  return plugin;
}

/** The kind a loaded plugin was written as. */
export function sourceKind(p: WasmPlugin): "WasmPlugin" | "TrafficExtension" {
  return FROM_TRAFFIC_EXTENSION.has(p) ? "TrafficExtension" : "WasmPlugin";
}

/**
 * Reads and validates every WasmPlugin and TrafficExtension in the files; a kind's names must be unique across
 * them (a WasmPlugin and a TrafficExtension may share one, as in a namespace).
 */
export function loadWasmPluginFiles(files: string[]): WasmPlugin[] {
  if (files.length === 0) throw new PwasError("E_USAGE", "give at least one WasmPlugin YAML file");
  const out: WasmPlugin[] = [];
  const where = new Map<string, string>();
  for (const file of files) {
    if (!existsSync(file)) throw new PwasError("E_NOT_FOUND", `${file}: no such file`);
    for (const doc of parseWasmPluginYaml(readFileSync(file, "utf8"), file)) {
      const plugin = asWasmPlugin(doc.resource, doc.source);
      const key = `${sourceKind(plugin)} ${resourceName(plugin)}`;
      const first = where.get(key);
      if (first) throw new PwasError("E_VALIDATION", `${doc.source}: ${key} is also defined in ${first}; a namespace holds one resource of a kind per name`);
      where.set(key, doc.source);
      out.push(plugin);
    }
  }
  return out;
}

function upstreamNames(names: string[] | undefined): string[] {
  const list = names && names.length > 0 ? names : ["echo"];
  const seen = new Set<string>();
  for (const n of list) {
    if (!/^[A-Za-z0-9_.-]+$/.test(n)) throw new PwasError("E_USAGE", `upstream name ${JSON.stringify(n)}: use letters, digits, '_', '.' and '-'`);
    if (seen.has(n)) throw new PwasError("E_USAGE", `upstream ${n} is listed twice`);
    seen.add(n);
  }
  return list;
}

/** Routes: one per upstream on `routeHeader: <name>`, then everything else to the first upstream. */
export function upstreamRoutes(names: string[], routeHeader = DEFAULT_ROUTE_HEADER): Route[] {
  return [
    ...names.map((n): Route => ({ match: { prefix: "/", headers: [{ name: routeHeader, exact: n }] }, cluster: n })),
    { match: { prefix: "/" }, cluster: names[0] },
  ];
}

/** Network plugins first (they sit before the HTTP connection manager), then HTTP plugins. */
function chainRows(t: Translation, modules: Record<string, LocalModule>): ChainRow[] {
  return [...t.network, ...t.http].map((p: TranslatedPlugin, i): ChainRow => ({
    position: i + 1,
    plugin: p.resourceName,
    kind: sourceKind(p.source),
    type: p.type,
    phase: p.phase,
    priority: p.priority === undefined ? "-" : String(p.priority),
    failurePolicy: p.envoy.failurePolicy ?? "FAIL_CLOSED",
    rootId: p.envoy.rootId || "-",
    module: `${modules[p.envoy.name]?.sha256.slice(0, 12) ?? "?"} (${modules[p.envoy.name]?.origin ?? "?"})`,
    url: p.url,
  }));
}

/**
 * The chain as aligned text lines: a header, the network plugins and the HTTP connection manager when there are
 * any, one line per HTTP plugin, then the router. A TrafficExtension says so after its name.
 */
export function formatChain(rows: ChainRow[]): string[] {
  const header = ["#", "plugin", "phase", "priority", "failure_policy", "root_id", "module sha256", "url"];
  const cells = (r: ChainRow, n: number) => [String(n), r.kind === "TrafficExtension" ? `${r.plugin} (TrafficExtension)` : r.plugin,
    r.phase, r.priority, r.failurePolicy, r.rootId, r.module, r.url];
  const network = rows.filter((r) => r.type === "NETWORK");
  const http = rows.filter((r) => r.type === "HTTP");
  const body = network.map((r, i) => cells(r, i + 1));
  const filter = (name: string) => [String(body.length + 1), name, "-", "-", "-", "-", "-", "-"];
  if (network.length > 0) body.push(filter("envoy.filters.network.http_connection_manager"));
  body.push(...http.map((r) => cells(r, body.length + 1)));
  body.push(filter("envoy.filters.http.router"));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  return [line(header), ...body.map(line)];
}

/** Everything short of starting processes: read, validate, fetch modules, translate, lay out the bootstrap. */
export async function planPreview(opts: PreviewOptions): Promise<PreviewPlan> {
  const progress = opts.progress ?? (() => undefined);
  const plugins = loadWasmPluginFiles(opts.files);
  const trafficExtensions = new Set(plugins.filter((p) => FROM_TRAFFIC_EXTENSION.has(p)));
  const modules: Record<string, LocalModule> = {};
  for (const p of plugins) {
    const name = resourceName(p);
    progress(`module for ${sourceKind(p) === "WasmPlugin" ? name : `${name} (TrafficExtension)`}: ${p.spec.url}`);
    modules[servedPluginName(p, trafficExtensions)] = await fetchModule({
      plugin: name,
      url: p.spec.url,
      sha256: p.spec.sha256 || undefined,
      moduleSha256: p.metadata.annotations?.[MODULE_SHA256_ANNOTATION],
      pullPolicy: p.spec.imagePullPolicy,
    }, opts.fetch);
  }
  let translation: Translation;
  try {
    translation = translateWasmPlugins(plugins, {
      modules: Object.fromEntries(Object.entries(modules).map(([k, m]) => [k, m.path])),
      rootNamespace: opts.rootNamespace,
      trafficExtensions,
      workload: opts.workload,
    });
  } catch (e) {
    throw new PwasError("E_VALIDATION", (e as Error).message);
  }
  const names = upstreamNames(opts.upstreams);
  const extra: Cluster[] = (opts.clusters ?? []).map((spec) => {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new PwasError("E_USAGE", `--cluster ${spec}: expected name=http://host:port`);
    if (names.includes(spec.slice(0, eq))) throw new PwasError("E_USAGE", `--cluster ${spec.slice(0, eq)}: that name is an upstream already`);
    return clusterFromUrl(spec.slice(0, eq), spec.slice(eq + 1));
  });
  const bootstrap: Bootstrap = {
    adminPort: opts.adminPort ?? 0,
    listeners: [httpListener(LISTENER_NAME, {
      port: opts.port ?? 0,
      networkFilters: translation.network.map((p) => p.envoy),
      httpFilters: httpFilterChain(translation, opts.istioFilters),
      virtualHosts: [{ name: "all", routes: upstreamRoutes(names, opts.routeHeader) }],
    })],
    // Upstream ports are placeholders until startPreview has started the echo servers.
    clusters: [...names.map((n) => cluster(n, 0)), ...extra],
  };
  return { plugins, modules, translation, bootstrap, chain: chainRows(translation, modules) };
}

/** The Envoy bootstrap JSON a plan renders to (upstream ports are placeholders until started). */
export function renderPreviewBootstrap(plan: PreviewPlan): JsonObject {
  return renderBootstrap(plan.bootstrap);
}

/** Plans, starts the echo upstreams and Envoy, and returns once Envoy is ready. The caller stops it. */
export async function startPreview(opts: PreviewOptions): Promise<RunningPreview> {
  const progress = opts.progress ?? (() => undefined);
  // Plan first, so bad input fails before anything is started.
  const planned = await planPreview(opts);
  const binary = selectBackend() === "process" ? await provideEnvoy({ signal: opts.signal }) : undefined;
  const names = upstreamNames(opts.upstreams);
  const upstreams: EchoServer[] = [];
  try {
    for (const n of names) upstreams.push(await startEcho({ name: n }));
    const ports = new Map(upstreams.map((u) => [u.name!, u.port]));
    const plan: PreviewPlan = {
      ...planned,
      bootstrap: { ...planned.bootstrap, clusters: planned.bootstrap.clusters!.map((c) => ({ ...c, port: ports.get(c.name) ?? c.port })) },
    };
    progress(`upstreams ${upstreams.map((u) => `${u.name} (${u.url})`).join(", ")}`);
    progress("starting Envoy");
    let envoy: StartedEnvoy;
    try {
      envoy = await startEnvoy(plan.bootstrap, { concurrency: opts.concurrency ?? 1, binary });
    } catch (e) {
      if (e instanceof EnvoyStartError) {
        const lines = e.envoyLog.split("\n").filter((l) => /wasm/i.test(l) && /error|critical|fail/i.test(l));
        throw new PwasError("E_ENVOY", `Envoy did not start:\n${(lines.length ? lines : e.envoyLog.split("\n").slice(-15)).join("\n")}`);
      }
      throw e;
    }
    return {
      ...plan, envoy, upstreams,
      listenerUrl: envoy.url("/", LISTENER_NAME),
      adminUrl: envoy.adminUrl,
      async stop() {
        await envoy.stop();
        await Promise.allSettled(upstreams.map((u) => u.close()));
      },
    };
  } catch (e) {
    await Promise.allSettled(upstreams.map((u) => u.close()));
    throw e;
  }
}
