// auth in a real Envoy, RS* and ES* signatures on both paths: the host's verify_signature (Envoy's BoringSSL)
// and the filter's Wasm crypto (`host_crypto: false`). Every Wycheproof JWS/JWK vector signed with RS* or ES*
// (whose key set the filter accepts) and RFC 7515 A.2/A.3, each also with a flipped signature bit, go through
// both listeners of one Envoy and through the emulator on both paths: the four answers (status and body) must
// be equal for every token. The body tells a signature that held (a later stage answers: the payload is not a
// JWT's, or it expired) from one that did not ("Jwt verification fails").
import { request as httpRequest } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildFilter } from "../src/build/build";
import { cluster, envoyHarness, httpListener, wasmFilter, type JsonObject } from "../src/envoy";
import { Host } from "../src/emulator";
import { b64u, loadJwsLayer, send } from "../filters/auth/tests/auth-harness";
import { WYCHEPROOF_DIR } from "../filters/auth/tests/crypto-harness";

const harness = envoyHarness();
let wasmFile: string;
jest.setTimeout(300_000);

beforeAll(async () => {
  wasmFile = (await buildFilter(join(__dirname, "..", "filters", "auth"))).wasmPath;
}, 120_000);

interface Vector { tcId: number; jws: string }
interface Group { public?: Record<string, unknown>; private?: Record<string, unknown>; tests: Vector[] }
interface Case { name: string; provider: string; token: string }

// RFC 7515 A.2 (RS256) and A.3 (ES256): keys and tokens from the RFC (their exp lies in 2011).
const PAYLOAD = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const RFC = [
  { name: "RFC 7515 A.2", jwk: { kty: "RSA", e: "AQAB", n: "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ" },
    token: `eyJhbGciOiJSUzI1NiJ9.${PAYLOAD}.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw` },
  { name: "RFC 7515 A.3", jwk: { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" },
    token: `eyJhbGciOiJFUzI1NiJ9.${PAYLOAD}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q` },
];

function flipped(token: string): string {
  const dot = token.lastIndexOf(".");
  const sig = Buffer.from(token.slice(dot + 1), "base64url");
  sig[sig.length >> 1] ^= 1;
  return `${token.slice(0, dot + 1)}${b64u(sig)}`;
}

const hostAlg = (token: string) => {
  try { return /^(RS|ES)/.test(String(JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString()).alg)); } catch { return false; }
};

/** One provider per key set (the Wycheproof groups the filter accepts, and the RFC keys); the cases. */
async function vectors(): Promise<{ providers: Record<string, JsonObject>; cases: Case[] }> {
  const layer = await loadJwsLayer();
  const providers: Record<string, JsonObject> = {};
  const cases: Case[] = [];
  for (const file of ["json_web_signature_test.json", "json_web_key_test.json"]) {
    const groups = (JSON.parse(readFileSync(join(WYCHEPROOF_DIR, file), "utf8")) as { testGroups: Group[] }).testGroups;
    groups.forEach((g, i) => {
      const k = g.public ?? g.private!;
      const set = JSON.stringify("keys" in k ? k : { keys: [k] });
      const tests = g.tests.filter((t) => /^[\x21-\x7e]+$/.test(t.jws) && hostAlg(t.jws));
      if (tests.length === 0 || layer.keyCount(set) < 1) return;
      const provider = `${file.startsWith("json_web_signature") ? "s" : "k"}${i}`;
      providers[provider] = { local_jwks: { inline_string: set } };
      for (const t of tests) cases.push({ name: `${file} #${t.tcId}`, provider, token: t.jws });
    });
  }
  RFC.forEach((v, i) => {
    providers[`rfc${i}`] = { local_jwks: { inline_string: JSON.stringify({ keys: [v.jwk] }) } };
    cases.push({ name: v.name, provider: `rfc${i}`, token: v.token }, { name: `${v.name}, flipped bit`, provider: `rfc${i}`, token: flipped(v.token) });
  });
  return { providers, cases };
}

function config(providers: Record<string, JsonObject>, hostCrypto: boolean): JsonObject {
  return {
    providers,
    rules: Object.keys(providers).map((p) => ({ match: { prefix: `/${p}/` }, requires: { provider_name: p } })),
    host_crypto: hostCrypto,
  };
}

function get(url: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { authorization: `Bearer ${token}` }, agent: false, timeout: 20_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve(`${res.statusCode} ${res.statusCode === 200 ? "" : Buffer.concat(parts).toString()}`));
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within 20 s`)));
    req.on("error", reject);
    req.end();
  });
}

describe("auth e2e: RS*/ES* through Envoy's verify_signature and through Wasm", () => {
  test("Wycheproof and RFC 7515 vectors: the same answer on both paths, in Envoy and in the emulator", async () => {
    const { providers, cases } = await vectors();
    const echo = await harness.startEcho();
    const plugin = (host: boolean) => wasmFilter({ name: host ? "auth-host" : "auth-wasm", vmId: host ? "auth-host" : "auth-wasm", wasmFile, configuration: config(providers, host) });
    const envoy = await harness.startEnvoy({
      listeners: [
        httpListener("host", { httpFilters: [plugin(true)], virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }] }),
        httpListener("wasm", { httpFilters: [plugin(false)], virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }] }),
      ],
      clusters: [cluster("echo", echo.port)],
    });
    expect(envoy.log()).toContain("auth: RS256/384/512 and ES256/384 signatures are verified by the host (verify_signature); PS* and HS* in Wasm");
    expect(envoy.log()).toContain("auth: host_crypto is false: all signatures are verified in Wasm");

    const wasm = new Uint8Array(readFileSync(wasmFile));
    const startTimeNs = BigInt(Date.now()) * 1_000_000n;
    const emulated = async (host: boolean) => Host.start(wasm, { pluginConfig: JSON.stringify(config(providers, host)), startTimeNs });
    const emuHost = await emulated(true);
    const emuWasm = await emulated(false);
    const emu = (h: Host, c: Case) => {
      const r = send(h, `/${c.provider}/`, [["authorization", `Bearer ${c.token}`]]);
      return `${r.status === 0 ? 200 : r.status} ${r.body}`;
    };

    const differ: unknown[] = [];
    const tally = new Map<string, number>();
    const byName = new Map<string, string>();
    for (const c of cases) {
      const answers = {
        envoyHost: await get(envoy.url(`/${c.provider}/`, "host"), c.token),
        envoyWasm: await get(envoy.url(`/${c.provider}/`, "wasm"), c.token),
        emulatorHost: emu(emuHost, c),
        emulatorWasm: emu(emuWasm, c),
      };
      if (new Set(Object.values(answers)).size !== 1) differ.push({ case: c.name, ...answers });
      tally.set(answers.envoyHost, (tally.get(answers.envoyHost) ?? 0) + 1);
      byName.set(c.name, answers.envoyHost);
    }
    console.log(`${cases.length} RS*/ES* tokens, answers in Envoy: ${[...tally].map(([a, n]) => `${n}× ${a}`).join("; ")}`);
    expect(differ).toEqual([]);
    // Both outcomes of the signature stage occur: some signatures held (a later stage answered), some did not.
    expect(tally.get("401 Jwt verification fails")).toBeGreaterThan(0);
    expect([...tally.keys()].some((a) => a !== "401 Jwt verification fails")).toBe(true);
    for (const v of RFC) {
      expect([v.name, byName.get(v.name)]).toEqual([v.name, "401 Jwt is expired"]); // the signature held
      expect([v.name, byName.get(`${v.name}, flipped bit`)]).toEqual([v.name, "401 Jwt verification fails"]);
    }
    expect(envoy.log()).not.toMatch(/verify_signature failed in the host/);
  });
});
