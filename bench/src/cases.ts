// The catalogue of cases: what Envoy runs for each, what the load generator sends, and how a case proves it
// did the real work (a check on one request before any load). Every case answers from a direct_response
// route, so no upstream shares the two cores and the difference between two cases is the filter alone.
import { nativeFilter, wasmFilter, type HttpFilter, type JsonObject, type Route } from "../../src/envoy";
import { AUDIENCE, ISSUER, type BenchKeys } from "./tokens";

export type CaseKind = "none" | "native" | "wasm";

export interface BenchCase {
  name: string;
  kind: CaseKind;
  /** Who wrote the filter: "envoy" for native filters, the SDK for Wasm ones, null for the floor. */
  sdk: string | null;
  /** The row group in BENCHMARKS.md. */
  group: string;
  /** The case this one is compared with: a stock filter's native equivalent, or the anchor in this SDK. */
  pair?: string;
  /** What a Wasm case loads: a module path, or the name of a module the run builds or setup-bench made. */
  module?: ModuleRef;
  /** The plugin configuration of a Wasm case. */
  pluginConfig?: string;
  filters: HttpFilter[];
  routes: Route[];
  /** Request headers sent with every request (by the check and by the load generator). */
  headers: Record<string, string>;
  /** The check: status 200 and, when given, this response header or this body. */
  expectHeader?: [string, string];
  expectBody?: string;
  /** Part of the QUICK=1 smoke run. */
  quick?: boolean;
}

/** A module built by this run from an AssemblyScript folder, one setup-bench.sh built for another SDK, or the
 *  raw-ABI floor module (floor.ts). */
export type ModuleRef = { build: string } | { sdk: "go" | "solo-as" | "rust" } | { floor: true };

const OK_ROUTE: Route[] = [{ directResponse: { status: 200, body: "ok" } }];

function wasm(name: string, file: string, configuration: string): HttpFilter {
  return wasmFilter({ name, wasmFile: file, configuration, vmId: name });
}

// Fault: header-controlled aborts and delays at 100 %, and measured requests carry no control header, so both
// filters do their full per-request check and never fault.
const FAULT_CONFIG: JsonObject = {
  abort: { header_abort: {}, percentage: { numerator: 100, denominator: "HUNDRED" } },
  delay: { header_delay: {}, percentage: { numerator: 100, denominator: "HUNDRED" } },
};

// Rate limit: one token bucket far larger than any run can drain, enabled and enforced for every request.
const PERCENT_100 = { default_value: { numerator: 100, denominator: "HUNDRED" }, runtime_key: "bench_rl" };
const RATELIMIT_CONFIG: JsonObject = {
  stat_prefix: "bench",
  token_bucket: { max_tokens: 1_000_000_000, tokens_per_fill: 1_000_000_000, fill_interval: "1s" },
  filter_enabled: PERCENT_100,
  filter_enforced: PERCENT_100,
};

// Routing: the first rule needs end-user "jason"; measured requests are "kim", so both rules are tried and
// the default one writes x-route-subset: v1, which the route table needs to answer 200.
const ROUTING_CONFIG: JsonObject = {
  http: [
    { name: "jason", match: [{ headers: { "end-user": { exact: "jason" } }}], route: [{ destination: { host: "reviews", subset: "v2" } }] },
    { name: "default", route: [{ destination: { host: "reviews", subset: "v1" } }] },
  ],
};
const ROUTING_LUA = `
function envoy_on_request(handle)
  local headers = handle:headers()
  if headers:get("end-user") == "jason" then
    headers:replace("x-route-subset", "v2")
  else
    headers:replace("x-route-subset", "v1")
  end
  handle:clearRouteCache()
end
`;
const SUBSET_ROUTES: Route[] = [
  { match: { headers: [{ name: "x-route-subset", exact: "v1" }] }, directResponse: { status: 200, body: "v1" } },
  { match: { headers: [{ name: "x-route-subset", exact: "v2" }] }, directResponse: { status: 200, body: "v2" } },
  { directResponse: { status: 404, body: "no subset" } },
];

function jwtConfig(keys: BenchKeys, cache: "off" | "on", flavour: "native" | "wasm"): JsonObject {
  const provider: JsonObject = {
    issuer: ISSUER,
    audiences: [AUDIENCE],
    local_jwks: { inline_string: keys.jwks },
  };
  // jwt_authn caches verified tokens only when a provider has jwt_cache_config; the Wasm filter caches by
  // default (limits.token_cache_size 256) and 0 turns it off. Each pair is compared cache for cache.
  if (cache === "on" && flavour === "native") provider.jwt_cache_config = { jwt_cache_size: 256 };
  const config: JsonObject = {
    providers: { bench: provider },
    rules: [{ match: { prefix: "/" }, requires: { provider_name: "bench" } }],
  };
  if (cache === "off" && flavour === "wasm") config.limits = { token_cache_size: 0 };
  return config;
}

/** Paths of the AssemblyScript modules this run builds, by folder. */
export const AS_FOLDERS: Record<string, string> = {
  empty: "bench/filters/empty",
  headers: "bench/filters/headers",
  fault: "filters/fault",
  ratelimit: "filters/ratelimit",
  routing: "filters/routing",
  auth: "filters/auth",
};

/** Every case, in report order. Module paths are resolved later (resolveModule in main.ts). */
export function allCases(keys: BenchKeys): BenchCase[] {
  const cases: BenchCase[] = [
    { name: "floor", kind: "none", sdk: null, group: "floor", filters: [], routes: OK_ROUTE, headers: {}, quick: true },
    { name: "floor-wasm", kind: "wasm", sdk: "raw ABI", group: "fixed cost", module: { floor: true }, pluginConfig: "", filters: [], routes: OK_ROUTE, headers: {}, quick: true },
    { name: "empty-as", pair: "floor-wasm", kind: "wasm", sdk: "proxy-wasm-as", group: "fixed cost", module: { build: "empty" }, pluginConfig: "", filters: [], routes: OK_ROUTE, headers: {}, quick: true },

    { name: "fault-native", kind: "native", sdk: "envoy", group: "fault", filters: [nativeFilter("envoy.filters.http.fault", FAULT_CONFIG)], routes: OK_ROUTE, headers: {}, quick: true },
    { name: "fault-as", kind: "wasm", sdk: "proxy-wasm-as", group: "fault", pair: "fault-native", module: { build: "fault" }, pluginConfig: JSON.stringify(FAULT_CONFIG), filters: [], routes: OK_ROUTE, headers: {}, quick: true },

    { name: "ratelimit-native", kind: "native", sdk: "envoy", group: "ratelimit", filters: [nativeFilter("envoy.filters.http.local_ratelimit", RATELIMIT_CONFIG)], routes: OK_ROUTE, headers: {} },
    { name: "ratelimit-as", kind: "wasm", sdk: "proxy-wasm-as", group: "ratelimit", pair: "ratelimit-native", module: { build: "ratelimit" }, pluginConfig: JSON.stringify(RATELIMIT_CONFIG), filters: [], routes: OK_ROUTE, headers: {} },

    { name: "routing-native-lua", kind: "native", sdk: "envoy", group: "routing", filters: [nativeFilter("envoy.filters.http.lua", { default_source_code: { inline_string: ROUTING_LUA } })], routes: SUBSET_ROUTES, headers: { "end-user": "kim" }, expectBody: "v1" },
    { name: "routing-as", kind: "wasm", sdk: "proxy-wasm-as", group: "routing", pair: "routing-native-lua", module: { build: "routing" }, pluginConfig: JSON.stringify(ROUTING_CONFIG), filters: [], routes: SUBSET_ROUTES, headers: { "end-user": "kim" }, expectBody: "v1" },
  ];

  for (const [alg, token] of [["rs256", keys.rs256], ["es256", keys.es256]] as const) {
    for (const cache of ["off", "on"] as const) {
      const suffix = cache === "on" ? "-cached" : "";
      const headers = { authorization: `Bearer ${token}` };
      const quick = alg === "rs256" && cache === "off";
      cases.push(
        { name: `auth-${alg}${suffix}-native`, kind: "native", sdk: "envoy", group: "auth", filters: [nativeFilter("envoy.filters.http.jwt_authn", jwtConfig(keys, cache, "native"))], routes: OK_ROUTE, headers, quick },
        { name: `auth-${alg}${suffix}-as`, kind: "wasm", sdk: "proxy-wasm-as", group: "auth", pair: `auth-${alg}${suffix}-native`, module: { build: "auth" }, pluginConfig: JSON.stringify(jwtConfig(keys, cache, "wasm")), filters: [], routes: OK_ROUTE, headers, quick },
      );
    }
  }
  // The auth filter's Wasm crypto (host_crypto false: what runs on a host without verify_signature), ES256 uncached.
  cases.push({ name: "auth-es256-wasm-as", kind: "wasm", sdk: "proxy-wasm-as", group: "auth", pair: "auth-es256-native", module: { build: "auth" }, pluginConfig: JSON.stringify({ ...jwtConfig(keys, "off", "wasm"), host_crypto: false }), filters: [], routes: OK_ROUTE, headers: { authorization: `Bearer ${keys.es256}` } });

  cases.push(
    { name: "headers-as", kind: "wasm", sdk: "proxy-wasm-as", group: "same filter, four SDKs", module: { build: "headers" }, pluginConfig: "", filters: [], routes: OK_ROUTE, headers: {}, expectHeader: ["x-bench", "as"], quick: true },
    { name: "headers-go", kind: "wasm", sdk: "proxy-wasm-go-sdk", group: "same filter, four SDKs", pair: "headers-as", module: { sdk: "go" }, pluginConfig: "", filters: [], routes: OK_ROUTE, headers: {}, expectHeader: ["x-bench", "go"], quick: true },
    { name: "headers-solo", kind: "wasm", sdk: "@solo-io/proxy-runtime", group: "same filter, four SDKs", pair: "headers-as", module: { sdk: "solo-as" }, pluginConfig: "", filters: [], routes: OK_ROUTE, headers: {}, expectHeader: ["x-bench", "solo"] },
    { name: "headers-rust", kind: "wasm", sdk: "proxy-wasm (Rust)", group: "same filter, four SDKs", pair: "headers-as", module: { sdk: "rust" }, pluginConfig: "", filters: [], routes: OK_ROUTE, headers: {}, expectHeader: ["x-bench", "rust"] },
  );
  return cases;
}

/** The Envoy filter chain of a case once its module path is known. */
export function filtersOf(c: BenchCase, wasmFile: string | undefined): HttpFilter[] {
  if (c.kind !== "wasm") return c.filters;
  if (!wasmFile) throw new Error(`${c.name}: no module`);
  return [wasm(c.name, wasmFile, c.pluginConfig ?? "")];
}
