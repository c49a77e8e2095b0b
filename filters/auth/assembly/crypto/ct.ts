// Byte comparison whose running time does not depend on where two secrets first differ, for MAC tags
// and API key hashes. The loop has no data-dependent branch; Wasm gives no formal guarantee about what
// the engine's compiler makes of it, but V8 does not turn an OR-accumulation into an early exit.

/** True when the `len` bytes at `a` and at `b` are equal; reads every byte whatever the contents. */
export function constantTimeEqualRaw(a: usize, b: usize, len: usize): bool {
  let diff: u64 = 0;
  let i: usize = 0;
  for (; i + 8 <= len; i += 8) diff |= load<u64>(a + i) ^ load<u64>(b + i);
  for (; i < len; i++) diff |= <u64>(load<u8>(a + i) ^ load<u8>(b + i));
  return diff == 0;
}

/**
 * True when `a` and `b` hold the same bytes. Arrays of different lengths are unequal at once: lengths
 * are public (a tag's length is fixed by its algorithm), only the contents are secret.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): bool {
  if (a.byteLength != b.byteLength) return false;
  return constantTimeEqualRaw(a.dataStart, b.dataStart, <usize>a.byteLength);
}
