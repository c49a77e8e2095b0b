// Per-route rules (sdk/assembly/routes.ts), checked through a filter (sdk/tests/entries/routes.ts) in the
// host emulator: each request answers with the settings the selected rule (or the filter's own
// configuration) gives, so the body shows both which rule won and how its config merged.
import { join } from "node:path";
import { compile } from "../../src/build/compile";
import { Host, LogLevel } from "../../src/emulator";

const ROOT = join(__dirname, "..", "..");
let wasm: string;

beforeAll(async () => {
  const out = await compile({
    entry: join(ROOT, "sdk/tests/entries/routes.ts"),
    outFile: join(ROOT, "sdk/tests/build/routes.wasm"),
    projectDir: ROOT,
  });
  wasm = out.wasmPath;
}, 120_000);

const BASE = { name: "base", limits: { a: 1, b: 2 } };

interface Req { route?: string | null; vhost?: string | null; host?: string; path?: string; headers?: Array<[string, string]> }

async function start(rules: unknown[], base: object = BASE): Promise<(r?: Req) => string> {
  const host = await Host.start(wasm, { pluginConfig: JSON.stringify({ ...base, route_rules: rules }) });
  return (r: Req = {}) => {
    const properties: Record<string, string | null> = {};
    if (r.route !== undefined) properties["xds.route_name"] = r.route;
    if (r.vhost !== undefined) properties["xds.virtual_host_name"] = r.vhost;
    const s = host.newHttpStream(undefined, { properties });
    s.sendRequestHeaders([[":method", "GET"], [":path", r.path ?? "/"], [":authority", r.host ?? "example.com"], ...(r.headers ?? [])], true);
    expect(s.localResponse?.status).toBe(200);
    return Buffer.from(s.localResponse!.body).toString();
  };
}

async function configError(rules: unknown): Promise<string> {
  const host = await Host.load(wasm, { pluginConfig: JSON.stringify({ ...BASE, route_rules: rules }) });
  host.startVm();
  expect(host.configure()).toBe(false);
  return host.logMessages(LogLevel.Error).join("\n");
}

describe("route rules: selection", () => {
  test("without rules, or when none matches, the filter's own configuration applies", async () => {
    expect((await start([]))()).toBe("base 1 2");
    const send = await start([{ match: { route_name: "checkout" }, config: { name: "checkout" } }]);
    expect(send({ route: "cart" })).toBe("base 1 2");
    expect(send({ route: null })).toBe("base 1 2"); // no route: the attribute is absent
    expect(send({ route: "checkout" })).toBe("checkout 1 2");
  });

  test("a rule's config is a JSON Merge Patch: objects merge member by member, null removes, the rest is inherited", async () => {
    const send = await start([
      { match: { route_name: "r1" }, config: { limits: { b: null } } },
      { match: { route_name: "r2" }, config: { name: "two", limits: { a: 7 } } },
      { match: { route_name: "r3" }, config: { limits: null } },
    ]);
    expect(send({ route: "r1" })).toBe("base 1 -1");
    expect(send({ route: "r2" })).toBe("two 7 2");
    expect(send({ route: "r3" })).toBe("base -1 -1");
  });

  test("route_name and virtual_host take one name or a list; every condition of a match must hold", async () => {
    const send = await start([
      { match: { route_name: ["a", "b"] }, config: { name: "ab" } },
      { match: { virtual_host: "shop", path_prefix: "/api/" }, config: { name: "shop-api" } },
    ]);
    expect([send({ route: "a" }), send({ route: "b" }), send({ route: "c" })]).toEqual(["ab 1 2", "ab 1 2", "base 1 2"]);
    expect(send({ vhost: "shop", path: "/api/x" })).toBe("shop-api 1 2");
    expect(send({ vhost: "shop", path: "/web" })).toBe("base 1 2");
    expect(send({ vhost: "other", path: "/api/x" })).toBe("base 1 2");
  });

  test("host: exact or *.suffix, ASCII case folded, the port ignored", async () => {
    const send = await start([
      { match: { host: "API.example.com" }, config: { name: "exact" } },
      { match: { host: "*.example.com" }, config: { name: "wild" } },
    ]);
    expect(send({ host: "api.example.com" })).toBe("exact 1 2");
    expect(send({ host: "Api.Example.COM:8443" })).toBe("exact 1 2");
    expect(send({ host: "www.example.com" })).toBe("wild 1 2");
    expect(send({ host: "a.b.example.com:80" })).toBe("wild 1 2");
    expect(send({ host: "example.com" })).toBe("base 1 2"); // the wildcard needs something before ".example.com"
    expect(send({ host: "example.com.evil" })).toBe("base 1 2");
    expect(send({ host: "[::1]:8080" })).toBe("base 1 2");
  });

  test("path_prefix compares the normalised path: //, dot segments and escapes of unreserved characters cannot dodge it", async () => {
    const send = await start([{ match: { path_prefix: "/admin/" }, config: { name: "admin" } }]);
    for (const p of ["/admin/x", "//admin/x", "/./admin/x", "/x/../admin/x", "/%61dmin/x", "/admin/x?y=1"]) expect([p, send({ path: p })]).toEqual([p, "admin 1 2"]);
    // No safe normal form (an escaped slash): no prefix rule matches, the filter's own settings apply.
    expect(send({ path: "/%2Fadmin/x" })).toBe("base 1 2");
    expect(send({ path: "/administrator" })).toBe("base 1 2");
  });
});

describe("route rules: CEL conditions", () => {
  test("a cel condition is evaluated by the host per request; an evaluation error is no match", async () => {
    const send = await start([
      { match: { cel: "request.headers['x-tier'] == 'gold'" }, config: { name: "gold" } },
      { match: { route_name: "r", cel: "request.method == 'POST' || request.headers['x-tier'] == 'gold'" }, config: { name: "r-gold" } },
      { match: { cel: "request.headers['x-n'] + 1 > 2" }, config: { name: "typed" } },
    ]);
    expect(send({ headers: [["x-tier", "gold"]] })).toBe("gold 1 2");
    expect(send({ headers: [["x-tier", "silver"]] })).toBe("base 1 2");
    // Missing header: the map lookup fails, which is no match rather than a failed request.
    expect(send({})).toBe("base 1 2");
    // A type error (string + int) is no match either.
    expect(send({ headers: [["x-n", "5"]] })).toBe("base 1 2");
    // route_name ranks first: the route's CEL rule beats the route-less one.
    expect(send({ route: "r", headers: [["x-tier", "gold"]] })).toBe("r-gold 1 2");
  });

  test("at equal other conditions a rule with cel is more specific; a cel that does not compile names the field", async () => {
    const send = await start([
      { match: { route_name: "r" }, config: { name: "plain" } },
      { match: { route_name: "r", cel: "request.path.startsWith('/beta')" }, config: { name: "beta" } },
    ]);
    expect(send({ route: "r", path: "/beta/x" })).toBe("beta 1 2");
    expect(send({ route: "r", path: "/x" })).toBe("plain 1 2");
    expect(await configError([{ match: { cel: "request.path ==" }, config: {} }])).toContain("route_rules[0].match.cel: not a valid CEL expression: request.path ==");
  });
});

describe("route rules: CEL expressions live as long as their configuration", () => {
  test("a new configuration deletes the expressions it replaces; a refused one deletes its own and keeps the running rules", async () => {
    const gold = { match: { cel: "request.headers['x-tier'] == 'gold'" }, config: { name: "gold" } };
    const host = await Host.start(wasm, { pluginConfig: JSON.stringify({ ...BASE, route_rules: [gold, { match: { cel: "false" }, config: {} }] }) });
    expect([host.foreignFunctionCalls("expr_create"), host.foreignFunctionCalls("expr_delete")]).toEqual([2, 0]);
    const tier = () => {
      const s = host.newHttpStream();
      s.sendRequestHeaders([[":method", "GET"], [":path", "/"], [":authority", "example.com"], ["x-tier", "gold"]], true);
      return Buffer.from(s.localResponse!.body).toString();
    };
    expect(tier()).toBe("gold 1 2");
    // Refused (a bad limit after a valid CEL rule): the new expression is deleted, the running ones stay.
    expect(host.configure(JSON.stringify({ ...BASE, route_rules: [{ ...gold, config: { limits: { a: 5000 } } }] }))).toBe(false);
    expect([host.foreignFunctionCalls("expr_create"), host.foreignFunctionCalls("expr_delete")]).toEqual([3, 1]);
    expect(tier()).toBe("gold 1 2");
    // Accepted: the two running expressions are deleted.
    expect(host.configure(JSON.stringify({ ...BASE, route_rules: [{ ...gold, config: { name: "gold2" } }] }))).toBe(true);
    expect([host.foreignFunctionCalls("expr_create"), host.foreignFunctionCalls("expr_delete")]).toEqual([4, 3]);
    expect(tier()).toBe("gold2 1 2");
  });
});

describe("route rules: the most specific match wins", () => {
  test("route name, then the longer path prefix, then exact host, longer wildcard, then virtual host", async () => {
    // Listed least specific first: the order in the configuration does not decide, specificity does.
    const send = await start([
      { match: { virtual_host: "v" }, config: { name: "vhost" } },
      { match: { host: "*.com" }, config: { name: "wild-short" } },
      { match: { host: "*.example.com" }, config: { name: "wild-long" } },
      { match: { host: "api.example.com" }, config: { name: "exact-host" } },
      { match: { path_prefix: "/a" }, config: { name: "prefix-short" } },
      { match: { path_prefix: "/a/b" }, config: { name: "prefix-long" } },
      { match: { route_name: "r" }, config: { name: "route" } },
    ]);
    const all = { vhost: "v", host: "api.example.com", path: "/a/b/c", route: "r" };
    expect(send(all)).toBe("route 1 2");
    expect(send({ ...all, route: "other" })).toBe("prefix-long 1 2");
    expect(send({ ...all, route: "other", path: "/a/x" })).toBe("prefix-short 1 2");
    expect(send({ ...all, route: "other", path: "/x" })).toBe("exact-host 1 2");
    expect(send({ ...all, route: "other", path: "/x", host: "www.example.com" })).toBe("wild-long 1 2");
    expect(send({ ...all, route: "other", path: "/x", host: "x.org.com" })).toBe("wild-short 1 2");
    expect(send({ ...all, route: "other", path: "/x", host: "x.org" })).toBe("vhost 1 2");
  });

  test("a condition added to the same level makes a rule more specific; equal specificity: the earlier rule", async () => {
    const send = await start([
      { match: { route_name: ["r", "s"] }, config: { name: "first" } },
      { match: { route_name: "r" }, config: { name: "second" } },
      { match: { route_name: "r", path_prefix: "/p" }, config: { name: "route+prefix" } },
    ]);
    expect(send({ route: "r", path: "/p/1" })).toBe("route+prefix 1 2");
    expect(send({ route: "r", path: "/q" })).toBe("first 1 2");
  });
});

describe("route rules: configuration errors name the field", () => {
  test.each([
    [[{ match: {}, config: {} }], "route_rules[0].match: set at least one of route_name, virtual_host, host, path_prefix, cel"],
    [[{ match: { route: "x" }, config: {} }], "route_rules[0].match.route: unknown field (expected one of: route_name, virtual_host, host, path_prefix, cel)"],
    [[{ config: {} }], "route_rules[0].match: is required"],
    [[{ match: { route_name: "x" } }], "route_rules[0].config: is required"],
    [[{ match: { route_name: [] }, config: {} }], "route_rules[0].match.route_name: must not be empty"],
    [[{ match: { route_name: ["a", ""] }, config: {} }], "route_rules[0].match.route_name[1]: must not be empty"],
    [[{ match: { virtual_host: 3 }, config: {} }], "route_rules[0].match.virtual_host: must be a string or an array of strings, got a number"],
    [[{ match: { path_prefix: "api/" }, config: {} }], "route_rules[0].match.path_prefix: must be a normalised absolute path"],
    [[{ match: { path_prefix: "/a//b/../c" }, config: {} }], "did you mean \"/a/c\"?"],
    [[{ match: { host: "example.com:8080" }, config: {} }], "route_rules[0].match.host: must be a host name without port or path"],
    [[{ match: { host: "a.*.com" }, config: {} }], "route_rules[0].match.host: a wildcard must be a leading \"*\" followed by a suffix"],
    [[{ match: { route_name: ["a", "b"] }, config: {} }, { match: { route_name: ["b", "a"] }, config: {} }],
      "route_rules[1].match: matches the same requests as route_rules[0].match, so it would never apply"],
    [[{ match: { route_name: "a" }, config: { route_rules: [] } }], "route_rules[0].config.route_rules: rules do not nest"],
    [[{ match: { route_name: "a" }, config: { limits: { a: 5000 } } }], "route_rules[0].config.limits.a: must be between 0 and 1000, got 5000"],
    [[{ match: { route_name: "a" }, config: { colour: "red" } }], "route_rules[0].config.colour: unknown field"],
    [{ match: {} }, "route_rules: must be an array, got an object"],
  ])("%j", async (rules, message) => {
    expect(await configError(rules)).toContain(message);
  });
});
