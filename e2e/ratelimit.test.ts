// ratelimit (local mode) against a real Envoy with 4 worker threads: a burst of parallel requests on their
// own connections gets exactly N successes from a bucket of N, a strict per-user limit holds under a flood
// of distinct keys, and Envoy's own local_ratelimit on the equivalent config answers with the same counts
// of 200 and 429.

import { ratelimitWasm } from "../filters/ratelimit/tests/harness";
import {
  cluster, envoyHarness, httpListener, nativeFilter, wasmFilter,
  type Bootstrap, type HttpFilter, type JsonObject, type StartedEnvoy,
} from "../src/envoy";
import { httpRequest, type ClientResponse } from "./support/client";

const harness = envoyHarness();
let wasmFile: string;

beforeAll(async () => {
  wasmFile = await ratelimitWasm();
}, 180_000);

jest.setTimeout(120_000);

const WORKERS = 4;

function bootstrap(filters: Record<string, HttpFilter[]>, echoPort: number): Bootstrap {
  return {
    listeners: Object.entries(filters).map(([name, httpFilters]) =>
      httpListener(name, { httpFilters, virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }] }),
    ),
    clusters: [cluster("echo", echoPort)],
  };
}

function ratelimit(config: JsonObject, name = "ratelimit"): HttpFilter {
  return wasmFilter({ name, wasmFile, vmId: "ratelimit", configuration: config });
}

/** `n` requests at once, each on its own connection so that they spread over Envoy's workers. */
async function burst(envoy: StartedEnvoy, listener: string, n: number, path = "/"): Promise<ClientResponse[]> {
  const url = envoy.url(path, listener);
  return Promise.all(Array.from({ length: n }, () => httpRequest(url, { timeoutMs: 30_000 })));
}

function tally(rs: ClientResponse[]): Record<number, number> {
  const t: Record<number, number> = {};
  for (const r of rs) t[r.status] = (t[r.status] ?? 0) + 1;
  return t;
}

/**
 * How many connections each worker accepted (Envoy's per-worker listener stats, named after the configured
 * address: `listener.127.0.0.1_0.worker_<n>.downstream_cx_total` for a listener on port 0). Use with one listener.
 */
async function connectionsPerWorker(envoy: StartedEnvoy): Promise<number[]> {
  const stats = await envoy.stats();
  const out: number[] = [];
  for (let w = 0; w < WORKERS; w++) out.push(stats.get(`listener.127.0.0.1_0.worker_${w}.downstream_cx_total`) ?? 0);
  return out;
}

describe("ratelimit e2e: local buckets in a real Envoy with 4 workers", () => {
  test("ratelimit: grants exactly N tokens across 4 workers (400 parallel requests, N = 100)", async () => {
    const echo = await harness.startEcho();
    const envoy = await harness.startEnvoy(
      bootstrap({ rl: [ratelimit({ token_bucket: { max_tokens: 100, tokens_per_fill: 100, fill_interval: "3600s" } })] }, echo.port),
      { concurrency: WORKERS },
    );
    const replies = await burst(envoy, "rl", 400);
    expect(tally(replies)).toEqual({ 200: 100, 429: 300 });
    const perWorker = await connectionsPerWorker(envoy);
    console.log(`ratelimit e2e: connections per worker ${perWorker.join(", ")}`);
    expect(perWorker.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(echo.requests).toBe(100);
    const denied = replies.find((r) => r.status === 429)!;
    expect(denied.headers["x-envoy-ratelimited"]).toBe("true");
    // One token per 3600 s / 100 = 36 s, so the next one is at most 36 s away.
    expect(Number(denied.headers["retry-after"])).toBeGreaterThanOrEqual(35);
    expect(Number(denied.headers["retry-after"])).toBeLessThanOrEqual(36);
    expect(await envoy.counter("wasmcustom.ratelimit.ok")).toBe(100);
    expect(await envoy.counter("wasmcustom.ratelimit.over_limit")).toBe(300);
    expect(await envoy.counter("wasmcustom.ratelimit.errors")).toBe(0);
  });

  test("the example config grants 20, and a second burst on the same bucket gets none", async () => {
    const echo = await harness.startEcho();
    const envoy = await harness.startEnvoy(
      bootstrap({ rl: [ratelimit({ token_bucket: { max_tokens: 20, tokens_per_fill: 20, fill_interval: "60s" } })] }, echo.port),
      { concurrency: WORKERS },
    );
    expect(tally(await burst(envoy, "rl", 200))).toEqual({ 200: 20, 429: 180 });
    expect(tally(await burst(envoy, "rl", 50))).toEqual({ 429: 50 });
  });

  test("per-client buckets by a header across workers: each of 8 users gets exactly its 10", async () => {
    const echo = await harness.startEcho();
    const envoy = await harness.startEnvoy(
      bootstrap({
        rl: [ratelimit({
          rate_limits: [{ actions: [{ request_headers: { header_name: "x-user", descriptor_key: "user" } }] }],
          descriptors: [{ entries: [{ key: "user" }], token_bucket: { max_tokens: 10, tokens_per_fill: 10, fill_interval: "3600s" } }],
        })],
      }, echo.port),
      { concurrency: WORKERS },
    );
    const users = Array.from({ length: 8 }, (_, i) => `user-${i}`);
    const url = envoy.url("/", "rl");
    const replies = await Promise.all(
      users.flatMap((u) => Array.from({ length: 30 }, () => httpRequest(url, { headers: { "x-user": u } }).then((r) => [u, r.status] as const))),
    );
    for (const u of users) {
      const mine = replies.filter(([who]) => who === u).map(([, s]) => s);
      expect({ user: u, ok: mine.filter((s) => s === 200).length }).toEqual({ user: u, ok: 10 });
    }
  });

  test("an invalid config is refused by Envoy at start-up with the filter's message", async () => {
    const echo = await harness.startEcho();
    await expect(
      harness.startEnvoy(bootstrap({ rl: [ratelimit({ token_bucket: { max_tokens: 5, fill_interval: "0.01s" } })] }, echo.port)),
    ).rejects.toThrow(/token_bucket\.fill_interval: must be at least 50 ms/);
  });
});

describe("ratelimit e2e: per-client tables under a flood of distinct keys, 4 workers", () => {
  const hour = (n: number) => ({ max_tokens: n, tokens_per_fill: n, fill_interval: "3600s" });
  // A loose per-client limit and a strict per-user login limit, both valueless, in tables of 16 slots.
  const config: JsonObject = {
    rate_limits: [
      { actions: [{ request_headers: { header_name: "x-client", descriptor_key: "client" } }] },
      { actions: [
        { header_value_match: { descriptor_value: "login", headers: [{ name: ":path", exact_match: "/login" }] } },
        { request_headers: { header_name: "x-user", descriptor_key: "user" } },
      ] },
    ],
    descriptors: [
      { entries: [{ key: "client" }], token_bucket: hour(1000) },
      { entries: [{ key: "header_match", value: "login" }, { key: "user" }], token_bucket: hour(5) },
    ],
    max_dynamic_descriptors: 16,
    enable_x_ratelimit_headers: "DRAFT_VERSION_03",
  };

  test("the login limit of 5 holds: after 400 distinct clients, and during 400 distinct users", async () => {
    const echo = await harness.startEcho();
    const envoy = await harness.startEnvoy(bootstrap({ rl: [ratelimit(config)] }, echo.port), { concurrency: WORKERS });
    const root = envoy.url("/", "rl");
    const login = envoy.url("/login", "rl");
    const send = (url: string, headers: Record<string, string>) => httpRequest(url, { headers, timeoutMs: 30_000 });

    // 400 distinct clients fill the loose table with buckets that are far from full.
    const clients = await Promise.all(Array.from({ length: 400 }, (_, i) => send(root, { "x-client": `c-${i}` })));
    expect(tally(clients)).toEqual({ 200: 400 });

    // One user, 40 attempts at once: exactly its own 5.
    const victim = await Promise.all(Array.from({ length: 40 }, () => send(login, { "x-user": "victim" })));
    expect(tally(victim)).toEqual({ 200: 5, 429: 35 });
    expect(victim.every((r) => r.headers["x-ratelimit-limit"] === "5")).toBe(true);

    // 400 distinct users at once on the strict table, with 20 more attempts by the first user.
    const before = await envoy.counter("wasmcustom.ratelimit.overflow");
    const [flood, again] = await Promise.all([
      Promise.all(Array.from({ length: 400 }, (_, i) => send(login, { "x-user": `u-${i}` }))),
      Promise.all(Array.from({ length: 20 }, () => send(login, { "x-user": "victim" }))),
    ]);
    // The first user keeps its slot (its bucket is not full) and its count: nothing more.
    expect(tally(again)).toEqual({ 429: 20 });
    // Every grant to the flood came from a slot of its own (15 left, one grant each: one request per user)
    // or from the descriptor's overflow bucket (5 per hour in total).
    const granted = tally(flood)[200] ?? 0;
    const overflow = (await envoy.counter("wasmcustom.ratelimit.overflow")) - before;
    console.log(`ratelimit flood e2e: 400 distinct users through 16 slots: ${granted} granted, ${overflow} charged to the overflow bucket`);
    expect(granted).toBeLessThanOrEqual(15 + 5);
    expect(overflow).toBeGreaterThanOrEqual(400 - 15);
    expect(await envoy.counter("wasmcustom.ratelimit.errors")).toBe(0);
    expect(echo.requests).toBe(400 + 5 + granted);
  });

  test("with Envoy's default connection manager settings, remote_address follows a client-written x-forwarded-for", async () => {
    // Why the README says to set use_remote_address / xff_num_trusted_hops before keying on the address.
    const echo = await harness.startEcho();
    const envoy = await harness.startEnvoy(bootstrap({
      rl: [ratelimit({
        rate_limits: [{ actions: [{ remote_address: {} }] }],
        descriptors: [{ entries: [{ key: "remote_address" }], token_bucket: hour(1) }],
      })],
    }, echo.port), { concurrency: WORKERS });
    const url = envoy.url("/", "rl");
    const forged = await Promise.all(["203.0.113.1", "203.0.113.2", "203.0.113.3"].map((ip) =>
      httpRequest(url, { headers: { "x-forwarded-for": ip } })));
    expect(tally(forged)).toEqual({ 200: 3 });
    expect(tally(await Promise.all([httpRequest(url), httpRequest(url)]))).toEqual({ 200: 1, 429: 1 });
  });
});

describe("ratelimit e2e: side by side with envoy.filters.http.local_ratelimit", () => {
  test("same counts of 200 and 429 on the equivalent config, 4 workers, 240 parallel requests each", async () => {
    const bucket = { max_tokens: 60, tokens_per_fill: 60, fill_interval: "3600s" };
    const echo = await harness.startEcho();
    const envoy = await harness.startEnvoy(
      bootstrap({
        wasm: [ratelimit({ token_bucket: bucket, enable_x_ratelimit_headers: "DRAFT_VERSION_03" })],
        native: [nativeFilter("envoy.filters.http.local_ratelimit", {
          stat_prefix: "native_rl",
          token_bucket: bucket,
          // Envoy's defaults are 0 % (off); the Wasm filter's are 100 %.
          filter_enabled: { default_value: { numerator: 100, denominator: "HUNDRED" }, runtime_key: "rl_enabled" },
          filter_enforced: { default_value: { numerator: 100, denominator: "HUNDRED" }, runtime_key: "rl_enforced" },
          enable_x_ratelimit_headers: "DRAFT_VERSION_03",
        })],
      }, echo.port),
      { concurrency: WORKERS },
    );
    const [wasm, native] = await Promise.all([burst(envoy, "wasm", 240), burst(envoy, "native", 240)]);
    console.log(`ratelimit side by side: wasm ${JSON.stringify(tally(wasm))}, native ${JSON.stringify(tally(native))}`);
    expect(tally(wasm)).toEqual({ 200: 60, 429: 180 });
    expect(tally(native)).toEqual(tally(wasm));
    expect(await envoy.counter("native_rl.http_local_rate_limit.rate_limited")).toBe(180);

    // The denials look the same to a client.
    const wd = wasm.find((r) => r.status === 429)!;
    const nd = native.find((r) => r.status === 429)!;
    expect(wd.body.toString()).toBe(nd.body.toString());
    // Envoy 1.40's local_ratelimit sends no x-envoy-ratelimited (its global ratelimit filter does); this
    // filter sends it, and retry-after, on every denial (see README).
    expect(wd.headers["x-envoy-ratelimited"]).toBe("true");
    expect(Number(wd.headers["retry-after"])).toBe(Number(wd.headers["x-ratelimit-reset"]));
    const rlHeaders = (r: ClientResponse) => Object.keys(r.headers).filter((h) => h.startsWith("x-ratelimit-")).sort();
    const wa = wasm.find((r) => r.status === 200)!;
    const na = native.find((r) => r.status === 200)!;
    console.log(`ratelimit side by side: allowed headers wasm ${JSON.stringify(pick(wa))} native ${JSON.stringify(pick(na))}`);
    console.log(`ratelimit side by side: denied headers wasm ${JSON.stringify(pick(wd))} native ${JSON.stringify(pick(nd))}`);
    expect(rlHeaders(wa)).toEqual(["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]);
    expect(rlHeaders(wa)).toEqual(rlHeaders(na));
    expect(wa.headers["x-ratelimit-limit"]).toBe(na.headers["x-ratelimit-limit"]);
    // Same refill rate (one token per 3600 s / 60 = 60 s), so the same seconds to the next token.
    for (const h of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) expect([h, wd.headers[h]]).toEqual([h, nd.headers[h]]);
  });
});

function pick(r: ClientResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (k.startsWith("x-ratelimit") || k.startsWith("x-envoy-ratelimited") || k === "retry-after") out[k] = v;
  return out;
}
