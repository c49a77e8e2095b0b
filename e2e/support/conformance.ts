/**
 * The conformance filter (sdk/tests/conformance) as e2e tests use it: built once per test file, with one plugin
 * identity shared by the real Envoy and the emulator, and the Envoy routes and clusters its scenarios expect.
 */
import { join, resolve } from "node:path";
import { buildFilter } from "../../src/build/build";
import { cluster, httpListener, wasmFilter, type Bootstrap, type FailurePolicy, type JsonObject, type Route } from "../../src/envoy";

export const CONFORMANCE_DIR = resolve(__dirname, "../../sdk/tests/conformance");

/** Who the plugin is, in Envoy and in the emulator alike (the properties scenario reads these back). */
export const PLUGIN = {
  name: "conformance",
  rootId: "conformance-root",
  vmId: "conformance-vm",
  vmConfiguration: "conformance-vm-config",
} as const;

/** The plugin configuration the conformance scenarios run with. */
export const CONFORMANCE_CONFIG = {
  callout_cluster: "echo",
  grpc_cluster: "grpc",
  tick_ms: 10,
  reroute_header: "x-route",
} as const;

let built: Promise<string> | undefined;

/** Compiles the conformance filter (once per test file) and returns the .wasm path. */
export function buildConformance(): Promise<string> {
  built ??= buildFilter(CONFORMANCE_DIR, { outFile: join(CONFORMANCE_DIR, "build", "conformance.wasm") }).then((r) => r.wasmPath);
  return built;
}

export interface ConformanceUpstreams {
  /** Port of the default route's echo ("a"). */
  a: number;
  /** Port of the echo behind the `x-route: b` route. */
  b?: number;
  /** Port of the echo the HTTP callout cluster "echo" points at. */
  callout?: number;
  /** Port of the h2c gRPC server behind cluster "grpc". */
  grpc?: number;
}

export interface ConformanceEnvoyOptions {
  configuration?: string | JsonObject;
  failurePolicy?: FailurePolicy;
}

/**
 * One HTTP listener "ingress" with the conformance plugin, routes `x-route: b` → cluster "b" and everything
 * else → "a", plus the callout and gRPC clusters for whichever upstreams are given.
 */
export function conformanceBootstrap(wasmFile: string, up: ConformanceUpstreams, opts: ConformanceEnvoyOptions = {}): Bootstrap {
  const routes: Route[] = [];
  if (up.b !== undefined) routes.push({ match: { prefix: "/", headers: [{ name: "x-route", exact: "b" }] }, cluster: "b" });
  routes.push({ cluster: "a" });
  const clusters = [cluster("a", up.a)];
  if (up.b !== undefined) clusters.push(cluster("b", up.b));
  if (up.callout !== undefined) clusters.push(cluster("echo", up.callout));
  if (up.grpc !== undefined) clusters.push(cluster("grpc", up.grpc, { http2: true }));
  return {
    listeners: [
      httpListener("ingress", {
        httpFilters: [
          wasmFilter({
            name: PLUGIN.name,
            rootId: PLUGIN.rootId,
            vmId: PLUGIN.vmId,
            vmConfiguration: PLUGIN.vmConfiguration,
            wasmFile,
            configuration: opts.configuration ?? { ...CONFORMANCE_CONFIG },
            failurePolicy: opts.failurePolicy,
          }),
        ],
        virtualHosts: [{ name: "all", routes }],
      }),
    ],
    clusters,
  };
}

/** A `wasm log <prefix>: <message>` line of Envoy's log, with its level. */
export interface PluginLogLine {
  level: "trace" | "debug" | "info" | "warning" | "error" | "critical";
  message: string;
}

/** The plugin's own log lines (proxy_log) in Envoy's output, in order. */
export function pluginLogLines(log: string): PluginLogLine[] {
  const out: PluginLogLine[] = [];
  for (const m of log.matchAll(/^\[[^\]]*\]\[\d+\]\[(\w+)\]\[wasm\] \[[^\]]*\] wasm log [^:\n]*: (.*)$/gm)) {
    out.push({ level: m[1] as PluginLogLine["level"], message: m[2] });
  }
  return out;
}
