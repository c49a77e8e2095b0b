// Chaos under load, auth: the remote JWKS endpoint slow, then down, then back while tokens are checked
// (fail closed, nothing waits past the fetch timeout, recovery within one refresh period), and an ext_authz
// service slower than its timeout (status_on_error, or failure_mode_allow) while fast checks go on.

import { join } from "node:path";
import { buildFilter } from "../src/build/build";
import { cluster, envoyHarness, httpListener, waitFor, wasmFilter, type JsonObject, type StartedEnvoy } from "../src/envoy";
import { jwks, mint, rsaKey } from "../filters/auth/tests/auth-harness";
import { startAuthzServer, startJwksServer, type AuthzServer, type JwksServer } from "./support/auth-servers";
import { httpRequest } from "./support/client";
import { countBy, latencies, startLoad, type Sample } from "./support/load";

const envoys = envoyHarness();
const servers: Array<JwksServer | AuthzServer> = [];
let wasmFile: string;

beforeAll(async () => {
  wasmFile = (await buildFilter(join(__dirname, "..", "filters", "auth"))).wasmPath;
}, 180_000);
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });
jest.setTimeout(90_000);

/** Slack on a 2-core machine busy with Envoy, the servers and the load itself. */
const MARGIN_MS = 2000;
const ISS = "https://issuer.example";
const now = () => Math.floor(Date.now() / 1000);

function authListener(name: string, config: JsonObject) {
  return httpListener(name, {
    httpFilters: [wasmFilter({ name: "auth", vmId: "auth", wasmFile, configuration: config })],
    virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }],
  });
}

interface Answer { status: number; body: string; failureModeAllowed?: string }

async function send(envoy: StartedEnvoy, listener: string, headers: Record<string, string>): Promise<Answer> {
  const r = await httpRequest(envoy.url("/", listener), { headers, timeoutMs: 20_000 });
  const body = r.body.toString("utf8");
  const upstream = r.status === 200 && r.headers["content-type"] === "application/json" ? (JSON.parse(body) as { headers: Record<string, string> }) : undefined;
  return { status: r.status, body: upstream ? "(upstream)" : body, failureModeAllowed: upstream?.headers["x-envoy-auth-failure-mode-allowed"] };
}

const shown = (s: Sample<{ token: string; answer: Answer }>) => (s.result ? `${s.result.token} token: ${s.result.answer.status} ${s.result.answer.body}` : `error: ${s.error}`);

describe("chaos e2e: remote JWKS slow, then down, then back under load", () => {
  const FETCH_TIMEOUT_MS = 1000;
  const CACHE_S = 4;
  /** The filter refreshes at 90% of cache_duration: the longest a healthy endpoint goes unasked. */
  const REFRESH_MS = CACHE_S * 900;
  const WORKERS = 2;
  const FAILED = "Jwks remote fetch is failed";

  test("fails closed with 401 while keys are unavailable, no request waits past the fetch timeout, recovers within one refresh period", async () => {
    const key = rsaKey("RS256", "k1");
    // Same kid, another key: its tokens must be refused whatever state the key set is in.
    const forger = rsaKey("RS256", "k1", 2048, true);
    const srv = await startJwksServer(jwks(key));
    servers.push(srv);
    const echo = await envoys.startEcho();
    const envoy = await envoys.startEnvoy({
      listeners: [authListener("auth", {
        providers: { p: { issuer: ISS, audiences: ["api"], remote_jwks: {
          http_uri: { uri: `http://127.0.0.1:${srv.port}/jwks`, cluster: "jwks", timeout: `${FETCH_TIMEOUT_MS / 1000}s` },
          cache_duration: `${CACHE_S}s`,
        } } },
        rules: [{ match: { prefix: "/" }, requires: { provider_name: "p" } }],
      })],
      clusters: [cluster("echo", echo.port), cluster("jwks", srv.port)],
    }, { concurrency: WORKERS });
    const good = mint(key, { iss: ISS, aud: "api", exp: now() + 600 });
    const forged = mint(forger, { iss: ISS, aud: "api", exp: now() + 600 });

    const load = startLoad<{ token: "good" | "forged"; answer: Answer }>({
      concurrency: 8,
      maxRequests: 200_000, // the time bound ends the run: on a quiet machine cached tokens pass thousands a second
      maxDurationMs: 40_000,
      send: async (i) => {
        const token = i % 4 === 3 ? "forged" : "good";
        return { token, answer: await send(envoy, "auth", { authorization: `Bearer ${token === "good" ? good : forged}` }) };
      },
    });
    const goodWith = (status: number) => (s: Sample<{ token: string; answer: Answer }>) => s.result?.token === "good" && s.result.answer.status === status;
    let backAt = 0;
    let firstOkAfterBack: Sample<{ token: string; answer: Answer }>;
    try {
      await load.waitForSample(goodWith(200), load.mark("up"), 15_000, "a 200 with keys fetched");
      await load.advance(100);
      // Slower than the fetch timeout: the refresh fails, the keys expire, requests fail closed.
      srv.delayMs = FETCH_TIMEOUT_MS * 3;
      const slowFrom = srv.requests;
      await load.waitForSample(goodWith(401), load.mark("slow"), 3 * CACHE_S * 1000, "a 401 once the cached keys expired");
      await waitFor(() => (srv.requests >= slowFrom + WORKERS ? true : undefined), { timeoutMs: 10_000, what: "a slow fetch from each worker" });
      // Down: connections reset. Back as soon as each worker has failed against it once.
      srv.delayMs = 0;
      srv.serve = "down";
      const downFrom = srv.requests;
      load.mark("down");
      await waitFor(() => (srv.requests >= downFrom + WORKERS ? true : undefined), { timeoutMs: 10_000, what: "a reset fetch from each worker" });
      srv.serve = jwks(key);
      backAt = load.mark("back");
      firstOkAfterBack = await load.waitForSample(goodWith(200), backAt, 3 * REFRESH_MS, "a 200 after the endpoint came back");
      // Then until the last 100 good tokens (every worker serves some of them) were all accepted.
      const TAIL = 100;
      await waitFor(() => {
        const g = load.samples.filter((s) => s.result?.token === "good" && s.startedAt >= backAt);
        return g.length >= TAIL && g.slice(-TAIL).every((s) => s.result!.answer.status === 200) ? true : undefined;
      }, { timeoutMs: 3 * REFRESH_MS, what: "100 good tokens in a row accepted after the endpoint came back" });
      await load.advance(50);
    } finally {
      await load.stop();
    }

    const samples = [...load.samples].sort((a, b) => a.startedAt - b.startedAt);
    // Recovered: from the first good-token request after which every good-token request got 200.
    const goods = samples.filter((s) => s.result?.token === "good");
    let lastBad = -1;
    goods.forEach((s, i) => { if (s.result!.answer.status !== 200) lastBad = i; });
    const recoveredAt = goods[lastBad + 1]?.startedAt ?? Infinity;
    console.log([
      `auth JWKS chaos: ${samples.length} requests in ${Math.round(load.now())} ms, latency ${JSON.stringify(latencies(samples))}, JWKS fetches ${srv.requests}`,
      ...Object.entries(countBy(samples, shown)).map(([k, n]) => `  ${k}: ${n}`),
      "by phase (when each request started):",
      ...load.phases.map((p) => `  ${p.padEnd(5)} ${JSON.stringify(countBy(samples.filter((s) => s.phase === p), shown))}`),
      `endpoint back at ${Math.round(backAt)} ms; first 200 after it ${Math.round(firstOkAfterBack!.startedAt - backAt)} ms later; ` +
        `every good token accepted from ${Math.round(recoveredAt - backAt)} ms after it (refresh period ${REFRESH_MS} ms)`,
    ].join("\n"));

    expect(samples.filter((s) => s.error).map(shown)).toEqual([]);
    // Good tokens: accepted, or refused with the documented fail-closed answer. Forged ones: never accepted.
    const unexpected = samples.filter((s) => {
      const a = s.result!.answer;
      if (s.result!.token === "forged") return a.status !== 401;
      return !(a.status === 200 || (a.status === 401 && a.body === FAILED));
    });
    expect(unexpected.map(shown)).toEqual([]);
    expect(goods.filter((s) => s.result!.answer.status === 401).length).toBeGreaterThan(0);
    // A request waits for a fetch at most the fetch timeout.
    expect(latencies(samples).max).toBeLessThan(FETCH_TIMEOUT_MS + MARGIN_MS);
    // Recovery within one refresh period of the endpoint coming back, and it stays recovered.
    expect(recoveredAt - backAt).toBeLessThanOrEqual(REFRESH_MS);
    expect(goods.slice(-100).every((s) => s.result!.answer.status === 200)).toBe(true);
    expect(echo.requests).toBe(goods.filter((s) => s.result!.answer.status === 200).length);
  });
});

describe("chaos e2e: an ext_authz service slower than its timeout, under load", () => {
  // Generous enough that a fast check always makes it on a busy machine (the servers share the event loop
  // with the load), so only the deliberately slow ones (3 × the timeout) run into it.
  const TIMEOUT_MS = 1000;
  const REQUESTS = 180;

  test("slow checks get status_on_error (403 by default, or the configured one) or pass with failure_mode_allow; fast checks are unaffected", async () => {
    const authz = await startAuthzServer((req) => {
      const t = req.headers["x-token"];
      if (t === "allow") return { status: 200 };
      if (t === "deny") return { status: 401, body: "denied by policy" };
      return { status: 200, delayMs: TIMEOUT_MS * 3 };
    });
    servers.push(authz);
    const echo = await envoys.startEcho();
    const extAuthz = (extra: JsonObject): JsonObject => ({
      ext_authz: {
        http_service: {
          server_uri: { uri: `http://127.0.0.1:${authz.port}`, cluster: "authz", timeout: `${TIMEOUT_MS / 1000}s` },
          authorization_request: { allowed_headers: { patterns: [{ exact: "x-token" }] } },
        },
        ...extra,
      },
    });
    const envoy = await envoys.startEnvoy({
      listeners: [
        authListener("default", extAuthz({})),
        authListener("status", extAuthz({ status_on_error: { code: 503 } })),
        authListener("allow", extAuthz({ failure_mode_allow: true })),
      ],
      clusters: [cluster("echo", echo.port), cluster("authz", authz.port)],
    }, { concurrency: 2 });
    const listeners = ["default", "status", "allow"] as const;
    const tokens = ["allow", "deny", "slow"] as const;
    type Kind = { listener: (typeof listeners)[number]; token: (typeof tokens)[number] };
    const expected: Record<string, Answer> = {
      "default allow": { status: 200, body: "(upstream)" },
      "status allow": { status: 200, body: "(upstream)" },
      "allow allow": { status: 200, body: "(upstream)" },
      "default deny": { status: 401, body: "denied by policy" },
      "status deny": { status: 401, body: "denied by policy" },
      "allow deny": { status: 401, body: "denied by policy" },
      "default slow": { status: 403, body: "" },
      "status slow": { status: 503, body: "" },
      "allow slow": { status: 200, body: "(upstream)", failureModeAllowed: "true" },
    };

    const load = startLoad<Kind & { answer: Answer }>({
      concurrency: 18,
      maxRequests: REQUESTS,
      maxDurationMs: 20_000,
      send: async (i) => {
        const kind: Kind = { listener: listeners[i % 3], token: tokens[Math.floor(i / 3) % 3] };
        return { ...kind, answer: await send(envoy, kind.listener, { "x-token": kind.token }) };
      },
    });
    const samples = await load.finished;
    const key = (s: Sample<Kind & { answer: Answer }>) => (s.result ? `${s.result.listener} ${s.result.token}` : "error");
    const described = (s: Sample<Kind & { answer: Answer }>) => (s.result ? `${key(s)}: ${s.result.answer.status} ${s.result.answer.body}${s.result.answer.failureModeAllowed ? " (failure mode allowed)" : ""}` : `error: ${s.error}`);
    const slow = samples.filter((s) => s.result?.token === "slow");
    console.log([
      `ext_authz chaos: ${samples.length} requests in ${Math.round(load.now())} ms, checks received ${authz.requests}`,
      ...Object.entries(countBy(samples, described)).map(([k, n]) => `  ${k}: ${n}`),
      `latency: slow checks ${JSON.stringify(latencies(slow))}, fast ${JSON.stringify(latencies(samples.filter((s) => s.result?.token !== "slow")))}`,
    ].join("\n"));

    expect(samples.filter((s) => s.error).map(described)).toEqual([]);
    expect(samples.length).toBe(REQUESTS);
    const wrong = samples.filter((s) => {
      const e = expected[key(s)];
      const a = s.result!.answer;
      return a.status !== e.status || a.body !== e.body || a.failureModeAllowed !== e.failureModeAllowed;
    });
    expect(wrong.map(described)).toEqual([]);
    // A slow check is given up at the timeout, not waited for.
    expect(latencies(slow).max).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(authz.requests).toBe(REQUESTS);
    expect(echo.requests).toBe(samples.filter((s) => s.result!.answer.status === 200).length);
  });
});
