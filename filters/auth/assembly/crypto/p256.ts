// The P-256 half of ECDSA verification: R = u1·G + u2·Q on y² = x³ − 3x + b modulo
// p = 2^256 − 2^224 + 2^192 + 2^96 − 1, with field elements in ordinary form (8 u32 limbs) and the
// NIST fast reduction (generated/p256-field.ts) instead of generic Montgomery arithmetic.
//
// Each point P used as a base (G once, each key once) gets a table of affine points
// d·2^(66k)·P for k = 0..3 and d = 1..63 (16 KB). A 256-bit scalar is then four 66-bit scalars over four
// bases, and both products share one chain of 60 doublings: per 6-bit window, 6 doublings and up to 8
// mixed additions (Jacobian + affine), about 86 additions in all. Everything is public data, so nothing
// is constant time; the formulas handle every special case (doubling through addition, P + (−P),
// infinity).
import { feMul, feSqr, feAdd, feSub } from "./generated/p256-field";

const FE: usize = 32;
const AFFINE: usize = 2 * FE;
const JACOBIAN: usize = 3 * FE;
/** Bits per window, bases per table and bits of the scalar each base covers (BASES·PART ≥ 256). */
// @ts-ignore: decorator
@inline const W: i32 = 6;
// @ts-ignore: decorator
@inline const BASES: usize = 4;
// @ts-ignore: decorator
@inline const PART: i32 = 66;
/** Points per base: 1·B … (2^W − 1)·B. */
// @ts-ignore: decorator
@inline const ENTRIES: usize = (1 << W) - 1;
/** u32 limbs of one table: BASES × ENTRIES affine points. */
export const P256_TABLE_LIMBS: i32 = <i32>(BASES * ENTRIES) * 16;

const P_MINUS_2 = memory.data<u32>([0xfffffffd, 0xffffffff, 0xffffffff, 0, 0, 0, 1, 0xffffffff]);
const TMP: usize = memory.data(12 * <i32>FE, 16); // temporaries of the point formulas
const ACC: usize = memory.data(<i32>JACOBIAN, 16); // the running point
const INV: usize = memory.data(2 * <i32>FE, 16); // scratch of feInv
const BUILD: usize = memory.data(<i32>ENTRIES * <i32>(JACOBIAN + FE) + 3 * <i32>FE, 16); // table building: one row
const U1: usize = memory.data(48, 16); // the scalars, zero above 256 bits, where the last windows read
const U2: usize = memory.data(48, 16);

// @ts-ignore: decorator
@inline function tmp(i: usize): usize { return TMP + i * FE; }

function feIsZero(a: usize): bool {
  return (load<u64>(a) | load<u64>(a, 8) | load<u64>(a, 16) | load<u64>(a, 24)) == 0;
}

function feEqual(a: usize, b: usize): bool {
  return ((load<u64>(a) ^ load<u64>(b)) | (load<u64>(a, 8) ^ load<u64>(b, 8)) |
    (load<u64>(a, 16) ^ load<u64>(b, 16)) | (load<u64>(a, 24) ^ load<u64>(b, 24))) == 0;
}

function feSetOne(a: usize): void {
  store<u64>(a, 1);
  store<u64>(a, 0, 8);
  store<u64>(a, 0, 16);
  store<u64>(a, 0, 24);
}

/** dst = a⁻¹ mod p (a ≠ 0), by Fermat: a^(p−2). Table building only. */
function feInv(dst: usize, a: usize): void {
  const base = INV, acc = INV + FE;
  memory.copy(base, a, FE);
  feSetOne(acc);
  for (let i = 255; i >= 0; i--) {
    feSqr(acc, acc);
    if ((load<u32>(P_MINUS_2 + (<usize>(i >> 5) << 2)) >>> (i & 31)) & 1) feMul(acc, acc, base);
  }
  memory.copy(dst, acc, FE);
}

/** p = 2·p in Jacobian coordinates (dbl-2001-b, a = −3); Z = 0 (infinity) stays. Uses tmp(0..5). */
function pointDouble(p: usize): void {
  const x = p, y = p + FE, z = p + 2 * FE;
  if (feIsZero(z)) return;
  const delta = tmp(0), gamma = tmp(1), beta = tmp(2), alpha = tmp(3), t = tmp(4);
  feSqr(delta, z);
  feSqr(gamma, y);
  feMul(beta, x, gamma);
  feSub(t, x, delta);
  feAdd(alpha, x, delta);
  feMul(alpha, t, alpha);
  feAdd(t, alpha, alpha);
  feAdd(alpha, alpha, t); // α = 3(x − δ)(x + δ)
  feAdd(z, y, z);
  feSqr(z, z);
  feSub(z, z, gamma);
  feSub(z, z, delta); // z3 = (y + z)² − γ − δ
  feAdd(beta, beta, beta);
  feAdd(beta, beta, beta); // 4β
  feSqr(t, alpha);
  feSub(t, t, beta);
  feSub(x, t, beta); // x3 = α² − 8β
  feSub(beta, beta, x);
  feMul(beta, alpha, beta);
  feSqr(gamma, gamma);
  feAdd(gamma, gamma, gamma);
  feAdd(gamma, gamma, gamma);
  feAdd(gamma, gamma, gamma);
  feSub(y, beta, gamma); // y3 = α(4β − x3) − 8γ²
}

/** p = p + q for Jacobian p and affine q (madd-2004-hmv shape), including p = ±q and p at infinity. Uses tmp(0..11). */
function pointAddAffine(p: usize, q: usize): void {
  const x1 = p, y1 = p + FE, z1 = p + 2 * FE;
  const x2 = q, y2 = q + FE;
  if (feIsZero(z1)) {
    memory.copy(p, q, AFFINE);
    feSetOne(z1);
    return;
  }
  const z1z1 = tmp(6), u2 = tmp(7), s2 = tmp(8), h = tmp(9), r = tmp(10), t = tmp(11);
  feSqr(z1z1, z1);
  feMul(u2, x2, z1z1);
  feMul(s2, y2, z1);
  feMul(s2, s2, z1z1);
  feSub(h, u2, x1);
  feSub(r, s2, y1);
  if (feIsZero(h)) {
    // Same x: the same point (double it) or opposite points (infinity).
    if (feIsZero(r)) pointDouble(p);
    else memory.fill(p, 0, JACOBIAN);
    return;
  }
  const hh = z1z1, hhh = u2, v = s2;
  feSqr(hh, h);
  feMul(hhh, h, hh);
  feMul(v, x1, hh);
  feMul(z1, z1, h); // z3 = z1·h
  feSqr(t, r);
  feSub(t, t, hhh);
  feSub(t, t, v);
  feSub(x1, t, v); // x3 = r² − h³ − 2·x1·h²
  feSub(t, v, x1);
  feMul(t, r, t);
  feMul(hhh, y1, hhh);
  feSub(y1, t, hhh); // y3 = r(x1·h² − x3) − y1·h³
}

/**
 * Fills `table` (P256_TABLE_LIMBS limbs) for the affine point (x, y) of order n, coordinates below p in
 * ordinary form: entry ENTRIES·k + d − 1 is d·2^(PART·k)·P as affine (x, y). None is infinity
 * (d·2^(PART·k) < 2^204 < n).
 */
function p256BuildTable(table: usize, x: usize, y: usize): void {
  const jac = BUILD, zs = BUILD + ENTRIES * JACOBIAN, base = zs + ENTRIES * FE, bz = base + 2 * FE;
  memory.copy(base, x, FE);
  memory.copy(base + FE, y, FE);
  for (let k: usize = 0; k < BASES; k++) {
    memory.copy(jac, base, AFFINE);
    feSetOne(jac + 2 * FE);
    for (let d: usize = 1; d < ENTRIES; d++) {
      memory.copy(jac + d * JACOBIAN, jac + (d - 1) * JACOBIAN, JACOBIAN);
      pointAddAffine(jac + d * JACOBIAN, base);
    }
    // The row to affine with one inversion (Montgomery's trick): zs[i] = z0·…·zi.
    memory.copy(zs, jac + 2 * FE, FE);
    for (let i: usize = 1; i < ENTRIES; i++) feMul(zs + i * FE, zs + (i - 1) * FE, jac + i * JACOBIAN + 2 * FE);
    const inv = bz, zi = tmp(0), zi2 = tmp(1);
    feInv(inv, zs + (ENTRIES - 1) * FE);
    for (let i = <isize>ENTRIES - 1; i >= 0; i--) {
      const pt = jac + <usize>i * JACOBIAN;
      if (i > 0) {
        feMul(zi, inv, zs + <usize>(i - 1) * FE); // 1/zi
        feMul(inv, inv, pt + 2 * FE); // 1/(z0…z(i−1))
      } else {
        memory.copy(zi, inv, FE);
      }
      const out = table + (k * ENTRIES + <usize>i) * AFFINE;
      feSqr(zi2, zi);
      feMul(out, pt, zi2);
      feMul(zi2, zi2, zi);
      feMul(out + FE, pt + FE, zi2);
    }
    // The next base, 2^PART times this one (1·base is affine, z = 1, so its doublings start there).
    if (k + 1 == BASES) break;
    memory.copy(ACC, table + k * ENTRIES * AFFINE, AFFINE);
    feSetOne(ACC + 2 * FE);
    for (let i = 0; i < PART; i++) pointDouble(ACC);
    feInv(bz, ACC + 2 * FE);
    feSqr(base + FE, bz); // z⁻²
    feMul(base, ACC, base + FE);
    feMul(bz, bz, base + FE); // z⁻³
    feMul(base + FE, ACC + FE, bz);
  }
}

const G_TABLE: usize = memory.data(P256_TABLE_LIMBS << 2, 16);
let gReady = false;

/** The table of the base point G, built on first use: the first P-256 key's preparation (p256BuildKeyTable), so no request pays for it. */
function gTable(): usize {
  if (!gReady) {
    const gx = memory.data<u32>([0xd898c296, 0xf4a13945, 0x2deb33a0, 0x77037d81, 0x63a440f2, 0xf8bce6e5, 0xe12c4247, 0x6b17d1f2]);
    const gy = memory.data<u32>([0x37bf51f5, 0xcbb64068, 0x6b315ece, 0x2bce3357, 0x7c0f9e16, 0x8ee7eb4a, 0xfe1a7f9b, 0x4fe342e2]);
    p256BuildTable(G_TABLE, gx, gy);
    gReady = true;
  }
  return G_TABLE;
}

/** p256BuildTable for a public key Q, which also makes sure G's table exists. */
export function p256BuildKeyTable(table: usize, x: usize, y: usize): void {
  gTable();
  p256BuildTable(table, x, y);
}

/**
 * Whether u1·G + u2·Q (u1, u2 below n, 8 limbs, ordinary form; Q given by its table) is a finite point
 * whose x coordinate is r or r + n (rn: r + n, or 0 when r + n ≥ p). This is the final ECDSA check.
 */
export function p256CheckCombination(u1: usize, u2: usize, qTable: usize, r: usize, rn: usize): bool {
  const g = gTable();
  memory.copy(U1, u1, FE);
  memory.copy(U2, u2, FE);
  memory.fill(ACC, 0, JACOBIAN);
  const mask: u64 = (1 << W) - 1;
  for (let j = (PART + W - 1) / W - 1; j >= 0; j--) {
    if (!feIsZero(ACC + 2 * FE)) for (let i = 0; i < W; i++) pointDouble(ACC);
    for (let k: usize = 0; k < BASES; k++) {
      const bit = <i32>k * PART + j * W;
      const at = <usize>(bit >> 5) << 2;
      const shift = <u64>(bit & 31);
      const d1 = <usize>((load<u64>(U1 + at) >>> shift) & mask);
      const d2 = <usize>((load<u64>(U2 + at) >>> shift) & mask);
      if (d1) pointAddAffine(ACC, g + (k * ENTRIES + d1 - 1) * AFFINE);
      if (d2) pointAddAffine(ACC, qTable + (k * ENTRIES + d2 - 1) * AFFINE);
    }
  }
  const z = ACC + 2 * FE;
  if (feIsZero(z)) return false;
  // x(R) = X/Z²: compare X with r·Z² rather than inverting Z.
  const zz = tmp(0), t = tmp(1);
  feSqr(zz, z);
  feMul(t, r, zz);
  if (feEqual(t, ACC)) return true;
  if (feIsZero(rn)) return false;
  feMul(t, rn, zz);
  return feEqual(t, ACC);
}
