// Test-only entry for p256.test.ts: the P-256 field arithmetic on 32-byte little-endian slots the test
// writes into the module's memory, and ECDSA over a digest the test chooses (so it can build scalars
// such as u1 = 0 or a result at infinity). Compiled with `--exportRuntime`, like crypto-entry.ts.
import "proxy-wasm-as/assembly/runtime";
import { feMul, feSqr, feAdd, feSub } from "../assembly/crypto/generated/p256-field";
import { EcCurve, EcPublicKey, ecdsaVerify } from "../assembly/crypto/ec";

/** Three 32-byte slots: two operands and the result. */
const SLOTS: usize = memory.data(96, 16);

export function slots(): usize { return SLOTS; }
export function testFeMul(): void { feMul(SLOTS + 64, SLOTS, SLOTS + 32); }
export function testFeAdd(): void { feAdd(SLOTS + 64, SLOTS, SLOTS + 32); }
export function testFeSub(): void { feSub(SLOTS + 64, SLOTS, SLOTS + 32); }
export function testFeSqr(): void { feSqr(SLOTS + 64, SLOTS); }

export function testEcKey(curve: i32, x: ArrayBuffer, y: ArrayBuffer): EcPublicKey | null {
  return EcPublicKey.fromBytes(<EcCurve>curve, Uint8Array.wrap(x), Uint8Array.wrap(y));
}

export function testEcdsaDigest(key: EcPublicKey, digest: ArrayBuffer, sig: ArrayBuffer): bool {
  return key.verifyDigest(changetype<usize>(digest), digest.byteLength, changetype<usize>(sig), sig.byteLength);
}

export function testEcdsaKey(key: EcPublicKey, msg: ArrayBuffer, sig: ArrayBuffer): bool {
  return ecdsaVerify(key, Uint8Array.wrap(msg), Uint8Array.wrap(sig));
}
