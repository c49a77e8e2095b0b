// filters/routing publishing its decision as Envoy typed filter state (subset_filter_state) for the route
// table's RouteMatch.filter_state, with or without the subset header, in the emulator.
import { configError, route, routingHost, routingWasm } from "./harness";

beforeAll(async () => {
  await routingWasm();
}, 120_000);

const HTTP = [
  { name: "jason", match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
  { name: "beta", match: [{ uri: { prefix: "/beta" } }], route: [{ destination: { host: "reviews-beta" } }] },
];

describe("routing: the decision as filter state", () => {
  test("subset_header false: the subset is filter state envoy.string, no routing header is written, the route cache is cleared", async () => {
    const host = await routingHost({ http: HTTP, subset_header: false, subset_filter_state: "envoy.string" });
    const r = route(host, { headers: [["end-user", "jason"]] });
    expect(r.stream.envoyFilterState.get("envoy.string")).toEqual({ value: "v2", span: "FilterChain" });
    expect(r.subset).toBeNull();
    expect(r.stream.routeCacheClears).toBe(1);
    const beta = route(host, { path: "/beta/x" });
    expect(beta.stream.envoyFilterState.get("envoy.string")?.value).toBe("reviews-beta");
    // No rule matched: nothing is set, so the route table falls through to its default route.
    const none = route(host, { headers: [["x-route-subset", "v2"]] });
    expect(none.stream.envoyFilterState.size).toBe(0);
    // The header is not this filter's in this mode: a client's copy is left alone (the routes do not read it).
    expect(none.subset).toBe("v2");
    expect(host.metric("routing.filter_state_failed")?.value).toBe(0);
  });

  test("both: the header and the filter state carry the same subset", async () => {
    const host = await routingHost({ http: HTTP, subset_filter_state: "envoy.string" });
    const r = route(host, { headers: [["end-user", "jason"]] });
    expect([r.subset, r.stream.envoyFilterState.get("envoy.string")?.value]).toEqual(["v2", "v2"]);
  });

  test("a key Envoy has no factory for is counted per request (the route table cannot match it)", async () => {
    const host = await routingHost({ http: HTTP, subset_header: false, subset_filter_state: "example.no_such_factory" });
    const r = route(host, { headers: [["end-user", "jason"]] });
    expect(r.stream.envoyFilterState.size).toBe(0);
    expect(host.metric("routing.filter_state_failed")?.value).toBe(1);
  });

  test("a host without set_envoy_filter_state refuses the configuration, naming the field", async () => {
    await expect(routingHost({ http: HTTP, subset_filter_state: "envoy.string" }, { withoutForeignFunctions: ["set_envoy_filter_state"] }))
      .rejects.toThrow(/subset_filter_state: this host has no set_envoy_filter_state function/);
  });

  test.each([
    [{ subset_header: false }, "subset_header: false needs subset_filter_state"],
    [{ subset_header: true }, "subset_header: must be a header name, or false for no header"],
    [{ subset_filter_state: "" }, "subset_filter_state: must not be empty"],
    [{ subset_filter_state: "envoy string" }, "subset_filter_state: must be the name of a filter state object factory Envoy registers"],
  ])("configuration error %j", async (extra, message) => {
    expect(await configError({ http: HTTP, ...extra })).toContain(message);
  });
});
