/**
 * The stock filters through a real sidecar (istio-agent and the pinned Envoy on istiod's xDS, see
 * e2e/support/mesh.ts), each deployed with `pwas deploy --apply` as a user would. Checks that
 *   - routing writes its decision (x-route-subset, the rule's name) into the request the upstream gets, and
 *     removes a subset header the client sent;
 *   - ratelimit (local mode, a bucket per client) answers the N+1th request of the window with 429 and its
 *     headers, while another client passes;
 *   - auth (JWT, inline JWKS) passes a valid token and answers a missing or badly signed one with 401 and
 *     the reason; `pwas deploy` refuses FAIL_OPEN for it (its package.json forbids it) before kubectl runs;
 *   - auth in AUTHN, ratelimit in AUTHZ and fault in STATS run in Istio's phase order: the earliest that
 *     acts answers, and the listener names their ECDS filters in that order;
 *   - failStrategy FAIL_RELOAD, passed by istiod as Envoy's failure_policy: after the module traps (a
 *     test-only scenario of the conformance module), a reloaded VM serves requests again, where FAIL_CLOSE
 *     keeps refusing them;
 *   - a new image tag with a new sha256 (and a new configuration) applied while a bounded load runs is
 *     picked up with no failed request: every answer is the old or the new abort status, and once the new
 *     one is seen the old one is not.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../src/envoy/wait";
import { describeRequiring } from "../src/requirements";
import { hmacKey, jwks, mint } from "../filters/auth/tests/auth-harness";
import { buildConformance, CONFORMANCE_CONFIG, PLUGIN } from "./support/conformance";
import { countBy, startLoad } from "./support/load";
import { missingSidecarTools, send, startSidecarMesh, untilReply, untilStatus, type SidecarMesh } from "./support/mesh";

const describeWithSidecar = describeRequiring(missingSidecarTools());

jest.setTimeout(120_000);

const FILTERS = join(__dirname, "..", "filters");
const dirOf = (name: string) => join(FILTERS, name);
const wasmOf = (name: string) => join(FILTERS, name, "build", `${name}.wasm`);
const ISS = "https://idp.test";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface EcdsPlugin {
  name?: string;
  failure_policy?: string;
  vm_config?: { code?: { local?: { filename?: string } } };
}

interface Echoed {
  path: string;
  headers: Record<string, string>;
}

describeWithSidecar("sidecar: the stock filters, phases, FAIL_RELOAD and a live image update", () => {
  let mesh: SidecarMesh;
  let conformanceWasm: string;
  const hs = hmacKey("HS256", "k1");
  const token = (claims: Record<string, unknown> = {}) => mint(hs, { iss: ISS, sub: "alice", exp: Math.floor(Date.now() / 1000) + 3600, ...claims });
  const url = (path = "/") => `${mesh.sidecar.url}${path}`;

  /** `pwas deploy <filter> --no-build --kind WasmPlugin --image file://… --apply` into namespace shop. */
  const deploy = (filter: string, name: string, config: unknown, ...more: string[]) => mesh.pwas("deploy", dirOf(filter), "--no-build", "--kind", "WasmPlugin",
    "--image", `file://${wasmOf(filter)}`, "--name", name, "--namespace", "shop", "--selector", "app=echo", "--config", JSON.stringify(config), ...more, "--apply");
  /** Deletes every WasmPlugin in shop and waits until a request that any of them would stop passes. */
  const removeAll = async (headers: Record<string, string>) => {
    await mesh.cp.kubectlOk(["delete", "wasmplugin", "--all", "-n", "shop"]);
    await untilStatus(mesh.sidecar, 200, headers, "requests to pass once the plugins are deleted");
  };
  /** The names of the inbound listener's HTTP filters, in order. */
  const httpFilters = async (): Promise<string[]> => {
    const dump = JSON.parse(await mesh.sidecar.admin("/config_dump?resource=dynamic_listeners")) as { configs: unknown[] };
    const names: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (Array.isArray(o.http_filters)) for (const f of o.http_filters as { name: string }[]) names.push(f.name);
        else Object.values(o).forEach(walk);
      }
    };
    walk(dump.configs.filter((c) => JSON.stringify(c).includes(mesh.sidecar.url.replace("http://", "").split(":")[0])));
    return names;
  };

  beforeAll(async () => {
    const [started, built] = await Promise.all([
      startSidecarMesh({ build: ["routing", "ratelimit", "auth", "fault"].map(dirOf) }),
      buildConformance(),
    ]);
    mesh = started;
    conformanceWasm = built;
  }, 300_000);
  afterAll(async () => {
    await mesh?.stop();
  });

  test("routing: the upstream gets the subset and rule the filter chose; a subset header the client sent is replaced", async () => {
    const config = {
      http: [
        { name: "jason", match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
        { name: "default", route: [{ destination: { host: "reviews", subset: "v1" } }] },
      ],
      metadata: { rule_header: "x-route-rule" },
    };
    const r = await deploy("routing", "routing", config);
    expect(r.err).toContain("wasmplugin.extensions.istio.io/routing created");
    expect(r.code).toBe(0);
    const jason = await untilReply(mesh.sidecar, (x) => x.status === 200 && (JSON.parse(x.body) as Echoed).headers["x-route-subset"] !== undefined,
      { "end-user": "jason" }, "the routing plugin to write x-route-subset");
    expect((JSON.parse(jason.body) as Echoed).headers).toMatchObject({ "x-route-subset": "v2", "x-route-rule": "jason" });
    const other = JSON.parse((await send(url("/p"), { "end-user": "kim", "x-route-subset": "v9" })).body) as Echoed;
    expect(other.headers).toMatchObject({ "x-route-subset": "v1", "x-route-rule": "default" });
    expect(other.path).toBe("/p");
  });

  const RATELIMIT = {
    rate_limits: [{ actions: [{ request_headers: { header_name: "x-client", descriptor_key: "client" } }] }],
    descriptors: [{ entries: [{ key: "client" }], token_bucket: { max_tokens: 3, tokens_per_fill: 3, fill_interval: "3600s" } }],
    enable_x_ratelimit_headers: "DRAFT_VERSION_03",
  };

  test("ratelimit (local, a bucket per x-client): the 4th request of a 3-token window gets 429 with its headers; another client passes", async () => {
    const r = await deploy("ratelimit", "ratelimit", RATELIMIT, "--phase", "AUTHZ");
    expect(r.code).toBe(0);
    // Each probe is a client of its own, so waiting spends no token of the clients below.
    let probe = 0;
    await waitFor(async () => {
      const x = await send(url(), { "x-client": `probe-${probe++}` });
      return x.headers.get("x-ratelimit-limit") !== null ? x : undefined;
    }, { timeoutMs: 45_000, what: "the ratelimit plugin to answer with x-ratelimit-limit" });
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const ok = await send(url(), { "x-client": "alice" });
      expect(ok.status).toBe(200);
      expect(ok.headers.get("x-ratelimit-limit")).toMatch(/^3\b/);
      remaining.push(ok.headers.get("x-ratelimit-remaining"));
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const denied = await send(url(), { "x-client": "alice" });
    expect(denied.status).toBe(429);
    expect(denied.body).toBe("local_rate_limited");
    expect(denied.headers.get("x-envoy-ratelimited")).toBe("true");
    expect(Number(denied.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(denied.headers.get("x-ratelimit-remaining")).toBe("0");
    expect((await send(url(), { "x-client": "bob" })).status).toBe(200);
  });

  const AUTH = {
    providers: { p: { issuer: ISS, local_jwks: { inline_string: jwks(hs) } } },
    rules: [{ match: { prefix: "/" }, requires: { provider_name: "p" } }],
  };

  test("auth: pwas deploy refuses FAIL_OPEN for it before kubectl runs; deployed, a valid token passes and a missing or bad one gets 401 with the reason", async () => {
    const refused = await deploy("auth", "auth", AUTH, "--phase", "AUTHN", "--fail-strategy", "FAIL_OPEN");
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain("auth refuses --fail-strategy FAIL_OPEN: a failed auth plugin would let every request through");
    expect(refused.err).not.toContain("wasmplugin.extensions.istio.io/auth");
    expect((await mesh.cp.kubectl(["get", "wasmplugin", "-n", "shop", "auth"])).code).not.toBe(0);

    const r = await deploy("auth", "auth", AUTH, "--phase", "AUTHN");
    expect(r.err).toContain("wasmplugin.extensions.istio.io/auth created");
    const missing = await untilStatus(mesh.sidecar, 401, {}, "the auth plugin to refuse a request without a token");
    expect(missing.body).toBe("Jwt is missing");
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer realm="http:\/\/127\.0\.0\.7:\d+\/"$/);
    const forged = token().replace(/\.[^.]+$/, ".AAAA");
    const bad = await send(url(), { authorization: `Bearer ${forged}` });
    expect(bad.status).toBe(401);
    expect(bad.body).toBe("Jwt verification fails");
    expect(bad.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const ok = await send(url("/orders"), { authorization: `Bearer ${token()}` });
    expect(ok.status).toBe(200);
    const seen = JSON.parse(ok.body) as Echoed;
    expect(seen.path).toBe("/orders");
    expect(seen.headers.authorization).toBeUndefined(); // not forwarded without `forward`
  });

  test("phases: auth (AUTHN) answers before ratelimit (AUTHZ), which answers before fault (STATS); the listener lists them in that order", async () => {
    const r = await deploy("fault", "fault", { abort: { http_status: 434, percentage: { numerator: 100 } }, headers: [{ name: "x-fault", string_match: { exact: "yes" } }] }, "--phase", "STATS");
    expect(r.code).toBe(0);
    const bearer = { authorization: `Bearer ${token()}` };
    await untilStatus(mesh.sidecar, 434, { ...bearer, "x-fault": "yes" }, "the fault plugin in STATS to abort with 434");
    // alice's bucket is empty (previous test): each of the three would answer; the earliest phase does.
    expect((await send(url(), { "x-client": "alice", "x-fault": "yes" })).status).toBe(401);
    const limited = await send(url(), { ...bearer, "x-client": "alice", "x-fault": "yes" });
    expect([limited.status, limited.body]).toEqual([429, "local_rate_limited"]);
    const aborted = await send(url(), { ...bearer, "x-client": "carol", "x-fault": "yes" });
    expect([aborted.status, aborted.body]).toEqual([434, "fault filter abort"]);
    expect((await send(url(), { ...bearer, "x-client": "carol" })).status).toBe(200);

    const names = await httpFilters();
    console.log(`sidecar: inbound HTTP filters in order: ${names.join(", ")}`);
    // istiod names each ECDS filter after the plugin: "extensions.istio.io/trafficextension/shop.<name>~istio-translated-wasmplugin".
    const at = (n: string) => names.findIndex((x) => x.includes(`/shop.${n}~`));
    expect(at("auth")).toBeGreaterThan(-1);
    expect(at("ratelimit")).toBeGreaterThan(at("auth"));
    expect(at("fault")).toBeGreaterThan(at("ratelimit"));
    expect(names[names.length - 1]).toBe("envoy.filters.http.router");
  });

  /** A WasmPlugin of the conformance module, whose `trap` scenario makes the VM trap on demand. */
  const crashing = (name: string, failStrategy: string) => [
    "apiVersion: extensions.istio.io/v1alpha1", "kind: WasmPlugin", `metadata: {name: ${name}, namespace: shop}`, "spec:",
    "  selector: {matchLabels: {app: echo}}", `  url: file://${conformanceWasm}`, `  pluginName: ${PLUGIN.rootId}`,
    `  failStrategy: ${failStrategy}`, `  pluginConfig: ${JSON.stringify(CONFORMANCE_CONFIG)}`, "",
  ].join("\n");
  const scenario = (s: string) => send(url(), { "x-scenario": s });
  const servedByPlugin = (x: { status: number; headers: Headers }) => x.status === 200 && x.headers.get("x-conformance") === "1";
  /** The Wasm PluginConfig Envoy got over ECDS for the plugin `name` ("shop.crash"), from its config_dump. */
  const ecdsPlugin = async (name: string): Promise<EcdsPlugin | undefined> => {
    const dump = JSON.parse(await mesh.sidecar.admin("/config_dump?resource=ecds_filters")) as { configs: { ecds_filter?: { typed_config?: { config?: EcdsPlugin } } }[] };
    return dump.configs.map((c) => c.ecds_filter?.typed_config?.config).find((c) => c?.name?.startsWith(`${name}~`));
  };
  let reloadMs = 0;

  test("FAIL_RELOAD: istiod passes it as Envoy's failure_policy; after the module traps, a reloaded VM serves requests again", async () => {
    await removeAll({ "x-fault": "yes" });
    await mesh.cp.kubectlOk(["apply", "-f", "-"], crashing("crash", "FAIL_RELOAD"));
    await untilReply(mesh.sidecar, servedByPlugin, { "x-scenario": "headers" }, "the conformance plugin to serve the headers scenario");
    expect((await ecdsPlugin("shop.crash"))?.failure_policy).toBe("FAIL_RELOAD");
    const upstreamSaw = JSON.parse((await scenario("headers")).body) as Echoed;
    expect(upstreamSaw.headers["x-added"]).toBe("1");

    const t0 = performance.now();
    expect((await scenario("trap")).status).toBe(503);
    await waitFor(() => (/proxy_on_request_headers failed: Uncaught RuntimeError: unreachable/.test(mesh.sidecar.output(400)) ? true : undefined),
      { timeoutMs: 10_000, what: "the trap in the agent's Envoy log" });
    let refused = 0;
    const served = await waitFor(async () => {
      const x = await scenario("headers");
      if (servedByPlugin(x)) return x;
      refused++;
      return undefined;
    }, { timeoutMs: 30_000, intervalMs: 100, what: "a request served by the reloaded VM" });
    reloadMs = performance.now() - t0;
    expect((JSON.parse(served.body) as Echoed).headers["x-added"]).toBe("1");
    const stats = await mesh.sidecar.admin("/stats?filter=vm_reload");
    const reloads = [...stats.matchAll(/(\S*vm_reload_success): (\d+)/g)].map((m) => Number(m[2]));
    console.log(`sidecar FAIL_RELOAD: served again ${Math.round(reloadMs)} ms after the trap, ${refused} request(s) refused meanwhile\n${stats.trim()}`);
    expect(Math.max(0, ...reloads)).toBeGreaterThanOrEqual(1);
  });

  test("FAIL_CLOSE: after the module traps, requests stay refused (503) for well beyond the time FAIL_RELOAD took to recover", async () => {
    await mesh.cp.kubectlOk(["delete", "wasmplugin", "-n", "shop", "crash"]);
    await mesh.cp.kubectlOk(["apply", "-f", "-"], crashing("crash-closed", "FAIL_CLOSE"));
    // The plugin deleted above runs the same module, so a served request alone does not say which one
    // answered: wait until Envoy has the new plugin's ECDS config and no longer the old one's.
    const closed = await waitFor(async () => ((await ecdsPlugin("shop.crash")) === undefined ? await ecdsPlugin("shop.crash-closed") : undefined),
      { timeoutMs: 30_000, what: "the FAIL_CLOSE plugin to replace the FAIL_RELOAD one in Envoy's ECDS config" });
    expect(closed.failure_policy).toBe("FAIL_CLOSED");
    await untilReply(mesh.sidecar, servedByPlugin, { "x-scenario": "headers" }, "the FAIL_CLOSE conformance plugin to serve the headers scenario");
    expect((await scenario("trap")).status).toBe(503);
    const window = Math.round(Math.max(3 * reloadMs, 3000));
    const reached = mesh.echo.requests;
    const statuses: number[] = [];
    await expect(waitFor(async () => {
      const x = await scenario("headers");
      statuses.push(x.status);
      return servedByPlugin(x) ? x : undefined;
    }, { timeoutMs: window, intervalMs: 100, what: "a request served after the trap under FAIL_CLOSE" })).rejects.toThrow(/timed out after \d+ ms waiting for a request served after the trap/);
    console.log(`sidecar FAIL_CLOSE: ${statuses.length} requests over ${Math.round(window)} ms after the trap: ${JSON.stringify(countBy(statuses, String))}`);
    expect(statuses.length).toBeGreaterThan(5);
    expect(new Set(statuses)).toEqual(new Set([503]));
    expect(mesh.echo.requests).toBe(reached); // none got past the failed plugin
  });

  test("a new image tag with a new sha256, applied while a bounded load runs: no failed request, the old abort status until the new one lands", async () => {
    await removeAll({ "x-scenario": "headers" });
    const { registry } = mesh;
    // The same filter, a different module: a custom section appended makes new bytes and a new digest.
    const v2 = join(mesh.cp.dir, "fault-v2.wasm");
    const name = Buffer.from("pwas-e2e");
    const payload = Buffer.from("v2");
    writeFileSync(v2, Buffer.concat([readFileSync(wasmOf("fault")), Buffer.from([0x00, 1 + name.length + payload.length, name.length]), name, payload]));
    const push = async (file: string, tag: string) => {
      const p = await mesh.pwas("push", file, `${registry.host}/filters/fault:${tag}`, "--insecure");
      expect(p.code).toBe(0);
      return /sha256:([0-9a-f]{64})/.exec(p.out)![1];
    };
    const [d1, d2] = [await push(wasmOf("fault"), "1.0.0"), await push(v2, "2.0.0")];
    expect(d2).not.toBe(d1);
    const live = (tag: string, digest: string, status: number) => mesh.pwas("deploy", dirOf("fault"), "--no-build", "--kind", "WasmPlugin",
      "--image", `oci://${registry.host}/filters/fault:${tag}`, "--sha256", digest, "--name", "live", "--namespace", "shop", "--selector", "app=echo",
      "--config", JSON.stringify({ abort: { http_status: status, percentage: { numerator: 100 } }, headers: [{ name: "x-fault", string_match: { exact: "yes" } }] }), "--apply");
    expect((await live("1.0.0", d1, 432)).code).toBe(0);
    await untilStatus(mesh.sidecar, 432, { "x-fault": "yes" }, "fault:1.0.0 to abort with 432");

    const load = startLoad({ concurrency: 8, maxRequests: 50_000, maxDurationMs: 90_000, send: async () => (await send(url(), { "x-fault": "yes" })).status });
    await load.advance(200);
    const applied = load.mark("applied");
    const r = await live("2.0.0", d2, 433);
    expect(r.err).toContain("wasmplugin.extensions.istio.io/live configured");
    const first = await load.waitForSample((s) => s.result === 433, applied, 60_000, "a request answered by fault:2.0.0 (433)");
    await load.advance(500);
    const samples = await load.stop();
    const byStatus = countBy(samples, (s) => (s.error ? `error: ${s.error}` : String(s.result)));
    const lateOld = samples.filter((s) => s.result === 432 && s.startedAt > first.endedAt).length;
    console.log(`sidecar live update: ${samples.length} requests at concurrency 8: ${JSON.stringify(byStatus)}; ` +
      `new status first seen ${Math.round(first.endedAt - applied)} ms after kubectl apply began; ${lateOld} old answer(s) started after the first new one`);
    expect(Object.keys(byStatus)).toEqual(["432", "433"]);
    expect(lateOld).toBe(0);
    expect(mesh.sidecar.output(400)).not.toMatch(/which does not match/);
    // What Envoy runs now is the 2.0.0 module: the file the agent cached for it has its bytes.
    const cached = (await ecdsPlugin("shop.live"))?.vm_config?.code?.local?.filename;
    expect(cached).toBeDefined();
    expect(sha256(readFileSync(cached!))).toBe(sha256(readFileSync(v2)));
  });
});
