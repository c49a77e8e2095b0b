// Time and randomness from the host (not from `Date` or `Math.random`, which need imports Envoy lacks).

import { proxy_get_current_time_nanoseconds, wasi_random_get } from "./abi/imports";
import { RET_U64 } from "./internal/memory";

/** Wall-clock time in nanoseconds since the Unix epoch (the host's clock; virtual in the emulator). */
export function nowNanos(): u64 {
  store<u64>(RET_U64, 0);
  proxy_get_current_time_nanoseconds(RET_U64);
  return load<u64>(RET_U64);
}

/** Wall-clock time in milliseconds since the Unix epoch. */
export function nowMillis(): u64 { return nowNanos() / 1_000_000; }

// Random bytes are fetched from the host 256 at a time: one host call per 64 draws.
const POOL_SIZE: u32 = 256;
const pool = new StaticArray<u8>(POOL_SIZE);
let poolPos: u32 = POOL_SIZE;

/** A uniformly random u32 (from WASI random_get; seeded in the emulator for reproducible tests). */
export function randomU32(): u32 {
  if (poolPos + 4 > POOL_SIZE) {
    wasi_random_get(changetype<usize>(pool), POOL_SIZE);
    poolPos = 0;
  }
  const v = load<u32>(changetype<usize>(pool) + poolPos);
  poolPos += 4;
  return v;
}

/** A uniformly random integer in [0, bound) without modulo bias; 0 when bound is 0. */
export function randomBelow(bound: u32): u32 {
  if (bound == 0) return 0;
  // Lemire's multiply-shift with rejection of the biased low range.
  const threshold: u32 = (<u32>0 - bound) % bound;
  let m: u64;
  do {
    m = <u64>randomU32() * <u64>bound;
  } while (<u32>m < threshold);
  return <u32>(m >> 32);
}

/** A uniformly random float in [0, 1). */
export function randomFloat(): f64 {
  return <f64>randomU32() / 4294967296.0;
}
