// Test-only entry: exposes the JWS/JWKS layer of the auth filter (jwk.ts, jwt.ts) to Node, for the
// Wycheproof JWS/JWK vectors and for fuzzing. Compiled with `--exportRuntime`; see auth-harness.ts.
import "proxy-wasm-as/assembly/runtime";
import { Alg, parseJwks } from "../assembly/jwk";
import { rsaSpki, ecSpki } from "../assembly/der";
import { hostVerify } from "../assembly/native";
import { EcCurve } from "../assembly/crypto/ec";
import { verifyJws } from "../assembly/jwt";
import { allocateForHost } from "proxy-wasm-as/assembly/internal/memory";

/** Where the host writes a foreign function's result (what `malloc` is in a filter). */
export function malloc(size: usize): usize {
  return allocateForHost(size);
}

/** Keys in the set, or -1 when the JWKS is refused. */
export function jwksKeyCount(jwks: ArrayBuffer): i32 {
  const r = parseJwks(jwks);
  return r.ok ? r.keys!.keys.length : -1;
}

/**
 * The Status of verifying `token` with the set (-1: the JWKS itself is refused); `host` checks RS* and ES*
 * signatures with the host's verify_signature, as the filter does when its host has it.
 */
export function jwsVerify(token: ArrayBuffer, jwks: ArrayBuffer, parsePayload: bool, maxBytes: i32, host: bool): i32 {
  const r = parseJwks(jwks);
  if (!r.ok) return -1;
  return <i32>verifyJws(token, r.keys!, maxBytes, parsePayload, host).status;
}

/**
 * The host path alone, for the Wycheproof signature files: the key as der.ts encodes it, the signature (r‖s
 * for ECDSA) through native.ts to verify_signature. Returns the HostVerdict (0 valid, 1 invalid, 2 host error).
 * `alg`: 0–2 RS256/384/512, 3 ES256, 4 ES384.
 */
export function hostVerifyRaw(alg: i32, a: ArrayBuffer, b: ArrayBuffer, msg: ArrayBuffer, sig: ArrayBuffer): i32 {
  const jws = alg < 3 ? Alg.RS256 + alg : alg == 3 ? Alg.ES256 : Alg.ES384;
  const spki = alg < 3 ? rsaSpki(Uint8Array.wrap(a), Uint8Array.wrap(b))
    : ecSpki(alg == 3 ? EcCurve.P256 : EcCurve.P384, Uint8Array.wrap(a), Uint8Array.wrap(b));
  return <i32>hostVerify(jws, spki, Uint8Array.wrap(msg), Uint8Array.wrap(sig));
}
