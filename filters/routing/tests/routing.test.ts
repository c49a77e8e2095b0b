// filters/routing in the emulator: every matcher, every action, the config errors, and regex cost.
import { LogLevel } from "../../../src/emulator";
import { configError, route, routingHost, routingWasm, subsetOf } from "./harness";

beforeAll(async () => {
  await routingWasm();
}, 120_000);

/** One rule matching `match` → subset "hit"; everything else → subset "miss". */
function oneRule(match: unknown, extra: Record<string, unknown> = {}) {
  return {
    http: [
      { name: "probe", match: [match], route: [{ destination: { host: "svc", subset: "hit" } }] },
      { name: "rest", route: [{ destination: { host: "svc", subset: "miss" } }] },
    ],
    ...extra,
  };
}

describe("routing: string matches on headers", () => {
  const cases: Array<[string, unknown, Array<[string, string]>, string]> = [
    ["exact matches the whole value", { exact: "jason" }, [["end-user", "jason"]], "hit"],
    ["exact is case-sensitive", { exact: "jason" }, [["end-user", "Jason"]], "miss"],
    ["exact does not match a longer value", { exact: "jason" }, [["end-user", "jason2"]], "miss"],
    ["exact on a missing header", { exact: "jason" }, [], "miss"],
    ["exact empty matches an empty value", { exact: "" }, [["end-user", ""]], "hit"],
    ["prefix", { prefix: "jas" }, [["end-user", "jason"]], "hit"],
    ["prefix miss", { prefix: "jas" }, [["end-user", "ja"]], "miss"],
    ["suffix", { suffix: "son" }, [["end-user", "jason"]], "hit"],
    ["suffix miss", { suffix: "son" }, [["end-user", "jasom"]], "miss"],
    ["regex is a full match", { regex: "ja.o" }, [["end-user", "jason"]], "miss"],
    ["regex matching the whole value", { regex: "ja.on" }, [["end-user", "jason"]], "hit"],
    ["regex alternation", { regex: "(jason|kim)" }, [["end-user", "kim"]], "hit"],
    ["{} means present", {}, [["end-user", ""]], "hit"],
    ["{} on a missing header", {}, [], "miss"],
    ["present: true", { present: true }, [["end-user", "x"]], "hit"],
    ["present: false on a missing header", { present: false }, [], "hit"],
    ["present: false on a present header", { present: false }, [["end-user", "x"]], "miss"],
    ["invert exact on another value", { exact: "jason", invert: true }, [["end-user", "kim"]], "hit"],
    ["invert exact on the value", { exact: "jason", invert: true }, [["end-user", "jason"]], "miss"],
    // Envoy's HeaderMatcher: a missing header never satisfies a value match, inverted or not.
    ["invert exact on a missing header", { exact: "jason", invert: true }, [], "miss"],
    ["invert present on a missing header", { present: true, invert: true }, [], "hit"],
    ["invert regex", { regex: "j.*", invert: true }, [["end-user", "kim"]], "hit"],
    ["a repeated header is joined with ','", { exact: "a,b" }, [["end-user", "a"], ["end-user", "b"]], "hit"],
    ["invalid UTF-8 value does not trap", { regex: ".*" }, [["end-user", "\xff\xfe"]], "hit"],
  ];
  let hosts: Map<string, Awaited<ReturnType<typeof routingHost>>>;
  beforeAll(() => { hosts = new Map(); });

  test.each(cases)("%s", async (_what, match, headers, expected) => {
    const key = JSON.stringify(match);
    let host = hosts.get(key);
    if (!host) {
      host = await routingHost(oneRule({ headers: { "end-user": match } }));
      hosts.set(key, host);
    }
    expect(subsetOf(host, { headers })).toBe(expected);
  });

  test("header names in the config are case-insensitive (Envoy lower-cases them)", async () => {
    const host = await routingHost(oneRule({ headers: { "End-User": { exact: "jason" } } }));
    expect(subsetOf(host, { headers: [["end-user", "jason"]] })).toBe("hit");
  });
});

describe("routing: uri, method, authority, scheme, port", () => {
  test("uri prefix, exact, suffix and regex ignore the query string and fragment", async () => {
    const prefix = await routingHost(oneRule({ uri: { prefix: "/api" } }));
    expect(subsetOf(prefix, { path: "/api/v1/users?x=1" })).toBe("hit");
    expect(subsetOf(prefix, { path: "/ap" })).toBe("miss");
    const exact = await routingHost(oneRule({ uri: { exact: "/reviews" } }));
    expect(subsetOf(exact, { path: "/reviews?u=1" })).toBe("hit");
    expect(subsetOf(exact, { path: "/reviews#top" })).toBe("hit");
    expect(subsetOf(exact, { path: "/reviews/1" })).toBe("miss");
    const suffix = await routingHost(oneRule({ uri: { suffix: ".json" } }));
    expect(subsetOf(suffix, { path: "/a/b.json?q=.html" })).toBe("hit");
    expect(subsetOf(suffix, { path: "/a/b.html?q=.json" })).toBe("miss");
    const regex = await routingHost(oneRule({ uri: { regex: "/reviews/[0-9]+" } }));
    expect(subsetOf(regex, { path: "/reviews/42?x=y" })).toBe("hit");
    expect(subsetOf(regex, { path: "/reviews/42/x" })).toBe("miss");
  });

  test("ignoreUriCase folds ASCII case for prefix, exact and regex", async () => {
    const host = await routingHost(oneRule({ uri: { prefix: "/API/" }, ignoreUriCase: true }));
    expect(subsetOf(host, { path: "/api/x" })).toBe("hit");
    expect(subsetOf(host, { path: "/Api/x" })).toBe("hit");
    const re = await routingHost(oneRule({ uri: { regex: "/shop/[a-z]+" }, ignoreUriCase: true }));
    expect(subsetOf(re, { path: "/SHOP/Cart" })).toBe("hit");
    const cased = await routingHost(oneRule({ uri: { prefix: "/API/" } }));
    expect(subsetOf(cased, { path: "/api/x" })).toBe("miss");
  });

  test("method, authority and scheme match the pseudo-headers", async () => {
    const host = await routingHost(oneRule({ method: { exact: "POST" }, authority: { suffix: ".internal" }, scheme: { exact: "https" } }));
    expect(subsetOf(host, { method: "POST", authority: "api.internal", scheme: "https" })).toBe("hit");
    expect(subsetOf(host, { method: "GET", authority: "api.internal", scheme: "https" })).toBe("miss");
    expect(subsetOf(host, { method: "POST", authority: "api.example", scheme: "https" })).toBe("miss");
    expect(subsetOf(host, { method: "POST", authority: "api.internal", scheme: "http" })).toBe("miss");
  });

  test("port matches the destination port", async () => {
    const host = await routingHost(oneRule({ port: 9080 }));
    expect(subsetOf(host, { properties: { "destination.port": 9080 } })).toBe("hit");
    expect(subsetOf(host, { properties: { "destination.port": 8080 } })).toBe("miss");
  });
});

describe("routing: query parameters and cookies", () => {
  test("queryParams: exact, regex, presence, first value, percent-decoding", async () => {
    const host = await routingHost(oneRule({ queryParams: { variant: { exact: "b c" } } }));
    expect(subsetOf(host, { path: "/p?x=1&variant=b%20c" })).toBe("hit");
    expect(subsetOf(host, { path: "/p?variant=b%20c&variant=a" })).toBe("hit");
    expect(subsetOf(host, { path: "/p?variant=a&variant=b%20c" })).toBe("miss");
    expect(subsetOf(host, { path: "/p?variants=b%20c" })).toBe("miss");
    expect(subsetOf(host, { path: "/p" })).toBe("miss");
    expect(subsetOf(host, { path: "/p?variant=b%20c#frag" })).toBe("hit");
    const re = await routingHost(oneRule({ queryParams: { v: { regex: "[0-9]+" } } }));
    expect(subsetOf(re, { path: "/?v=123" })).toBe("hit");
    expect(subsetOf(re, { path: "/?v=12a" })).toBe("miss");
    const present = await routingHost(oneRule({ queryParams: { debug: {} } }));
    expect(subsetOf(present, { path: "/?debug" })).toBe("hit");
    expect(subsetOf(present, { path: "/?debug=" })).toBe("hit");
    expect(subsetOf(present, { path: "/?nodebug=1" })).toBe("miss");
    const malformed = await routingHost(oneRule({ queryParams: { q: { exact: "%zz%4" } } }));
    expect(subsetOf(malformed, { path: "/?q=%zz%4" })).toBe("hit");
  });

  test("cookies: by name among several, spaces and quotes removed, several cookie headers", async () => {
    const host = await routingHost(oneRule({ cookies: { group: { exact: "beta" } } }));
    expect(subsetOf(host, { headers: [["cookie", "session=abc; group=beta; theme=dark"]] })).toBe("hit");
    expect(subsetOf(host, { headers: [["cookie", "group=\"beta\""]] })).toBe("hit");
    expect(subsetOf(host, { headers: [["cookie", "  group = beta  "]] })).toBe("hit");
    expect(subsetOf(host, { headers: [["cookie", "a=1"], ["cookie", "group=beta"]] })).toBe("hit");
    expect(subsetOf(host, { headers: [["cookie", "xgroup=beta; group=alpha"]] })).toBe("miss");
    expect(subsetOf(host, { headers: [["cookie", "groups=beta"]] })).toBe("miss");
    expect(subsetOf(host, {})).toBe("miss");
  });
});

describe("routing: source address", () => {
  test("sourceCidr: IPv4, IPv6, IPv4-mapped IPv6 and lists", async () => {
    const host = await routingHost(oneRule({ sourceCidr: ["10.0.0.0/8", "2001:db8::/32", "192.168.1.7"] }));
    const from = (a: string) => subsetOf(host, { properties: { "source.address": a } });
    expect(from("10.1.2.3:5555")).toBe("hit");
    expect(from("11.1.2.3:5555")).toBe("miss");
    expect(from("[2001:db8::1]:443")).toBe("hit");
    expect(from("[2001:db9::1]:443")).toBe("miss");
    expect(from("[::ffff:10.9.9.9]:80")).toBe("hit");
    expect(from("192.168.1.7:1")).toBe("hit");
    expect(from("192.168.1.8:1")).toBe("miss");
    expect(from("/var/run/socket")).toBe("miss");
    const odd = await routingHost(oneRule({ sourceCidr: "172.16.0.0/12" }));
    expect(subsetOf(odd, { properties: { "source.address": "172.31.255.255:1" } })).toBe("hit");
    expect(subsetOf(odd, { properties: { "source.address": "172.32.0.0:1" } })).toBe("miss");
    const v6 = await routingHost(oneRule({ sourceCidr: "fe80::/10" }));
    expect(subsetOf(v6, { properties: { "source.address": "[febf:ffff::1]:1" } })).toBe("hit");
    expect(subsetOf(v6, { properties: { "source.address": "[fec0::1]:1" } })).toBe("miss");
    expect(subsetOf(v6, { properties: { "source.address": null } })).toBe("miss");
  });
});

describe("routing: CIDR text forms", () => {
  const accepted = ["0.0.0.0/0", "::/0", "::", "::1", "1::", "1:2:3:4:5:6:7:8/128", "1:2:3:4:5:6:7::", "::ffff:1.2.3.4/128", "fe80::1:2/128", "10.0.0.0/8"];
  test.each(accepted)("%s is accepted", async (cidr) => {
    await expect(routingHost(oneRule({ sourceCidr: cidr }))).resolves.toBeDefined();
  });
  const rejected = ["1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "01.2.3.4", "1.2.3.4.5", "256.1.1.1", "1:2", "::g", ":1::", "1:", "10.0.0.0/", "10.0.0.0/x", ""];
  test.each(rejected)("%j is rejected", async (cidr) => {
    expect(await configError(oneRule({ sourceCidr: cidr }))).toMatch(/^http\[0\]\(probe\)\.match\[0\]\.sourceCidr: /);
  });
  test("/0 matches every address of its family only", async () => {
    const host = await routingHost(oneRule({ sourceCidr: "0.0.0.0/0" }));
    expect(subsetOf(host, { properties: { "source.address": "203.0.113.9:1" } })).toBe("hit");
    expect(subsetOf(host, { properties: { "source.address": "[2001:db8::1]:1" } })).toBe("miss");
  });
});

describe("routing: combining conditions and rules", () => {
  test("all conditions of a match block must hold", async () => {
    const host = await routingHost(oneRule({ headers: { "end-user": { exact: "jason" } }, uri: { prefix: "/api" } }));
    expect(subsetOf(host, { path: "/api", headers: [["end-user", "jason"]] })).toBe("hit");
    expect(subsetOf(host, { path: "/web", headers: [["end-user", "jason"]] })).toBe("miss");
    expect(subsetOf(host, { path: "/api", headers: [["end-user", "kim"]] })).toBe("miss");
  });

  test("several match blocks are OR'ed", async () => {
    const host = await routingHost({
      http: [
        { match: [{ headers: { "end-user": { exact: "jason" } } }, { uri: { prefix: "/beta" } }], route: [{ destination: { host: "s", subset: "hit" } }] },
        { route: [{ destination: { host: "s", subset: "miss" } }] },
      ],
    });
    expect(subsetOf(host, { headers: [["end-user", "jason"]] })).toBe("hit");
    expect(subsetOf(host, { path: "/beta/x" })).toBe("hit");
    expect(subsetOf(host, { path: "/x" })).toBe("miss");
  });

  test("rules are tried in order and the first match wins", async () => {
    const host = await routingHost({
      http: [
        { name: "jason", match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "s", subset: "v2" } }] },
        { name: "api", match: [{ uri: { prefix: "/api" } }], route: [{ destination: { host: "s", subset: "v1" } }] },
        { name: "rest", route: [{ destination: { host: "s", subset: "v3" } }] },
      ],
    });
    expect(subsetOf(host, { path: "/api", headers: [["end-user", "jason"]] })).toBe("v2");
    expect(subsetOf(host, { path: "/api" })).toBe("v1");
    expect(subsetOf(host, { path: "/" })).toBe("v3");
  });

  test("withoutHeaders: the block fails when the header matches; a missing header passes", async () => {
    const host = await routingHost(oneRule({ withoutHeaders: { "x-internal": { exact: "1" } }, uri: { prefix: "/" } }));
    expect(subsetOf(host, { headers: [["x-internal", "1"]] })).toBe("miss");
    expect(subsetOf(host, { headers: [["x-internal", "0"]] })).toBe("hit");
    expect(subsetOf(host, {})).toBe("hit");
    const absent = await routingHost(oneRule({ withoutHeaders: { "x-debug": {} } }));
    expect(subsetOf(absent, {})).toBe("hit");
    expect(subsetOf(absent, { headers: [["x-debug", ""]] })).toBe("miss");
  });

  test("no rule matches: the routing header is removed (a client cannot pick a subset) and no_match counts", async () => {
    const host = await routingHost({
      http: [{ match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "s", subset: "v2" } }] }],
      metadata: { host_header: "x-route-host", rule_header: "x-route-rule" },
    });
    const spoofed = route(host, { headers: [["x-route-subset", "v9"], ["x-route-host", "h"], ["x-route-rule", "r"]] });
    expect(spoofed.subset).toBeNull();
    expect(spoofed.header("x-route-host")).toBeNull();
    expect(spoofed.header("x-route-rule")).toBeNull();
    expect(spoofed.stream.routeCacheClears).toBe(1);
    const plain = route(host, {});
    expect(plain.subset).toBeNull();
    expect(plain.stream.routeCacheClears).toBe(0);
    expect(host.metric("routing.no_match")?.value).toBe(2);
  });

  test("a client's own routing header is replaced, never kept next to the filter's", async () => {
    const host = await routingHost({ http: [{ route: [{ destination: { host: "s", subset: "v1" } }] }] });
    const r = route(host, { headers: [["x-route-subset", "v2"], ["x-route-subset", "v3"]] });
    expect(r.headers("x-route-subset")).toEqual(["v1"]);
  });
});

describe("routing: actions", () => {
  const config = {
    http: [
      {
        name: "jason",
        match: [{ headers: { "end-user": { exact: "jason" } } }],
        route: [{
          destination: { host: "reviews", subset: "v2", port: { number: 9080 } },
          headers: { request: { set: { "x-dest": "v2" } }, response: { add: { "x-served-by": "v2" } } },
        }],
        headers: {
          request: { set: { "x-canary": "yes", "x-dest": "rule" }, add: { "x-tag": "b" }, remove: ["x-drop"] },
          response: { set: { "x-rule": "jason" }, remove: ["server"] },
        },
      },
      { name: "rest", route: [{ destination: { host: "reviews-legacy" } }] },
    ],
    subset_header: "X-Subset",
    metadata: { host_header: "x-route-host", rule_header: "x-route-rule", filter_state: { subset: "routing.subset", rule: "routing.rule" } },
  };

  test("writes the subset, host and rule headers, filter state, header operations, and clears the route cache once", async () => {
    const host = await routingHost(config);
    const r = route(host, { headers: [["end-user", "jason"], ["x-tag", "a"], ["x-drop", "1"]] }, "x-subset");
    expect(r.subset).toBe("v2");
    expect(r.header("x-route-host")).toBe("reviews");
    expect(r.header("x-route-rule")).toBe("jason");
    expect(r.header("x-canary")).toBe("yes");
    // The destination's operations run after the rule's: its value wins.
    expect(r.header("x-dest")).toBe("v2");
    expect(r.headers("x-tag")).toEqual(["a", "b"]);
    expect(r.header("x-drop")).toBeNull();
    expect(r.stream.filterStateText("routing.subset")).toBe("v2");
    expect(r.stream.filterStateText("routing.rule")).toBe("jason");
    expect(r.stream.routeCacheClears).toBe(1);
    r.stream.sendResponseHeaders([[":status", "200"], ["server", "echo"]], true);
    const resp = r.stream.responseHeaders();
    expect(resp).toContainEqual(["x-rule", "jason"]);
    expect(resp).toContainEqual(["x-served-by", "v2"]);
    expect(resp.find(([k]) => k === "server")).toBeUndefined();
  });

  test("a destination without subset writes its host; counters count per destination", async () => {
    const host = await routingHost(config);
    const r = route(host, {}, "x-subset");
    expect(r.subset).toBe("reviews-legacy");
    expect(r.header("x-route-rule")).toBe("rest");
    expect(r.header("x-canary")).toBeNull();
    r.stream.sendResponseHeaders([[":status", "200"]], true);
    expect(r.stream.responseHeaders().find(([k]) => k === "x-rule")).toBeUndefined();
    route(host, { headers: [["end-user", "jason"]] }, "x-subset");
    route(host, { headers: [["end-user", "jason"]] }, "x-subset");
    expect(host.metric("routing.jason.v2")?.value).toBe(2);
    expect(host.metric("routing.rest.reviews-legacy")?.value).toBe(1);
  });

  test("a new configuration replaces the rules; a rejected one keeps the running rules", async () => {
    const host = await routingHost(config);
    expect(host.configure(JSON.stringify({ http: [{ route: [{ destination: { host: "s", subset: "new" } }] }] }))).toBe(true);
    expect(subsetOf(host, { headers: [["end-user", "jason"]] })).toBe("new");
    expect(host.configure(JSON.stringify({ http: [] }))).toBe(false);
    expect(subsetOf(host, {})).toBe("new");
  });
});

describe("routing: regex cost is linear", () => {
  test("a pathological pattern on a 32 KiB header finishes, and doubling the input about doubles the time", async () => {
    const host = await routingHost(oneRule({ headers: { "x-data": { regex: "(a+)+$" } }, uri: { regex: "(a|a)*b" } }));
    const timeFor = (n: number) => {
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = process.hrtime.bigint();
        const s = subsetOf(host, { path: "/" + "a".repeat(n), headers: [["x-data", "a".repeat(n) + "!"]] });
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
        expect(s).toBe("miss");
      }
      return best;
    };
    timeFor(4096); // warm-up
    const t8 = timeFor(8192);
    const t32 = timeFor(32768);
    console.log(`routing: "(a+)+$" on 8 KiB: ${t8.toFixed(2)} ms, on 32 KiB: ${t32.toFixed(2)} ms (ratio ${(t32 / t8).toFixed(1)}, linear is 4)`);
    // A backtracking engine would never finish; a quadratic one would show a ratio near 16.
    expect(t32).toBeLessThan(2000);
    expect(t32 / t8).toBeLessThan(9);
  });
});

describe("routing: configuration errors name the rule and the field", () => {
  const weights = (ws: Array<number | undefined>) => ws.map((w, i) => ({ destination: { host: "r", subset: `v${i + 1}` }, ...(w === undefined ? {} : { weight: w }) }));
  const cases: Array<[string, unknown, string]> = [
    ["weights under 100", { http: [{ route: [{ destination: { host: "a" } }] }, { route: weights([60, 30]) }] }, "http[1].route: weights sum to 90, must be 100"],
    ["weights over 100 in a named rule", { http: [{ name: "canary", route: weights([80, 30]) }] }, "http[0](canary).route: weights sum to 110, must be 100"],
    ["a missing weight counts as 0", { http: [{ route: weights([75, undefined]) }] }, "http[0].route: weights sum to 75, must be 100 (a destination without weight counts as 0)"],
    ["single destination with a partial weight", { http: [{ route: weights([50]) }] }, "http[0].route: weights sum to 50, must be 100"],
    ["weight out of range", { http: [{ route: weights([101, -1]) }] }, "http[0].route[0].weight: must be between 0 and 100, got 101"],
    ["bad regex", { http: [{ name: "ua", match: [{ headers: { "user-agent": { regex: "(a" } } }], route: weights([100]) }] }, "http[0](ua).match[0].headers.user-agent.regex: invalid regex: missing closing ) for the group opened at 0"],
    ["backreference", { http: [{ match: [{ uri: { regex: "(a)\\1" } }], route: weights([100]) }] }, "http[0].match[0].uri.regex: invalid regex: unsupported: backreference \\1 at 3"],
    ["two kinds in one StringMatch", { http: [{ match: [{ uri: { prefix: "/a", exact: "/a" } }], route: weights([100]) }] }, "http[0].match[0].uri: set only one of exact, prefix, suffix, regex, present (both exact and prefix are set)"],
    ["unknown StringMatch field", { http: [{ match: [{ method: { equals: "GET" } }], route: weights([100]) }] }, "http[0].match[0].method.equals: unknown field (expected one of: exact, prefix, suffix, regex, present, invert)"],
    ["no route", { http: [{ name: "x", match: [] }] }, "http[0](x).route: is required"],
    ["empty route", { http: [{ route: [] }] }, "http[0].route: must list at least one destination"],
    ["no host", { http: [{ route: [{ destination: { subset: "v1" } }] }] }, "http[0].route[0].destination.host: is required"],
    ["no http", {}, "http: is required"],
    ["empty http", { http: [] }, "http: must list at least one rule"],
    ["unsupported Istio route field", { http: [{ name: "t", route: weights([100]), timeout: "1s" }] }, "http[0](t).timeout: not supported: this filter only chooses the destination; configure it on the Envoy route or in Istio"],
    ["unsupported Istio match field", { http: [{ match: [{ sourceLabels: { app: "x" } }], route: weights([100]) }] }, "http[0].match[0].sourceLabels: not supported: a Wasm filter cannot see it (use sourceCidr for the client address)"],
    ["bad CIDR", { http: [{ match: [{ sourceCidr: ["10.0.0.0/8", "10.0.0.1/8"] }], route: weights([100]) }] }, "http[0].match[0].sourceCidr[1]: \"10.0.0.1/8\" has bits set after the /8 prefix (did you mean 10.0.0.0/8?)"],
    ["not an address", { http: [{ match: [{ sourceCidr: "10.0.0/8" }], route: weights([100]) }] }, "http[0].match[0].sourceCidr: \"10.0.0/8\" is not an IPv4 or IPv6 address or CIDR block"],
    ["prefix too long", { http: [{ match: [{ sourceCidr: "::/129" }], route: weights([100]) }] }, "http[0].match[0].sourceCidr: \"::/129\": the prefix length must be at most 128"],
    ["duplicate rule names", { http: [{ name: "a", route: weights([100]) }, { name: "a", route: weights([100]) }] }, "http[1](a).name: \"a\" is used by an earlier rule; names must be unique"],
    ["bad header name", { http: [{ match: [{ headers: { "bad header": {} } }], route: weights([100]) }] }, "http[0].match[0].headers.bad header: \"bad header\" is not a valid header name"],
    ["writing the subset header through an operation", { http: [{ headers: { request: { set: { "x-route-subset": "v1" } } }, route: weights([100]) }] }, "http[0].headers.request.set.x-route-subset: x-route-subset is written by this filter (subset_header/metadata); it cannot be changed here too"],
    ["pseudo-header operation", { http: [{ headers: { request: { remove: [":path"] } }, route: weights([100]) }] }, "http[0].headers.request.remove[0]: pseudo-headers such as :path cannot be changed here"],
    ["CR LF in a value", { http: [{ headers: { request: { set: { "x-a": "1\r\nx-b: 2" } } }, route: weights([100]) }] }, "http[0].headers.request.set.x-a: the value must not contain control characters"],
    ["sticky key with two kinds", { http: [{ route: weights([100]) }], sticky_key: { header: "a", cookie: "b" } }, "sticky_key: set only one of header, cookie, source_address (both header and cookie are set)"],
    ["sticky key with none", { http: [{ route: weights([100]) }], sticky_key: {} }, "sticky_key: one of header, cookie, source_address is required"],
    ["dynamic metadata", { http: [{ route: weights([100]) }], metadata: { dynamic_metadata: { namespace: "envoy.lb" } } }, "metadata.dynamic_metadata: not supported: proxy-wasm ABI 0.2.1 cannot write Envoy's dynamic metadata; put Envoy's header_to_metadata filter after this one to copy x-route-subset into it"],
    ["unknown top-level field", { http: [{ route: weights([100]) }], hosts: ["reviews"] }, "hosts: unknown field (expected one of: http, subset_header, subset_filter_state, sticky_key, metadata)"],
    ["not JSON", "{http: [", ""],
  ];

  test.each(cases)("%s", async (_what, config, message) => {
    const got = await configError(config);
    if (message === "") expect(got.length).toBeGreaterThan(0);
    else expect(got).toBe(message);
  });

  test("the filter logs nothing at error level for a valid configuration", async () => {
    const host = await routingHost({ http: [{ route: [{ destination: { host: "a" } }] }] });
    expect(host.logs(LogLevel.Error)).toEqual([]);
  });
});
