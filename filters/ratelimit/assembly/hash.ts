// SipHash-2-4 (Aumasson and Bernstein), a keyed 64-bit hash. Descriptor values come from clients
// (headers, addresses), so the slot a key lands in must not be predictable: with a secret key shared by
// all workers (see bucket.ts), nobody can craft many keys for one slot.

let v0: u64 = 0;
let v1: u64 = 0;
let v2: u64 = 0;
let v3: u64 = 0;

// @ts-ignore: decorator
@inline function sipRound(): void {
  v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
  v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
}

/** SipHash-2-4 of [ptr, ptr+len) with the 128-bit key (k0, k1), both little-endian halves. */
export function sipHash24(k0: u64, k1: u64, ptr: usize, len: usize): u64 {
  v0 = k0 ^ 0x736f6d6570736575;
  v1 = k1 ^ 0x646f72616e646f6d;
  v2 = k0 ^ 0x6c7967656e657261;
  v3 = k1 ^ 0x7465646279746573;
  const whole = len & ~(<usize>7);
  for (let i: usize = 0; i < whole; i += 8) {
    const m = load<u64>(ptr + i);
    v3 ^= m;
    sipRound();
    sipRound();
    v0 ^= m;
  }
  let last: u64 = (<u64>len & 0xff) << 56;
  for (let i: usize = 0; i < (len & 7); i++) {
    last |= <u64>load<u8>(ptr + whole + i) << (<u64>i * 8);
  }
  v3 ^= last;
  sipRound();
  sipRound();
  v0 ^= last;
  v2 ^= 0xff;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  return v0 ^ v1 ^ v2 ^ v3;
}

/** SipHash-2-4 of a buffer. */
export function sipHashBytes(k0: u64, k1: u64, data: ArrayBuffer): u64 {
  return sipHash24(k0, k1, changetype<usize>(data), <usize>data.byteLength);
}
