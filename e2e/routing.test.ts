// routing against a real Envoy: the filter writes x-route-subset, clears the route cache, and Envoy's own
// route table (header matches on x-route-subset) sends the request to one of three upstream clusters,
// each an echo server that names itself in its reply (v1, v2, v3). In the second mode the filter publishes
// the subset as typed filter state (envoy.string) instead, the routes match it with RouteMatch.filter_state,
// and no routing header reaches the upstream.

import { join } from "node:path";
import { buildFilter } from "../src/build/build";
import {
  cluster, envoyHarness, httpListener, waitFor, wasmFilter,
  type Bootstrap, type EchoReply, type JsonObject, type Route, type StartedEnvoy,
} from "../src/envoy";

const harness = envoyHarness({ scope: "all" });
let wasmFile: string;
let envoy: StartedEnvoy;

jest.setTimeout(120_000);

/** The VirtualService `http` section under test, as a user would paste it. */
const CONFIG: JsonObject = {
  http: [
    { name: "jason", match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
    {
      name: "split",
      match: [{ uri: { prefix: "/split" } }],
      route: [
        { destination: { host: "reviews", subset: "v1" }, weight: 75 },
        { destination: { host: "reviews", subset: "v2" }, weight: 25 },
      ],
      headers: { request: { set: { "x-experiment": "split" } } },
    },
    { name: "rest", route: [{ destination: { host: "reviews", subset: "v3" } }] },
  ],
  sticky_key: { header: "end-user" },
};

/**
 * Routes only on what the filter writes: the header, or with `byFilterState` the envoy.string filter state
 * object. Without it a request gets 404 from Envoy itself.
 */
function bootstrap(configuration: JsonObject, byFilterState = false): Bootstrap {
  const bySubset = (s: string): Route => byFilterState
    ? { match: { prefix: "/", filterState: [{ key: "envoy.string", exact: s }] }, cluster: s }
    : { match: { prefix: "/", headers: [{ name: "x-route-subset", exact: s }] }, cluster: s };
  return {
    listeners: [httpListener("ingress", {
      httpFilters: [wasmFilter({ name: "routing", wasmFile, configuration })],
      virtualHosts: [{ name: "reviews", routes: [bySubset("v1"), bySubset("v2"), bySubset("v3"), { directResponse: { status: 404, body: "no subset" } }] }],
    })],
    clusters: ports.map(([name, port]) => cluster(name, port)),
  };
}

let ports: Array<[string, number]> = [];

beforeAll(async () => {
  wasmFile = (await buildFilter(join(__dirname, "..", "filters", "routing"))).wasmPath;
  for (const name of ["v1", "v2", "v3"]) ports.push([name, (await harness.startEcho({ name })).port]);
  envoy = await harness.startEnvoy(bootstrap(CONFIG));
}, 120_000);

interface Answer { status: number; upstream?: string; reply?: EchoReply; body: string }

async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(envoy.url(path), { headers, signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (res.status !== 200) return { status: res.status, body };
  const reply = JSON.parse(body) as EchoReply;
  return { status: res.status, upstream: reply.upstream, reply, body };
}

/** A custom metric of the filter in /stats, whichever way Envoy spells its namespace. */
async function wasmStat(name: string): Promise<number | undefined> {
  const stats = await envoy.stats();
  return stats.get(`wasmcustom.${name}`) ?? stats.get(name);
}

/** Runs `f` over `items`, `width` at a time. */
async function inBatches<T, R>(items: T[], width: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(f))));
  return out;
}

describe("routing e2e: Envoy routes on the subset header the filter writes", () => {
  test("end-user jason → v2; everyone else → v3; the upstream sees the header", async () => {
    const jason = await get("/productpage", { "end-user": "jason" });
    expect(jason.status).toBe(200);
    expect(jason.upstream).toBe("v2");
    expect(jason.reply!.headers["x-route-subset"]).toBe("v2");
    for (const user of ["kim", "jason2", "JASON"]) {
      expect((await get("/productpage", { "end-user": user })).upstream).toBe("v3");
    }
    expect((await get("/productpage")).upstream).toBe("v3");
  });

  test("the route is picked again after the filter: a client's own x-route-subset does not choose the cluster", async () => {
    // The route must be chosen on the header as the filter left it. (Envoy 1.40 clears the route cache by
    // itself when a module of ABI <= 0.2.1 changes request headers; the filter also calls clear_route_cache,
    // which Envoy needs for later ABI versions. Disabling that call still passes this test on 1.40.)
    const spoof = await get("/productpage", { "x-route-subset": "v1" });
    expect(spoof.upstream).toBe("v3");
    expect(spoof.reply!.headers["x-route-subset"]).toBe("v3");
  });

  test("75/25 over 400 distinct users is within 4.5σ, and header operations reach the upstream", async () => {
    const users = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    const answers = await inBatches(users, 20, (u) => get("/split/item", { "end-user": u }));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.every((a) => a.reply!.headers["x-experiment"] === "split")).toBe(true);
    const v1 = answers.filter((a) => a.upstream === "v1").length;
    const v2 = answers.filter((a) => a.upstream === "v2").length;
    expect(v1 + v2).toBe(400);
    const sigma = Math.sqrt(400 * 0.75 * 0.25);
    console.log(`routing e2e: 75/25 over 400 users: v1 ${v1}, v2 ${v2} (expected 300 ± ${(4.5 * sigma).toFixed(0)})`);
    expect(Math.abs(v1 - 300)).toBeLessThan(4.5 * sigma);
    // The filter's per-destination counters reach Envoy's stats.
    const counted = await waitFor(async () => {
      const v = await wasmStat("routing.split.v1");
      return v !== undefined && v >= v1 ? v : undefined;
    }, { timeoutMs: 10_000, what: `routing.split.v1 to reach ${v1}` });
    expect(counted).toBe(v1);
  });

  test("stickiness through Envoy: 60 users × 5 requests each always reach the same upstream", async () => {
    const users = Array.from({ length: 60 }, (_, i) => `sticky-${i}`);
    const rounds: string[][] = [];
    for (let r = 0; r < 5; r++) rounds.push((await inBatches(users, 20, (u) => get(`/split/${r}`, { "end-user": u }))).map((a) => a.upstream ?? `status ${a.status}`));
    const flipped = users.filter((_, i) => new Set(rounds.map((round) => round[i])).size !== 1);
    expect(flipped).toEqual([]);
    expect(new Set(rounds[0])).toEqual(new Set(["v1", "v2"]));
  });

  test("an invalid configuration stops Envoy from starting, with the filter's message in its log", async () => {
    const bad = { http: [{ name: "canary", route: [{ destination: { host: "r", subset: "v1" }, weight: 60 }, { destination: { host: "r", subset: "v2" }, weight: 30 }] }] };
    await expect(harness.startEnvoy(bootstrap(bad))).rejects.toThrow(/http\[0\]\(canary\)\.route: weights sum to 90, must be 100/);
  });
});

describe("routing e2e: the decision as filter state, without a header the upstream could see", () => {
  let fsEnvoy: StartedEnvoy;
  beforeAll(async () => {
    fsEnvoy = await harness.startEnvoy(bootstrap({ ...CONFIG, subset_header: false, subset_filter_state: "envoy.string" }, true));
  }, 120_000);

  async function getFs(path: string, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(fsEnvoy.url(path), { headers, signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    if (res.status !== 200) return { status: res.status, body };
    const reply = JSON.parse(body) as EchoReply;
    return { status: res.status, upstream: reply.upstream, reply, body };
  }

  test("each request reaches the cluster of its subset through RouteMatch.filter_state; no routing header upstream", async () => {
    const cases: Array<[string, Record<string, string>, string]> = [
      ["/productpage", { "end-user": "jason" }, "v2"],
      ["/productpage", { "end-user": "kim" }, "v3"],
      ["/productpage", {}, "v3"],
    ];
    for (const [path, headers, want] of cases) {
      const a = await getFs(path, headers);
      expect([a.status, a.upstream]).toEqual([200, want]);
      expect(Object.keys(a.reply!.headers).filter((k) => k.startsWith("x-route"))).toEqual([]);
    }
    // The split's two subsets both occur, each at its own cluster, with no header either.
    const users = Array.from({ length: 40 }, (_, i) => `fs-user-${i}`);
    const split = await inBatches(users, 20, (u) => getFs("/split/item", { "end-user": u }));
    expect(new Set(split.map((a) => a.upstream))).toEqual(new Set(["v1", "v2"]));
    expect(split.every((a) => a.reply!.headers["x-route-subset"] === undefined)).toBe(true);
  });

  test("a client's x-route-subset chooses nothing: the route table reads only the filter state", async () => {
    const spoof = await getFs("/productpage", { "x-route-subset": "v1" });
    expect(spoof.upstream).toBe("v3");
  });

  test("the routes match the filter state only: without the filter's decision Envoy answers 404", async () => {
    const bad = { http: [{ name: "only-jason", match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }] };
    const onlyJason = await harness.startEnvoy(bootstrap({ ...bad, subset_header: false, subset_filter_state: "envoy.string" }, true));
    const res = await fetch(onlyJason.url("/productpage"), { headers: { "end-user": "kim", "x-route-subset": "v2" }, signal: AbortSignal.timeout(10_000) });
    expect([res.status, await res.text()]).toEqual([404, "no subset"]);
    const jason = await fetch(onlyJason.url("/productpage"), { headers: { "end-user": "jason" }, signal: AbortSignal.timeout(10_000) });
    expect((JSON.parse(await jason.text()) as EchoReply).upstream).toBe("v2");
  });
});
