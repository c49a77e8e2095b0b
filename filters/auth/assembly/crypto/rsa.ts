// RSA signature verification (RFC 8017): RSASSA-PKCS1-v1_5 (JWS RS256/384/512) and RSASSA-PSS with
// MGF1 over the same hash (JWS PS256/384/512).
import { MAX_LIMBS, limbsFor, bnFromBytes, bnToBytes, bnCmp, bnBitLength, Montgomery } from "./bigint";
import { HashAlg, hashLen, hashInit, hashUpdate, hashFinal, digestRaw, MAX_HASH_LEN } from "./digest";

/** Smallest modulus JWS accepts (RFC 7518 §3.3, §3.5: "2048 bits or larger"). */
// @ts-ignore: decorator
@inline export const RSA_MIN_BITS_JWT: i32 = 2048;
/** Largest modulus supported: the size of the fixed-width integers in bigint.ts. */
// @ts-ignore: decorator
@inline export const RSA_MAX_BITS: i32 = MAX_LIMBS * 32;

const MAX_BYTES: i32 = MAX_LIMBS * 4;
const S: usize = memory.data(MAX_BYTES, 16); // the signature as an integer, then s^e mod n
const EM: usize = memory.data(MAX_BYTES, 16); // the encoded message recovered from the signature
const EXPECTED: usize = memory.data(MAX_BYTES, 16); // the PKCS#1 v1.5 encoding we expect
const MHASH: usize = memory.data(MAX_HASH_LEN, 16);
const HASH2: usize = memory.data(MAX_HASH_LEN, 16);
const COUNTER: usize = memory.data(4, 4);

// DigestInfo DER prefixes (RFC 8017 §9.2, note 1): SEQUENCE { AlgorithmIdentifier { OID, NULL }, OCTET STRING }.
const PREFIX_SHA256: StaticArray<u8> = [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];
const PREFIX_SHA384: StaticArray<u8> = [0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30];
const PREFIX_SHA512: StaticArray<u8> = [0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40];

/** An RSA public key checked and prepared for verification; build it once per key, verify many times. */
export class RsaPublicKey {
  /** Bit length of the modulus. */
  readonly bits: i32;
  /** Length in bytes of the modulus, and so of every signature. */
  readonly byteLength: i32;
  private readonly mont: Montgomery;
  private readonly e: StaticArray<u32>;

  /**
   * Prepares the key with modulus `n` and public exponent `e`, both big-endian bytes (leading zeros allowed).
   * Returns null for a key that cannot be right: n even or shorter than `minBits` (JWS: 2048) or longer
   * than 4096 bits; e even, below 3 or not below n.
   */
  static fromBytes(n: Uint8Array, e: Uint8Array, minBits: i32 = RSA_MIN_BITS_JWT): RsaPublicKey | null {
    if (!bnFromBytes(S, MAX_LIMBS, n.dataStart, n.byteLength)) return null;
    const bits = bnBitLength(S, MAX_LIMBS);
    if (bits < minBits) return null;
    const limbs = limbsFor(bits);
    const mont = Montgomery.create(S, limbs);
    if (mont === null) return null;
    const ex = new StaticArray<u32>(limbs);
    const exPtr = changetype<usize>(ex);
    if (!bnFromBytes(exPtr, limbs, e.dataStart, e.byteLength)) return null;
    if ((load<u32>(exPtr) & 1) == 0 || bnBitLength(exPtr, limbs) < 2) return null;
    if (bnCmp(exPtr, mont.modulus, limbs) >= 0) return null;
    return new RsaPublicKey(bits, mont, ex);
  }

  private constructor(bits: i32, mont: Montgomery, e: StaticArray<u32>) {
    this.bits = bits;
    this.byteLength = (bits + 7) >> 3;
    this.mont = mont;
    this.e = e;
  }

  /**
   * For the verifiers below, not for callers: RSAVP1 followed by I2OSP, writing s^e mod n as
   * `byteLength` bytes to this file's static EM buffer. False when the signature
   * is not exactly `byteLength` bytes or its value is not below n (RFC 8017 §5.2.2, §8.2.2 step 1).
   */
  recover(sig: usize, sigLen: i32): bool {
    if (sigLen != this.byteLength) return false;
    const limbs = this.mont.limbs;
    if (!bnFromBytes(S, limbs, sig, sigLen)) return false;
    if (bnCmp(S, this.mont.modulus, limbs) >= 0) return false;
    this.mont.modPow(S, S, changetype<usize>(this.e), this.e.length);
    bnToBytes(EM, this.byteLength, S, limbs);
    return true;
  }
}

/**
 * RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) of `sig` over `msg` with hash `alg`.
 * The expected encoding 00 01 FF…FF 00 DigestInfo is built and compared byte for byte: nothing of the
 * recovered block is parsed, so BER variants, missing NULL parameters or trailing garbage all fail.
 */
export function rsaPkcs1v15Verify(key: RsaPublicKey, alg: HashAlg, msg: Uint8Array, sig: Uint8Array): bool {
  const prefix = alg == HashAlg.SHA256 ? PREFIX_SHA256 : alg == HashAlg.SHA384 ? PREFIX_SHA384 : PREFIX_SHA512;
  const hLen = hashLen(alg);
  const tLen = prefix.length + hLen;
  const k = key.byteLength;
  if (k < tLen + 11) return false;
  if (!key.recover(sig.dataStart, sig.byteLength)) return false;
  const psEnd = <usize>(k - tLen - 1);
  store<u8>(EXPECTED, 0x00);
  store<u8>(EXPECTED, 0x01, 1);
  memory.fill(EXPECTED + 2, 0xff, psEnd - 2);
  store<u8>(EXPECTED + psEnd, 0x00);
  memory.copy(EXPECTED + psEnd + 1, changetype<usize>(prefix), <usize>prefix.length);
  digestRaw(alg, msg.dataStart, <usize>msg.byteLength, EXPECTED + psEnd + 1 + <usize>prefix.length);
  return memory.compare(EXPECTED, EM, <usize>k) == 0;
}

/** XORs MGF1(seed, len) with hash `alg` into the `len` bytes at `dst` (RFC 8017 §B.2.1). */
function mgf1Xor(alg: HashAlg, dst: usize, len: i32, seed: usize, seedLen: i32): void {
  const hLen = hashLen(alg);
  let counter: u32 = 0;
  for (let done = 0; done < len; done += hLen) {
    store<u32>(COUNTER, bswap<u32>(counter++));
    hashInit(alg);
    hashUpdate(alg, seed, <usize>seedLen);
    hashUpdate(alg, COUNTER, 4);
    hashFinal(alg, HASH2);
    const take = len - done < hLen ? len - done : hLen;
    for (let i = 0; i < take; i++) {
      const at = dst + <usize>(done + i);
      store<u8>(at, load<u8>(at) ^ load<u8>(HASH2 + <usize>i));
    }
  }
}

/**
 * RSASSA-PSS verification (RFC 8017 §8.1.2, §9.1.2) of `sig` over `msg`, with hash `alg` for both the
 * message and MGF1. `saltLen` is the salt length in bytes the signer used; -1 means the hash length,
 * which JWS requires (RFC 7518 §3.5). No other salt length is accepted than the one given.
 */
export function rsaPssVerify(key: RsaPublicKey, alg: HashAlg, msg: Uint8Array, sig: Uint8Array, saltLen: i32 = -1): bool {
  const hLen = hashLen(alg);
  const sLen = saltLen < 0 ? hLen : saltLen;
  const emBits = key.bits - 1;
  const emLen = (emBits + 7) >> 3;
  if (emLen < hLen + sLen + 2) return false;
  if (!key.recover(sig.dataStart, sig.byteLength)) return false;
  // The k-byte block holds EM in its last emLen bytes; when emLen < k the leading byte must be zero.
  let em = EM;
  if (emLen < key.byteLength) {
    if (load<u8>(em) != 0) return false;
    em++;
  }
  if (load<u8>(em + <usize>(emLen - 1)) != 0xbc) return false;
  const dbLen = emLen - hLen - 1;
  const h = em + <usize>dbLen;
  // The 8·emLen − emBits leftmost bits of maskedDB must be zero.
  const zeroBits = 8 * emLen - emBits;
  const topMask = <u8>((<u32>0xff) >>> <u32>zeroBits);
  if ((load<u8>(em) & ~topMask) != 0) return false;

  digestRaw(alg, msg.dataStart, <usize>msg.byteLength, MHASH);
  mgf1Xor(alg, em, dbLen, h, hLen); // em now starts with DB
  store<u8>(em, load<u8>(em) & topMask);
  const psLen = dbLen - sLen - 1;
  for (let i = 0; i < psLen; i++) if (load<u8>(em + <usize>i) != 0) return false;
  if (load<u8>(em + <usize>psLen) != 0x01) return false;

  // H' = Hash(00 × 8 ‖ mHash ‖ salt)
  memory.fill(HASH2, 0, 8);
  hashInit(alg);
  hashUpdate(alg, HASH2, 8);
  hashUpdate(alg, MHASH, <usize>hLen);
  hashUpdate(alg, em + <usize>(dbLen - sLen), <usize>sLen);
  hashFinal(alg, HASH2);
  return memory.compare(HASH2, h, <usize>hLen) == 0;
}
