// The SHA-2 family behind one switch, for code that is generic over the hash (HMAC, RSA, ECDSA).
// Each variant has a single static context (see sha256.ts, sha512.ts): finish one digest before
// starting the next.
import { sha256Init, sha256Update, sha256Final, SHA256_LEN, SHA256_BLOCK } from "./sha256";
import { sha512Init, sha512Update, sha512Final, SHA384_LEN, SHA512_LEN, SHA512_BLOCK } from "./sha512";

/** The hash functions JWS uses (RFC 7518: the number in HS256, RS384, ES512, … names the hash). */
export enum HashAlg {
  SHA256 = 0,
  SHA384 = 1,
  SHA512 = 2,
}

/** Largest digest length of any HashAlg, in bytes (for sizing scratch buffers). */
// @ts-ignore: decorator
@inline export const MAX_HASH_LEN: i32 = 64;
/** Largest block length of any HashAlg, in bytes. */
// @ts-ignore: decorator
@inline export const MAX_HASH_BLOCK: i32 = 128;

/** Digest length in bytes. */
export function hashLen(alg: HashAlg): i32 {
  return alg == HashAlg.SHA256 ? SHA256_LEN : alg == HashAlg.SHA384 ? SHA384_LEN : SHA512_LEN;
}

/** Block length in bytes. */
export function hashBlockLen(alg: HashAlg): i32 {
  return alg == HashAlg.SHA256 ? SHA256_BLOCK : SHA512_BLOCK;
}

/** Starts a computation with `alg`. */
export function hashInit(alg: HashAlg): void {
  if (alg == HashAlg.SHA256) sha256Init();
  else sha512Init(alg == HashAlg.SHA384);
}

/** Feeds `len` bytes at `ptr` to the computation `hashInit(alg)` started. */
export function hashUpdate(alg: HashAlg, ptr: usize, len: usize): void {
  if (alg == HashAlg.SHA256) sha256Update(ptr, len);
  else sha512Update(ptr, len);
}

/** Finishes the computation and writes `hashLen(alg)` bytes to `out`. */
export function hashFinal(alg: HashAlg, out: usize): void {
  if (alg == HashAlg.SHA256) sha256Final(out);
  else sha512Final(out, hashLen(alg));
}

/** Hash of `len` bytes at `ptr`, written to `out` (`hashLen(alg)` bytes). */
export function digestRaw(alg: HashAlg, ptr: usize, len: usize, out: usize): void {
  hashInit(alg);
  hashUpdate(alg, ptr, len);
  hashFinal(alg, out);
}

/** Hash of `data`: a new array of `hashLen(alg)` bytes. */
export function digest(alg: HashAlg, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(hashLen(alg));
  digestRaw(alg, data.dataStart, <usize>data.byteLength, out.dataStart);
  return out;
}
