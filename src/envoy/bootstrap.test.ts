import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cluster, httpListener, nativeFilter, renderBootstrap, renderListenerDiscovery, tcpListener, wasmFilter, type Bootstrap } from "./bootstrap";
import { locateEnvoy } from "./locate";
import { passthroughWasm } from "./testdata/passthrough-wasm";

/** One config exercising every part of the model; its rendering is pinned by the snapshot. */
const sample: Bootstrap = {
  adminPort: 0,
  listeners: [
    httpListener("ingress", {
      httpFilters: [
        wasmFilter({
          name: "auth",
          rootId: "auth_root",
          wasmFile: "build/auth.wasm",
          configuration: { upstream: "authz", timeout_ms: 200 },
          vmId: "shared",
          vmConfiguration: "vm-config",
          env: { MODE: "strict" },
          failurePolicy: "FAIL_CLOSED",
          allowOnHeadersStopIteration: true,
        }),
        nativeFilter("envoy.filters.http.fault", { abort: { http_status: 503, percentage: { numerator: 100, denominator: "HUNDRED" } } }),
      ],
      virtualHosts: [
        {
          name: "all",
          routes: [
            { match: { prefix: "/v2", headers: [{ name: "x-canary", exact: "1" }, { name: "x-debug", present: true, invert: true }] }, cluster: "echo_v2" },
            { match: { path: "/grpc.health.v1.Health/Check" }, cluster: "grpc", timeoutMs: 250 },
            { match: { prefix: "/" }, cluster: "echo", timeoutMs: 5000, retry: { retryOn: "5xx", numRetries: 2, perTryTimeoutMs: 1500 } },
          ],
        },
      ],
    }),
    tcpListener("tcp", { networkFilters: [{ name: "tcp_count", wasmFile: "build/tcp.wasm", failurePolicy: "FAIL_OPEN" }], cluster: "echo" }),
  ],
  clusters: [
    cluster("echo", 18080),
    cluster("echo_v2", 18081),
    cluster("grpc", 18082, { http2: true }),
    // Referenced by no route: the auth plugin's proxy_http_call target.
    cluster("authz", 18083, { type: "STRICT_DNS", address: "localhost", connectTimeoutMs: 250 }),
  ],
};

describe("renderBootstrap", () => {
  test("renders the sample config deterministically", () => {
    // The JSON text, not the object: key order is part of what Envoy (and a reader) sees.
    expect(JSON.stringify(renderBootstrap(sample), null, 2)).toMatchSnapshot();
  });

  test("the rendered sample is a config the real Envoy accepts (--mode validate)", () => {
    const dir = mkdtempSync(join(tmpdir(), "pwas-validate-"));
    try {
      const wasm = join(dir, "passthrough.wasm");
      writeFileSync(wasm, passthroughWasm());
      const configPath = join(dir, "envoy.json");
      writeFileSync(configPath, JSON.stringify(renderBootstrap(sample, { resolvePath: () => wasm })));
      const res = spawnSync(locateEnvoy(), ["--mode", "validate", "-c", configPath, "-l", "error", "--disable-hot-restart"], { encoding: "utf8" });
      expect(`${res.stdout}${res.stderr}`).toContain("OK");
      expect(res.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("route names and filter state matches render as Envoy's RouteMatch.filter_state, which the real Envoy accepts", () => {
    const config: Bootstrap = {
      listeners: [httpListener("l", {
        virtualHosts: [{
          name: "vh",
          routes: [
            { name: "to-v1", match: { prefix: "/", filterState: [{ key: "example.subset", exact: "v1" }] }, cluster: "c" },
            { name: "none", directResponse: { status: 404 } },
          ],
        }],
      })],
      clusters: [cluster("c", 18080)],
    };
    const rendered = renderBootstrap(config) as any;
    const routes = rendered.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
    expect(routes[0]).toEqual({ name: "to-v1", match: { prefix: "/", filter_state: [{ key: "example.subset", string_match: { exact: "v1" } }] }, route: { cluster: "c" } });
    expect(routes[1]).toEqual({ name: "none", match: { prefix: "/" }, direct_response: { status: 404 } });
    const dir = mkdtempSync(join(tmpdir(), "pwas-validate-"));
    try {
      const configPath = join(dir, "envoy.json");
      writeFileSync(configPath, JSON.stringify(rendered));
      const res = spawnSync(locateEnvoy(), ["--mode", "validate", "-c", configPath, "-l", "error", "--disable-hot-restart"], { encoding: "utf8" });
      expect(`${res.stdout}${res.stderr}`).toContain("OK");
      expect(res.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the router is always the last HTTP filter", () => {
    const rendered = renderBootstrap(sample) as any;
    const filters = rendered.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters;
    expect(filters.map((f: { name: string }) => f.name)).toEqual(["envoy.filters.http.wasm", "envoy.filters.http.fault", "envoy.filters.http.router"]);
  });

  test("wasm file paths go through resolvePath", () => {
    const rendered = JSON.stringify(renderBootstrap(sample, { resolvePath: (p) => `/abs/${p}` }));
    expect(rendered).toContain('"filename":"/abs/build/auth.wasm"');
    expect(rendered).toContain('"filename":"/abs/build/tcp.wasm"');
  });

  test("file-based LDS: the bootstrap points at the file, which holds Listener resources with a version", () => {
    const listeners = sample.listeners.slice(0, 1);
    const lds = renderBootstrap({ listeners: [], clusters: sample.clusters, ldsPath: "/tmp/lds.json" });
    expect(lds.dynamic_resources).toEqual({ lds_config: { resource_api_version: "V3", path_config_source: { path: "/tmp/lds.json" } } });
    expect((lds.static_resources as { listeners: unknown[] }).listeners).toEqual([]);
    const file = renderListenerDiscovery(listeners, "v2", { resolvePath: (p) => `/abs/${p}` });
    const static1 = (renderBootstrap({ listeners, clusters: sample.clusters }, { resolvePath: (p) => `/abs/${p}` }).static_resources as { listeners: object[] }).listeners[0];
    expect(file).toEqual({ version_info: "v2", resources: [{ "@type": "type.googleapis.com/envoy.config.listener.v3.Listener", ...static1 }] });
    expect(() => renderBootstrap({ listeners: [] })).toThrow("declare at least one listener");
  });

  test("a route to an undeclared cluster is rejected with its name", () => {
    const bad: Bootstrap = { listeners: [httpListener("l", { virtualHosts: [{ name: "vh", routes: [{ cluster: "nowhere" }] }] })] };
    expect(() => renderBootstrap(bad)).toThrow('route in virtual host "vh" sends to cluster "nowhere", which is not declared');
  });

  test("duplicate names and an explicit router are rejected", () => {
    const dup: Bootstrap = { listeners: [tcpListener("a", { cluster: "c" }), tcpListener("a", { cluster: "c" })], clusters: [cluster("c", 1)] };
    expect(() => renderBootstrap(dup)).toThrow('two listeners are named "a"');
    const router: Bootstrap = {
      listeners: [httpListener("l", { httpFilters: [nativeFilter("envoy.filters.http.router", {}, "t")], virtualHosts: [] })],
    };
    expect(() => renderBootstrap(router)).toThrow("appended last automatically");
  });

  test("an unknown native filter needs its type URL", () => {
    expect(() => nativeFilter("envoy.filters.http.unknown_thing")).toThrow("pass its type URL");
    expect(nativeFilter("x", {}, "type.googleapis.com/X")).toEqual({ kind: "native", name: "x", typedConfig: { "@type": "type.googleapis.com/X" } });
  });
});
