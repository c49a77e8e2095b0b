// SHA-512 and SHA-384 (FIPS 180-4 §6.4, §6.5): the same compression function, different initial
// values, SHA-384 keeps the first 48 bytes.
//
// One context lives in static memory and is shared by both variants: finish one digest
// (`sha512Final`) before starting another, whichever variant it is.

/** SHA-512 digest length in bytes. */
// @ts-ignore: decorator
@inline export const SHA512_LEN: i32 = 64;
/** SHA-384 digest length in bytes. */
// @ts-ignore: decorator
@inline export const SHA384_LEN: i32 = 48;
/** Block length in bytes of both variants. */
// @ts-ignore: decorator
@inline export const SHA512_BLOCK: i32 = 128;

// Round constants: the first 64 bits of the fractional parts of the cube roots of the first 80 primes.
const K: StaticArray<u64> = [
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
  0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
  0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
  0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
  0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
  0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
  0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
  0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
  0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
  0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
  0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
  0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
  0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
  0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
  0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
  0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
  0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
];

// Initial hash values: fractional parts of the square roots of the first 8 primes (SHA-512)
// and of the 9th to 16th primes (SHA-384).
const IV512: StaticArray<u64> = [
  0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
  0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
];
const IV384: StaticArray<u64> = [
  0xcbbb9d5dc1059ed8, 0x629a292a367cd507, 0x9159015a3070dd17, 0x152fecd8f70e5939,
  0x67332667ffc00b31, 0x8eb44a8768581511, 0xdb0c2e0d64f98fa7, 0x47b5481dbefa4fa4,
];

const STATE: usize = memory.data(64, 16); // H0..H7
const W: usize = memory.data(640, 16); // message schedule W0..W79
const BUF: usize = memory.data(128, 16); // bytes of a not yet complete block
let bufLen: i32 = 0;
let totalLen: u64 = 0; // bytes; messages stay far below 2^61 bytes, so the 128-bit length's top half is 0

// @ts-ignore: decorator
@inline function ch(x: u64, y: u64, z: u64): u64 { return z ^ (x & (y ^ z)); }
// @ts-ignore: decorator
@inline function maj(x: u64, y: u64, z: u64): u64 { return (x & y) | (z & (x | y)); }
// @ts-ignore: decorator
@inline function bigSigma0(x: u64): u64 { return rotr<u64>(x, 28) ^ rotr<u64>(x, 34) ^ rotr<u64>(x, 39); }
// @ts-ignore: decorator
@inline function bigSigma1(x: u64): u64 { return rotr<u64>(x, 14) ^ rotr<u64>(x, 18) ^ rotr<u64>(x, 41); }
// @ts-ignore: decorator
@inline function smallSigma0(x: u64): u64 { return rotr<u64>(x, 1) ^ rotr<u64>(x, 8) ^ (x >>> 7); }
// @ts-ignore: decorator
@inline function smallSigma1(x: u64): u64 { return rotr<u64>(x, 19) ^ rotr<u64>(x, 61) ^ (x >>> 6); }

/** Runs the compression function over `blocks` consecutive 128-byte blocks at `p`. */
function compress(p: usize, blocks: usize): void {
  const k = changetype<usize>(K);
  let h0 = load<u64>(STATE, 0), h1 = load<u64>(STATE, 8), h2 = load<u64>(STATE, 16), h3 = load<u64>(STATE, 24);
  let h4 = load<u64>(STATE, 32), h5 = load<u64>(STATE, 40), h6 = load<u64>(STATE, 48), h7 = load<u64>(STATE, 56);
  while (blocks--) {
    for (let i: usize = 0; i < 128; i += 8) store<u64>(W + i, bswap<u64>(load<u64>(p + i)));
    for (let i: usize = 128; i < 640; i += 8) {
      store<u64>(W + i,
        smallSigma1(load<u64>(W + i - 16)) + load<u64>(W + i - 56) + smallSigma0(load<u64>(W + i - 120)) + load<u64>(W + i - 128));
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i: usize = 0; i < 640; i += 8) {
      const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u64>(k + i) + load<u64>(W + i);
      const t2 = bigSigma0(a) + maj(a, b, c);
      h = g; g = f; f = e; e = d + t1;
      d = c; c = b; b = a; a = t1 + t2;
    }
    h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
    p += 128;
  }
  store<u64>(STATE, h0, 0); store<u64>(STATE, h1, 8); store<u64>(STATE, h2, 16); store<u64>(STATE, h3, 24);
  store<u64>(STATE, h4, 32); store<u64>(STATE, h5, 40); store<u64>(STATE, h6, 48); store<u64>(STATE, h7, 56);
}

/** Starts a new SHA-512 (or, with `is384`, SHA-384) computation, abandoning any in progress. */
export function sha512Init(is384: bool = false): void {
  memory.copy(STATE, changetype<usize>(is384 ? IV384 : IV512), 64);
  bufLen = 0;
  totalLen = 0;
}

/** Feeds `len` bytes at `ptr` into the computation started by `sha512Init`. */
export function sha512Update(ptr: usize, len: usize): void {
  totalLen += <u64>len;
  if (bufLen > 0) {
    const room = <usize>(128 - bufLen);
    const take = len < room ? len : room;
    memory.copy(BUF + <usize>bufLen, ptr, take);
    bufLen += <i32>take;
    ptr += take;
    len -= take;
    if (bufLen < 128) return;
    compress(BUF, 1);
    bufLen = 0;
  }
  const blocks = len >> 7;
  if (blocks) {
    compress(ptr, blocks);
    ptr += blocks << 7;
    len &= 127;
  }
  if (len) {
    memory.copy(BUF, ptr, len);
    bufLen = <i32>len;
  }
}

/** Pads, finishes the computation and writes the first `outLen` digest bytes (64 for SHA-512, 48 for SHA-384) to `out`. */
export function sha512Final(out: usize, outLen: i32 = SHA512_LEN): void {
  let n = <usize>bufLen;
  store<u8>(BUF + n, 0x80);
  n++;
  if (n > 112) {
    memory.fill(BUF + n, 0, 128 - n);
    compress(BUF, 1);
    n = 0;
  }
  memory.fill(BUF + n, 0, 120 - n);
  store<u64>(BUF + 120, bswap<u64>(totalLen << 3));
  compress(BUF, 1);
  for (let i: usize = 0; i < <usize>outLen; i += 8) store<u64>(out + i, bswap<u64>(load<u64>(STATE + i)));
  bufLen = 0;
}

/** SHA-512 of `len` bytes at `ptr`, written to the 64 bytes at `out`. */
export function sha512Raw(ptr: usize, len: usize, out: usize): void {
  sha512Init(false);
  sha512Update(ptr, len);
  sha512Final(out, SHA512_LEN);
}

/** SHA-384 of `len` bytes at `ptr`, written to the 48 bytes at `out`. */
export function sha384Raw(ptr: usize, len: usize, out: usize): void {
  sha512Init(true);
  sha512Update(ptr, len);
  sha512Final(out, SHA384_LEN);
}

/** SHA-512 of `data`: a new 64-byte array. */
export function sha512(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(SHA512_LEN);
  sha512Raw(data.dataStart, <usize>data.byteLength, out.dataStart);
  return out;
}

/** SHA-384 of `data`: a new 48-byte array. */
export function sha384(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(SHA384_LEN);
  sha384Raw(data.dataStart, <usize>data.byteLength, out.dataStart);
  return out;
}
