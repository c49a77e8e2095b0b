// HMAC (RFC 2104, FIPS 198-1) over SHA-256/384/512: HS256, HS384 and HS512 in JWS terms.
import { HashAlg, hashLen, hashBlockLen, hashInit, hashUpdate, hashFinal, digestRaw, MAX_HASH_BLOCK, MAX_HASH_LEN } from "./digest";
import { constantTimeEqualRaw } from "./ct";

const KEY0: usize = memory.data(MAX_HASH_BLOCK, 16); // the key padded (or hashed, then padded) to a block
const PAD: usize = memory.data(MAX_HASH_BLOCK, 16); // KEY0 ^ ipad, later KEY0 ^ opad
const INNER: usize = memory.data(MAX_HASH_LEN, 16); // inner hash
const TAG: usize = memory.data(MAX_HASH_LEN, 16); // computed tag in hmacVerify

function xorPad(block: usize, pad: u64): void {
  const fill = pad * 0x0101010101010101;
  for (let i: usize = 0; i < block; i += 8) store<u64>(PAD + i, load<u64>(KEY0 + i) ^ fill);
}

/** HMAC of `msgLen` bytes at `msg` under the `keyLen`-byte key at `key`; writes `hashLen(alg)` bytes to `out`. */
export function hmacRaw(alg: HashAlg, key: usize, keyLen: usize, msg: usize, msgLen: usize, out: usize): void {
  const block = <usize>hashBlockLen(alg);
  const len = <usize>hashLen(alg);
  memory.fill(KEY0, 0, block);
  if (keyLen > block) digestRaw(alg, key, keyLen, KEY0);
  else memory.copy(KEY0, key, keyLen);

  xorPad(block, 0x36);
  hashInit(alg);
  hashUpdate(alg, PAD, block);
  hashUpdate(alg, msg, msgLen);
  hashFinal(alg, INNER);

  xorPad(block, 0x5c);
  hashInit(alg);
  hashUpdate(alg, PAD, block);
  hashUpdate(alg, INNER, len);
  hashFinal(alg, out);
}

/** HMAC of `msg` under `key`: a new array of `hashLen(alg)` bytes. */
export function hmac(alg: HashAlg, key: Uint8Array, msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(hashLen(alg));
  hmacRaw(alg, key.dataStart, <usize>key.byteLength, msg.dataStart, <usize>msg.byteLength, out.dataStart);
  return out;
}

/**
 * True when `tag` is the HMAC of `msg` under `key`, compared in constant time.
 *
 * `tagLen` is the tag length the caller expects, in bytes; the default (-1) is the full digest
 * length, which is what JWS requires: a truncated tag is then rejected, whatever its bytes.
 * A shorter `tagLen` checks a truncated tag (RFC 2104 §5, the leftmost bytes); it must be at least
 * half the digest length, as RFC 2104 recommends. A `tag` of any other length than `tagLen` is rejected.
 */
export function hmacVerify(alg: HashAlg, key: Uint8Array, msg: Uint8Array, tag: Uint8Array, tagLen: i32 = -1): bool {
  const full = hashLen(alg);
  const expected = tagLen < 0 ? full : tagLen;
  if (expected > full || expected * 2 < full) return false;
  if (tag.byteLength != expected) return false;
  hmacRaw(alg, key.dataStart, <usize>key.byteLength, msg.dataStart, <usize>msg.byteLength, TAG);
  return constantTimeEqualRaw(TAG, tag.dataStart, <usize>expected);
}
