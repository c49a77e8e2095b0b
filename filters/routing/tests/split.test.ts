// filters/routing: weighted splits. Ratios are checked against the binomial distribution: with n trials
// of probability p, a count farther than 4.5 standard deviations from n·p happens about once in 150 000
// runs, so a failure means the split is biased, not unlucky.
import { routingHost, routingWasm, subsetOf } from "./harness";

beforeAll(async () => {
  await routingWasm();
}, 120_000);

const split = (weights: Array<[string, number]>, extra: Record<string, unknown> = {}, name = "reviews") => ({
  http: [{ name, route: weights.map(([subset, weight]) => ({ destination: { host: "reviews", subset }, weight })) }],
  ...extra,
});

/** Asserts `count` of `n` is within 4.5σ of the share `p`, and says what it saw. */
function expectShare(what: string, count: number, n: number, p: number): void {
  const mean = n * p;
  const sigma = Math.sqrt(n * p * (1 - p));
  const z = (count - mean) / sigma;
  console.log(`routing: ${what}: ${count}/${n} (expected ${mean.toFixed(0)} ± ${(4.5 * sigma).toFixed(0)}, z = ${z.toFixed(2)})`);
  expect(Math.abs(z)).toBeLessThan(4.5);
}

function tally(subsets: Array<string | null>): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of subsets) m.set(String(s), (m.get(String(s)) ?? 0) + 1);
  return m;
}

const users = (n: number, prefix = "user-") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("routing: weighted splits", () => {
  test("75/25 over 10 000 distinct users (sticky header) is within 4.5σ", async () => {
    const host = await routingHost(split([["v1", 75], ["v2", 25]], { sticky_key: { header: "end-user" } }));
    const got = tally(users(10_000).map((u) => subsetOf(host, { headers: [["end-user", u]] })));
    expect([...got.keys()].sort()).toEqual(["v1", "v2"]);
    expectShare("75/25 sticky, v2 share", got.get("v2")!, 10_000, 0.25);
  });

  test("50/30/20 over 10 000 users: every side within 4.5σ", async () => {
    const host = await routingHost(split([["v1", 50], ["v2", 30], ["v3", 20]], { sticky_key: { header: "end-user" } }));
    const got = tally(users(10_000, "u").map((u) => subsetOf(host, { headers: [["end-user", u]] })));
    expectShare("50/30/20, v1", got.get("v1")!, 10_000, 0.5);
    expectShare("50/30/20, v2", got.get("v2")!, 10_000, 0.3);
    expectShare("50/30/20, v3", got.get("v3")!, 10_000, 0.2);
  });

  test("1/99: rare sides still get their share; a weight-0 side never does", async () => {
    const host = await routingHost(split([["v1", 1], ["v2", 99], ["v0", 0]], { sticky_key: { header: "end-user" } }));
    const got = tally(users(10_000, "x").map((u) => subsetOf(host, { headers: [["end-user", u]] })));
    expect(got.get("v0")).toBeUndefined();
    expectShare("1/99, v1", got.get("v1")!, 10_000, 0.01);
  });

  test("without a sticky key the split is random per request, and still 75/25", async () => {
    const host = await routingHost(split([["v1", 75], ["v2", 25]]));
    const got = tally(Array.from({ length: 10_000 }, () => subsetOf(host, { headers: [["end-user", "same-user"]] })));
    expectShare("75/25 random, v2 share", got.get("v2")!, 10_000, 0.25);
  });

  test("a request without the configured key is split at random (not all to one side)", async () => {
    const host = await routingHost(split([["v1", 50], ["v2", 50]], { sticky_key: { header: "end-user" } }));
    const got = tally(Array.from({ length: 2_000 }, () => subsetOf(host, {})));
    expectShare("50/50 missing key, v2 share", got.get("v2")!, 2_000, 0.5);
  });
});

describe("routing: stickiness", () => {
  test("the same end-user always gets the same subset (500 users × 20 requests)", async () => {
    const host = await routingHost(split([["v1", 50], ["v2", 50]], { sticky_key: { header: "end-user" } }));
    const seen = new Map<string, Set<string | null>>();
    for (let round = 0; round < 20; round++) {
      for (const u of users(500)) {
        const s = subsetOf(host, { headers: [["end-user", u]] });
        if (!seen.has(u)) seen.set(u, new Set());
        seen.get(u)!.add(s);
      }
    }
    const flipped = [...seen.entries()].filter(([, s]) => s.size !== 1).map(([u]) => u);
    expect(flipped).toEqual([]);
    const v2 = [...seen.values()].filter((s) => s.has("v2")).length;
    expectShare("50/50 sticky users on v2", v2, 500, 0.5);
  });

  test("a sticky cookie: same session → same subset, whatever else the cookie header holds", async () => {
    const host = await routingHost(split([["v1", 50], ["v2", 50]], { sticky_key: { cookie: "session" } }));
    const sessions = users(300, "s");
    const first = sessions.map((s) => subsetOf(host, { headers: [["cookie", `session=${s}`]] }));
    const again = sessions.map((s, i) => subsetOf(host, { headers: [["cookie", `theme=t${i}; session=${s}; lang=en`]] }));
    expect(again).toEqual(first);
    expectShare("50/50 sticky cookie on v2", first.filter((s) => s === "v2").length, 300, 0.5);
  });

  test("sticky source address: the client IP decides, not its port", async () => {
    const host = await routingHost(split([["v1", 50], ["v2", 50]], { sticky_key: { source_address: true } }));
    const ips = Array.from({ length: 400 }, (_, i) => (i % 2 ? `10.0.${i >> 8}.${i & 255}` : `[2001:db8::${i.toString(16)}]`));
    const first = ips.map((ip) => subsetOf(host, { properties: { "source.address": `${ip}:40000` } }));
    const otherPort = ips.map((ip, i) => subsetOf(host, { properties: { "source.address": `${ip}:${1024 + i}` } }));
    expect(otherPort).toEqual(first);
    expectShare("50/50 by client address on v2", first.filter((s) => s === "v2").length, 400, 0.5);
  });

  test("two rules with different names split the same users independently", async () => {
    const rule = (name: string, value: string) => ({
      name,
      match: [{ headers: { "x-exp": { exact: value } } }],
      route: [{ destination: { host: "r", subset: "a" }, weight: 50 }, { destination: { host: "r", subset: "b" }, weight: 50 }],
    });
    const host = await routingHost({ http: [rule("exp-1", "1"), rule("exp-2", "2")], sticky_key: { header: "end-user" } });
    const us = users(4_000);
    const one = us.map((u) => subsetOf(host, { headers: [["end-user", u], ["x-exp", "1"]] }));
    const two = us.map((u) => subsetOf(host, { headers: [["end-user", u], ["x-exp", "2"]] }));
    const same = one.filter((s, i) => s === two[i]).length;
    expectShare("two experiments agreeing on a user", same, 4_000, 0.5);
  });

  test("raising the canary's weight only moves users onto the canary, never back (canary listed last)", async () => {
    const host = await routingHost(split([["stable", 90], ["canary", 10]], { sticky_key: { header: "end-user" } }));
    const us = users(3_000);
    const at10 = us.map((u) => subsetOf(host, { headers: [["end-user", u]] }));
    expect(host.configure(JSON.stringify(split([["stable", 70], ["canary", 30]], { sticky_key: { header: "end-user" } })))).toBe(true);
    const at30 = us.map((u) => subsetOf(host, { headers: [["end-user", u]] }));
    const movedBack = us.filter((_, i) => at10[i] === "canary" && at30[i] !== "canary");
    expect(movedBack).toEqual([]);
    expectShare("canary at 30%", at30.filter((s) => s === "canary").length, 3_000, 0.3);
  });

  test("a different host/VM instance computes the same assignment (the hash has no per-process seed)", async () => {
    const cfg = split([["v1", 50], ["v2", 50]], { sticky_key: { header: "end-user" } });
    const a = await routingHost(cfg, { seed: 1 });
    const b = await routingHost(cfg, { seed: 2 });
    const us = users(300);
    expect(us.map((u) => subsetOf(b, { headers: [["end-user", u]] }))).toEqual(us.map((u) => subsetOf(a, { headers: [["end-user", u]] })));
  });
});
