// Wycheproof's JSON Web Signature and JSON Web Key vectors through the filter's own JWS/JWKS layer
// (assembly/jwk.ts + assembly/jwt.ts, compiled to Wasm): every `valid` verifies and every `invalid` is
// refused, except the pinned, documented decisions below (see ../README.md, "Wycheproof decisions").
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { JwsLayer, loadJwsLayer, Status, WYCHEPROOF_DIR } from "./auth-harness";

let jws: JwsLayer;
beforeAll(async () => { jws = await loadJwsLayer(); }, 120_000);

interface Vector { tcId: number; comment: string; jws: string; result: "valid" | "invalid" | "acceptable"; flags: string[] }
interface Group { comment: string; public?: Record<string, unknown>; private?: Record<string, unknown>; tests: Vector[] }

function load(file: string): Group[] {
  return (JSON.parse(readFileSync(join(WYCHEPROOF_DIR, file), "utf8")) as { testGroups: Group[] }).testGroups;
}

/** The verification key set of a group: the public key when there is one, else the (symmetric) private key. */
function keySet(g: Group): string {
  const k = g.public ?? g.private!;
  return JSON.stringify("keys" in k ? k : { keys: [k] });
}

/**
 * `valid` vectors this filter refuses on purpose, with the status it gives:
 * - 372, 373: a '?' inside the header or payload segment. Wycheproof accepts verifiers that drop invalid
 *   base64 characters and re-encode; this filter decodes strictly and signs over the exact text (RFC 7515
 *   §5.2), so the segment does not decode.
 * - 347, 351: ES512 over P-521, an algorithm this filter does not implement; the key set with only a
 *   P-521 key is refused (-1).
 * - 346, 350: a PS384 token checked with a JWK whose `alg` is PS256. A JWK's alg restricts the key
 *   (RFC 7517 §4.4), and the same file marks the mirror case invalid (331–340: PS256/RS256 tokens on a
 *   PS512 key), so the restriction is applied both ways.
 */
const PINNED_VALID_REJECTED: Record<number, number> = {
  372: Status.JwtHeaderParseError,
  373: Status.JwtPayloadParseError,
  347: -1,
  351: -1,
  346: Status.JwksKidAlgMismatch,
  350: Status.JwksKidAlgMismatch,
};

/**
 * `invalid` vectors this filter accepts, because no verifier could refuse them and accept a `valid` one:
 * 367 ("invalidBase64Padding") and 370 ("invalidBase64PaddingInPayload") are byte for byte the token of
 * 357 ("ValidMac"); the padding they were meant to carry is not in the file. The test checks the identity.
 */
const PINNED_INVALID_ACCEPTED: Record<number, number> = { 367: 357, 370: 357 };

function run(file: string, host = false): { lines: string[]; mismatches: unknown[] } {
  const mismatches: unknown[] = [];
  let valid = 0, invalid = 0, pinned = 0;
  for (const g of load(file)) {
    const set = keySet(g);
    for (const t of g.tests) {
      const got = jws.verify(t.jws, set, false, 65536, host);
      if (t.tcId in PINNED_VALID_REJECTED && file === "json_web_signature_test.json") {
        pinned++;
        if (got !== PINNED_VALID_REJECTED[t.tcId]) mismatches.push({ tcId: t.tcId, comment: t.comment, expected: PINNED_VALID_REJECTED[t.tcId], got });
        continue;
      }
      if (t.tcId in PINNED_INVALID_ACCEPTED && file === "json_web_signature_test.json") {
        pinned++;
        const twin = g.tests.find((x) => x.tcId === PINNED_INVALID_ACCEPTED[t.tcId]);
        if (!twin || twin.jws !== t.jws || twin.result !== "valid" || got !== Status.Ok) mismatches.push({ tcId: t.tcId, comment: "no longer identical to its valid twin: decide again" });
        continue;
      }
      if (t.result === "valid") {
        valid++;
        if (got !== Status.Ok) mismatches.push({ tcId: t.tcId, group: g.comment, comment: t.comment, result: t.result, got: Status[got] ?? got });
      } else if (t.result === "invalid") {
        invalid++;
        if (got === Status.Ok) mismatches.push({ tcId: t.tcId, group: g.comment, comment: t.comment, result: t.result, got: "Ok" });
      } else {
        mismatches.push({ tcId: t.tcId, comment: "acceptable vector with no pinned decision" });
      }
    }
  }
  return { lines: [`wycheproof ${file}${host ? " (RS*/ES* in the host)" : ""}: ${valid} valid verified, ${invalid} invalid refused, ${pinned} pinned decisions (see the comments above)`], mismatches };
}

describe("auth: Wycheproof JWS and JWK vectors", () => {
  test("json_web_signature_test.json: valid verify, invalid (alg none, key confusion, embedded jwk, segments, padding) refused", () => {
    const r = run("json_web_signature_test.json");
    console.log(r.lines.join("\n"));
    expect(r.mismatches).toEqual([]);
  });

  test("json_web_key_test.json: key sets with short/empty HMAC keys, 1024-bit RSA, e=1, ROCA, wrong use/alg/curve/kty, bad points, duplicate kids, mixed symmetric and public keys are refused", () => {
    const r = run("json_web_key_test.json");
    console.log(r.lines.join("\n"));
    expect(r.mismatches).toEqual([]);
  });

  test("host verify_signature and Wasm crypto give the same status on every vector of both files", () => {
    const differ: unknown[] = [];
    const before = jws.hostCalls;
    for (const file of ["json_web_signature_test.json", "json_web_key_test.json"]) {
      for (const g of load(file)) {
        const set = keySet(g);
        for (const t of g.tests) {
          const wasm = jws.verify(t.jws, set, false, 65536, false);
          const host = jws.verify(t.jws, set, false, 65536, true);
          if (wasm !== host) differ.push({ file, tcId: t.tcId, comment: t.comment, wasm: Status[wasm] ?? wasm, host: Status[host] ?? host });
        }
      }
    }
    const calls = jws.hostCalls - before;
    console.log(`wycheproof: every vector twice, ${calls} verify_signature calls on the host path`);
    expect(differ).toEqual([]);
    expect(calls).toBeGreaterThan(0); // the host path was taken, not silently skipped
    for (const file of ["json_web_signature_test.json", "json_web_key_test.json"]) {
      const r = run(file, true);
      console.log(r.lines.join("\n"));
      expect(r.mismatches).toEqual([]);
    }
  });

  test("the vectors that matter most are refused for the right reason", () => {
    const groups = load("json_web_signature_test.json");
    const find = (id: number) => {
      for (const g of groups) for (const t of g.tests) if (t.tcId === id) return { g, t };
      throw new Error(`no tcId ${id}`);
    };
    const status = (id: number) => { const { g, t } = find(id); return jws.verify(t.jws, keySet(g)); };
    expect(status(16)).toBe(Status.JwtHeaderNotImplementedAlg); // alg none
    expect(status(341)).toBe(Status.JwtHeaderNotImplementedAlg);
    expect(status(342)).toBe(Status.JwtHeaderNotImplementedAlg); // "NONE"
    expect(status(31)).toBe(Status.JwksKidAlgMismatch); // HS256 with the EC key's bytes as secret
    expect(status(32)).toBe(Status.JwtVerificationFail); // embedded jwk ignored: the set's key does not verify it
    expect(status(4)).toBe(Status.JwtBadFormat); // two segments
    expect(status(14)).toBe(Status.JwtBadFormat); // four segments
    expect(status(17)).toBe(Status.JwtBadFormat); // JSON serialization
    expect(status(3)).toBe(Status.JwtVerificationFail); // empty signature
  });
});
