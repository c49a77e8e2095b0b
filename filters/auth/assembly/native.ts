// Signature checks in the host: Envoy's `verify_signature` foreign function (source/extensions/common/wasm/
// foreign.cc), which runs BoringSSL's EVP_DigestVerify with the key's default padding. That covers RS256/384/512
// (PKCS#1 v1.5) and ES256/ES384 (ECDSA, DER signature); it takes no padding parameter and BoringSSL parses no
// RSA-PSS public key from a SubjectPublicKeyInfo here, so PS* (and HS*) stay with the filter's Wasm crypto.
// Used when the host has the function and the configuration does not turn it off (`host_crypto: false`);
// decided once per configuration. A host error (BadArgument, a reply that does not parse) falls back to the
// Wasm check, so the decision is the same either way and nothing traps.

import { hostHas, verifySignature, WasmResult, log } from "proxy-wasm-as";
import { ecdsaSignatureDer } from "./der";
import { Alg } from "./jwk";

let errorLogged = false;

/**
 * Whether RS* and ES* signatures go to the host for a configuration: when it allows it (`host_crypto`) and the
 * host has verify_signature (asked once per VM). Each plugin (root context) decides for itself.
 */
export function useHostVerify(allowed: bool): bool {
  return allowed && hostHas("verify_signature");
}

/** The configure-time log sentence for that decision. */
export function verifierSentence(allowed: bool, host: bool): string {
  if (host) return "RS256/384/512 and ES256/384 signatures are verified by the host (verify_signature); PS* and HS* in Wasm";
  return allowed ? "the host has no verify_signature: all signatures are verified in Wasm" : "host_crypto is false: all signatures are verified in Wasm";
}

/** True when `alg` is one the host verifies (verify_signature has no PSS and no HMAC). */
export function hostAlg(alg: Alg): bool {
  return (alg >= Alg.RS256 && alg <= Alg.RS512) || alg == Alg.ES256 || alg == Alg.ES384;
}

@lazy const SHA256 = "sha256";
@lazy const SHA384 = "sha384";
@lazy const SHA512 = "sha512";

function hashName(alg: Alg): string {
  switch (alg) {
    case Alg.RS256: case Alg.ES256: return SHA256;
    case Alg.RS384: case Alg.ES384: return SHA384;
    default: return SHA512;
  }
}

/** Outcome of a host check: the signature holds, does not, or the host could not answer (use Wasm). */
export enum HostVerdict { Valid, Invalid, Error }

/**
 * Verifies `sig` over `msg` with the key's SubjectPublicKeyInfo `spki` in the host. For ES*, `sig` is the JWS
 * r‖s form and must be exactly twice the curve's size; it is passed as DER.
 */
export function hostVerify(alg: Alg, spki: Uint8Array, msg: Uint8Array, sig: Uint8Array): HostVerdict {
  let s = sig;
  if (alg == Alg.ES256 || alg == Alg.ES384) {
    const der = ecdsaSignatureDer(sig, alg == Alg.ES256 ? 32 : 48);
    if (der === null) return HostVerdict.Invalid;
    s = der;
  }
  const r = verifySignature(hashName(alg), bufferOf(spki), bufferOf(s), bufferOf(msg));
  if (r.status != WasmResult.Ok) {
    if (!errorLogged) {
      errorLogged = true;
      log.warn("auth: verify_signature failed in the host (status " + (<i32>r.status).toString() + "); verifying in Wasm instead");
    }
    return HostVerdict.Error;
  }
  return r.ok ? HostVerdict.Valid : HostVerdict.Invalid;
}

/** The bytes of a view as an ArrayBuffer: the buffer itself when the view covers all of it, else a copy. */
function bufferOf(v: Uint8Array): ArrayBuffer {
  if (v.byteOffset == 0 && v.byteLength == v.buffer.byteLength) return v.buffer;
  return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength);
}
