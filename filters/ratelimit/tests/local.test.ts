// The local mode in the emulator, on a virtual clock: token-bucket boundaries, shadow mode, descriptors,
// several workers on one shared-data store, and configuration errors. Per-client slot tables: slots.test.ts.
import { Host, LogLevel, PluginStartError } from "../../../src/emulator";
import { advance, ratelimitWasm, request, startFilter, startWorkers, tally } from "./harness";

beforeAll(async () => {
  await ratelimitWasm();
}, 180_000);

const bucket = (max: number, perFill: number, interval: string) => ({ max_tokens: max, tokens_per_fill: perFill, fill_interval: interval });

function run(host: Host, n: number, opts = {}) {
  return tally(Array.from({ length: n }, () => request(host, opts)));
}

describe("ratelimit local: token bucket", () => {
  test("the example config grants exactly 20 requests per minute, then 429 with x-envoy-ratelimited and retry-after", async () => {
    const host = await startFilter({ token_bucket: { max_tokens: 20, tokens_per_fill: 20, fill_interval: "60s" } });
    expect(run(host, 20)).toEqual({ 200: 20 });
    host.advanceTime(1500);
    const denied = request(host);
    expect(denied.status).toBe(429);
    expect(denied.headers["x-envoy-ratelimited"]).toBe("true");
    // One token every 60 s / 20 = 3 s: the next one is 1.5 s away, rounded up.
    expect(denied.headers["retry-after"]).toBe("2");
    expect(denied.body).toBe("local_rate_limited");
    expect(denied.stream.localResponse?.details).toBe("local_rate_limited");
    expect(host.metric("ratelimit.ok")?.value).toBe(20);
    expect(host.metric("ratelimit.over_limit")?.value).toBe(1);
    expect(host.metric("ratelimit.errors")?.value).toBe(0);
  });

  test("no token one tick early: a fill lands exactly at fill_interval, not a nanosecond before", async () => {
    const host = await startFilter({ token_bucket: bucket(2, 1, "1s") });
    expect(run(host, 2)).toEqual({ 200: 2 });
    host.advanceTime(999.999999);
    expect(request(host).status).toBe(429);
    host.advanceTime(0.000001);
    expect(request(host).status).toBe(200);
    expect(request(host).status).toBe(429);
    // The next fill is anchored to the first one, not to the last request.
    host.advanceTime(999.999999);
    expect(request(host).status).toBe(429);
    host.advanceTime(0.000001);
    expect(request(host).status).toBe(200);
  });

  test("cap after idle: a bucket idle for hours holds max_tokens, never more", async () => {
    const host = await startFilter({ token_bucket: bucket(3, 1, "0.1s") });
    expect(run(host, 5)).toEqual({ 200: 3, 429: 2 });
    host.advanceTime(5 * 3600 * 1000);
    expect(run(host, 5)).toEqual({ 200: 3, 429: 2 });
  });

  test("tokens accrue at tokens_per_fill per fill_interval (as Envoy's local_ratelimit), in whole tokens", async () => {
    const host = await startFilter({ token_bucket: bucket(10, 2, "1s") }); // one token per 500 ms
    expect(run(host, 10)).toEqual({ 200: 10 });
    host.advanceTime(2500);
    expect(run(host, 6)).toEqual({ 200: 5, 429: 1 });
    host.advanceTime(499);
    expect(request(host).status).toBe(429);
    host.advanceTime(1);
    expect(run(host, 2)).toEqual({ 200: 1, 429: 1 });
  });

  test("a rate that is not a whole number of nanoseconds per token: each token exactly on time, no drift", async () => {
    const host = await startFilter({ token_bucket: bucket(3, 3, "1s") }); // one token per 333.33… ms
    expect(run(host, 3)).toEqual({ 200: 3 });
    let now = 0; // ns since the drain
    const at = (ns: number) => {
      host.advanceTime((ns - now) / 1e6);
      now = ns;
      return request(host).status;
    };
    // The k-th token is due at ceil(k * 1e9 / 3) ns, over several seconds: never a nanosecond early or late.
    for (let k = 1; k <= 9; k++) {
      const due = Math.ceil((k * 1e9) / 3);
      expect([k, at(due - 1)]).toEqual([k, 429]);
      expect([k, at(due)]).toEqual([k, 200]);
    }
  });

  test("huge intervals and token counts use exact 128-bit arithmetic", async () => {
    // 4e9 tokens per 100 days: products of elapsed ns and tokens_per_fill exceed 64 bits.
    const host = await startFilter({ token_bucket: bucket(4_000_000_000, 4_000_000_000, "8640000s") });
    expect(run(host, 3)).toEqual({ 200: 3 });
    host.advanceTime(10 * 24 * 3600 * 1000);
    expect(host.metric("ratelimit.errors")?.value).toBe(0);
    expect(request(host).status).toBe(200);
  });

  test("four workers sharing one store grant exactly N in total", async () => {
    const workers = await startWorkers(4, { token_bucket: bucket(50, 50, "60s") });
    const outcomes = [];
    for (let i = 0; i < 200; i++) outcomes.push(request(workers[i % 4]));
    expect(tally(outcomes)).toEqual({ 200: 50, 429: 150 });
    advance(workers, 60_000);
    const again = [];
    for (let i = 0; i < 80; i++) again.push(request(workers[(i * 7) % 4]));
    expect(tally(again)).toEqual({ 200: 50, 429: 30 });
  });

  test("a wall clock stepping back does not freeze the bucket for the length of the step", async () => {
    const host = await startFilter({ token_bucket: bucket(1, 1, "1s") });
    expect(request(host).status).toBe(200);
    // Simulate a clock step back: a second host whose clock is an hour behind shares the store.
    const behind = await startFilter({ token_bucket: bucket(1, 1, "1s") }, {
      sharedData: host.sharedData,
      startTimeNs: 1_704_067_200_000_000_000n - 3_600_000_000_000n,
    });
    expect(request(behind).status).toBe(429); // re-anchored at the earlier time, no token yet
    behind.advanceTime(1000);
    expect(request(behind).status).toBe(200);
  });
});

describe("ratelimit local: enabled, enforced, responses", () => {
  test("filter_enforced 0 %: over-limit requests pass and count as shadow_over_limit", async () => {
    const host = await startFilter({
      token_bucket: bucket(2, 2, "60s"),
      filter_enforced: { default_value: { numerator: 0, denominator: "HUNDRED" } },
      request_headers_to_add_when_not_enforced: [{ header: { key: "x-would-limit", value: "yes" } }],
    });
    const outcomes = Array.from({ length: 5 }, () => request(host));
    expect(tally(outcomes)).toEqual({ 200: 5 });
    expect(host.metric("ratelimit.ok")?.value).toBe(2);
    expect(host.metric("ratelimit.shadow_over_limit")?.value).toBe(3);
    expect(host.metric("ratelimit.over_limit")?.value).toBe(0);
    expect(outcomes[4].stream.upstream.headers).toContainEqual(["x-would-limit", "yes"]);
    expect(outcomes[0].stream.upstream.headers).not.toContainEqual(["x-would-limit", "yes"]);
  });

  test("filter_enabled 0 %: the filter does nothing", async () => {
    const host = await startFilter({ token_bucket: bucket(1, 1, "60s"), filter_enabled: 0 });
    expect(run(host, 5)).toEqual({ 200: 5 });
    expect(host.metric("ratelimit.ok")?.value).toBe(0);
  });

  test("filter_enforced 50 % enforces about half of the over-limit requests", async () => {
    const host = await startFilter({ token_bucket: bucket(1, 1, "60s"), filter_enforced: { default_value: { numerator: 50, denominator: "HUNDRED" } } });
    const t = run(host, 1001);
    expect(t[200] + t[429]).toBe(1001);
    expect(t[429]).toBeGreaterThan(400);
    expect(t[429]).toBeLessThan(600);
    expect(host.metric("ratelimit.shadow_over_limit")!.value + host.metric("ratelimit.over_limit")!.value).toBe(1000);
  });

  test("status, response_headers_to_add and x-ratelimit headers on allowed and denied responses", async () => {
    const host = await startFilter({
      token_bucket: bucket(2, 1, "10s"),
      status: { code: 503 },
      response_headers_to_add: [{ header: { key: "X-Limited-By", value: "wasm" } }],
      enable_x_ratelimit_headers: "DRAFT_VERSION_03",
    });
    const first = request(host);
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({ "x-ratelimit-limit": "2", "x-ratelimit-remaining": "1", "x-ratelimit-reset": "10" });
    expect(first.headers["x-limited-by"]).toBeUndefined();
    host.advanceTime(2500);
    expect(request(host).headers).toMatchObject({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "8" });
    const denied = request(host);
    expect(denied.status).toBe(503);
    expect(denied.headers).toMatchObject({
      "x-envoy-ratelimited": "true",
      "retry-after": "8",
      "x-ratelimit-limit": "2",
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": "8",
      "x-limited-by": "wasm",
    });
  });

  test("enable_ratelimit_headers: IETF_DRAFT sends RateLimit-Limit/-Remaining/-Reset on allowed and denied responses", async () => {
    const host = await startFilter({ token_bucket: bucket(2, 1, "10s"), enable_ratelimit_headers: "IETF_DRAFT" });
    const first = request(host);
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({ "ratelimit-limit": "2", "ratelimit-remaining": "1", "ratelimit-reset": "10" });
    expect(first.headers["x-ratelimit-limit"]).toBeUndefined();
    request(host);
    const denied = request(host);
    expect(denied.status).toBe(429);
    expect(denied.headers).toMatchObject({ "ratelimit-limit": "2", "ratelimit-remaining": "0", "x-envoy-ratelimited": "true" });
  });

  test("enable_ratelimit_headers rejects unknown values", async () => {
    await expect(startFilter({ token_bucket: bucket(2, 1, "10s"), enable_ratelimit_headers: "ON" })).rejects.toThrow(/enable_ratelimit_headers: must be OFF or IETF_DRAFT, got "ON"/);
  });

  test("disable_x_envoy_ratelimited_header drops the header from denials", async () => {
    const host = await startFilter({ token_bucket: bucket(1, 1, "10s"), disable_x_envoy_ratelimited_header: true });
    request(host);
    const denied = request(host);
    expect(denied.status).toBe(429);
    expect(denied.headers["x-envoy-ratelimited"]).toBeUndefined();
  });
});

describe("ratelimit local: descriptors", () => {
  const perUser = {
    rate_limits: [{ actions: [{ request_headers: { header_name: "x-user", descriptor_key: "user" } }] }],
    descriptors: [
      { entries: [{ key: "user", value: "vip" }], token_bucket: bucket(5, 5, "60s") },
      { entries: [{ key: "user" }], token_bucket: bucket(2, 2, "60s") },
    ],
  };

  test("a wildcard entry gives each distinct value its own bucket; a fixed value its own limit", async () => {
    const host = await startFilter(perUser);
    const as = (user: string) => run(host, 6, { headers: [["x-user", user]] });
    expect(as("alice")).toEqual({ 200: 2, 429: 4 });
    expect(as("bob")).toEqual({ 200: 2, 429: 4 });
    expect(as("vip")).toEqual({ 200: 5, 429: 1 });
    // No descriptor (header absent) and no default bucket: not limited.
    expect(run(host, 10)).toEqual({ 200: 10 });
  });

  test("values are bytes: invalid UTF-8 and non-ASCII values are distinct keys and never trap", async () => {
    const host = await startFilter(perUser);
    const s1 = host.newHttpStream();
    s1.sendRequestHeaders([[":path", "/"], [":method", "GET"], [":authority", "a"], [Buffer.from("x-user"), Uint8Array.from([0xff, 0xfe])]] as never, true);
    expect(s1.localResponse).toBeNull();
    expect(run(host, 3, { headers: [["x-user", "ünïcødé"]] })).toEqual({ 200: 2, 429: 1 });
    expect(host.failed).toBe(false);
  });

  test("several limits per request all must pass, and a denial refunds the buckets already charged", async () => {
    const host = await startFilter({
      token_bucket: bucket(5, 5, "60s"),
      rate_limits: [{ actions: [{ request_headers: { header_name: "x-user", descriptor_key: "user" } }] }],
      descriptors: [{ entries: [{ key: "user" }], token_bucket: bucket(2, 2, "60s") }],
    });
    // alice: 2 allowed by her bucket; the next 3 are denied by it without spending the default bucket.
    expect(run(host, 5, { headers: [["x-user", "alice"]] })).toEqual({ 200: 2, 429: 3 });
    // The default bucket (5) has 3 left: anonymous requests get exactly 3.
    expect(run(host, 5)).toEqual({ 200: 3, 429: 2 });
    // bob's own bucket has tokens, but the default bucket is empty: denied, and bob's token is refunded.
    expect(request(host, { headers: [["x-user", "bob"]] }).status).toBe(429);
    host.advanceTime(60_000);
    expect(run(host, 3, { headers: [["x-user", "bob"]] })).toEqual({ 200: 2, 429: 1 });
  });

  test("always_consume_default_token_bucket false: the default bucket only for requests no descriptor matched", async () => {
    const host = await startFilter({
      token_bucket: bucket(3, 3, "60s"),
      always_consume_default_token_bucket: false,
      rate_limits: [{ actions: [{ request_headers: { header_name: "x-user", descriptor_key: "user" } }] }],
      descriptors: [{ entries: [{ key: "user" }], token_bucket: bucket(10, 10, "60s") }],
    });
    expect(run(host, 5, { headers: [["x-user", "alice"]] })).toEqual({ 200: 5 });
    expect(run(host, 5)).toEqual({ 200: 3, 429: 2 });
  });

  test("remote_address, path prefix (header_value_match), method and generic_key actions", async () => {
    const host = await startFilter({
      rate_limits: [
        { actions: [{ remote_address: {} }] },
        { actions: [{ header_value_match: { descriptor_value: "api", headers: [{ name: ":path", prefix_match: "/api/" }] } }] },
        { actions: [{ generic_key: { descriptor_value: "writes" } }, { request_headers: { header_name: ":method", descriptor_key: "method" } }] },
      ],
      descriptors: [
        { entries: [{ key: "remote_address" }], token_bucket: bucket(4, 4, "60s") },
        { entries: [{ key: "header_match", value: "api" }], token_bucket: bucket(3, 3, "60s") },
        { entries: [{ key: "generic_key", value: "writes" }, { key: "method", value: "POST" }], token_bucket: bucket(1, 1, "60s") },
      ],
    });
    // Per client address: 4 each.
    expect(run(host, 5, { source: "192.0.2.1:1111" })).toEqual({ 200: 4, 429: 1 });
    expect(run(host, 5, { source: "192.0.2.2:2222" })).toEqual({ 200: 4, 429: 1 });
    // /api/ prefix: 3 in total across clients (each client also has its own 4).
    const api = [request(host, { source: "192.0.2.3:1", path: "/api/a" }), request(host, { source: "192.0.2.4:1", path: "/api/b" }),
      request(host, { source: "192.0.2.5:1", path: "/api/c" }), request(host, { source: "192.0.2.6:1", path: "/api/d" })];
    expect(tally(api)).toEqual({ 200: 3, 429: 1 });
    expect(request(host, { source: "192.0.2.6:1", path: "/other" }).status).toBe(200);
    // POST: 1 in total.
    expect(request(host, { source: "192.0.2.7:1", method: "POST" }).status).toBe(200);
    expect(request(host, { source: "192.0.2.8:1", method: "POST" }).status).toBe(429);
    expect(request(host, { source: "192.0.2.8:1", method: "GET" }).status).toBe(200);
    // IPv6 peers: the port is stripped, so two connections of one client share a bucket.
    expect(run(host, 3, { source: "[2001:db8::1]:1000" })).toEqual({ 200: 3 });
    expect(run(host, 2, { source: "[2001:db8::1]:2000" })).toEqual({ 200: 1, 429: 1 });
  });

  test("a claim header set by the auth filter selects a per-subject bucket; skip_if_absent keeps the rest", async () => {
    const host = await startFilter({
      rate_limits: [{ actions: [
        { generic_key: { descriptor_value: "api" } },
        { request_headers: { header_name: "x-jwt-claim-sub", descriptor_key: "sub", skip_if_absent: true } },
      ] }],
      descriptors: [
        { entries: [{ key: "generic_key", value: "api" }, { key: "sub" }], token_bucket: bucket(2, 2, "60s") },
        { entries: [{ key: "generic_key", value: "api" }], token_bucket: bucket(1, 1, "60s") },
      ],
    });
    expect(run(host, 3, { headers: [["x-jwt-claim-sub", "user-1"]] })).toEqual({ 200: 2, 429: 1 });
    expect(run(host, 3, { headers: [["x-jwt-claim-sub", "user-2"]] })).toEqual({ 200: 2, 429: 1 });
    // Anonymous requests: the claim entry is skipped and the shorter descriptor applies.
    expect(run(host, 3)).toEqual({ 200: 1, 429: 2 });
  });
});

describe("ratelimit local: configuration errors are rejected at configure time, naming the field", () => {
  const cases: Array<[string, unknown, string]> = [
    ["fill_interval under 50 ms", { token_bucket: bucket(1, 1, "0.049s") }, "token_bucket.fill_interval: must be at least 50 ms"],
    ["zero max_tokens", { token_bucket: bucket(0, 1, "1s") }, "token_bucket.max_tokens: must be between 1 and 4294967295, got 0"],
    ["negative tokens_per_fill", { token_bucket: bucket(1, -1, "1s") }, "token_bucket.tokens_per_fill: must be between 1"],
    ["negative fill_interval", { token_bucket: bucket(1, 1, "-1s") }, "token_bucket.fill_interval: must be positive"],
    ["zero fill_interval", { token_bucket: bucket(1, 1, "0s") }, "token_bucket.fill_interval: must be at least 50 ms"],
    ["missing fill_interval", { token_bucket: { max_tokens: 1 } }, "token_bucket.fill_interval: is required"],
    ["unknown field", { token_bucket: bucket(1, 1, "1s"), burst: 3 }, "burst: unknown field"],
    ["unknown nested field", { token_bucket: { ...bucket(1, 1, "1s"), rate: 2 } }, "token_bucket.rate: unknown field"],
    ["unsupported Envoy field", { token_bucket: bucket(1, 1, "1s"), stage: 1 }, "stage: is an Envoy field this filter does not support"],
    ["no bucket at all", {}, "token_bucket: is required"],
    ["descriptor fill_interval", { token_bucket: bucket(1, 1, "1s"), rate_limits: [{ actions: [{ remote_address: {} }] }], descriptors: [{ entries: [{ key: "remote_address" }], token_bucket: bucket(1, 1, "10ms") }] }, "descriptors[0].token_bucket.fill_interval"],
    ["descriptors without rate_limits", { descriptors: [{ entries: [{ key: "a" }], token_bucket: bucket(1, 1, "1s") }] }, "rate_limits: is required when descriptors are set"],
    ["unknown action", { token_bucket: bucket(1, 1, "1s"), rate_limits: [{ actions: [{ source_cluster: {} }] }] }, "rate_limits[0].actions[0].source_cluster: is an Envoy rate limit action this filter does not support"],
    ["status below 400", { token_bucket: bucket(1, 1, "1s"), status: { code: 200 } }, "status.code: must be between 400 and 599"],
    ["bad percentage denominator", { token_bucket: bucket(1, 1, "1s"), filter_enabled: { default_value: { numerator: 1, denominator: "THOUSAND" } } }, "filter_enabled.default_value.denominator: must be HUNDRED, TEN_THOUSAND or MILLION"],
    ["plain percentage above 100", { token_bucket: bucket(1, 1, "1s"), filter_enforced: 150 }, "filter_enforced: a plain percentage must be between 0 and 100"],
    ["bad x-ratelimit version", { token_bucket: bucket(1, 1, "1s"), enable_x_ratelimit_headers: "DRAFT_VERSION_99" }, "enable_x_ratelimit_headers: must be OFF or DRAFT_VERSION_03"],
    ["global field in local mode", { token_bucket: bucket(1, 1, "1s"), domain: "x" }, "domain: is a global-mode field"],
    ["slot table too large", { token_bucket: bucket(1, 1, "1s"), max_dynamic_descriptors: 1 << 21 }, "max_dynamic_descriptors: must be between 1 and 1048576"],
    ["invalid header matcher", { token_bucket: bucket(1, 1, "1s"), rate_limits: [{ actions: [{ header_value_match: { descriptor_value: "v", headers: [{ name: "", exact_match: "a" }] } }] }] }, "rate_limits[0].actions[0].header_value_match.headers[0].name: must not be empty"],
    ["not JSON", "{token_bucket", ""],
  ];
  test.each(cases)("%s", async (_name, config, message) => {
    let error: unknown;
    try {
      await startFilter(config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PluginStartError);
    expect((error as Error).message).toContain("ratelimit: invalid configuration: " + message);
  });

  test("a config with 50 ms exactly is accepted, and plain percentages and Envoy's shape both work", async () => {
    const host = await startFilter({
      token_bucket: bucket(1, 1, "0.05s"),
      filter_enabled: { default_value: { numerator: 100 }, runtime_key: "ignored" },
      filter_enforced: 100,
      stat_prefix: "edge",
    });
    expect(request(host).status).toBe(200);
    expect(request(host).status).toBe(429);
    expect(host.metric("ratelimit.edge.ok")?.value).toBe(1);
    expect(host.logMessages(LogLevel.Info)).toContain("ratelimit: configured (local)");
  });
});

describe("ratelimit local: cost", () => {
  test("prints the emulator cost of a request that hits an existing bucket", async () => {
    const host = await startFilter({ token_bucket: bucket(4_000_000_000, 1, "60s") });
    const perUser = await startFilter({
      rate_limits: [{ actions: [{ request_headers: { header_name: "x-user", descriptor_key: "user" } }] }],
      descriptors: [{ entries: [{ key: "user" }], token_bucket: bucket(4_000_000_000, 1, "60s") }],
    });
    for (let i = 0; i < 500; i++) { request(host); request(perUser, { headers: [["x-user", "alice"]] }); }
    const n = 5000;
    const time = (f: () => void) => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) f();
      return Number(process.hrtime.bigint() - t0) / n / 1000;
    };
    const baseline = await startFilter({ token_bucket: bucket(1, 1, "60s"), filter_enabled: 0 });
    const none = time(() => request(baseline));
    const dflt = time(() => request(host));
    const dyn = time(() => request(perUser, { headers: [["x-user", "alice"]] }));
    console.log(
      `ratelimit cost in the emulator (µs per request incl. the emulator's own stream handling): ` +
        `filter disabled ${none.toFixed(1)}, default bucket ${dflt.toFixed(1)} (+${(dflt - none).toFixed(1)}), ` +
        `per-user dynamic bucket ${dyn.toFixed(1)} (+${(dyn - none).toFixed(1)})`,
    );
    expect(host.metric("ratelimit.ok")?.value).toBe(n + 500);
  });
});
