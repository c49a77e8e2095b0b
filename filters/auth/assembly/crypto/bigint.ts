// Fixed-width unsigned big integers for signature verification: RSA moduli up to 4096 bits and
// elliptic-curve fields up to 384 bits.
//
// A number is a little-endian array of u32 limbs at a raw address; every function takes the limb
// count alongside. Products are formed in u64 (a u32 × u32 product plus two u32 carries fits exactly).
// Nothing here allocates except `Montgomery.create`, which callers run once per key or per curve.
// Running time depends on the values: fine for verification, where every input is public.

/** Most limbs any number has: 4096-bit RSA moduli. */
// @ts-ignore: decorator
@inline export const MAX_LIMBS: i32 = 128;

/** Limbs needed for `bits` bits. */
// @ts-ignore: decorator
@inline export function limbsFor(bits: i32): i32 { return (bits + 31) >> 5; }

/**
 * Reads the big-endian bytes at `src` into `limbs` limbs at `dst`. Leading zero bytes are allowed;
 * returns false (leaving `dst` unspecified) when the value needs more than `limbs` limbs.
 */
export function bnFromBytes(dst: usize, limbs: i32, src: usize, len: i32): bool {
  while (len > 0 && load<u8>(src) == 0) { src++; len--; }
  if (len > limbs << 2) return false;
  memory.fill(dst, 0, <usize>limbs << 2);
  // Wasm memory is little-endian, so reversing the bytes lays out little-endian u32 limbs.
  const last = src + <usize>len - 1;
  for (let i = 0; i < len; i++) store<u8>(dst + <usize>i, load<u8>(last - <usize>i));
  return true;
}

/** Writes the value at `src` (`limbs` limbs) as exactly `len` big-endian bytes at `dst`; higher bytes are dropped. */
export function bnToBytes(dst: usize, len: i32, src: usize, limbs: i32): void {
  const have = limbs << 2;
  const last = dst + <usize>len - 1;
  for (let i = 0; i < len; i++) store<u8>(last - <usize>i, i < have ? load<u8>(src + <usize>i) : 0);
}

/** Sets `limbs` limbs at `dst` to the value of a hex string (constants only: no validation). */
export function bnFromHex(dst: usize, limbs: i32, hex: string): void {
  memory.fill(dst, 0, <usize>limbs << 2);
  const n = hex.length;
  for (let i = 0; i < n; i++) {
    const c = hex.charCodeAt(n - 1 - i);
    const v = c <= 57 ? c - 48 : (c | 32) - 87;
    const at = dst + <usize>(i >> 1);
    store<u8>(at, load<u8>(at) | <u8>(v << ((i & 1) << 2)));
  }
}

/** -1, 0 or 1 as a is below, equal to or above b. */
export function bnCmp(a: usize, b: usize, limbs: i32): i32 {
  for (let i = limbs - 1; i >= 0; i--) {
    const x = load<u32>(a + (<usize>i << 2));
    const y = load<u32>(b + (<usize>i << 2));
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

export function bnIsZero(a: usize, limbs: i32): bool {
  for (let i = 0; i < limbs; i++) if (load<u32>(a + (<usize>i << 2)) != 0) return false;
  return true;
}

/** Number of significant bits (0 for zero). */
export function bnBitLength(a: usize, limbs: i32): i32 {
  for (let i = limbs - 1; i >= 0; i--) {
    const x = load<u32>(a + (<usize>i << 2));
    if (x != 0) return (i << 5) + 32 - <i32>clz<u32>(x);
  }
  return 0;
}

/** Bit `i` of a (0 or 1). */
// @ts-ignore: decorator
@inline export function bnBit(a: usize, i: i32): u32 {
  return (load<u32>(a + (<usize>(i >> 5) << 2)) >>> (i & 31)) & 1;
}

/** dst = a + b over `limbs` limbs; returns the carry out. dst may alias a or b. */
export function bnAdd(dst: usize, a: usize, b: usize, limbs: i32): u32 {
  let carry: u64 = 0;
  for (let i = 0; i < limbs; i++) {
    const o = <usize>i << 2;
    const s = <u64>load<u32>(a + o) + <u64>load<u32>(b + o) + carry;
    store<u32>(dst + o, <u32>s);
    carry = s >> 32;
  }
  return <u32>carry;
}

/** dst = a - b over `limbs` limbs (mod 2^(32·limbs)); returns the borrow out. dst may alias a or b. */
export function bnSub(dst: usize, a: usize, b: usize, limbs: i32): u32 {
  let borrow: u64 = 0;
  for (let i = 0; i < limbs; i++) {
    const o = <usize>i << 2;
    const d = <u64>load<u32>(a + o) - <u64>load<u32>(b + o) - borrow;
    store<u32>(dst + o, <u32>d);
    borrow = (d >> 32) & 1;
  }
  return <u32>borrow;
}

/** dst = src (`limbs` limbs). */
// @ts-ignore: decorator
@inline export function bnCopy(dst: usize, src: usize, limbs: i32): void {
  memory.copy(dst, src, <usize>limbs << 2);
}

// Scratch space. One multiplication or exponentiation at a time, which single-threaded callers get for free.
const T: usize = memory.data((MAX_LIMBS + 2) << 2, 16); // product accumulator of `mul`
const ONE: usize = memory.data(MAX_LIMBS << 2, 16); // the integer 1, for leaving Montgomery form
const POW_BASE: usize = memory.data(MAX_LIMBS << 2, 16);
const POW_ACC: usize = memory.data(MAX_LIMBS << 2, 16);
const POW_TABLE: usize = memory.data(16 * (MAX_LIMBS << 2), 16); // base^0..15 for windowed exponentiation

/**
 * Arithmetic modulo an odd m in Montgomery form: x is held as x·R mod m with R = 2^(32·limbs),
 * which turns each modular multiplication into multiply-and-shift with no division.
 * Every input must be fully reduced (below m) and every output is, so equal values have equal limbs.
 */
export class Montgomery {
  /** Limbs of every operand: just enough for m. */
  readonly limbs: i32;
  /** Bit length of m. */
  readonly bits: i32;
  private readonly m: StaticArray<u32>;
  private readonly rr: StaticArray<u32>; // R² mod m: multiplying by it enters Montgomery form
  private readonly r1: StaticArray<u32>; // R mod m: 1 in Montgomery form
  private readonly m0inv: u32; // -m⁻¹ mod 2^32

  /** Prepares arithmetic modulo the number at `mod` (`limbs` limbs, leading zero limbs allowed); null unless it is odd and above 1. */
  static create(mod: usize, limbs: i32): Montgomery | null {
    const bits = bnBitLength(mod, limbs);
    if (bits < 2 || (load<u32>(mod) & 1) == 0 || bits > MAX_LIMBS << 5) return null;
    return new Montgomery(mod, bits);
  }

  private constructor(mod: usize, bits: i32) {
    const n = limbsFor(bits);
    this.limbs = n;
    this.bits = bits;
    this.m = new StaticArray<u32>(n);
    this.rr = new StaticArray<u32>(n);
    this.r1 = new StaticArray<u32>(n);
    bnCopy(changetype<usize>(this.m), mod, n);

    // m0⁻¹ mod 2^32 by Newton's iteration: each step doubles the number of correct low bits, and
    // m0·m0 ≡ 1 (mod 8) for odd m0, so 3 bits to start with, 48 after four steps.
    const m0 = load<u32>(mod);
    let inv = m0;
    for (let i = 0; i < 4; i++) inv *= 2 - m0 * inv;
    this.m0inv = 0 - inv;

    // R mod m: start from 2^(bits-1), which is below m (m is odd, so not a power of two), and double up to 2^(32n).
    const r1 = changetype<usize>(this.r1);
    memory.fill(r1, 0, <usize>n << 2);
    store<u32>(r1 + (<usize>((bits - 1) >> 5) << 2), 1 << ((bits - 1) & 31));
    for (let i = bits - 1; i < n << 5; i++) this.double(r1, r1);

    // R² mod m = 2^(32n) in Montgomery form: square-and-double over the bits of 32n, starting from 1 (= R mod m).
    const rr = changetype<usize>(this.rr);
    bnCopy(rr, r1, n);
    const e = n << 5;
    for (let i = 31 - <i32>clz<u32>(e); i >= 0; i--) {
      this.mul(rr, rr, rr);
      if ((e >>> i) & 1) this.double(rr, rr);
    }
  }

  /** Address of m. */
  // @ts-ignore: decorator
  @inline get modulus(): usize { return changetype<usize>(this.m); }
  /** Address of 1 in Montgomery form (R mod m). */
  // @ts-ignore: decorator
  @inline get one(): usize { return changetype<usize>(this.r1); }

  /** dst = a·b·R⁻¹ mod m: the Montgomery product (operands in Montgomery form give their product in it). dst may alias a or b. */
  mul(dst: usize, a: usize, b: usize): void {
    const n = <usize>this.limbs;
    const m = changetype<usize>(this.m);
    const q0 = this.m0inv;
    const m0 = <u64>load<u32>(m);
    const a0 = <u64>load<u32>(a);
    const top = n << 2;
    memory.fill(T, 0, top + 4);
    // Coarsely integrated operand scanning: for each limb of b, t = (t + a·b_i + q·m) / 2^32, with q
    // chosen so the low limb vanishes. t stays below 2m, so it fits n limbs plus one bit.
    for (let i: usize = 0; i < top; i += 4) {
      const bi = <u64>load<u32>(b + i);
      let x = <u64>load<u32>(T) + a0 * bi;
      let c1 = x >> 32;
      const q = <u64>(<u32>x * q0); // a u32 product (mod 2^32) on purpose: the cast of x keeps asc from widening it
      let c2 = ((x & 0xffffffff) + q * m0) >> 32;
      for (let j: usize = 4; j < top; j += 4) {
        x = <u64>load<u32>(T + j) + <u64>load<u32>(a + j) * bi + c1;
        c1 = x >> 32;
        const y = (x & 0xffffffff) + q * <u64>load<u32>(m + j) + c2;
        c2 = y >> 32;
        store<u32>(T + j - 4, <u32>y);
      }
      x = <u64>load<u32>(T + top) + c1 + c2;
      store<u32>(T + top - 4, <u32>x);
      store<u32>(T + top, <u32>(x >> 32));
    }
    if (load<u32>(T + top) != 0 || bnCmp(T, m, <i32>n) >= 0) bnSub(dst, T, m, <i32>n);
    else memory.copy(dst, T, top);
  }

  /** dst = a·R mod m: enters Montgomery form (a must be below m). */
  toMont(dst: usize, a: usize): void {
    this.mul(dst, a, changetype<usize>(this.rr));
  }

  /** dst = a·R⁻¹ mod m: leaves Montgomery form. */
  fromMont(dst: usize, a: usize): void {
    memory.fill(ONE, 0, <usize>this.limbs << 2);
    store<u32>(ONE, 1);
    this.mul(dst, a, ONE);
  }

  /** dst = a + b mod m. */
  add(dst: usize, a: usize, b: usize): void {
    const n = this.limbs;
    const m = changetype<usize>(this.m);
    if (bnAdd(dst, a, b, n) != 0 || bnCmp(dst, m, n) >= 0) bnSub(dst, dst, m, n);
  }

  /** dst = a - b mod m. */
  sub(dst: usize, a: usize, b: usize): void {
    const n = this.limbs;
    if (bnSub(dst, a, b, n) != 0) bnAdd(dst, dst, changetype<usize>(this.m), n);
  }

  /** dst = 2a mod m. */
  double(dst: usize, a: usize): void {
    this.add(dst, a, a);
  }

  /**
   * dst = base^e in Montgomery form (base in Montgomery form too); e has `expLimbs` limbs.
   * Short exponents (RSA's 3 or 65537) use plain square-and-multiply: 65537 costs 16 squarings and
   * one multiplication. Long ones (Fermat inversion) use 4-bit windows.
   */
  pow(dst: usize, base: usize, e: usize, expLimbs: i32): void {
    const n = this.limbs;
    const bytes = <usize>n << 2;
    const ebits = bnBitLength(e, expLimbs);
    if (ebits == 0) { bnCopy(dst, this.one, n); return; }
    bnCopy(POW_BASE, base, n);
    if (ebits <= 64) {
      bnCopy(POW_ACC, POW_BASE, n);
      for (let i = ebits - 2; i >= 0; i--) {
        this.mul(POW_ACC, POW_ACC, POW_ACC);
        if (bnBit(e, i)) this.mul(POW_ACC, POW_ACC, POW_BASE);
      }
    } else {
      bnCopy(POW_TABLE, this.one, n);
      for (let k: usize = 1; k < 16; k++) this.mul(POW_TABLE + k * bytes, POW_TABLE + (k - 1) * bytes, POW_BASE);
      bnCopy(POW_ACC, this.one, n);
      for (let w = (ebits - 1) >> 2; w >= 0; w--) {
        if (w != (ebits - 1) >> 2) for (let s = 0; s < 4; s++) this.mul(POW_ACC, POW_ACC, POW_ACC);
        const digit = (load<u32>(e + (<usize>(w >> 3) << 2)) >>> ((w & 7) << 2)) & 15;
        if (digit) this.mul(POW_ACC, POW_ACC, POW_TABLE + <usize>digit * bytes);
      }
    }
    bnCopy(dst, POW_ACC, n);
  }

  /** dst = a^e mod m for a below m, everything in ordinary (not Montgomery) form. */
  modPow(dst: usize, a: usize, e: usize, expLimbs: i32): void {
    this.toMont(dst, a);
    this.pow(dst, dst, e, expLimbs);
    this.fromMont(dst, dst);
  }
}

const INV_U: usize = memory.data(MAX_LIMBS << 2, 16);
const INV_V: usize = memory.data(MAX_LIMBS << 2, 16);
const INV_X1: usize = memory.data(MAX_LIMBS << 2, 16);
const INV_X2: usize = memory.data(MAX_LIMBS << 2, 16);

/** a = a / 2 mod m (m odd, a below m): a halved, or (a + m) halved when a is odd. */
function halveMod(a: usize, m: usize, limbs: i32): void {
  const carry = (load<u32>(a) & 1) != 0 ? bnAdd(a, a, m, limbs) : 0;
  bnShr1(a, limbs, carry);
}

/** a = (carry·2^(32·limbs) + a) >> 1. */
function bnShr1(a: usize, limbs: i32, carry: u32): void {
  for (let i = limbs - 1; i >= 0; i--) {
    const at = a + (<usize>i << 2);
    const x = load<u32>(at);
    store<u32>(at, (x >>> 1) | (carry << 31));
    carry = x & 1;
  }
}

/**
 * dst = a⁻¹ mod m for an odd m and 0 < a < m coprime to it, by the binary extended Euclidean
 * algorithm (shifts and subtractions only: several times cheaper than Fermat's a^(m−2) in Montgomery
 * multiplications). Returns false, leaving dst unspecified, when gcd(a, m) ≠ 1. Variable time.
 */
export function bnModInverse(dst: usize, a: usize, m: usize, limbs: i32): bool {
  const u = INV_U, v = INV_V, x1 = INV_X1, x2 = INV_X2;
  const bytes = <usize>limbs << 2;
  if (bnIsZero(a, limbs)) return false;
  bnCopy(u, a, limbs);
  bnCopy(v, m, limbs);
  memory.fill(x1, 0, bytes);
  store<u32>(x1, 1);
  memory.fill(x2, 0, bytes);
  // Invariants: x1·a ≡ u and x2·a ≡ v (mod m); u and v shrink to gcd(a, m).
  while (true) {
    while ((load<u32>(u) & 1) == 0) {
      bnShr1(u, limbs, 0);
      halveMod(x1, m, limbs);
    }
    while ((load<u32>(v) & 1) == 0) {
      bnShr1(v, limbs, 0);
      halveMod(x2, m, limbs);
    }
    // Both odd now.
    const c = bnCmp(u, v, limbs);
    if (c == 0) break;
    if (c > 0) {
      bnSub(u, u, v, limbs);
      if (bnSub(x1, x1, x2, limbs) != 0) bnAdd(x1, x1, m, limbs);
    } else {
      bnSub(v, v, u, limbs);
      if (bnSub(x2, x2, x1, limbs) != 0) bnAdd(x2, x2, m, limbs);
    }
  }
  // u = v = gcd(a, m).
  if (load<u32>(u) != 1 || bnBitLength(u, limbs) != 1) return false;
  bnCopy(dst, x1, limbs);
  return true;
}
