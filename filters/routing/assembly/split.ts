// Weighted splits. A sticky key (user header, cookie, client address) is hashed with the rule's salt, so one
// user always lands on the same side of one rule while different rules split independently. The hash is
// FNV-1a over the bytes followed by a 64-bit finalizer (the MurmurHash3 fmix64 constants), whose output
// bits are close to uniform even for keys that differ in one trailing character ("user-1", "user-2").

import { randomBelow } from "proxy-wasm-as";

// @ts-ignore: decorator
@inline const FNV_OFFSET: u64 = 0xcbf29ce484222325;
// @ts-ignore: decorator
@inline const FNV_PRIME: u64 = 0x100000001b3;

/** Weights are whole percentages, as in Istio; the buckets are 0..99. */
// @ts-ignore: decorator
@inline export const BUCKETS: u32 = 100;

/** FNV-1a state after the salt's bytes: the per-rule starting point of every key's hash. */
export function saltSeed(salt: string): u64 {
  const b = String.UTF8.encode(salt);
  // A separator byte after the salt, so salt "a" + key "bc" differs from salt "ab" + key "c".
  return fnv1a(fnv1a(FNV_OFFSET, changetype<usize>(b), <usize>b.byteLength), changetype<usize>(SEPARATOR), 1);
}

// @ts-ignore: decorator
@lazy const SEPARATOR = memory.data<u8>([0xFF]);

function fnv1a(state: u64, ptr: usize, len: usize): u64 {
  let h = state;
  for (let i: usize = 0; i < len; i++) {
    h ^= <u64>load<u8>(ptr + i);
    h *= FNV_PRIME;
  }
  return h;
}

/** fmix64: every input bit affects every output bit. */
// @ts-ignore: decorator
@inline function mix(h: u64): u64 {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return h;
}

/** The 64-bit hash of `len` key bytes at `ptr` under a rule's seed. */
export function stickyHash(seed: u64, ptr: usize, len: usize): u64 {
  return mix(fnv1a(seed, ptr, len));
}

/** The bucket (0..99) of a hash: the top 32 bits scaled into [0, 100) without modulo bias. */
// @ts-ignore: decorator
@inline export function bucketOf(hash: u64): u32 {
  return <u32>(((hash >> 32) * <u64>BUCKETS) >> 32);
}

/** A uniformly random bucket, for requests without a sticky key. */
export function randomBucket(): u32 {
  return randomBelow(BUCKETS);
}

/**
 * The index of the destination whose cumulative weight range holds `bucket`. `upper[i]` is the sum of the
 * weights of destinations 0..i (the last one is 100). Destinations with weight 0 own an empty range.
 */
export function pick(upper: StaticArray<u32>, bucket: u32): i32 {
  const n = upper.length;
  for (let i = 0; i < n; i++) {
    if (bucket < unchecked(upper[i])) return i;
  }
  return n - 1;
}
