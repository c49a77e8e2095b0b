// JSON Web Keys (RFC 7517) and key sets: parsed once (from local_jwks or a remote fetch) into keys that are
// prepared for verification. A key that cannot be used for JWS verification is skipped with a reason;
// a set with no usable key, or one that mixes secret (oct) and public keys, is refused as a whole.

import { JsonValue, JsonKind, parseJson } from "proxy-wasm-as";
import { HashAlg, hashLen } from "./crypto/digest";
import { RsaPublicKey, RSA_MIN_BITS_JWT } from "./crypto/rsa";
import { EcCurve, EcPublicKey } from "./crypto/ec";
import { base64UrlDecodeString } from "./encoding";
import { rsaSpki, ecSpki } from "./der";

/** The JWS algorithms the filter verifies (RFC 7518 §3.1). `none` is not one of them, by design. */
export enum Alg { None = -1, HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 }

/** The algorithm a JWS header names, or Alg.None for anything unsupported (including "none"). */
export function algFromName(name: string): Alg {
  if (name.length != 5) return Alg.None;
  if (name == "HS256") return Alg.HS256;
  if (name == "HS384") return Alg.HS384;
  if (name == "HS512") return Alg.HS512;
  if (name == "RS256") return Alg.RS256;
  if (name == "RS384") return Alg.RS384;
  if (name == "RS512") return Alg.RS512;
  if (name == "PS256") return Alg.PS256;
  if (name == "PS384") return Alg.PS384;
  if (name == "PS512") return Alg.PS512;
  if (name == "ES256") return Alg.ES256;
  if (name == "ES384") return Alg.ES384;
  return Alg.None;
}

export function algHash(alg: Alg): HashAlg {
  switch (alg) {
    case Alg.HS256: case Alg.RS256: case Alg.PS256: case Alg.ES256: return HashAlg.SHA256;
    case Alg.HS384: case Alg.RS384: case Alg.PS384: case Alg.ES384: return HashAlg.SHA384;
    default: return HashAlg.SHA512;
  }
}

export enum KeyType { Oct, Rsa, Ec }

/** One usable verification key. */
export class Jwk {
  kid: string | null = null;
  /** The key's own `alg`, or Alg.None when the JWK does not restrict it. */
  alg: Alg = Alg.None;
  type: KeyType = KeyType.Oct;
  secret: Uint8Array | null = null;
  rsa: RsaPublicKey | null = null;
  ec: EcPublicKey | null = null;
  /** RSA and EC keys: the DER SubjectPublicKeyInfo the host's verify_signature reads (built once, here). */
  spki: Uint8Array | null = null;

  /**
   * True when a token signed with `alg` may be checked with this key: the JWK's own alg must equal it
   * when given; otherwise the key type decides (oct: HS*, RSA: RS or PS, EC: the curve's ES alg). This is
   * what stops HMAC/RSA key confusion: an RSA or EC key is never used as an HMAC secret.
   */
  fits(alg: Alg): bool {
    if (this.alg != Alg.None && this.alg != alg) return false;
    switch (this.type) {
      case KeyType.Oct: return (alg == Alg.HS256 || alg == Alg.HS384 || alg == Alg.HS512) && this.secret!.byteLength >= hashLen(algHash(alg));
      case KeyType.Rsa: return alg >= Alg.RS256 && alg <= Alg.PS512;
      default: return this.ec!.curve == EcCurve.P256 ? alg == Alg.ES256 : alg == Alg.ES384;
    }
  }
}

/** A parsed key set. `skipped` explains each key that was left out (for logs; it never names key material). */
export class KeySet {
  keys: Jwk[] = [];
  skipped: string[] = [];
}

export class JwksResult {
  constructor(public readonly keys: KeySet | null, public readonly error: string) {}
  get ok(): bool { return this.keys !== null; }
}

/** Most keys a set may hold: bounds the work a token without `kid` can cause (one try per fitting key). */
export const MAX_KEYS = 64;
/** Largest JWKS document accepted. */
export const MAX_JWKS_BYTES = 256 * 1024;
/** Most members in any object of a JWKS (a JWK has about ten). */
export const MAX_JWK_MEMBERS = 64;
/** Largest RSA public exponent accepted, as BoringSSL: e ≤ 2^32 − 1 (real keys use 65537). */
export const MAX_RSA_EXPONENT_BYTES = 4;

/** Parses a JWKS document ({"keys": [...]}; a single JWK object is accepted as a set of one). */
export function parseJwks(bytes: ArrayBuffer): JwksResult {
  if (bytes.byteLength > MAX_JWKS_BYTES) return new JwksResult(null, "Jwks is larger than " + MAX_JWKS_BYTES.toString() + " bytes");
  const r = parseJson(bytes, MAX_JWK_MEMBERS);
  if (!r.ok) return new JwksResult(null, "Jwks is an invalid JSON (" + r.error + ")");
  const doc = r.value!;
  if (!doc.isObject) return new JwksResult(null, "Jwks is an invalid JSON (not an object)");
  const set = new KeySet();
  const keys = doc.get("keys");
  if (keys === null) {
    if (doc.get("kty") === null) return new JwksResult(null, "Jwks does not have [keys] field");
    addKey(set, doc, 0);
  } else {
    if (!keys.isArray) return new JwksResult(null, "[keys] in Jwks is not an array");
    if (keys.length > MAX_KEYS) return new JwksResult(null, "Jwks has more than " + MAX_KEYS.toString() + " keys");
    for (let i = 0; i < keys.length; i++) addKey(set, keys.at(i), i);
  }
  // Two keys with one kid make "the key for this token" ambiguous (RFC 7517 §4.5 asks kids to differ
  // within a set); the set is refused rather than guessing, whichever of the two would be usable.
  const kids = new Set<string>();
  const list = keys !== null ? keys.items : [doc];
  for (let i = 0; i < list.length; i++) {
    const kid = list[i].isObject ? list[i].get("kid") : null;
    if (kid === null || !kid.isString) continue;
    if (kids.has(kid.stringValue)) return new JwksResult(null, "Jwks has several keys with kid " + quoted(kid.stringValue));
    kids.add(kid.stringValue);
  }
  if (set.keys.length == 0) {
    return new JwksResult(null, "Jwks doesn't have any valid public key" + (set.skipped.length > 0 ? " (" + set.skipped.join("; ") + ")" : ""));
  }
  let secret = 0;
  for (let i = 0; i < set.keys.length; i++) if (set.keys[i].type == KeyType.Oct) secret++;
  if (secret > 0 && secret < set.keys.length) {
    return new JwksResult(null, "Jwks mixes secret (oct) and public keys; put HMAC secrets in a provider of their own");
  }
  return new JwksResult(set, "");
}

function str(o: JsonValue, key: string): string | null {
  const v = o.get(key);
  return v !== null && v.isString ? v.stringValue : null;
}

function addKey(set: KeySet, o: JsonValue, index: i32): void {
  const where = "keys[" + index.toString() + "]";
  const reason = keyProblem(set, o);
  if (reason !== null) set.skipped.push(where + ": " + reason);
}

/** Adds the key to the set, or returns why it cannot be used. */
function keyProblem(set: KeySet, o: JsonValue): string | null {
  if (!o.isObject) return "not an object";
  const kty = str(o, "kty");
  if (kty === null) return "[kty] is missing in [keys]";
  const use = o.get("use");
  if (use !== null && !(use.isString && use.stringValue == "sig")) return "[use] is not \"sig\"";
  const ops = o.get("key_ops");
  if (ops !== null) {
    if (!ops.isArray) return "[key_ops] is not an array";
    let verify = false;
    for (let i = 0; i < ops.length; i++) if (ops.at(i).isString && ops.at(i).stringValue == "verify") verify = true;
    if (!verify) return "[key_ops] does not allow \"verify\"";
  }
  const k = new Jwk();
  const kidV = o.get("kid");
  if (kidV !== null) {
    if (!kidV.isString) return "[kid] is not a string";
    k.kid = kidV.stringValue;
  }
  const algV = o.get("alg");
  if (algV !== null) {
    if (!algV.isString) return "[alg] is not a string";
    k.alg = algFromName(algV.stringValue);
    if (k.alg == Alg.None) return "[alg] " + quoted(algV.stringValue) + " is not a supported JWS algorithm";
  }
  if (kty == "RSA") {
    if (k.alg != Alg.None && !(k.alg >= Alg.RS256 && k.alg <= Alg.PS512)) return "[alg] is not started with [RS] or [PS] for a RSA key";
    const n = str(o, "n"), e = str(o, "e");
    if (n === null || e === null) return "Jwks RSA [n] or [e] field is missing or has a parse error";
    const nb = base64UrlDecodeString(n), eb = base64UrlDecodeString(e);
    if (nb === null || eb === null) return "Jwks RSA [n] or [e] field is missing or has a parse error";
    if (nb.byteLength > 0 && nb[0] == 0) return "[n] has a leading zero byte";
    let eStart = 0;
    while (eStart < eb.byteLength && eb[eStart] == 0) eStart++;
    if (eb.byteLength - eStart > MAX_RSA_EXPONENT_BYTES) return "RSA exponent [e] is larger than 2^32 - 1";
    const key = RsaPublicKey.fromBytes(nb, eb, RSA_MIN_BITS_JWT);
    if (key === null) return "RSA key refused (modulus under 2048 or over 4096 bits, or a bad exponent)";
    if (hasRocaFingerprint(nb)) return "RSA key has the ROCA fingerprint (CVE-2017-15361), its private key can be recovered";
    k.type = KeyType.Rsa;
    k.rsa = key;
    k.spki = rsaSpki(nb, eb);
  } else if (kty == "EC") {
    const crv = str(o, "crv");
    let curve: EcCurve;
    let size: i32;
    if (crv == "P-256") { curve = EcCurve.P256; size = 32; }
    else if (crv == "P-384") { curve = EcCurve.P384; size = 48; }
    else return "[crv] or [alg] field is not supported for an EC key";
    if (k.alg != Alg.None && k.alg != (curve == EcCurve.P256 ? Alg.ES256 : Alg.ES384)) return "[crv] field specified is not compatible with [alg] for an EC key";
    const x = str(o, "x"), y = str(o, "y");
    if (x === null || y === null) return "Jwks EC [x] or [y] field is missing";
    const xb = base64UrlDecodeString(x), yb = base64UrlDecodeString(y);
    if (xb === null || yb === null) return "Jwks EC [x] or [y] field is an invalid Base64.";
    if (xb.byteLength != size || yb.byteLength != size) return "[x] and [y] must be exactly " + size.toString() + " bytes for " + crv;
    const key = EcPublicKey.fromBytes(curve, xb, yb);
    if (key === null) return "Jwks EC [x] and [y] fields have a parse error. (not a point on " + crv + ")";
    k.type = KeyType.Ec;
    k.ec = key;
    k.spki = ecSpki(curve, xb, yb);
  } else if (kty == "oct") {
    if (k.alg != Alg.None && !(k.alg >= Alg.HS256 && k.alg <= Alg.HS512)) return "[alg] does not start with [HS] for an HMAC key";
    const kv = str(o, "k");
    if (kv === null) return "[k] field is missing for an HMAC key";
    const kb = base64UrlDecodeString(kv);
    if (kb === null) return "Jwks Oct key is an invalid Base64";
    // RFC 7518 §3.2: the key must be at least as long as the hash output.
    const min = k.alg != Alg.None ? hashLen(algHash(k.alg)) : 32;
    if (kb.byteLength < min) return "HMAC key shorter than " + min.toString() + " bytes (RFC 7518 §3.2)";
    k.type = KeyType.Oct;
    k.secret = kb;
  } else {
    return "[kty] " + quoted(kty) + " is not supported in [keys]";
  }
  set.keys.push(k);
  return null;
}

function quoted(s: string): string {
  return "\"" + (s.length > 32 ? s.substring(0, 32) + "…" : s) + "\"";
}

// ---- ROCA (CVE-2017-15361) fingerprint ----
// Moduli generated by the affected Infineon library are p·q with p, q = k·M + (65537^a mod M), M the
// product of the first primes. Such an N, taken modulo each small prime r, lies in the subgroup that
// 65537 generates modulo r; a random modulus does so for all the primes below only with negligible
// probability. This is the published detection test (Nemec et al., CCS 2017).

const ROCA_PRIMES: StaticArray<u32> = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167];
/** One 256-bit set per prime: the residues in the subgroup generated by 65537. */
let rocaSets: StaticArray<u64> | null = null;

function rocaTable(): StaticArray<u64> {
  let t = rocaSets;
  if (t !== null) return t;
  t = new StaticArray<u64>(ROCA_PRIMES.length * 4);
  for (let i = 0; i < ROCA_PRIMES.length; i++) {
    const p = ROCA_PRIMES[i];
    const g = <u32>(65537 % p);
    let x: u32 = 1;
    do {
      t[i * 4 + <i32>(x >> 6)] |= (<u64>1) << (x & 63);
      x = (x * g) % p;
    } while (x != 1);
  }
  rocaSets = t;
  return t;
}

/** True when the big-endian modulus `n` has the ROCA fingerprint. */
export function hasRocaFingerprint(n: Uint8Array): bool {
  const t = rocaTable();
  for (let i = 0; i < ROCA_PRIMES.length; i++) {
    const p = ROCA_PRIMES[i];
    let r: u32 = 0;
    for (let j = 0; j < n.byteLength; j++) r = ((r << 8) | <u32>n[j]) % p;
    if ((t[i * 4 + <i32>(r >> 6)] & ((<u64>1) << (r & 63))) == 0) return false;
  }
  return true;
}
