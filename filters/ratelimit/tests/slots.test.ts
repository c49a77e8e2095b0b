// Per-client (valueless) descriptors in the emulator: each descriptor's own bounded slot table, its
// overflow bucket when a key finds no slot, the eviction and overflow metrics, and the memory bound.
import { Host } from "../../../src/emulator";
import { ratelimitWasm, request, startFilter, startWorkers, tally, type RequestOptions } from "./harness";

beforeAll(async () => {
  await ratelimitWasm();
}, 180_000);

const bucket = (max: number, perFill: number, interval: string) => ({ max_tokens: max, tokens_per_fill: perFill, fill_interval: interval });

function run(host: Host, n: number, opts: RequestOptions = {}) {
  return tally(Array.from({ length: n }, () => request(host, opts)));
}

const counter = (host: Host, name: string) => host.metric(`ratelimit.${name}`)?.value ?? 0;

/** Shared-data keys of the plugin `rl`, as text. */
function keys(host: Host): string[] {
  return host.sharedData.keys("rl-vm").map((k) => Buffer.from(k).toString());
}

/** One dynamic descriptor keyed on `x-key`. */
const single = (slots: number, params = bucket(2, 1, "1s")) => ({
  rate_limits: [{ actions: [{ request_headers: { header_name: "x-key", descriptor_key: "k" } }] }],
  descriptors: [{ entries: [{ key: "k" }], token_bucket: params }],
  max_dynamic_descriptors: slots,
});

describe("ratelimit slots: a strict descriptor is never charged under a looser one's limits", () => {
  // A loose per-client limit (1000 per minute, keyed on the client address) and a strict per-user login
  // limit (5 per minute), both valueless, in a small table so that a flood fills it.
  const config = {
    rate_limits: [
      { actions: [{ remote_address: {} }] },
      { actions: [
        { header_value_match: { descriptor_value: "login", headers: [{ name: ":path", exact_match: "/login" }] } },
        { request_headers: { header_name: "x-user", descriptor_key: "user" } },
      ] },
    ],
    descriptors: [
      { entries: [{ key: "remote_address" }], token_bucket: bucket(1000, 1000, "60s") },
      { entries: [{ key: "header_match", value: "login" }, { key: "user" }], token_bucket: bucket(5, 5, "60s") },
    ],
    max_dynamic_descriptors: 8,
    enable_x_ratelimit_headers: "DRAFT_VERSION_03",
  };

  test("after 500 distinct clients fill the loose table, a user still gets exactly 5 logins, reported as limit 5", async () => {
    const host = await startFilter(config);
    for (let i = 0; i < 500; i++) {
      expect(request(host, { source: `10.${(i >> 8) & 255}.${i & 255}.1:4000` }).status).toBe(200);
    }
    const logins = Array.from({ length: 20 }, () =>
      request(host, { path: "/login", source: "192.0.2.77:5000", headers: [["x-user", "victim"]] }));
    expect(tally(logins)).toEqual({ 200: 5, 429: 15 });
    expect(logins[0].headers["x-ratelimit-limit"]).toBe("5");
    expect(logins[19].headers["x-ratelimit-limit"]).toBe("5");
    // The login table was empty: the user had a slot of its own, no overflow was needed there.
    expect(keys(host).filter((k) => k.startsWith("ratelimit/rl/d1/s")).length).toBe(1);
  });

  test("a flood of distinct users on the strict descriptor itself: every user gets at most 5, existing users keep their slot", async () => {
    const host = await startFilter(config);
    // Three users already counted before the flood.
    for (const u of ["u-a", "u-b", "u-c"]) expect(run(host, 3, { path: "/login", headers: [["x-user", u]] })).toEqual({ 200: 3 });
    const flood = Array.from({ length: 300 }, (_, i) => request(host, { path: "/login", headers: [["x-user", `flood-${i}`]] }));
    // At most one grant per free slot (8 slots, 3 taken) and the overflow bucket's 5.
    expect(tally(flood)[200]).toBeLessThanOrEqual(5 + 5);
    expect(counter(host, "overflow")).toBeGreaterThanOrEqual(290);
    // The earlier users were not evicted (their buckets are not full): exactly 2 more each.
    for (const u of ["u-a", "u-b", "u-c"]) expect(run(host, 4, { path: "/login", headers: [["x-user", u]] })).toEqual({ 200: 2, 429: 2 });
    // A new user during the flood gets no more than its own limit.
    expect(tally(Array.from({ length: 10 }, () => request(host, { path: "/login", headers: [["x-user", "late"]] })))[200] ?? 0).toBeLessThanOrEqual(5);
  });
});

describe("ratelimit slots: each descriptor has its own table", () => {
  const config = {
    rate_limits: [
      { actions: [{ request_headers: { header_name: "x-a", descriptor_key: "a", skip_if_absent: true } }] },
      { actions: [{ request_headers: { header_name: "x-b", descriptor_key: "b", skip_if_absent: true } }] },
    ],
    descriptors: [
      { entries: [{ key: "a" }], token_bucket: bucket(3, 3, "60s") },
      { entries: [{ key: "b" }], token_bucket: bucket(3, 3, "60s") },
    ],
    max_dynamic_descriptors: 64,
  };

  test("1000 distinct keys exhaust descriptor a's table; 10 keys of descriptor b still get exactly 3 each", async () => {
    const host = await startFilter(config);
    for (let i = 0; i < 1000; i++) request(host, { headers: [["x-a", `a-${i}`]] });
    const overflowed = counter(host, "overflow");
    for (let i = 0; i < 10; i++) {
      expect([i, run(host, 4, { headers: [["x-b", `b-${i}`]] })]).toEqual([i, { 200: 3, 429: 1 }]);
    }
    // a's keys overflowed; b's keys all found room in b's table.
    expect(overflowed).toBeGreaterThan(900);
    expect(counter(host, "overflow")).toBe(overflowed);
    const all = keys(host);
    expect(all.filter((k) => /^ratelimit\/rl\/d0\/s\d+$/.test(k)).length).toBeLessThanOrEqual(64);
    expect(all.filter((k) => /^ratelimit\/rl\/d1\/s\d+$/.test(k)).length).toBeLessThanOrEqual(10);
  });
});

describe("ratelimit slots: takeover, overflow and their metrics", () => {
  test("a key finding its only slot busy goes to the overflow bucket with its own limits; the busy key is untouched", async () => {
    const host = await startFilter(single(1));
    expect(request(host, { headers: [["x-key", "a"]] }).status).toBe(200); // a: 1 left, not full
    // b finds the only slot held by a's non-full bucket: charged to the descriptor's overflow bucket (2).
    expect(run(host, 3, { headers: [["x-key", "b"]] })).toEqual({ 200: 2, 429: 1 });
    expect(counter(host, "overflow")).toBe(3);
    // a still has its own 1 token.
    expect(run(host, 2, { headers: [["x-key", "a"]] })).toEqual({ 200: 1, 429: 1 });
    expect(counter(host, "evictions")).toBe(0);
  });

  test("a full bucket is taken over by a new key and counted as an eviction; its owner comes back to a full bucket", async () => {
    const host = await startFilter(single(1));
    expect(request(host, { headers: [["x-key", "a"]] }).status).toBe(200);
    host.advanceTime(1000); // a's bucket is full again: indistinguishable from a new one
    expect(run(host, 3, { headers: [["x-key", "b"]] })).toEqual({ 200: 2, 429: 1 });
    expect(counter(host, "evictions")).toBe(1);
    expect(counter(host, "overflow")).toBe(0);
    host.advanceTime(2000);
    expect(run(host, 3, { headers: [["x-key", "a"]] })).toEqual({ 200: 2, 429: 1 });
    expect(counter(host, "evictions")).toBe(2);
  });

  test("a key that leaves the overflow bucket for a slot of its own takes the overflow bucket's state, so it gets no extra tokens", async () => {
    const host = await startFilter(single(1)); // 2 tokens, one back per second
    expect(request(host, { headers: [["x-key", "a"]] }).status).toBe(200); // t = 0: a holds the slot, 1 left
    host.advanceTime(900);
    // t = 0.9 s: b drains the overflow bucket.
    expect(run(host, 3, { headers: [["x-key", "b"]] })).toEqual({ 200: 2, 429: 1 });
    host.advanceTime(100);
    // t = 1 s: a's bucket is full, b takes the slot over, starting from the overflow bucket's state: b spent
    // 2 tokens 0.1 s ago, so its own bucket would be empty too.
    expect(request(host, { headers: [["x-key", "b"]] }).status).toBe(429);
    expect(counter(host, "evictions")).toBe(1);
    host.advanceTime(900);
    // t = 1.9 s: b's next token, as if it had had its own bucket all along.
    expect(run(host, 2, { headers: [["x-key", "b"]] })).toEqual({ 200: 1, 429: 1 });
  });

  test("a request denied by a later bucket gives its token back to the overflow bucket", async () => {
    const host = await startFilter({
      rate_limits: [
        { actions: [{ request_headers: { header_name: "x-key", descriptor_key: "k" } }] },
        { actions: [{ generic_key: { descriptor_value: "all" } }] },
      ],
      descriptors: [
        { entries: [{ key: "k" }], token_bucket: bucket(3, 1, "3600s") },
        { entries: [{ key: "generic_key", value: "all" }], token_bucket: bucket(1, 1, "1s") },
      ],
      max_dynamic_descriptors: 1,
    });
    expect(request(host, { headers: [["x-key", "a"]] }).status).toBe(200); // a holds the slot; "all" is empty
    // b goes to the overflow bucket, and "all" denies: each of these tokens is given back.
    expect(run(host, 5, { headers: [["x-key", "b"]] })).toEqual({ 429: 5 });
    expect(counter(host, "overflow")).toBe(5);
    // So the overflow bucket still has its 3, one per second as "all" refills.
    for (let s = 0; s < 3; s++) {
      host.advanceTime(1000);
      expect([s, request(host, { headers: [["x-key", "b"]] }).status]).toEqual([s, 200]);
    }
    host.advanceTime(1000);
    expect(request(host, { headers: [["x-key", "b"]] }).status).toBe(429);
  });

  test("with room in the table, colliding keys keep exact, independent limits and nothing overflows", async () => {
    const host = await startFilter(single(4096, bucket(3, 1, "1s")));
    for (let i = 0; i < 300; i++) {
      expect(run(host, 4, { headers: [["x-key", `user-${i}`]] })).toEqual({ 200: 3, 429: 1 });
    }
    expect(counter(host, "overflow")).toBe(0);
    expect(counter(host, "evictions")).toBe(0);
  });

  test("stat_prefix applies to the slot metrics too", async () => {
    const host = await startFilter({ ...single(1), stat_prefix: "edge" });
    request(host, { headers: [["x-key", "a"]] });
    request(host, { headers: [["x-key", "b"]] });
    expect(host.metric("ratelimit.edge.overflow")?.value).toBe(1);
    expect(host.metric("ratelimit.edge.evictions")?.value).toBe(0);
  });

  test("four workers on one store: a flood through the overflow bucket grants exactly its limit in total", async () => {
    const workers = await startWorkers(4, single(4, bucket(10, 10, "60s")));
    // Four keys take what slots they can; then 400 new keys, one request each, from all workers.
    const outcomes = [];
    for (let i = 0; i < 400; i++) outcomes.push(request(workers[i % 4], { headers: [["x-key", `k-${i}`]] }));
    // At most one grant per slot (4) and exactly the overflow bucket's 10 for the rest.
    const slotted = 400 - workers.reduce((n, w) => n + counter(w, "overflow"), 0);
    expect(slotted).toBeLessThanOrEqual(4);
    expect(tally(outcomes)).toEqual({ 200: slotted + 10, 429: 400 - slotted - 10 });
  });
});

describe("ratelimit slots: bounded memory", () => {
  test("10 000 distinct keys use at most max_dynamic_descriptors slots and one overflow bucket", async () => {
    const host = await startFilter(single(64));
    for (let i = 0; i < 2_000; i++) request(host, { headers: [["x-key", `client-${i}`]] });
    const memory = host.memoryBytes();
    for (let i = 2_000; i < 10_000; i++) request(host, { headers: [["x-key", `client-${i}`]] });
    // The Wasm heap does not grow with the number of keys either.
    expect(host.memoryBytes()).toBe(memory);
    const all = keys(host);
    expect(all.filter((k) => /^ratelimit\/rl\/d0\/s\d+$/.test(k)).length).toBeLessThanOrEqual(64);
    expect(all).toContain("ratelimit/rl/d0/o");
    // + the overflow bucket, the hash key and the SDK's cas probe, nothing else.
    expect(all.length).toBeLessThanOrEqual(64 + 3);
  });
});
