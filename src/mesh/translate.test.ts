import { httpListener, renderBootstrap } from "../envoy/bootstrap";
import { attachesTo, httpFilterChain, pluginConfigJson, translateWasmPlugins, type SidecarListener } from "./translate";
import type { WasmPlugin, WasmPluginSpec } from "./wasmplugin";

function plugin(name: string, spec: Partial<WasmPluginSpec>, meta: Partial<WasmPlugin["metadata"]> = {}): WasmPlugin {
  return {
    apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin",
    metadata: { name, namespace: "demo", ...meta },
    spec: { url: `file:///m/${name}.wasm`, ...spec },
  };
}
const order = (ps: WasmPlugin[]) => translateWasmPlugins(ps).http.map((t) => t.resourceName);
const only = (p: WasmPlugin, modules?: Record<string, string>) => translateWasmPlugins([p], { modules }).http[0];

describe("WasmPlugin → Envoy translation", () => {
  test("orders by phase: AUTHN, AUTHZ, STATS, then unspecified just before the router", () => {
    expect(order([
      plugin("u", {}), plugin("s", { phase: "STATS" }), plugin("z", { phase: "AUTHZ" }),
      plugin("n", { phase: "AUTHN" }), plugin("x", { phase: "UNSPECIFIED_PHASE" }),
    ])).toEqual(["demo.n", "demo.z", "demo.s", "demo.u", "demo.x"]);
  });

  test("within a phase, higher priority first; an unset priority after every set one, even a negative one", () => {
    expect(order([
      plugin("low", { phase: "AUTHZ", priority: 1 }), plugin("none", { phase: "AUTHZ" }),
      plugin("neg", { phase: "AUTHZ", priority: -100 }), plugin("high", { phase: "AUTHZ", priority: 1000 }),
    ])).toEqual(["demo.high", "demo.low", "demo.neg", "demo.none"]);
    // Unset is the lowest int32: it ties with -2147483648, and the served names decide (`a~…` before `b~…`).
    expect(order([plugin("b", { priority: -2147483648 }), plugin("a", {})])).toEqual(["demo.a", "demo.b"]);
  });

  test("phase beats priority: a priority-1000 AUTHZ plugin still runs after a priority-0 AUTHN one", () => {
    expect(order([plugin("z", { phase: "AUTHZ", priority: 1000 }), plugin("n", { phase: "AUTHN", priority: 0 })])).toEqual(["demo.n", "demo.z"]);
  });

  test("ties keep istiod's listing order: the proxy's namespace, then the root one, each by creationTimestamp, served name, namespace", () => {
    expect(order([
      plugin("b", {}, { namespace: "apps" }),
      plugin("old", {}, { namespace: "apps", creationTimestamp: "2020-01-01T00:00:00Z" }),
      plugin("a", {}, { namespace: "apps" }),
      plugin("a", {}, { namespace: "aaa" }),
      plugin("zz", {}, { namespace: "istio-system", creationTimestamp: "2024-01-01T00:00:00Z" }),
    ])).toEqual(["aaa.a", "apps.a", "apps.b", "apps.old", "istio-system.zz"]);
    expect(translateWasmPlugins([plugin("a", {}, { namespace: "mesh" }), plugin("b", {}, { namespace: "apps" })], { rootNamespace: "mesh" })
      .http.map((t) => t.resourceName)).toEqual(["apps.b", "mesh.a"]);
    // istiod compares `auth~istio-translated-wasmplugin` with `auth-b~…`: '-' sorts before '~'.
    expect(order([plugin("auth", {}), plugin("auth-b", {})])).toEqual(["demo.auth-b", "demo.auth"]);
    // A TrafficExtension keeps its own name: `auth` before `auth-b~…`.
    expect(translateWasmPlugins([plugin("auth-b", {}), plugin("auth", {})], { trafficExtensions: new Set(["demo.auth"]) })
      .http.map((t) => t.resourceName)).toEqual(["demo.auth", "demo.auth-b"]);
  });

  test("names: a WasmPlugin is served as the TrafficExtension <name>~istio-translated-wasmplugin, a TrafficExtension by its name; root_id = pluginName", () => {
    const t = only(plugin("headers", { pluginName: "my_root" }));
    expect(t.resourceName).toBe("demo.headers");
    expect(t.envoy.name).toBe("demo.headers~istio-translated-wasmplugin");
    expect(t.ecdsResourceName).toBe("extensions.istio.io/trafficextension/demo.headers~istio-translated-wasmplugin");
    expect(t.envoy.rootId).toBe("my_root");
    expect(only(plugin("h", {})).envoy.rootId).toBe("");
    expect(only(plugin("h", {}, { namespace: undefined })).envoy.name).toBe("default.h~istio-translated-wasmplugin");
    const ext = translateWasmPlugins([plugin("te", {})], { trafficExtensions: new Set(["demo.te"]) }).http[0];
    expect([ext.envoy.name, ext.ecdsResourceName]).toEqual(["demo.te", "extensions.istio.io/trafficextension/demo.te"]);
  });

  test("pluginConfig reaches the plugin as compact JSON with sorted keys; none or {} means no configuration", () => {
    const t = only(plugin("h", { pluginConfig: { z: 1, a: { y: [true, null, "s"], b: 0.5 } } }));
    expect(t.envoy.configuration).toBe('{"a":{"b":0.5,"y":[true,null,"s"]},"z":1}');
    expect(only(plugin("h", {})).envoy.configuration).toBeUndefined();
    expect(only(plugin("h", { pluginConfig: {} })).envoy.configuration).toBeUndefined();
    expect(pluginConfigJson({ "é": "ü" })).toBe('{"é":"ü"}');
    // The stored object has no null fields (a null in a list stays), so the plugin never sees them.
    expect(only(plugin("h", { pluginConfig: { a: null, b: { c: null, d: [null, 1] } } })).envoy.configuration).toBe('{"b":{"d":[null,1]}}');
    expect(only(plugin("h", { pluginConfig: { a: null } })).envoy.configuration).toBeUndefined();
  });

  test("vmConfig.env: INLINE → key_values (default INLINE, missing value is empty), HOST → host_env_keys", () => {
    const t = only(plugin("h", { url: "https://x/h.wasm", vmConfig: { env: [
      { name: "MODE", value: "strict" }, { name: "EMPTY" }, { name: "POD_NAME", valueFrom: "HOST" }, { name: "X", value: "1", valueFrom: "INLINE" },
    ] } }, {}), { "demo.h": "/c/h.wasm" });
    expect(t.envoy.env).toEqual({ MODE: "strict", EMPTY: "", X: "1" });
    expect(t.envoy.hostEnvKeys).toEqual(["POD_NAME"]);
    const none = only(plugin("h", { url: "oci://r/h:1", imagePullPolicy: "Always" }), { "demo.h": "/c/h.wasm" });
    expect(none.envoy.env).toBeUndefined();
    expect(none.envoy.hostEnvKeys).toBeUndefined();
  });

  test("a file:// module keeps istiod's ISTIO_META_WASM_* entries (the agent strips them only from modules it fetches)", () => {
    const t = only(plugin("h", { imagePullPolicy: "Always", vmConfig: { env: [{ name: "A", value: "1" }] } }, { resourceVersion: "42" }));
    expect(t.envoy.env).toEqual({ ISTIO_META_WASM_IMAGE_PULL_POLICY: "Always", ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION: "42", A: "1" });
    expect(only(plugin("h", {})).envoy.env).toEqual({ ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION: "" });
  });

  test("for a sidecar listener, only what istiod attaches: namespace or root, no targetRefs, selector, match mode and port", () => {
    const l: SidecarListener = { namespace: "demo", labels: { app: "echo", v: "1" }, mode: "SERVER", port: 8080 };
    const yes = (spec: Partial<WasmPluginSpec>, ns = "demo") => attachesTo(plugin("p", spec, { namespace: ns }), l);
    expect(yes({})).toBe(true);
    expect(yes({}, "istio-system")).toBe(true);
    expect(yes({}, "other")).toBe(false);
    expect(yes({ selector: { matchLabels: { app: "echo" } } })).toBe(true);
    expect(yes({ selector: { matchLabels: { app: "other" } } })).toBe(false);
    expect(yes({ targetRefs: [{ kind: "Service", group: "", name: "echo" }] })).toBe(false);
    expect(yes({ match: [{ mode: "CLIENT" }] })).toBe(false);
    expect(yes({ match: [{ mode: "CLIENT_AND_SERVER" }] })).toBe(true);
    expect(yes({ match: [{ mode: "UNDEFINED", ports: [{ number: 8080 }] }] })).toBe(true);
    expect(yes({ match: [{ ports: [{ number: 9090 }] }] })).toBe(false);
    expect(yes({ match: [{ ports: [{ number: 9090 }] }, { mode: "SERVER" }] })).toBe(true);
    expect(translateWasmPlugins([plugin("a", {}), plugin("b", { match: [{ mode: "CLIENT" }] })], { workload: l }).http.map((t) => t.resourceName)).toEqual(["demo.a"]);
  });

  test("failStrategy → failure_policy: FAIL_CLOSE (also the default) → FAIL_CLOSED, FAIL_OPEN, FAIL_RELOAD", () => {
    expect(only(plugin("h", {})).envoy.failurePolicy).toBe("FAIL_CLOSED");
    expect(only(plugin("h", { failStrategy: "FAIL_CLOSE" })).envoy.failurePolicy).toBe("FAIL_CLOSED");
    expect(only(plugin("h", { failStrategy: "FAIL_OPEN" })).envoy.failurePolicy).toBe("FAIL_OPEN");
    expect(only(plugin("h", { failStrategy: "FAIL_RELOAD" })).envoy.failurePolicy).toBe("FAIL_RELOAD");
  });

  test("module source: file:// uses its path as istiod does; remote urls need a fetched module", () => {
    expect(only(plugin("h", { url: "file:///opt/f.wasm" })).envoy.wasmFile).toBe("/opt/f.wasm");
    expect(only(plugin("h", { url: "file://rel/f.wasm" })).envoy.wasmFile).toBe("rel/f.wasm");
    const remote = plugin("r", { url: "ghcr.io/me/r:1" });
    expect(() => translateWasmPlugins([remote])).toThrow(/demo.r: no local module for oci:\/\/ghcr.io\/me\/r:1/);
    const t = translateWasmPlugins([remote], { modules: { "demo.r": "/cache/abc.wasm" } }).http[0];
    expect(t.envoy.wasmFile).toBe("/cache/abc.wasm");
    expect(t.url).toBe("oci://ghcr.io/me/r:1");
  });

  test("NETWORK plugins are kept apart from the HTTP chain; duplicate names are refused", () => {
    const t = translateWasmPlugins([plugin("tcp", { type: "NETWORK" }), plugin("http", { type: "HTTP" })]);
    expect(t.network.map((p) => p.resourceName)).toEqual(["demo.tcp"]);
    expect(t.http.map((p) => p.resourceName)).toEqual(["demo.http"]);
    expect(() => translateWasmPlugins([plugin("a", {}), plugin("a", {})])).toThrow(/two WasmPlugins are named demo.a/);
  });

  test("a WasmPlugin and a TrafficExtension of one name are two plugins, as istiod keeps them; two of one kind are refused", () => {
    const wp = plugin("same", { phase: "AUTHZ", pluginName: "wp_root" });
    const te = plugin("same", { phase: "AUTHZ", pluginName: "te_root", url: "file:///m/te.wasm" });
    const t = translateWasmPlugins([wp, te], { trafficExtensions: new Set([te]), modules: { "demo.same": "/cache/te.wasm" } });
    // Ties fall to the served names: `same` sorts before `same~istio-translated-wasmplugin`.
    expect(t.http.map((p) => [p.resourceName, p.envoy.name, p.envoy.rootId])).toEqual([
      ["demo.same", "demo.same", "te_root"], ["demo.same", "demo.same~istio-translated-wasmplugin", "wp_root"],
    ]);
    expect(t.http.map((p) => p.ecdsResourceName)).toEqual([
      "extensions.istio.io/trafficextension/demo.same", "extensions.istio.io/trafficextension/demo.same~istio-translated-wasmplugin",
    ]);
    // A module keyed by the served name is that plugin's only; `<namespace>.<name>` is the fallback both share.
    expect(t.http.map((p) => p.envoy.wasmFile)).toEqual(["/cache/te.wasm", "/cache/te.wasm"]);
    const byServed = translateWasmPlugins([wp, te], { trafficExtensions: new Set([te]), modules: { "demo.same~istio-translated-wasmplugin": "/cache/wp.wasm" } });
    expect(byServed.http.map((p) => p.envoy.wasmFile)).toEqual(["/m/te.wasm", "/cache/wp.wasm"]);
    const te2 = plugin("same", {});
    expect(() => translateWasmPlugins([te, te2], { trafficExtensions: new Set([te, te2]) })).toThrow(/two TrafficExtensions are named demo.same/);
  });

  test("the rendered chain: Istio's own filters sit after their phase's plugins, the router last, with Envoy's field names", () => {
    const t = translateWasmPlugins([
      plugin("u", { pluginConfig: { k: "v" } }), plugin("n", { phase: "AUTHN", failStrategy: "FAIL_OPEN", vmConfig: { env: [{ name: "A", value: "1" }] } }),
    ]);
    const authn = { kind: "native" as const, name: "envoy.filters.http.jwt_authn", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication" } };
    const json = renderBootstrap({ listeners: [httpListener("l", { httpFilters: httpFilterChain(t, { AUTHN: [authn] }), virtualHosts: [{ name: "v", routes: [{ directResponse: { status: 200 } }] }] })] });
    const hcm = (json as any).static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const filters = hcm.http_filters as { name: string; typed_config: any }[];
    const m = "~istio-translated-wasmplugin";
    expect(filters.map((f) => f.typed_config.config?.name ?? f.name)).toEqual([`demo.n${m}`, "envoy.filters.http.jwt_authn", `demo.u${m}`, "envoy.filters.http.router"]);
    expect(filters[0].typed_config.config).toEqual({
      name: `demo.n${m}`, root_id: "", failure_policy: "FAIL_OPEN",
      vm_config: { vm_id: "", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: "/m/n.wasm" } }, environment_variables: { key_values: { ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION: "", A: "1" } } },
    });
    expect(filters[2].typed_config.config.configuration).toEqual({ "@type": "type.googleapis.com/google.protobuf.StringValue", value: '{"k":"v"}' });
    expect(filters[2].typed_config.config.failure_policy).toBe("FAIL_CLOSED");
  });
});
