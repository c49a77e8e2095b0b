// Test-only entry: exposes filters/auth/assembly/crypto to Node. Compiled with `--exportRuntime`, so the
// test allocates ArrayBuffers with `__new` and passes their pointers; results come back as numbers or
// as ArrayBuffer pointers.
// The build routes abort/seed to the SDK runtime (see src/build/compile.ts), so that file must be part of the program.
import "proxy-wasm-as/assembly/runtime";
import { HashAlg, digest } from "../assembly/crypto/digest";
import { hmac, hmacVerify } from "../assembly/crypto/hmac";
import { constantTimeEqual } from "../assembly/crypto/ct";
import { RsaPublicKey, rsaPkcs1v15Verify, rsaPssVerify } from "../assembly/crypto/rsa";
import { EcCurve, EcPublicKey, ecdsaVerify } from "../assembly/crypto/ec";

// @ts-ignore: decorator
@inline function view(b: ArrayBuffer): Uint8Array { return Uint8Array.wrap(b); }

export function testDigest(alg: i32, data: ArrayBuffer): ArrayBuffer {
  return digest(<HashAlg>alg, view(data)).buffer;
}

export function testHmac(alg: i32, key: ArrayBuffer, msg: ArrayBuffer): ArrayBuffer {
  return hmac(<HashAlg>alg, view(key), view(msg)).buffer;
}

export function testHmacVerify(alg: i32, key: ArrayBuffer, msg: ArrayBuffer, tag: ArrayBuffer, tagLen: i32): bool {
  return hmacVerify(<HashAlg>alg, view(key), view(msg), view(tag), tagLen);
}

export function testConstantTimeEqual(a: ArrayBuffer, b: ArrayBuffer): bool {
  return constantTimeEqual(view(a), view(b));
}

export function testRsaKey(n: ArrayBuffer, e: ArrayBuffer, minBits: i32): RsaPublicKey | null {
  return RsaPublicKey.fromBytes(view(n), view(e), minBits);
}

/** 1 verified, 0 rejected signature, -1 rejected key. */
export function testRsaPkcs1(alg: i32, n: ArrayBuffer, e: ArrayBuffer, msg: ArrayBuffer, sig: ArrayBuffer, minBits: i32): i32 {
  const key = RsaPublicKey.fromBytes(view(n), view(e), minBits);
  if (key === null) return -1;
  return rsaPkcs1v15Verify(key, <HashAlg>alg, view(msg), view(sig)) ? 1 : 0;
}

export function testRsaPss(alg: i32, n: ArrayBuffer, e: ArrayBuffer, msg: ArrayBuffer, sig: ArrayBuffer, saltLen: i32, minBits: i32): i32 {
  const key = RsaPublicKey.fromBytes(view(n), view(e), minBits);
  if (key === null) return -1;
  return rsaPssVerify(key, <HashAlg>alg, view(msg), view(sig), saltLen) ? 1 : 0;
}

export function testRsaPkcs1Key(key: RsaPublicKey, alg: i32, msg: ArrayBuffer, sig: ArrayBuffer): bool {
  return rsaPkcs1v15Verify(key, <HashAlg>alg, view(msg), view(sig));
}

export function testRsaPssKey(key: RsaPublicKey, alg: i32, msg: ArrayBuffer, sig: ArrayBuffer, saltLen: i32): bool {
  return rsaPssVerify(key, <HashAlg>alg, view(msg), view(sig), saltLen);
}

export function testEcKey(curve: i32, x: ArrayBuffer, y: ArrayBuffer): EcPublicKey | null {
  return EcPublicKey.fromBytes(<EcCurve>curve, view(x), view(y));
}

/** 1 verified, 0 rejected signature, -1 rejected key. */
export function testEcdsa(curve: i32, x: ArrayBuffer, y: ArrayBuffer, msg: ArrayBuffer, sig: ArrayBuffer): i32 {
  const key = EcPublicKey.fromBytes(<EcCurve>curve, view(x), view(y));
  if (key === null) return -1;
  return ecdsaVerify(key, view(msg), view(sig)) ? 1 : 0;
}

export function testEcdsaKey(key: EcPublicKey, msg: ArrayBuffer, sig: ArrayBuffer): bool {
  return ecdsaVerify(key, view(msg), view(sig));
}
