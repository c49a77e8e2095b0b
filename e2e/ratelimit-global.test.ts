// ratelimit (global mode) against real services: envoyproxy/ratelimit backed by Redis, called over gRPC
// (HTTP/2 cluster) from two Envoys that therefore share one limit, plus the failure modes.

import { describeRequiring } from "../src/requirements";
import { ratelimitWasm } from "../filters/ratelimit/tests/harness";
import { cluster, envoyHarness, httpListener, wasmFilter, waitFor, type Bootstrap, type JsonObject, type StartedEnvoy } from "../src/envoy";
import { freePort, locateRatelimitService, locateRedisServer, servicesHarness, type StartedRatelimitService } from "../src/services";
import { httpRequest, type ClientResponse } from "./support/client";

const redisBin = locateRedisServer();
const serviceBin = locateRatelimitService();
const missing = !redisBin.ok ? redisBin.reason : !serviceBin.ok ? serviceBin.reason : undefined;
const describeGlobal = describeRequiring(missing === undefined ? undefined : `ratelimit global e2e: ${missing}`);

const DOMAIN = "pwas-e2e";
const LIMIT = 30;

const envoys = envoyHarness();
const services = servicesHarness({ scope: "all" });
let wasmFile: string;
let rls: StartedRatelimitService;

jest.setTimeout(120_000);

function filterConfig(extra: JsonObject = {}): JsonObject {
  return {
    domain: DOMAIN,
    rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: "ratelimit" } }, transport_api_version: "V3" },
    rate_limits: [{ actions: [{ generic_key: { descriptor_value: "shared" } }] }],
    // A generous timeout: the machine may be busy with four Envoy workers and the burst itself.
    timeout: "5s",
    enable_x_ratelimit_headers: "DRAFT_VERSION_03",
    ...extra,
  };
}

function bootstrap(echoPort: number, rlsPort: number, config: JsonObject): Bootstrap {
  return {
    listeners: [httpListener("rl", {
      httpFilters: [wasmFilter({ name: "ratelimit", wasmFile, vmId: "ratelimit", configuration: config })],
      virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }],
    })],
    clusters: [cluster("echo", echoPort), cluster("ratelimit", rlsPort, { http2: true })],
  };
}

function burst(envoy: StartedEnvoy, n: number, path = "/"): Promise<ClientResponse[]> {
  return Promise.all(Array.from({ length: n }, () => httpRequest(envoy.url(path), { timeoutMs: 30_000 })));
}

function tally(rs: ClientResponse[]): Record<number, number> {
  const t: Record<number, number> = {};
  for (const r of rs) t[r.status] = (t[r.status] ?? 0) + 1;
  return t;
}

/**
 * The service counts in fixed windows aligned to the unit (here the hour). A burst that straddles the
 * boundary would see two windows, so when the next boundary is under 30 s away, wait for it to pass.
 */
async function awayFromHourBoundary(): Promise<void> {
  const toBoundary = () => 3_600_000 - (Date.now() % 3_600_000);
  if (toBoundary() > 30_000) return;
  const hour = Math.floor(Date.now() / 3_600_000);
  console.log(`ratelimit global e2e: waiting ${Math.ceil(toBoundary() / 1000)} s for the hour window to roll over`);
  await waitFor(() => (Math.floor(Date.now() / 3_600_000) > hour ? true : undefined), { timeoutMs: 40_000, intervalMs: 250, what: "the next hour window" });
}

describeGlobal("ratelimit e2e: global limit through envoyproxy/ratelimit and Redis", () => {
  beforeAll(async () => {
    wasmFile = await ratelimitWasm();
    const redis = await services.startRedis();
    rls = await services.startRatelimitService({
      redisAddress: redis.address,
      domains: [{
        domain: DOMAIN,
        descriptors: [
          { key: "generic_key", value: "shared", rate_limit: { unit: "hour", requests_per_unit: LIMIT } },
          { key: "generic_key", value: "tiny", rate_limit: { unit: "hour", requests_per_unit: 1 } },
        ],
      }],
    });
  }, 180_000);

  test(`two Envoys (2 workers each) share one limit: exactly ${LIMIT} of 160 requests pass`, async () => {
    const echo = await envoys.startEcho();
    const [a, b] = await Promise.all([
      envoys.startEnvoy(bootstrap(echo.port, rls.grpcPort, filterConfig()), { concurrency: 2 }),
      envoys.startEnvoy(bootstrap(echo.port, rls.grpcPort, filterConfig()), { concurrency: 2 }),
    ]);
    await awayFromHourBoundary();
    // Envoy A spends 10 of the 30 first; then both are hit at once, interleaved: 20 are left in total.
    expect(tally(await burst(a, 10))).toEqual({ 200: 10 });
    const both = await Promise.all(Array.from({ length: 150 }, (_, i) => httpRequest((i % 2 ? a : b).url("/"), { timeoutMs: 30_000 }).then((r) => [i % 2 ? "a" : "b", r] as const)));
    const ra = both.filter(([w]) => w === "a").map(([, r]) => r);
    const rb = both.filter(([w]) => w === "b").map(([, r]) => r);
    const all = both.map(([, r]) => r);
    console.log(`ratelimit global e2e: after A spent 10, A ${JSON.stringify(tally(ra))}, B ${JSON.stringify(tally(rb))}`);
    expect(tally(all)).toEqual({ 200: LIMIT - 10, 429: 150 - (LIMIT - 10) });
    expect(tally(ra)[429]).toBeGreaterThan(0);
    expect(tally(rb)[429]).toBeGreaterThan(0);
    expect(echo.requests).toBe(LIMIT);

    const ok = (await a.counter("wasmcustom.ratelimit.ok")) + (await b.counter("wasmcustom.ratelimit.ok"));
    const over = (await a.counter("wasmcustom.ratelimit.over_limit")) + (await b.counter("wasmcustom.ratelimit.over_limit"));
    expect([ok, over]).toEqual([LIMIT, 160 - LIMIT]);
    expect((await a.counter("wasmcustom.ratelimit.errors")) + (await b.counter("wasmcustom.ratelimit.errors"))).toBe(0);
    expect(await a.counter("cluster.ratelimit.upstream_rq_total")).toBeGreaterThan(0);

    const denied = all.find((r) => r.status === 429)!;
    expect(denied.headers["x-envoy-ratelimited"]).toBe("true");
    expect(denied.headers["x-ratelimit-limit"]).toBe(`${LIMIT}, ${LIMIT};w=3600`);
    expect(denied.headers["x-ratelimit-remaining"]).toBe("0");
    const resetIn = Number(denied.headers["retry-after"]);
    expect(resetIn).toBeGreaterThan(0);
    expect(resetIn).toBeLessThanOrEqual(3600);
    const allowed = all.find((r) => r.status === 200)!;
    expect(Number(allowed.headers["x-ratelimit-remaining"])).toBeLessThan(LIMIT);
  });

  test("a descriptor the service has no limit for is allowed", async () => {
    const echo = await envoys.startEcho();
    const envoy = await envoys.startEnvoy(
      bootstrap(echo.port, rls.grpcPort, filterConfig({ rate_limits: [{ actions: [{ generic_key: { descriptor_value: "unlisted" } }] }] })),
      { concurrency: 2 },
    );
    expect(tally(await burst(envoy, 20))).toEqual({ 200: 20 });
    expect(await envoy.counter("wasmcustom.ratelimit.ok")).toBe(20);
  });

  test("shadow mode against the real service: over-limit requests pass and are counted", async () => {
    const echo = await envoys.startEcho();
    const envoy = await envoys.startEnvoy(
      bootstrap(echo.port, rls.grpcPort, filterConfig({
        rate_limits: [{ actions: [{ generic_key: { descriptor_value: "tiny" } }] }],
        filter_enforced: { default_value: { numerator: 0, denominator: "HUNDRED" } },
      })),
    );
    await awayFromHourBoundary();
    expect(tally(await burst(envoy, 10))).toEqual({ 200: 10 });
    expect(await envoy.counter("wasmcustom.ratelimit.shadow_over_limit")).toBe(9);
  });
});

describeGlobal("ratelimit e2e: the rate limit service is down", () => {
  beforeAll(async () => {
    wasmFile = await ratelimitWasm();
  }, 180_000);

  test("fails open by default: requests pass, ratelimit.errors counts them", async () => {
    const echo = await envoys.startEcho();
    const deadPort = await freePort(); // nothing listens there
    const envoy = await envoys.startEnvoy(bootstrap(echo.port, deadPort, filterConfig({ timeout: "1s" })), { concurrency: 2 });
    expect(tally(await burst(envoy, 20))).toEqual({ 200: 20 });
    expect(await envoy.counter("wasmcustom.ratelimit.errors")).toBe(20);
  });

  test("failure_mode_deny: requests get status_on_error (500)", async () => {
    const echo = await envoys.startEcho();
    const deadPort = await freePort();
    const envoy = await envoys.startEnvoy(bootstrap(echo.port, deadPort, filterConfig({ timeout: "1s", failure_mode_deny: true })), { concurrency: 2 });
    expect(tally(await burst(envoy, 20))).toEqual({ 500: 20 });
    expect(echo.requests).toBe(0);
  });
});
