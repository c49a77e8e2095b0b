// Remote JWKS, API keys and ext_authz in the emulator, on the virtual clock: the test answers every pending
// callout itself. Also the fuzz properties (no trap, no hang) for tokens, key sets and configurations.
import fc from "fast-check";
import { Action, Host } from "../../../src/emulator";
import { createHash } from "node:crypto";
import {
  buildAuthFilter, startAuth, send, bearer, rsaKey, ecKey, jwks, mint, T0, loadJwsLayer, JwsLayer, outcome,
} from "./auth-harness";

let wasm: Uint8Array;
let jws: JwsLayer;
beforeAll(async () => { [wasm, jws] = await Promise.all([buildAuthFilter(), loadJwsLayer()]); }, 180_000);

const ISS = "https://issuer.example";
const k1 = rsaKey("RS256", "k1");
const k2 = ecKey("ES256", "k2");
const claims = { iss: ISS, exp: T0 + 86_400 };

function remoteConfig(extra: Record<string, unknown> = {}) {
  return {
    providers: { p: { issuer: ISS, remote_jwks: { http_uri: { uri: "https://idp.example/.well-known/jwks.json", cluster: "idp", timeout: "2s" }, ...extra } } },
    rules: [{ match: { prefix: "/" }, requires: { provider_name: "p" } }],
  };
}
const pending = (host: Host) => host.httpCalls().filter((c) => c.upstream === "idp");
function answer(host: Host, body: string, status = "200") {
  const calls = pending(host);
  expect(calls.length).toBe(1);
  host.respondHttpCall(calls[0].token, { headers: [[":status", status], ["content-type", "application/json"]], body });
}

describe("auth: remote JWKS", () => {
  test("fetched from the root context at configure time with the URI's authority and path, then cached", async () => {
    const host = await startAuth(wasm, remoteConfig());
    const [call] = pending(host);
    expect(call.headers).toEqual(expect.arrayContaining([[":method", "GET"], [":path", "/.well-known/jwks.json"], [":authority", "idp.example"]]));
    expect(call.timeoutMs).toBe(2000);
    expect(call.callerContextId).toBe(host.rootContextId());
    answer(host, jwks(k1));
    expect(send(host, "/", [bearer(mint(k1, claims))]).action).toBe(Action.Continue);
  });

  test("requests that arrive during the first fetch wait (paused) and are resumed or refused when it settles", async () => {
    const host = await startAuth(wasm, remoteConfig());
    const waiting = [1, 2, 3].map(() => send(host, "/", [bearer(mint(k1, claims))]));
    const bad = send(host, "/", [bearer(mint(k2, claims))]);
    for (const w of [...waiting, bad]) expect(w.action).toBe(Action.Pause);
    expect(pending(host).length).toBe(1); // no fetch per request
    answer(host, jwks(k1));
    for (const w of waiting) {
      expect(w.stream.localResponse).toBeNull();
      expect(w.stream.upstream.headers).not.toBeNull(); // resumed: the request reached the upstream
    }
    // The other token's kid is not in the set: one refetch (the kid cooldown starts), then refused.
    expect(bad.stream.localResponse).toBeNull();
    answer(host, jwks(k1));
    expect(bad.stream.localResponse!.status).toBe(401);
  });

  test("many requests with one JWKS: exactly one fetch per cache period, refreshed in the background before expiry", async () => {
    const host = await startAuth(wasm, remoteConfig({ cache_duration: "600s" }));
    answer(host, jwks(k1));
    const t = mint(k1, claims);
    for (let i = 0; i < 1000; i++) expect(send(host, "/", [bearer(t)]).action).toBe(Action.Continue);
    host.advanceTime(500_000);
    expect(pending(host).length).toBe(0);
    expect(host.metric("auth.jwks.fetches")!.value).toBe(1);
    host.advanceTime(40_500); // 90% of the period: one background refresh
    expect(pending(host).length).toBe(1);
    expect(send(host, "/", [bearer(t)]).action).toBe(Action.Continue); // old keys serve meanwhile
    answer(host, jwks(k1));
    host.advanceTime(100_000);
    expect(host.metric("auth.jwks.fetches")!.value).toBe(2);
  });

  test("JWKS endpoint down or malformed: fail closed (401), no crash, retried with growing backoff, then recovery", async () => {
    const host = await startAuth(wasm, remoteConfig());
    host.failHttpCall(pending(host)[0].token); // reset
    const t = mint(k1, claims);
    const r = send(host, "/", [bearer(t)]);
    expect([r.status, r.body]).toEqual([401, "Jwks remote fetch is failed"]);
    expect(r.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const gaps: number[] = [];
    let last = 0;
    const bodies = ["<html>oops</html>", '{"keys": "no"}', '{"keys":[]}', '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}', "", jwks(k1)];
    for (const body of bodies) {
      let waited = 0;
      while (pending(host).length === 0) { host.advanceTime(100); waited += 100; if (waited > 120_000) throw new Error("no retry"); }
      gaps.push(waited - last);
      last = 0;
      answer(host, body, body === "" ? "503" : "200");
      if (body !== bodies[bodies.length - 1]) expect(send(host, "/", [bearer(t)]).status).toBe(401);
    }
    expect(host.failed).toBe(false);
    expect(gaps.slice(0, 5)).toEqual([1000, 2000, 4000, 8000, 16000]); // doubling backoff
    expect(send(host, "/", [bearer(t)]).action).toBe(Action.Continue);
  });

  test("the retry backoff is capped at the refresh period (0.9 × cache_duration): a recovered endpoint is used within one period", async () => {
    const host = await startAuth(wasm, remoteConfig({ cache_duration: "20s" }));
    answer(host, jwks(k1));
    const t = mint(k1, claims);
    const gaps: number[] = [];
    // The refresh at 18 s fails, and so does every retry: the gaps grow 1, 2, 4, 8, 16 s, then stay at 18 s.
    let waited = 0;
    for (let i = 0; i < 8; i++) {
      while (pending(host).length === 0) { host.advanceTime(100); waited += 100; if (waited > 120_000) throw new Error("no retry"); }
      if (i > 0) gaps.push(waited);
      waited = 0;
      answer(host, "", "503");
    }
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16000, 18000, 18000]);
    // The keys expired meanwhile: fail closed until the endpoint answers; then the next retry recovers.
    expect(send(host, "/", [bearer(t)]).status).toBe(401);
    while (pending(host).length === 0) { host.advanceTime(100); waited += 100; if (waited > 18_000) throw new Error("no retry within the refresh period"); }
    answer(host, jwks(k1));
    expect(send(host, "/", [bearer(t)]).action).toBe(Action.Continue);
  });

  test("a timed-out fetch (Envoy answers 504) counts as a failure", async () => {
    const host = await startAuth(wasm, remoteConfig());
    host.advanceTime(2000);
    expect(pending(host).length).toBe(0);
    expect(host.metric("auth.jwks.fetch_failures")!.value).toBe(1);
    expect(send(host, "/", [bearer(mint(k1, claims))]).status).toBe(401);
  });

  test("key rotation: an unknown kid refetches once, waits, and is accepted; another unknown kid within 30 s is refused without a fetch", async () => {
    const host = await startAuth(wasm, remoteConfig());
    answer(host, jwks(k1));
    const rotated = send(host, "/", [bearer(mint(k2, claims))]);
    expect(rotated.action).toBe(Action.Pause);
    answer(host, jwks(k1, k2));
    expect(rotated.stream.localResponse).toBeNull();
    const k3 = ecKey("ES256", "k3");
    for (let i = 0; i < 50; i++) {
      const r = send(host, "/", [bearer(mint(k3, claims))]);
      expect([r.status, r.body]).toEqual([401, "Jwks doesn't have key to match kid or alg from Jwt"]);
    }
    expect(pending(host).length).toBe(0);
    host.advanceTime(30_000);
    const again = send(host, "/", [bearer(mint(k3, claims))]);
    expect(again.action).toBe(Action.Pause);
    answer(host, jwks(k2));
    expect(again.stream.localResponse!.status).toBe(401);
    // k1 left the set: its token (cached before) is verified again and refused.
    expect(send(host, "/", [bearer(mint(k1, claims))]).status).toBe(401);
    expect(host.metric("auth.jwks.fetches")!.value).toBe(3);
  });

  test("a waiting request whose stream ends is not resumed", async () => {
    const host = await startAuth(wasm, remoteConfig());
    const w = send(host, "/", [bearer(mint(k1, claims))]);
    w.stream.complete();
    answer(host, jwks(k1));
    expect(host.failed).toBe(false);
  });

  test("an undefined cluster fails closed and is logged", async () => {
    const host = await startAuth(wasm, remoteConfig(), { clusters: ["other"] });
    const r = send(host, "/", [bearer(mint(k1, claims))]);
    expect(r.status).toBe(401);
    expect(host.logMessages().join("\n")).toMatch(/could not start .*is the cluster defined/);
  });
});

describe("auth: API keys", () => {
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");
  const config = (extra: Record<string, unknown> = {}) => ({
    api_keys: { keys: [{ client: "billing", sha256: sha("key-billing") }, { client: "search", sha256: sha("key-search").toUpperCase() }],
      from_headers: ["x-api-key"], from_params: ["api_key"], forward_client_header: "x-client", ...extra },
  });
  test("a configured key passes and names its client upstream; the key header is removed unless forward", async () => {
    const host = await startAuth(wasm, config());
    const r = send(host, "/", [["x-api-key", "key-search"], ["x-client", "forged"]]);
    expect(r.action).toBe(Action.Continue);
    expect(r.upstream.get("x-client")).toBe("search");
    expect(r.upstream.has("x-api-key")).toBe(false);
    expect(send(host, "/?api_key=key-billing").upstream.get("x-client")).toBe("billing");
    expect(send(await startAuth(wasm, config({ forward: true })), "/", [["x-api-key", "key-billing"]]).upstream.get("x-api-key")).toBe("key-billing");
  });
  test("a missing or unknown key is refused with 401, and the client header can never be forged", async () => {
    const host = await startAuth(wasm, config());
    const missing = send(host, "/", [["x-client", "billing"]]);
    expect([missing.status, missing.body]).toEqual([401, "API key is missing"]);
    for (const k of ["key-billing ", "KEY-BILLING", "", sha("key-billing"), "key-billin"]) {
      const r = send(host, "/", [["x-api-key", k]]);
      expect(r.status).toBe(401);
    }
  });
  test("keys must be configured as SHA-256 hex", async () => {
    const host = await Host.load(wasm, { pluginConfig: JSON.stringify({ api_keys: { keys: [{ client: "a", sha256: "secret" }] } }) });
    host.startVm();
    expect(host.configure()).toBe(false);
    expect(host.logMessages()[0]).toMatch(/api_keys\.keys\[0\]\.sha256: must be the SHA-256 of the key as 64 hex digits/);
  });
  test("JWT and API key stages combine: both must pass", async () => {
    const host = await startAuth(wasm, { ...config(), providers: { p: { issuer: ISS, local_jwks: { inline_string: jwks(k1) } } }, rules: [{ match: { prefix: "/" }, requires: { provider_name: "p" } }] });
    expect(send(host, "/", [bearer(mint(k1, claims))]).status).toBe(401);
    expect(send(host, "/", [["x-api-key", "key-billing"]]).status).toBe(401);
    expect(send(host, "/", [bearer(mint(k1, claims)), ["x-api-key", "key-billing"]]).action).toBe(Action.Continue);
  });
});

describe("auth: ext_authz", () => {
  const config = (extra: Record<string, unknown> = {}) => ({
    ext_authz: {
      http_service: {
        server_uri: { uri: "http://authz.local", cluster: "authz", timeout: "0.2s" }, path_prefix: "/check",
        authorization_request: { allowed_headers: { patterns: [{ exact: "authorization" }, { prefix: "x-user" }] }, headers_to_add: [{ key: "x-from", value: "auth-filter" }] },
        authorization_response: { allowed_upstream_headers: { patterns: [{ exact: "x-user-id" }] }, allowed_client_headers: { patterns: [{ exact: "www-authenticate" }, { exact: "x-reason" }] } },
      },
      ...extra,
    },
  });
  function start(host: Host, headers: Array<[string, string]> = []) {
    const s = host.newHttpStream();
    const action = s.sendRequestHeaders([[":method", "POST"], [":path", "/orders?id=1"], [":authority", "shop"], ["authorization", "Basic x"], ["x-user-hint", "h"], ["cookie", "secret"], ...headers], true);
    const call = host.httpCalls().find((c) => c.upstream === "authz");
    return { s, action, call };
  }
  test("the check carries the method, the prefixed path and only the allowed headers; 200 allows and copies allowed headers upstream", async () => {
    const host = await startAuth(wasm, config());
    const { s, action, call } = start(host);
    expect(action).toBe(Action.Pause);
    const h = new Map(call!.headers);
    expect([h.get(":method"), h.get(":path"), h.get(":authority"), h.get("authorization"), h.get("x-user-hint"), h.get("x-from")])
      .toEqual(["POST", "/check/orders?id=1", "shop", "Basic x", "h", "auth-filter"]);
    expect(h.has("cookie")).toBe(false);
    expect(call!.timeoutMs).toBe(200);
    host.respondHttpCall(call!.token, { headers: [[":status", "200"], ["x-user-id", "42"], ["x-other", "no"]] });
    const o = outcome(s, action);
    expect(o.status).toBe(0);
    expect(o.upstream.get("x-user-id")).toBe("42");
    expect(o.upstream.has("x-other")).toBe(false);
  });
  test("any other status denies and is passed to the client with its body and allowed headers", async () => {
    const host = await startAuth(wasm, config());
    const { s, action, call } = start(host);
    host.respondHttpCall(call!.token, { headers: [[":status", "401"], ["www-authenticate", "Basic realm=\"shop\""], ["x-reason", "expired"], ["x-internal", "no"]], body: "go away" });
    const o = outcome(s, action);
    expect([o.status, o.body, o.headers.get("www-authenticate"), o.headers.get("x-reason"), o.headers.has("x-internal")]).toEqual([401, "go away", "Basic realm=\"shop\"", "expired", false]);
    expect(s.upstream.headers).toBeNull();
  });
  test("service down (reset, 5xx or timeout): 403 by default, status_on_error when set, allowed with failure_mode_allow", async () => {
    const host = await startAuth(wasm, config());
    const a = start(host);
    host.failHttpCall(a.call!.token);
    expect(outcome(a.s, a.action).status).toBe(403);
    const b = start(host);
    host.respondHttpCall(b.call!.token, { headers: [[":status", "503"]], body: "down" });
    expect(outcome(b.s, b.action).status).toBe(403);
    const c = start(host);
    host.advanceTime(200); // Envoy times the call out
    expect(outcome(c.s, c.action).status).toBe(403);
    const custom = await startAuth(wasm, config({ status_on_error: { code: "ServiceUnavailable" } }));
    const d = start(custom);
    custom.failHttpCall(d.call!.token);
    expect(outcome(d.s, d.action).status).toBe(503);
    const open = await startAuth(wasm, config({ failure_mode_allow: true }));
    const e = start(open);
    open.failHttpCall(e.call!.token);
    const oe = outcome(e.s, e.action);
    expect([oe.status, oe.upstream.get("x-envoy-auth-failure-mode-allowed")]).toEqual([0, "true"]);
    expect(host.metric("auth.ext_authz.error")!.value).toBe(3);
  });
  test("grpc_service is refused as not supported", async () => {
    const host = await Host.load(wasm, { pluginConfig: JSON.stringify({ ext_authz: { grpc_service: {}, http_service: {} } }) });
    host.startVm();
    expect(host.configure()).toBe(false);
    expect(host.logMessages()[0]).toMatch(/ext_authz\.grpc_service: not supported/);
  });
});

describe("auth: fuzzing (no trap, no hang)", () => {
  const rs = rsaKey("RS256", "f");
  const set = jwks(rs, rsaKey("PS256", "g"));
  const valid = mint(rs, { iss: ISS, exp: T0 + 60 });
  const seg = fc.stringMatching(/^[A-Za-z0-9_\-=+/.]{0,80}$/);
  test("random and mutated tokens through the JWS layer never verify and never trap", () => {
    fc.assert(fc.property(fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.tuple(seg, seg, seg).map(([a, b, c]) => `${a}.${b}.${c}`),
      fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, c]) => valid.slice(0, i) + String.fromCharCode(c) + valid.slice(i + 1)),
      fc.json().map((j) => `${Buffer.from(j).toString("base64url")}.${valid.split(".")[1]}.${valid.split(".")[2]}`),
      fc.json().map((j) => `${valid.split(".")[0]}.${Buffer.from(j).toString("base64url")}.${valid.split(".")[2]}`),
    ), (t) => {
      const s = jws.verify(t, set, true);
      if (t !== valid) expect(s).not.toBe(0);
    }), { numRuns: 1500 });
  });
  test("random key sets (JSON and mutated JWKs) never trap", () => {
    const good = JSON.parse(set);
    fc.assert(fc.property(fc.oneof(
      fc.json(),
      fc.string({ maxLength: 200 }),
      fc.record({ keys: fc.array(fc.dictionary(fc.constantFrom("kty", "n", "e", "x", "y", "crv", "k", "alg", "use", "kid", "key_ops"), fc.oneof(fc.string(), fc.base64String(), fc.integer(), fc.constant(null))), { maxLength: 4 }) }).map((v) => JSON.stringify(v)),
      fc.tuple(fc.nat(1), fc.constantFrom("n", "e", "kty", "alg"), fc.string()).map(([i, f, v]) => JSON.stringify({ keys: good.keys.map((k: Record<string, unknown>, j: number) => (j === i ? { ...k, [f]: v } : k)) })),
    ), (doc) => {
      const n = jws.keyCount(doc);
      expect(n).toBeGreaterThanOrEqual(-1);
      jws.verify(valid, doc, true);
    }), { numRuns: 800 });
  });
  test("random configurations are accepted or refused with a message, never a trap", async () => {
    const field = fc.constantFrom("providers", "rules", "api_keys", "ext_authz", "limits", "bypass_cors_preflight", "x");
    await fc.assert(fc.asyncProperty(fc.oneof(fc.json(), fc.dictionary(field, fc.jsonValue())), async (cfg) => {
      const host = await Host.load(wasm, { pluginConfig: typeof cfg === "string" ? cfg : JSON.stringify(cfg) });
      host.startVm();
      const ok = host.configure();
      expect(host.failed).toBe(false);
      if (!ok) expect(host.logMessages()[0]).toMatch(/^auth: invalid configuration: /);
    }), { numRuns: 200 });
  });
  test("random request headers through the filter never trap", async () => {
    const host = await startAuth(wasm, { providers: { p: { issuer: ISS, local_jwks: { inline_string: set } } }, rules: [{ match: { prefix: "/" }, requires: { allow_missing: {} } }] });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 100 }), (bytes, path) => {
      const s = host.newHttpStream();
      s.sendRequestHeaders([[":method", "GET"], [":path", "/" + path], [":authority", "h"], ["authorization", Buffer.concat([Buffer.from("Bearer "), Buffer.from(bytes)])], ["cookie", Buffer.from(bytes)]], true);
      s.complete();
      expect(host.failed).toBe(false);
    }), { numRuns: 500 });
  });
});
