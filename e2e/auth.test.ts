// auth in a real Envoy: remote JWKS from a loopback server (down → 401 → recovery, key rotation), API keys,
// ext_authz against a loopback authorization service (allow, deny passed through, down → 403), and a side-by-
// side run with envoy.filters.http.jwt_authn on the same JwtAuthentication config and the same tokens; and
// the hostile cases that only a real Envoy settles: path spellings against rules, CR LF in a claim.
import { request as httpRequest } from "node:http";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { buildFilter } from "../src/build/build";
import { cluster, envoyHarness, httpListener, nativeFilter, wasmFilter, waitFor, type JsonObject } from "../src/envoy";
import { startJwksServer, startAuthzServer, JwksServer, AuthzServer, AuthzDecision } from "./support/auth-servers";
import { rsaKey, ecKey, hmacKey, jwks, mint, b64u } from "../filters/auth/tests/auth-harness";

const harness = envoyHarness();
let wasmFile: string;
const servers: Array<JwksServer | AuthzServer> = [];

beforeAll(async () => {
  wasmFile = (await buildFilter(join(__dirname, "..", "filters", "auth"))).wasmPath;
}, 120_000);
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });
jest.setTimeout(120_000);

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function get(url: string, headers: Record<string, string> = {}, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false, timeout: 20_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within 20 s`)));
    req.on("error", reject);
    req.end();
  });
}

const ISS = "https://issuer.example";
const now = () => Math.floor(Date.now() / 1000);
const k1 = rsaKey("RS256", "k1");
const k2 = ecKey("ES256", "k2");
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

function remoteJwt(port: number): JsonObject {
  return {
    providers: { p: { issuer: ISS, audiences: ["api"], remote_jwks: { http_uri: { uri: `http://127.0.0.1:${port}/jwks`, cluster: "jwks", timeout: "1s" }, cache_duration: "300s" } } },
    rules: [{ match: { prefix: "/" }, requires: { provider_name: "p" } }],
  };
}

async function envoyWith(config: JsonObject, extraClusters: Array<[string, number]>, concurrency = 2) {
  const echo = await harness.startEcho();
  return harness.startEnvoy({
    listeners: [httpListener("wasm", {
      httpFilters: [wasmFilter({ name: "auth", vmId: "auth", wasmFile, configuration: config })],
      virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }],
    })],
    clusters: [cluster("echo", echo.port), ...extraClusters.map(([n, p]) => cluster(n, p))],
  }, { concurrency });
}

describe("auth e2e: remote JWKS in a real Envoy", () => {
  test("JWKS down: 401 while no keys, then accepted once the endpoint recovers (retried with backoff)", async () => {
    const srv = await startJwksServer("down");
    servers.push(srv);
    const envoy = await envoyWith(remoteJwt(srv.port), [["jwks", srv.port]]);
    const token = mint(k1, { iss: ISS, aud: "api", exp: now() + 600 });
    const r = await get(envoy.url("/"), bearer(token));
    expect(r.status).toBe(401);
    expect(r.body).toBe("Jwks remote fetch is failed");
    expect(r.headers["www-authenticate"]).toMatch(/^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/", error="invalid_token"$/);
    srv.serve = jwks(k1);
    const ok = await waitFor(async () => ((await get(envoy.url("/"), bearer(token))).status === 200 ? true : undefined), { timeoutMs: 30_000, what: "a 200 after the JWKS endpoint recovered" });
    expect(ok).toBe(true);
    expect(envoy.log()).toMatch(/JWKS fetch from .* failed/);
  });

  test("key rotation: a token with a new kid makes the filter refetch, and it is accepted", async () => {
    const srv = await startJwksServer(jwks(k1));
    servers.push(srv);
    const envoy = await envoyWith(remoteJwt(srv.port), [["jwks", srv.port]], 1);
    await waitFor(async () => ((await get(envoy.url("/"), bearer(mint(k1, { iss: ISS, aud: "api", exp: now() + 600 })))).status === 200 ? true : undefined), { timeoutMs: 15_000, what: "the first JWKS fetch" });
    const before = srv.requests;
    srv.serve = jwks(k1, k2);
    const r = await get(envoy.url("/"), bearer(mint(k2, { iss: ISS, aud: "api", exp: now() + 600 })));
    expect(r.status).toBe(200);
    expect(srv.requests).toBe(before + 1);
    // Many requests with known keys cause no fetch.
    const t = mint(k1, { iss: ISS, aud: "api", exp: now() + 600 });
    for (let i = 0; i < 50; i++) expect((await get(envoy.url("/"), bearer(t))).status).toBe(200);
    expect(srv.requests).toBe(before + 1);
  });
});

describe("auth e2e: API keys and ext_authz", () => {
  test("API key: valid key passes with the client name upstream, unknown key 401", async () => {
    const envoy = await envoyWith({ api_keys: { keys: [{ client: "billing", sha256: createHash("sha256").update("s3cret").digest("hex") }], forward_client_header: "x-client" } }, []);
    const ok = await get(envoy.url("/"), { "x-api-key": "s3cret" });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).headers["x-client"]).toBe("billing");
    expect((await get(envoy.url("/"), { "x-api-key": "nope" })).status).toBe(401);
  });

  test("ext_authz: 200 allows with headers copied upstream, a denial is passed to the client, the service down gives 403", async () => {
    const authz = await startAuthzServer((req): AuthzDecision | "down" => {
      if (req.headers["x-token"] === "down") return "down";
      if (req.headers["x-token"] === "good") return { status: 200, headers: { "x-user-id": "7" } };
      return { status: 401, headers: { "www-authenticate": "Custom", "x-reason": "bad token" }, body: "denied by policy" };
    });
    servers.push(authz);
    const envoy = await envoyWith({
      ext_authz: { http_service: {
        server_uri: { uri: `http://127.0.0.1:${authz.port}`, cluster: "authz", timeout: "0.5s" }, path_prefix: "/check",
        authorization_request: { allowed_headers: { patterns: [{ exact: "x-token" }] } },
        authorization_response: { allowed_upstream_headers: { patterns: [{ exact: "x-user-id" }] } },
      } },
    }, [["authz", authz.port]]);
    const ok = await get(envoy.url("/orders"), { "x-token": "good" });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).headers["x-user-id"]).toBe("7");
    expect(authz.seen[0].path).toBe("/check/orders");
    const denied = await get(envoy.url("/orders"), { "x-token": "bad" });
    expect([denied.status, denied.body, denied.headers["x-reason"], denied.headers["www-authenticate"]]).toEqual([401, "denied by policy", "bad token", "Custom"]);
    expect((await get(envoy.url("/orders"), { "x-token": "down" })).status).toBe(403);
  });
});

describe("auth e2e: ext_authz headers in a real Envoy", () => {
  test("client-sent copies of a header the service sets never reach the upstream, beside the service's value or without it", async () => {
    const authz = await startAuthzServer((req): AuthzDecision => (req.headers["x-token"] === "with"
      ? { status: 200, headers: { "x-user-id": "7" } } : { status: 200 }));
    servers.push(authz);
    const envoy = await envoyWith({
      ext_authz: { http_service: {
        server_uri: { uri: `http://127.0.0.1:${authz.port}`, cluster: "authz", timeout: "0.5s" },
        authorization_request: { allowed_headers: { patterns: [{ exact: "x-token" }] } },
        authorization_response: { allowed_upstream_headers: { patterns: [{ exact: "x-user-id" }] } },
      } },
    }, [["authz", authz.port]]);
    const forged = ["admin", "root"];
    const send = (token: string) => new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(envoy.url("/"), { headers: { "x-token": token, "x-user-id": forged, "x-envoy-auth-failure-mode-allowed": "true" }, agent: false, timeout: 20_000 }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
      });
      req.on("error", reject);
      req.end();
    });
    const withValue = await send("with");
    expect(withValue.status).toBe(200);
    const a = JSON.parse(withValue.body).headers;
    expect([a["x-user-id"], a["x-envoy-auth-failure-mode-allowed"]]).toEqual(["7", undefined]);
    const without = await send("without");
    expect(without.status).toBe(200);
    expect(JSON.parse(without.body).headers["x-user-id"]).toBeUndefined();
  });
});

describe("auth e2e: hostile paths and claims in a real Envoy", () => {
  const hs = hmacKey("HS256", "h");
  const guarded = (extra: JsonObject = {}): JsonObject => ({
    providers: { p: { issuer: ISS, local_jwks: { inline_string: jwks(hs) }, ...extra } },
    rules: [{ match: { prefix: "/admin" }, requires: { provider_name: "p" } }, { match: { prefix: "/" } }],
  });

  test("a rule on /admin guards //admin, /%61dmin, /./admin and /x/../admin; escaped slashes are refused", async () => {
    const envoy = await envoyWith(guarded(), []);
    const rows: string[] = [];
    for (const path of ["/admin/x", "//admin/x", "/%61dmin/x", "/./admin/x", "/x/../admin/x", "/%2e/admin/x", "/%2Fadmin/x", "/public%2F..%2Fadmin"]) {
      const r = await get(envoy.url(path));
      rows.push(`${path.padEnd(22)} ${r.status} ${JSON.stringify(r.body)}`);
      expect([path, r.status]).not.toEqual([path, 200]);
      expect([path, r.status]).toEqual([path, path.includes("%2F") ? 400 : 401]);
    }
    console.log("auth: unauthenticated requests to /admin spellings through Envoy:\n" + rows.join("\n"));
    expect((await get(envoy.url("/public/x"))).status).toBe(200);
    const ok = await get(envoy.url("//admin/x"), bearer(mint(hs, { iss: ISS, exp: now() + 600 })));
    expect([ok.status, JSON.parse(ok.body).path]).toEqual([200, "//admin/x"]);
  });

  test("a claim with CR LF is not written as a header: no header is injected upstream", async () => {
    const envoy = await envoyWith(guarded({ claim_to_headers: [{ header_name: "x-name", claim_name: "name" }, { header_name: "x-sub", claim_name: "sub" }] }), []);
    const r = await get(envoy.url("/admin/x"), bearer(mint(hs, { iss: ISS, exp: now() + 600, sub: "alice", name: "x\r\nx-admin: 1" })));
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body).headers;
    expect([seen["x-sub"], seen["x-name"], seen["x-admin"]]).toEqual(["alice", undefined, undefined]);
  });

  test("a token in the query does not reach the upstream", async () => {
    const envoy = await envoyWith(guarded(), []);
    const token = mint(hs, { iss: ISS, exp: now() + 600 });
    const r = await get(envoy.url(`/admin/x?a=1&access_token=${token}`));
    expect([r.status, JSON.parse(r.body).path]).toEqual([200, "/admin/x?a=1"]);
  });
});

describe("auth e2e: side by side with envoy.filters.http.jwt_authn", () => {
  test("the same JwtAuthentication config gives the same status (and body) for a table of tokens", async () => {
    const echo = await harness.startEcho();
    const config: JsonObject = {
      providers: { p: { issuer: ISS, audiences: ["api"], local_jwks: { inline_string: jwks(k1, k2) }, forward_payload_header: "x-jwt-payload" } },
      rules: [{ match: { prefix: "/public" } }, { match: { prefix: "/" }, requires: { provider_name: "p" } }],
    };
    const envoy = await harness.startEnvoy({
      listeners: [
        httpListener("wasm", { httpFilters: [wasmFilter({ name: "auth", vmId: "auth", wasmFile, configuration: config })], virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }] }),
        httpListener("native", { httpFilters: [nativeFilter("envoy.filters.http.jwt_authn", config)], virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }] }),
      ],
      clusters: [cluster("echo", echo.port)],
    });
    const t = now();
    const good = mint(k1, { iss: ISS, aud: "api", exp: t + 600, sub: "a" });
    const [h, p, s] = good.split(".");
    const table: Array<[string, string | null, string]> = [
      ["valid RS256", good, "/"],
      ["valid ES256", mint(k2, { iss: ISS, aud: ["x", "api"], exp: t + 600 }), "/"],
      ["expired", mint(k1, { iss: ISS, aud: "api", exp: t - 3600 }), "/"],
      ["not yet valid", mint(k1, { iss: ISS, aud: "api", exp: t + 600, nbf: t + 3600 }), "/"],
      ["wrong iss", mint(k1, { iss: "https://evil.example", aud: "api", exp: t + 600 }), "/"],
      ["wrong aud", mint(k1, { iss: ISS, aud: "other", exp: t + 600 }), "/"],
      ["bad signature", `${h}.${p}.${s.slice(0, -6)}AAAAAA`, "/"],
      ["missing", null, "/"],
      ["malformed", "not-a-jwt", "/"],
      ["two segments", `${h}.${p}`, "/"],
      ["alg none", `${b64u('{"alg":"none"}')}.${p}.`, "/"],
      ["unknown kid", mint(k1, { iss: ISS, aud: "api", exp: t + 600 }, { header: { kid: "zz" } }), "/"],
      ["public path without token", null, "/public/x"],
    ];
    const rows: string[] = [];
    for (const [name, token, path] of table) {
      const headers = token === null ? {} : bearer(token);
      const [w, n] = await Promise.all([get(envoy.url(path, "wasm"), headers), get(envoy.url(path, "native"), headers)]);
      const shown = (r: Reply) => (r.status === 200 ? "(upstream)" : JSON.stringify(r.body));
      rows.push(`${name.padEnd(26)} wasm ${w.status} ${shown(w)}  native ${n.status} ${shown(n)}`);
      if (w.status !== 200 && name !== "alg none") expect([name, w.body]).toEqual([name, n.body]);
      expect([name, w.status]).toEqual([name, n.status]);
      if (w.status !== 200) {
        const realm = (r: Reply) => String(r.headers["www-authenticate"] ?? "").replace(/:\d+\//, ":PORT/");
        expect([name, realm(w)]).toEqual([name, realm(n)]);
      } else {
        expect(JSON.parse(w.body).headers["x-jwt-payload"]).toBe(JSON.parse(n.body).headers["x-jwt-payload"]);
      }
    }
    console.log("auth vs jwt_authn:\n" + rows.join("\n"));
  });
});
