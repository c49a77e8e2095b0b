// The host path's encodings against Wycheproof's signature files: der.ts (SubjectPublicKeyInfo, r‖s → DER
// with minimal integers) and native.ts, answered by the emulator's verify_signature (node:crypto). ECDSA
// P1363 vectors cover r and s with leading zeros, a high bit, zero, the order and beyond, and wrong lengths;
// RSA PKCS#1 v1.5 vectors cover malformed paddings and lengths. Every `valid` must verify and every
// `invalid` be refused, as the Wasm crypto does (tests/crypto.test.ts) on the same files.
import { JwsLayer, loadJwsLayer } from "./auth-harness";
import { countLine, readWycheproof, WycheproofTest } from "./crypto-harness";

let jws: JwsLayer;
beforeAll(async () => { jws = await loadJwsLayer(); }, 120_000);

const hex = (s: string) => Buffer.from(s, "hex");
interface Mismatch { tcId: number; result: string; got: string; comment: string; flags: string[] }
const mismatch = (t: WycheproofTest, got: string): Mismatch => ({ tcId: t.tcId, result: t.result, got, comment: t.comment, flags: t.flags });

interface EcGroup { publicKey: { wx: string; wy: string } }
interface RsaGroup { publicKey: { modulus: string; publicExponent: string } }

/** A coordinate as exactly `size` bytes (Wycheproof writes them as integers: a leading 00, or shorter). */
function coordinate(h: string, size: number): Buffer {
  const b = hex(h.length % 2 ? `0${h}` : h);
  const v = b.subarray(Math.max(0, b.length - size));
  return Buffer.concat([Buffer.alloc(size - v.length), v]);
}

describe("auth host crypto: Wycheproof through der.ts and verify_signature", () => {
  it.each([
    ["ecdsa_secp256r1_sha256_p1363_test.json", "ES256", 32],
    ["ecdsa_secp384r1_sha384_p1363_test.json", "ES384", 48],
  ] as const)("%s: every valid signature verifies, every invalid one is refused", (file, alg, size) => {
    const doc = readWycheproof<EcGroup>(file);
    const all: WycheproofTest[] = [];
    const bad: Mismatch[] = [];
    for (const g of doc.testGroups) {
      const x = coordinate(g.publicKey.wx, size), y = coordinate(g.publicKey.wy, size);
      for (const t of g.tests) {
        all.push(t);
        const got = jws.hostVerify(alg, x, y, hex(t.msg as string), hex(t.sig as string));
        if (got !== (t.result === "valid" ? "valid" : "invalid")) bad.push(mismatch(t, got));
      }
    }
    expect(bad).toEqual([]);
    expect(all.length).toBe(doc.numberOfTests);
    console.log(`host path: ${countLine(file, all)}`);
  });

  it.each(["rsa_signature_2048_sha256_test.json", "rsa_signature_3072_sha256_test.json"])(
    "%s (RS256): every valid signature verifies, every invalid one is refused", (file) => {
      const doc = readWycheproof<RsaGroup>(file);
      const all: WycheproofTest[] = [];
      const bad: Mismatch[] = [];
      for (const g of doc.testGroups) {
        const n = hex(g.publicKey.modulus), e = hex(g.publicKey.publicExponent);
        for (const t of g.tests) {
          all.push(t);
          // `acceptable` vectors are all MissingNull (a DigestInfo without its NULL): refused, as in Wasm.
          if (t.result === "acceptable") expect(t.flags).toEqual(["MissingNull"]);
          const got = jws.hostVerify("RS256", n, e, hex(t.msg as string), hex(t.sig as string));
          if (got !== (t.result === "valid" ? "valid" : "invalid")) bad.push(mismatch(t, got));
        }
      }
      expect(bad).toEqual([]);
      expect(all.length).toBe(doc.numberOfTests);
      console.log(`host path: ${countLine(file, all)}`);
    });
});
