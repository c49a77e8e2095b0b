// Test-only entry: exposes the JWS/JWKS layer of the auth filter (jwk.ts, jwt.ts) to Node, for the
// Wycheproof JWS/JWK vectors and for fuzzing. Compiled with `--exportRuntime`; see auth-harness.ts.
import "proxy-wasm-as/assembly/runtime";
import { parseJwks } from "../assembly/jwk";
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
