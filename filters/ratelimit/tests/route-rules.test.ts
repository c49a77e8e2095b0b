// ratelimit: per-route rules (docs/route-rules.md) in the emulator: one plugin, a limit per route.
import { Host, LogLevel } from "../../../src/emulator";
import { advance, ratelimitWasm, request, startWorkers } from "./harness";

const bucket = (max: number, interval = "60s") => ({ max_tokens: max, tokens_per_fill: max, fill_interval: interval });

const CONFIG = {
  token_bucket: bucket(100),
  route_rules: [
    { match: { route_name: "login" }, config: { token_bucket: bucket(3) } },
    { match: { route_name: "search" }, config: { token_bucket: { max_tokens: 10 }, stat_prefix: "search" } },
    { match: { route_name: "health" }, config: { filter_enabled: 0 } },
  ],
};

const statuses = (n: number, f: () => number) => Array.from({ length: n }, f);

describe("ratelimit: route rules", () => {
  test("each rule is its own limit: 3 on login, 10 on search, 100 elsewhere, none on health; inherited fields stay", async () => {
    const [a, b] = await startWorkers(2, CONFIG);
    // Two workers share each route's bucket, as they share the filter's.
    let turn = 0;
    const login = statuses(6, () => request(turn++ % 2 ? a : b, { route: "login" }).status);
    expect(login.filter((s) => s === 200).length).toBe(3);
    expect(login.slice(3)).toEqual([429, 429, 429]);
    // search inherits tokens_per_fill and fill_interval from the filter's token_bucket (merged member by member).
    expect(statuses(12, () => request(a, { route: "search" }).status).filter((s) => s === 200).length).toBe(10);
    expect(statuses(20, () => request(b, { route: "other" }).status).every((s) => s === 200)).toBe(true);
    expect(statuses(200, () => request(a, { route: "health" }).status).every((s) => s === 200)).toBe(true);
    // The default route's bucket was not charged by login, search or health: 80 of its 100 tokens are left.
    expect(statuses(81, () => request(a).status).filter((s) => s === 429).length).toBe(1);
    // A rule with its own stat_prefix counts under it; the others under the filter's.
    expect(a.metric("ratelimit.search.over_limit")!.value).toBe(2);
    expect(a.metric("ratelimit.over_limit")!.value + b.metric("ratelimit.over_limit")!.value).toBe(3 + 1);
    advance([a, b], 60_000);
    expect(request(b, { route: "login" }).status).toBe(200);
  });

  test("an error in a rule's limits names the rule; a local rule needs what local mode needs", async () => {
    const refused = async (config: object) => {
      const h = await Host.load(await ratelimitWasm(), { pluginConfig: JSON.stringify(config) });
      h.startVm();
      expect(h.configure()).toBe(false);
      return h.logMessages(LogLevel.Error).join("\n");
    };
    expect(await refused({ ...CONFIG, route_rules: [{ match: { route_name: "x" }, config: { token_bucket: { fill_interval: "0.01s" } } }] }))
      .toContain("route_rules[0].config.token_bucket.fill_interval: must be at least 50 ms");
    expect(await refused({ ...CONFIG, route_rules: [{ match: { route_name: "x" }, config: { token_bucket: null } }] }))
      .toContain("route_rules[0].config.token_bucket: is required");
  });
});
