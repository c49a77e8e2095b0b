// The auth filter's JWT stage in the emulator: RFC 7515 examples, the reliability bars (time claims, issuer,
// audience, crit, malformed tokens, key confusion), Envoy's answers, rules and requirements, token sources,
// forwarding, claim_to_headers, the token cache, and configuration errors. Tokens are minted with node:crypto.
import { Action, ForeignFunction, Host, LogLevel, WasmResult } from "../../../src/emulator";
import {
  buildAuthFilter, startAuth, send, bearer, rsaKey, ecKey, hmacKey, jwks, mint, b64u, T0, signJws, SigningKey,
} from "./auth-harness";

let wasm: Uint8Array;
beforeAll(async () => { wasm = await buildAuthFilter(); }, 120_000);

const ISS = "https://issuer.example";
const rs = rsaKey("RS256", "rs-1");
const es = ecKey("ES256", "es-1");
const hs = hmacKey("HS256", "hs-1");

function provider(keys: SigningKey[], extra: Record<string, unknown> = {}) {
  return { issuer: ISS, local_jwks: { inline_string: jwks(...keys) }, ...extra };
}
const requireP = (name = "p") => [{ match: { prefix: "/" }, requires: { provider_name: name } }];
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISS, sub: "alice", exp: T0 + 3600, ...extra });

async function single(extra: Record<string, unknown> = {}, keys: SigningKey[] = [rs, es]) {
  return startAuth(wasm, { providers: { p: provider(keys, extra) }, rules: requireP() });
}

describe("auth jwt: RFC 7515 appendix A", () => {
  // Inputs from RFC 7515 A.1–A.3 (and A.5's unsecured header); exp is 1300819380, so the clock starts before it.
  const PAYLOAD = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  const A1 = { jwk: { kty: "oct", k: "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow" },
    token: `eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.${PAYLOAD}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk` };
  const A2 = { jwk: { kty: "RSA", e: "AQAB", n: "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ" },
    token: `eyJhbGciOiJSUzI1NiJ9.${PAYLOAD}.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw` };
  const A3 = { jwk: { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" },
    token: `eyJhbGciOiJFUzI1NiJ9.${PAYLOAD}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q` };
  const A5 = `eyJhbGciOiJub25lIn0.${PAYLOAD}.`;

  async function rfcHost(jwk: object, startSeconds = 1300819300, hostCrypto = true) {
    return startAuth(wasm, { providers: { p: { issuer: "joe", local_jwks: { inline_string: JSON.stringify({ keys: [jwk] }) }, clock_skew_seconds: 0 } }, rules: requireP(), host_crypto: hostCrypto },
      { startTimeNs: BigInt(startSeconds) * 1_000_000_000n });
  }

  const ALL = [["A.1 HS256", A1], ["A.2 RS256", A2], ["A.3 ES256", A3]] as const;
  test.each(ALL.flatMap(([n, v]) => [[`${n}, host crypto`, v, true], [`${n}, Wasm crypto`, v, false]] as const))(
    "%s: accepted before its exp and refused after; a flipped signature bit is refused", async (_n, v, hostCrypto) => {
      const host = await rfcHost(v.jwk, 1300819300, hostCrypto);
      expect(send(host, "/", [bearer(v.token)]).action).toBe(Action.Continue);
      const sig = Buffer.from(v.token.split(".")[2], "base64url");
      sig[sig.length >> 1] ^= 1;
      const bad = send(host, "/", [bearer(`${v.token.slice(0, v.token.lastIndexOf("."))}.${b64u(sig)}`)]);
      expect([bad.status, bad.body]).toEqual([401, "Jwt verification fails"]);
      // The probe at configure time, then one call per RS*/ES* check; none when host_crypto is false.
      const hs = v === A1;
      expect(host.foreignFunctionCalls("verify_signature")).toBe(hostCrypto ? (hs ? 1 : 3) : 0);
      const late = await rfcHost(v.jwk, 1300819380, hostCrypto);
      const r = send(late, "/", [bearer(v.token)]);
      expect([r.status, r.body]).toEqual([401, "Jwt is expired"]);
    });

  test("a host whose verify_signature errs (BadArgument, a reply that does not parse) gets the Wasm decision, one warning, no trap", async () => {
    const answers: Array<() => ReturnType<ForeignFunction>> = [() => ({ result: WasmResult.BadArgument }), () => Uint8Array.of(0xff)];
    for (const answer of answers) {
      for (const v of [A2, A3]) {
        const host = await Host.load(wasm, {
          pluginConfig: JSON.stringify({ providers: { p: { issuer: "joe", local_jwks: { inline_string: JSON.stringify({ keys: [v.jwk] }) } } }, rules: requireP() }),
          startTimeNs: 1300819300n * 1_000_000_000n,
        });
        host.registerForeignFunction("verify_signature", () => answer());
        host.startVm();
        expect(host.configure()).toBe(true);
        expect(send(host, "/", [bearer(v.token)]).action).toBe(Action.Continue);
        const sig = Buffer.from(v.token.split(".")[2], "base64url");
        sig[0] ^= 1;
        const bad = send(host, "/", [bearer(`${v.token.slice(0, v.token.lastIndexOf("."))}.${b64u(sig)}`)]);
        expect([bad.status, bad.body]).toEqual([401, "Jwt verification fails"]);
        expect(host.foreignFunctionCalls("verify_signature")).toBe(3);
        expect(host.logMessages(LogLevel.Warn).filter((l) => l.includes("verifying in Wasm instead"))).toHaveLength(1);
      }
    }
  });

  test("the configure-time log says which path verifies; host_crypto false or a host without verify_signature means Wasm", async () => {
    const cfg = { providers: { p: { issuer: "joe", local_jwks: { inline_string: JSON.stringify({ keys: [A2.jwk] }) } } }, rules: requireP() };
    const start = { startTimeNs: 1300819300n * 1_000_000_000n };
    const info = (h: Awaited<ReturnType<typeof startAuth>>) => h.logMessages(LogLevel.Info).join("\n");
    expect(info(await startAuth(wasm, cfg, start))).toContain("RS256/384/512 and ES256/384 signatures are verified by the host (verify_signature)");
    expect(info(await startAuth(wasm, { ...cfg, host_crypto: false }, start))).toContain("host_crypto is false: all signatures are verified in Wasm");
    const without = await startAuth(wasm, cfg, { ...start, withoutForeignFunctions: ["verify_signature"] });
    expect(info(without)).toContain("the host has no verify_signature: all signatures are verified in Wasm");
    expect(send(without, "/", [bearer(A2.token)]).action).toBe(Action.Continue);
  });

  test("A.5 (alg none) is refused, whatever key set is configured", async () => {
    for (const jwk of [A1.jwk, A2.jwk, A3.jwk]) {
      const r = send(await rfcHost(jwk), "/", [bearer(A5)]);
      expect([r.status, r.body]).toEqual([401, "Jwt header [alg] field value is invalid"]);
    }
  });
});

describe("auth jwt: Envoy's answers", () => {
  test("valid tokens of every algorithm pass; the Authorization header is removed unless forward", async () => {
    const keys = [rsaKey("RS256", "a"), rsaKey("RS384", "b"), rsaKey("RS512", "c"), rsaKey("PS256", "d"), rsaKey("PS384", "e"),
      rsaKey("PS512", "f"), ecKey("ES256", "g"), ecKey("ES384", "h"), hmacKey("HS256", "i"), hmacKey("HS384", "j"), hmacKey("HS512", "k")];
    const asym = keys.filter((k) => !k.alg.startsWith("HS"));
    const sym = keys.filter((k) => k.alg.startsWith("HS"));
    for (const set of [asym, sym]) {
      const host = await single({}, set);
      for (const k of set) {
        const r = send(host, "/", [bearer(mint(k, claims()))]);
        expect([k.alg, r.action, r.status]).toEqual([k.alg, Action.Continue, 0]);
        expect(r.upstream.has("authorization")).toBe(false);
      }
    }
    const fwd = await single({ forward: true });
    expect(send(fwd, "/", [bearer(mint(rs, claims()))]).upstream.get("authorization")).toMatch(/^Bearer /);
  });

  test("missing token: 401 \"Jwt is missing\", WWW-Authenticate without error, realm is the request URL", async () => {
    const r = send(await single(), "/a/b?c=d");
    expect(r.status).toBe(401);
    expect(r.body).toBe("Jwt is missing");
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="http://example.com/a/b?c=d"');
    expect(r.stream.localResponse!.details).toBe("jwt_authn_access_denied{Jwt_is_missing}");
  });

  test("invalid token: 401 with error=\"invalid_token\"; the realm's path is cut at 256 bytes", async () => {
    const long = "/" + "x".repeat(300);
    const r = send(await single(), long, [bearer("abc.def.ghi")]);
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe(`Bearer realm="http://example.com${long.slice(0, 256)}", error="invalid_token"`);
  });

  test("wrong issuer: 401 \"Jwt issuer is not configured\"; wrong audience: 403 \"Audiences in Jwt are not allowed\"", async () => {
    const host = await single({ audiences: ["api.example.com", "https://other.example/"] });
    const iss = send(host, "/", [bearer(mint(rs, claims({ iss: "https://evil.example", aud: "api.example.com" })))]);
    expect([iss.status, iss.body]).toEqual([401, "Jwt issuer is not configured"]);
    const aud = send(host, "/", [bearer(mint(rs, claims({ aud: ["nope"] })))]);
    expect([aud.status, aud.body]).toEqual([403, "Audiences in Jwt are not allowed"]);
    expect(aud.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const noAud = send(host, "/", [bearer(mint(rs, claims()))]);
    expect(noAud.status).toBe(403);
    // Audiences compare without scheme and trailing slash, as in Envoy.
    expect(send(host, "/", [bearer(mint(rs, claims({ aud: "https://api.example.com/" })))]).action).toBe(Action.Continue);
    expect(send(host, "/", [bearer(mint(rs, claims({ aud: ["x", "other.example"] })))]).action).toBe(Action.Continue);
  });

  test("strip_failure_response answers the bare status", async () => {
    const host = await startAuth(wasm, { providers: { p: provider([rs]) }, rules: requireP(), strip_failure_response: true });
    const r = send(host, "/");
    expect([r.status, r.body, r.headers.size]).toEqual([401, "", 0]);
  });

  test("a bad signature is refused with \"Jwt verification fails\", and messages never carry key material", async () => {
    const host = await single();
    const t = mint(rs, claims());
    const bad = t.slice(0, -4) + (t.endsWith("AAAA") ? "BBBB" : "AAAA");
    const r = send(host, "/", [bearer(bad)]);
    expect([r.status, r.body]).toEqual([401, "Jwt verification fails"]);
    const hsHost = await single({}, [hs]);
    const forged = mint(hs, claims()).slice(0, -2) + "AA";
    const h = send(hsHost, "/", [bearer(forged)]);
    expect(h.status).toBe(401);
    const secret = b64u(hs.secret!);
    for (const m of [...host.logMessages(), ...hsHost.logMessages(), h.body, h.headers.get("www-authenticate")!]) expect(m).not.toContain(secret);
  });
});

describe("auth jwt: time claims (reliability bars)", () => {
  const at = async (skew: number) => single({ clock_skew_seconds: skew });
  test("exp == now with zero skew is refused (exp is exclusive); exp == now + 1 passes", async () => {
    const host = await at(0);
    expect(send(host, "/", [bearer(mint(rs, claims({ exp: T0 })))]).body).toBe("Jwt is expired");
    expect(send(host, "/", [bearer(mint(rs, claims({ exp: T0 + 1 })))]).action).toBe(Action.Continue);
  });
  test("nbf == now passes (nbf is inclusive); nbf == now + 1 is refused with zero skew", async () => {
    const host = await at(0);
    expect(send(host, "/", [bearer(mint(rs, claims({ nbf: T0 })))]).action).toBe(Action.Continue);
    expect(send(host, "/", [bearer(mint(rs, claims({ nbf: T0 + 1 })))]).body).toBe("Jwt not yet valid");
  });
  test("exp inside the default 60 s clock skew passes; beyond it is refused", async () => {
    const host = await single();
    expect(send(host, "/", [bearer(mint(rs, claims({ exp: T0 - 59 })))]).action).toBe(Action.Continue);
    expect(send(host, "/", [bearer(mint(rs, claims({ exp: T0 - 60 })))]).body).toBe("Jwt is expired");
    expect(send(host, "/", [bearer(mint(rs, claims({ nbf: T0 + 60 })))]).action).toBe(Action.Continue);
    expect(send(host, "/", [bearer(mint(rs, claims({ nbf: T0 + 61 })))]).status).toBe(401);
  });
  test("a cached token still expires: the cache never holds time decisions", async () => {
    const host = await at(0);
    const t = mint(rs, claims({ exp: T0 + 10 }));
    expect(send(host, "/", [bearer(t)]).action).toBe(Action.Continue);
    host.advanceTime(9_999);
    expect(send(host, "/", [bearer(t)]).action).toBe(Action.Continue);
    host.advanceTime(1);
    expect(send(host, "/", [bearer(t)]).body).toBe("Jwt is expired");
    expect(host.metric("auth.token_cache.hits")!.value).toBe(2);
  });
  test("require_expiration refuses a token without exp; exp/nbf that are not numbers are payload errors", async () => {
    const host = await single({ require_expiration: true });
    expect(send(host, "/", [bearer(mint(rs, { iss: ISS }))]).body).toBe("Jwt expiration is required");
    expect(send(host, "/", [bearer(mint(rs, claims({ exp: "tomorrow" })))]).body).toBe("Jwt payload is an invalid Base64 or an invalid JSON");
  });
});

describe("auth jwt: malformed and hostile tokens", () => {
  test("wrong segment counts, empty parts, bad base64, duplicate header names, non-object payloads, truncated signatures", async () => {
    const host = await single();
    const good = mint(rs, claims());
    const [h, p, s] = good.split(".");
    const cases: Array<[string, string]> = [
      [`${h}.${p}`, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"],
      [`${h}.${p}.${s}.x`, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"],
      [`${h}.${p}.${s}.x.y`, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"],
      [`.${p}.${s}`, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"],
      [`${h}==.${p}.${s}`, "Jwt header is an invalid Base64url input or an invalid JSON"],
      [`${h}.${p}.${s.slice(0, -10)}`, "Jwt verification fails"],
      [`${h}.${p}.`, "Jwt verification fails"],
      [`${h}.${p}.${s}=`, "Jwt signature is an invalid Base64"],
      [mint(rs, {}, { headerText: '{"alg":"RS256","kid":"rs-1","alg":"RS256"}' }), "Jwt header is an invalid Base64url input or an invalid JSON"],
      [mint(rs, {}, { headerText: '["RS256"]' }), "Jwt header is an invalid Base64url input or an invalid JSON"],
      [mint(rs, {}, { headerText: '{"kid":"rs-1"}' }), "Jwt header [alg] field is not a string"],
      [mint(rs, {}, { headerText: '{"alg":"RS256","kid":7}' }), "Jwt header [kid] field is not a string"],
      [mint(rs, {}, { payloadText: "[1,2]" }), "Jwt payload is an invalid Base64 or an invalid JSON"],
      [mint(rs, {}, { payloadText: '"a string"' }), "Jwt payload is an invalid Base64 or an invalid JSON"],
      [mint(rs, {}, { payloadText: '{"iss":"a","iss":"b"}' }), "Jwt payload is an invalid Base64 or an invalid JSON"],
      [mint(rs, {}, { payloadText: "{" }), "Jwt payload is an invalid Base64 or an invalid JSON"],
    ];
    for (const [token, body] of cases) {
      const r = send(host, "/", [bearer(token)]);
      expect([token.slice(0, 30), r.status, r.body]).toEqual([token.slice(0, 30), 401, body]);
    }
  });

  test("crit is refused whether it names an unknown extension, a registered header or nothing", async () => {
    const host = await single();
    for (const crit of [["exp"], ["b64"], [], ["alg"], "x"]) {
      const r = send(host, "/", [bearer(mint(rs, claims(), { header: { crit, exp: 1, b64: true } }))]);
      expect([r.status, r.body]).toEqual([401, "Jwt header [crit] names an extension that is not supported"]);
    }
  });

  test("alg none in every spelling, and unsupported algorithms, are refused before any key is used", async () => {
    const host = await single();
    for (const alg of ["none", "None", "NONE", "nOnE", "ES512", "EdDSA", "HS1", ""]) {
      const body = `${b64u(JSON.stringify({ alg, kid: "rs-1" }))}.${b64u(JSON.stringify(claims()))}.`;
      const r = send(host, "/", [bearer(body + "c2ln")]);
      expect([alg, r.status, r.body]).toEqual([alg, 401, "Jwt header [alg] field value is invalid"]);
    }
  });

  test("HMAC/RSA key confusion: an HS256 token signed with the RSA public key (as text or as bytes) is refused", async () => {
    const host = await single({}, [rs]);
    const pem = (rs.privateKey!.export({ format: "pem", type: "pkcs1" }) as string);
    const { createPublicKey } = await import("node:crypto");
    const pub = createPublicKey(rs.privateKey!);
    for (const secret of [Buffer.from(pub.export({ format: "pem", type: "spki" }) as string), pub.export({ format: "der", type: "spki" }) as Buffer, Buffer.from(pem)]) {
      const forged = mint({ ...rs, alg: "HS256", secret }, claims(), { alg: "HS256" });
      const r = send(host, "/", [bearer(forged)]);
      expect([r.status, r.body]).toEqual([401, "Jwks doesn't have key to match kid or alg from Jwt"]);
    }
  });

  test("an attacker-embedded jwk/jku/x5u header is ignored: the configured key decides", async () => {
    const host = await single({}, [rs]);
    const attacker = rsaKey("RS256", "rs-1", 2048, true);
    for (const extra of [{ jwk: attacker.jwk }, { jku: "https://evil.example/jwks" }, { x5u: "https://evil.example/c" }]) {
      const r = send(host, "/", [bearer(mint(attacker, claims(), { header: extra }))]);
      expect([r.status, r.body]).toEqual([401, "Jwt verification fails"]);
    }
  });

  test("a token over max_token_bytes is refused before parsing", async () => {
    const host = await startAuth(wasm, { providers: { p: provider([rs]) }, rules: requireP(), limits: { max_token_bytes: 512 } });
    const r = send(host, "/", [bearer(mint(rs, claims({ pad: "x".repeat(600) })))]);
    expect([r.status, r.body]).toEqual([401, "Jwt is too large"]);
  });

  test("without kid every key that fits the algorithm is tried; a kid naming no key is refused", async () => {
    const rs2 = rsaKey("RS256", "rs-2", 3072);
    const host = await single({}, [rs, rs2]);
    expect(send(host, "/", [bearer(mint(rs2, claims(), { noKid: true }))]).action).toBe(Action.Continue);
    const r = send(host, "/", [bearer(mint(rs, claims(), { header: { kid: "nope" } }))]);
    expect([r.status, r.body]).toEqual([401, "Jwks doesn't have key to match kid or alg from Jwt"]);
  });

  test("header values with bytes ≥ 0x80 or invalid UTF-8 never trap", async () => {
    const host = await single();
    const s = host.newHttpStream();
    s.sendRequestHeaders([[":method", "GET"], [":path", "/\xff?access_token=\xfe"], [":authority", "h"],
      ["authorization", Buffer.from([0x42, 0x65, 0x61, 0x72, 0x65, 0x72, 0x20, 0xff, 0xfe, 0x2e, 0xc3, 0x28, 0x2e, 0x80])]], true);
    expect(s.localResponse!.status).toBe(401);
    expect(host.failed).toBe(false);
  });
});

describe("auth jwt: token sources", () => {
  test("default: Authorization Bearer first, then the access_token query parameter (percent-decoded)", async () => {
    const host = await single();
    const t = mint(rs, claims());
    expect(send(host, `/x?a=1&access_token=${t}`).action).toBe(Action.Continue);
    expect(send(host, `/x?access_token=${encodeURIComponent(t)}`).action).toBe(Action.Continue);
    // A lower-case "bearer" does not carry the token (Envoy's prefix match is case-sensitive).
    expect(send(host, "/", [["authorization", `bearer ${t}`]]).body).toBe("Jwt is missing");
  });
  test("from_headers with and without value_prefix, from_params, from_cookies", async () => {
    const host = await single({
      from_headers: [{ name: "X-Jwt" }, { name: "x-auth", value_prefix: "Token " }],
      from_params: ["jwt"], from_cookies: ["session"],
    });
    const t = mint(rs, claims());
    expect(send(host, "/", [["x-jwt", t]]).action).toBe(Action.Continue);
    expect(send(host, "/", [["x-auth", `Token ${t}`]]).action).toBe(Action.Continue);
    expect(send(host, `/?jwt=${t}`).action).toBe(Action.Continue);
    expect(send(host, "/", [["cookie", `a=b; session=${t}; c=d`]]).action).toBe(Action.Continue);
    expect(send(host, "/", [bearer(t)]).body).toBe("Jwt is missing");
  });
});

describe("auth jwt: forwarding", () => {
  test("forward_payload_header carries the base64url payload (padded on request); claim_to_headers copies scalar claims", async () => {
    const host = await single({
      forward_payload_header: "x-jwt-payload", pad_forward_payload_header: true,
      claim_to_headers: [
        { header_name: "x-sub", claim_name: "sub" }, { header_name: "x-n", claim_name: "n" }, { header_name: "x-f", claim_name: "f" },
        { header_name: "x-b", claim_name: "b" }, { header_name: "x-nested", claim_name: "org.team.name" },
        { header_name: "x-arr", claim_name: "arr" }, { header_name: "x-none", claim_name: "absent" },
      ],
    });
    const payload = claims({ n: 42, f: 1.5, b: true, org: { team: { name: "blue" } }, arr: [1] });
    const t = mint(rs, payload);
    const r = send(host, "/", [bearer(t), ["x-sub", "forged"], ["x-none", "forged"], ["x-jwt-payload", "forged"]]);
    expect(r.action).toBe(Action.Continue);
    const sent = Buffer.from(r.upstream.get("x-jwt-payload")!, "base64url").toString();
    expect(JSON.parse(sent)).toEqual(payload);
    expect(r.upstream.get("x-jwt-payload")!.length % 4).toBe(0);
    expect([r.upstream.get("x-sub"), r.upstream.get("x-n"), r.upstream.get("x-f"), r.upstream.get("x-b"), r.upstream.get("x-nested")])
      .toEqual(["alice", "42", "1.5", "true", "blue"]);
    expect(r.upstream.has("x-arr")).toBe(false);
    expect(r.upstream.has("x-none")).toBe(false); // the forged value is removed, never passed on
    expect(r.stream.routeCacheClears).toBe(1);
    // Failed or unverified requests never carry a forged claim header either.
    const anon = send(await startAuth(wasm, {
      providers: { p: provider([rs], { claim_to_headers: [{ header_name: "x-sub", claim_name: "sub" }] }) },
      rules: [{ match: { prefix: "/" }, requires: { allow_missing: {} } }],
    }), "/", [["x-sub", "forged"]]);
    expect(anon.action).toBe(Action.Continue);
    expect(anon.upstream.has("x-sub")).toBe(false);
  });
});

describe("auth jwt: rules and requirements", () => {
  const a = rsaKey("RS256", "a");
  const b = ecKey("ES256", "b");
  const B_ISS = "https://b.example";
  const providers = {
    pa: { issuer: ISS, local_jwks: { inline_string: jwks(a) }, audiences: ["aud-a"] },
    pb: { issuer: B_ISS, local_jwks: { inline_string: jwks(b) }, from_headers: [{ name: "x-b" }] },
  };
  const ta = mint(a, claims({ aud: "aud-a" }));
  const tb = mint(b, { iss: B_ISS, exp: T0 + 60 });
  async function host() {
    return startAuth(wasm, {
      providers,
      rules: [
        { match: { path: "/health" } },
        { match: { prefix: "/any" }, requires: { requires_any: { requirements: [{ provider_name: "pa" }, { provider_name: "pb" }] } } },
        { match: { prefix: "/all" }, requires: { requires_all: { requirements: [{ provider_name: "pa" }, { provider_name: "pb" }] } } },
        { match: { prefix: "/opt" }, requires: { allow_missing: {} } },
        { match: { prefix: "/soft" }, requires: { allow_missing_or_failed: {} } },
        { match: { prefix: "/aud" }, requires: { provider_and_audiences: { provider_name: "pa", audiences: ["other"] } } },
        { match: { prefix: "/nested" }, requires: { requires_all: { requirements: [
          { requires_any: { requirements: [{ provider_name: "pa" }, { allow_missing: {} }] } }, { provider_name: "pb" }] } } },
        { match: { prefix: "/CI", case_sensitive: false }, requires: { provider_name: "pa" } },
        { match: { prefix: "/" }, requires: { provider_name: "pa" } },
      ],
    });
  }
  const A: [string, string] = bearer(ta);
  const B: [string, string] = ["x-b", tb];
  test.each<[string, string, Array<[string, string]>, number]>([
    ["path rule without requires", "/health", [], 0],
    ["path rule is exact (query ignored)", "/health?x=1", [], 0],
    ["a longer path falls to the next rule", "/healthz", [], 401],
    ["requires_any: first provider", "/any", [A], 0],
    ["requires_any: second provider", "/any", [B], 0],
    ["requires_any: none", "/any", [], 401],
    ["requires_all: both", "/all", [A, B], 0],
    ["requires_all: one missing", "/all", [A], 401],
    ["allow_missing: no token", "/opt", [], 0],
    ["allow_missing: valid token", "/opt", [B], 0],
    ["allow_missing: invalid token refused", "/opt", [bearer(ta.slice(0, -3) + "abc")], 401],
    ["allow_missing_or_failed: invalid token passes", "/soft", [bearer("garbage")], 0],
    ["provider_and_audiences overrides the provider's audiences", "/aud", [A], 403],
    ["nested: optional A and required B", "/nested", [B], 0],
    ["nested: B missing", "/nested", [A], 401],
    ["case-insensitive prefix", "/ci/x", [A], 0],
    ["default rule", "/other", [A], 0],
  ])("%s", async (_name, path, headers, status) => {
    expect(send(await host(), path, headers).status).toBe(status);
  });

  test("no rule matching: the request passes unverified; bypass_cors_preflight skips verification for preflights only", async () => {
    const h = await startAuth(wasm, { providers, rules: [{ match: { prefix: "/api" }, requires: { provider_name: "pa" } }], bypass_cors_preflight: true });
    expect(send(h, "/public").status).toBe(0);
    const s = h.newHttpStream();
    s.sendRequestHeaders([[":method", "OPTIONS"], [":path", "/api"], [":authority", "h"], ["origin", "https://a"], ["access-control-request-method", "GET"]], true);
    expect(s.localResponse).toBeNull();
    expect(send(h, "/api").status).toBe(401);
  });
});

describe("auth jwt: token cache", () => {
  test("a repeated token is verified once; a different provider or a changed key set verifies again; the cache is bounded", async () => {
    const host = await startAuth(wasm, { providers: { p: provider([rs]) }, rules: requireP(), limits: { token_cache_size: 4 } });
    const t = mint(rs, claims());
    for (let i = 0; i < 5; i++) expect(send(host, "/", [bearer(t)]).action).toBe(Action.Continue);
    expect([host.metric("auth.token_cache.misses")!.value, host.metric("auth.token_cache.hits")!.value]).toEqual([1, 4]);
    for (let i = 0; i < 10; i++) send(host, "/", [bearer(mint(rs, claims({ i })))]);
    send(host, "/", [bearer(t)]); // evicted by the 10 newer tokens
    expect(host.metric("auth.token_cache.misses")!.value).toBe(12);
  });
  test("a cached token with a wrong audience is still refused (claims are checked on every use)", async () => {
    const host = await single({ audiences: ["a"] });
    const t = mint(rs, claims({ aud: "b" }));
    expect(send(host, "/", [bearer(t)]).status).toBe(403);
    expect(send(host, "/", [bearer(t)]).status).toBe(403);
  });
});

describe("auth jwt: configuration", () => {
  async function refused(config: unknown): Promise<string> {
    const { Host } = await import("../../../src/emulator");
    const host = await Host.load(wasm, { pluginConfig: typeof config === "string" ? config : JSON.stringify(config) });
    host.startVm();
    expect(host.configure()).toBe(false);
    const errors = host.logMessages(LogLevel.Error);
    expect(errors.length).toBe(1);
    return errors[0];
  }
  const P = { issuer: ISS, local_jwks: { inline_string: jwks(rs) } };
  test.each<[string, unknown, RegExp]>([
    ["unknown top-level field", { providers: { p: P }, rules: requireP(), rulez: [] }, /auth: invalid configuration: rulez: unknown field \(expected one of: providers, rules,/],
    ["unknown provider field", { providers: { p: { ...P, isuer: "x" } }, rules: requireP() }, /providers\.p\.isuer: unknown field/],
    ["payload_in_metadata", { providers: { p: { ...P, payload_in_metadata: "m" } }, rules: requireP() }, /providers\.p\.payload_in_metadata: not supported: Wasm filters cannot write Envoy dynamic metadata/],
    ["local_jwks.filename", { providers: { p: { issuer: "i", local_jwks: { filename: "/etc/jwks" } } }, rules: requireP() }, /local_jwks\.filename: not supported: a Wasm VM has no file system/],
    ["requirement_map", { providers: { p: P }, rules: requireP(), requirement_map: {} }, /requirement_map: not supported/],
    ["rule header matcher", { providers: { p: P }, rules: [{ match: { prefix: "/", headers: [] } }] }, /rules\[0\]\.match\.headers: not supported/],
    ["unknown provider in rule", { providers: { p: P }, rules: requireP("q") }, /rules\[0\]\.requires\.provider_name: no provider named "q"/],
    ["requires_any with one item", { providers: { p: P }, rules: [{ match: { prefix: "/" }, requires: { requires_any: { requirements: [{ provider_name: "p" }] } } }] }, /needs at least 2 requirements/],
    ["no jwks", { providers: { p: { issuer: "i" } }, rules: requireP() }, /providers\.p: one of remote_jwks, local_jwks is required/],
    ["both jwks", { providers: { p: { ...P, remote_jwks: { http_uri: { uri: "http://a/", cluster: "c", timeout: "1s" } } } }, rules: requireP() }, /set only one of remote_jwks, local_jwks/],
    ["bad inline JWKS", { providers: { p: { issuer: "i", local_jwks: { inline_string: '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}' } } }, rules: requireP() }, /local_jwks\.inline_string: Jwks doesn't have any valid public key \(keys\[0\]: RSA key refused/],
    ["short HMAC key", { providers: { p: { issuer: "i", local_jwks: { inline_string: JSON.stringify({ keys: [{ kty: "oct", k: b64u(Buffer.alloc(16)) }] }) } } }, rules: requireP() }, /HMAC key shorter than 32 bytes/],
    ["providers without rules", { providers: { p: P } }, /rules: no rules/],
    ["remote uri", { providers: { p: { issuer: "i", remote_jwks: { http_uri: { uri: "jwks", cluster: "c", timeout: "1s" } } } }, rules: requireP() }, /http_uri\.uri: must be an absolute http/],
    ["duplicate JSON keys", '{"rules": [], "rules": []}', /duplicate key "rules"/],
    ["clock skew type", { providers: { p: { ...P, clock_skew_seconds: -1 } }, rules: requireP() }, /clock_skew_seconds: must be between 0 and/],
  ])("%s is refused with a sentence naming the field", async (_n, config, re) => {
    expect(await refused(config)).toMatch(re);
  });

  test("an empty configuration passes every request", async () => {
    expect(send(await startAuth(wasm, ""), "/").action).toBe(Action.Continue);
  });
});
