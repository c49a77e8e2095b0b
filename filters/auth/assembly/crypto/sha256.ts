// SHA-256 (FIPS 180-4 §6.2).
//
// One hashing context lives in static memory, so hashing never allocates per block. The price is that
// only one SHA-256 computation can be in progress at a time: finish one (`sha256Final`) before
// starting the next. A Wasm module runs one callback at a time, so this holds unless a caller
// interleaves two streams itself.

/** Digest length in bytes. */
// @ts-ignore: decorator
@inline export const SHA256_LEN: i32 = 32;
/** Block length in bytes (HMAC pads keys to this). */
// @ts-ignore: decorator
@inline export const SHA256_BLOCK: i32 = 64;

// Round constants: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

// Initial hash value H(0).
const IV: StaticArray<u32> = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

const STATE: usize = memory.data(32, 16); // H0..H7
const W: usize = memory.data(256, 16); // message schedule W0..W63
const BUF: usize = memory.data(64, 16); // bytes of a not yet complete block
let bufLen: i32 = 0;
let totalLen: u64 = 0;

// @ts-ignore: decorator
@inline function ch(x: u32, y: u32, z: u32): u32 { return z ^ (x & (y ^ z)); }
// @ts-ignore: decorator
@inline function maj(x: u32, y: u32, z: u32): u32 { return (x & y) | (z & (x | y)); }
// @ts-ignore: decorator
@inline function bigSigma0(x: u32): u32 { return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22); }
// @ts-ignore: decorator
@inline function bigSigma1(x: u32): u32 { return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25); }
// @ts-ignore: decorator
@inline function smallSigma0(x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3); }
// @ts-ignore: decorator
@inline function smallSigma1(x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10); }

/** Runs the compression function over `blocks` consecutive 64-byte blocks at `p`. */
function compress(p: usize, blocks: usize): void {
  const k = changetype<usize>(K);
  let h0 = load<u32>(STATE, 0), h1 = load<u32>(STATE, 4), h2 = load<u32>(STATE, 8), h3 = load<u32>(STATE, 12);
  let h4 = load<u32>(STATE, 16), h5 = load<u32>(STATE, 20), h6 = load<u32>(STATE, 24), h7 = load<u32>(STATE, 28);
  while (blocks--) {
    for (let i: usize = 0; i < 64; i += 4) store<u32>(W + i, bswap<u32>(load<u32>(p + i)));
    for (let i: usize = 64; i < 256; i += 4) {
      store<u32>(W + i,
        smallSigma1(load<u32>(W + i - 8)) + load<u32>(W + i - 28) + smallSigma0(load<u32>(W + i - 60)) + load<u32>(W + i - 64));
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i: usize = 0; i < 256; i += 4) {
      const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(k + i) + load<u32>(W + i);
      const t2 = bigSigma0(a) + maj(a, b, c);
      h = g; g = f; f = e; e = d + t1;
      d = c; c = b; b = a; a = t1 + t2;
    }
    h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
    p += 64;
  }
  store<u32>(STATE, h0, 0); store<u32>(STATE, h1, 4); store<u32>(STATE, h2, 8); store<u32>(STATE, h3, 12);
  store<u32>(STATE, h4, 16); store<u32>(STATE, h5, 20); store<u32>(STATE, h6, 24); store<u32>(STATE, h7, 28);
}

/** Starts a new SHA-256 computation, abandoning any in progress. */
export function sha256Init(): void {
  memory.copy(STATE, changetype<usize>(IV), 32);
  bufLen = 0;
  totalLen = 0;
}

/** Feeds `len` bytes at `ptr` into the computation started by `sha256Init`. */
export function sha256Update(ptr: usize, len: usize): void {
  totalLen += <u64>len;
  if (bufLen > 0) {
    const room = <usize>(64 - bufLen);
    const take = len < room ? len : room;
    memory.copy(BUF + <usize>bufLen, ptr, take);
    bufLen += <i32>take;
    ptr += take;
    len -= take;
    if (bufLen < 64) return;
    compress(BUF, 1);
    bufLen = 0;
  }
  const blocks = len >> 6;
  if (blocks) {
    compress(ptr, blocks);
    ptr += blocks << 6;
    len &= 63;
  }
  if (len) {
    memory.copy(BUF, ptr, len);
    bufLen = <i32>len;
  }
}

/** Pads, finishes the computation and writes the 32-byte digest to `out`. */
export function sha256Final(out: usize): void {
  let n = <usize>bufLen;
  store<u8>(BUF + n, 0x80);
  n++;
  if (n > 56) {
    memory.fill(BUF + n, 0, 64 - n);
    compress(BUF, 1);
    n = 0;
  }
  memory.fill(BUF + n, 0, 56 - n);
  store<u64>(BUF + 56, bswap<u64>(totalLen << 3));
  compress(BUF, 1);
  for (let i: usize = 0; i < 32; i += 4) store<u32>(out + i, bswap<u32>(load<u32>(STATE + i)));
  bufLen = 0;
}

/** SHA-256 of `len` bytes at `ptr`, written to the 32 bytes at `out` (which may overlap the input). */
export function sha256Raw(ptr: usize, len: usize, out: usize): void {
  sha256Init();
  sha256Update(ptr, len);
  sha256Final(out);
}

/** SHA-256 of `data`: a new 32-byte array. */
export function sha256(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(SHA256_LEN);
  sha256Raw(data.dataStart, <usize>data.byteLength, out.dataStart);
  return out;
}
