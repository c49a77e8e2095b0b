// Per-route rules in a real Envoy: one plugin instance in the filter chain, different settings on routes
// that differ only by their name (xds.route_name), as docs/route-rules.md describes: faults, and rate limits
// (exact across Envoy's workers, so the counts are exact).

import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { buildFilter } from "../src/build/build";
import { cluster, envoyHarness, httpListener, waitFor, wasmFilter, type JsonObject, type StartedEnvoy } from "../src/envoy";

const harness = envoyHarness({ scope: "all" });
jest.setTimeout(120_000);

let echoPort = 0;
beforeAll(async () => { echoPort = (await harness.startEcho({ name: "echo" })).port; }, 60_000);

/** Three named routes to the same cluster; the filter is the only thing that tells them apart. */
async function startWith(filter: string, configuration: JsonObject, concurrency = 1): Promise<StartedEnvoy> {
  const wasmFile = (await buildFilter(join(__dirname, "..", "filters", filter))).wasmPath;
  return harness.startEnvoy({
    listeners: [httpListener("ingress", {
      httpFilters: [wasmFilter({ name: filter, vmId: filter, wasmFile, configuration })],
      virtualHosts: [{
        name: "shop",
        routes: [
          { name: "orders", match: { prefix: "/orders" }, cluster: "echo" },
          { name: "search", match: { prefix: "/search" }, cluster: "echo" },
          { name: "rest", match: { prefix: "/" }, cluster: "echo" },
        ],
      }],
    })],
    clusters: [cluster("echo", echoPort)],
  }, { concurrency });
}

async function get(envoy: StartedEnvoy, path: string, headers: Record<string, string> = {}): Promise<{ status: number; ms: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(envoy.url(path), { headers, signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - t0, body };
}

describe("route rules e2e: one plugin, settings per route name", () => {
  test("fault: route orders aborts with 503, route search is delayed 300 ms, a CEL rule aborts with 500, the rest pass", async () => {
    const envoy = await startWith("fault", {
      route_rules: [
        { match: { route_name: "orders" }, config: { abort: { http_status: 503, percentage: { numerator: 100 } } } },
        { match: { route_name: "search" }, config: { delay: { fixed_delay: "0.3s", percentage: { numerator: 100 } } } },
        // Compiled by Envoy at configure time, evaluated by Envoy per request.
        { match: { cel: "request.headers['x-chaos'] == 'on' && request.path.startsWith('/home')" }, config: { abort: { http_status: 500, percentage: { numerator: 100 } } } },
      ],
    });
    for (let i = 0; i < 5; i++) {
      const orders = await get(envoy, `/orders/${i}`);
      expect([orders.status, orders.body]).toEqual([503, "fault filter abort"]);
      const search = await get(envoy, `/search?q=${i}`);
      expect(search.status).toBe(200);
      expect(search.ms).toBeGreaterThanOrEqual(300);
      const rest = await get(envoy, `/home/${i}`);
      expect(rest.status).toBe(200);
      expect(JSON.parse(rest.body).upstream).toBe("echo");
      expect((await get(envoy, `/home/${i}`, { "x-chaos": "on" })).status).toBe(500);
      expect((await get(envoy, `/home/${i}`, { "x-chaos": "off" })).status).toBe(200);
    }
    const counted = await waitFor(async () => {
      const stats = await envoy.stats();
      const c = [stats.get("wasmcustom.fault.aborts_injected"), stats.get("wasmcustom.fault.delays_injected")];
      return c[0] === 10 && c[1] === 5 ? c : undefined;
    }, { timeoutMs: 10_000, what: "10 aborts and 5 delays in Envoy's stats" });
    expect(counted).toEqual([10, 5]);
  });

  test("ratelimit, 2 workers: 3 per minute on route orders, 10 on route search, 100 on the rest, each its own bucket", async () => {
    const bucket = (n: number) => ({ max_tokens: n, tokens_per_fill: n, fill_interval: "60s" });
    const envoy = await startWith("ratelimit", {
      token_bucket: bucket(100),
      route_rules: [
        { match: { route_name: "orders" }, config: { token_bucket: bucket(3) } },
        { match: { route_name: "search" }, config: { token_bucket: bucket(10) } },
      ],
    }, 2);
    const count = async (path: string, n: number) => {
      const answers = await Promise.all(Array.from({ length: n }, (_, i) => get(envoy, `${path}${i}`)));
      return [answers.filter((a) => a.status === 200).length, answers.filter((a) => a.status === 429).length];
    };
    expect(await count("/orders/", 8)).toEqual([3, 5]);
    expect(await count("/search?q=", 15)).toEqual([10, 5]);
    expect(await count("/home/", 40)).toEqual([40, 0]);
  });
});
