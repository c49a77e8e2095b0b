// ECDSA verification (FIPS 186-5 §6.4.2, SEC 1 §4.1.4) over NIST P-256 and P-384: JWS ES256 and ES384.
//
// This file validates keys and signatures and computes the scalars for both curves; P-256's
// u1·G + u2·Q runs in p256.ts (its own field code and tables). For P-384, points are held in Jacobian
// coordinates (X, Y, Z) ↔ affine (X/Z², Y/Z³), field elements in Montgomery form, Z = 0 meaning the
// point at infinity, and u1·G + u2·Q is computed with Shamir's trick over 4-bit windows: both scalars
// share one chain of doublings, each window adds a multiple of G (table built once per curve) and of Q
// (table built once per key). Everything here is public data, so nothing is constant time; the point
// formulas do handle every special case (doubling, P + (−P), infinity).
import { bnFromBytes, bnFromHex, bnCmp, bnIsZero, bnAdd, bnSub, bnCopy, bnModInverse, Montgomery } from "./bigint";
import { HashAlg, hashLen, digestRaw, MAX_HASH_LEN } from "./digest";
import { P256_TABLE_LIMBS, p256BuildKeyTable, p256CheckCombination } from "./p256";

/** The curves JWS uses with ECDSA (RFC 7518 §3.4); each is paired with its hash. */
export enum EcCurve {
  /** secp256r1 with SHA-256: ES256. */
  P256 = 0,
  /** secp384r1 with SHA-384: ES384. */
  P384 = 1,
}

const MAX_FE_LIMBS: i32 = 12;
const FE: usize = <usize>MAX_FE_LIMBS << 2; // bytes of one field element slot
const TMP: usize = memory.data(16 * <i32>FE, 16); // temporaries of the point formulas
const SC: usize = memory.data(8 * <i32>FE, 16); // scalars and the final comparison
const ACC: usize = memory.data(3 * <i32>FE, 16); // the running point of the multiplication
const HASH: usize = memory.data(MAX_HASH_LEN, 16);

// @ts-ignore: decorator
@inline function tmp(i: usize): usize { return TMP + i * FE; }
// @ts-ignore: decorator
@inline function sc(i: usize): usize { return SC + i * FE; }

/** Curve y² = x³ − 3x + b over GF(p), base point G of prime order n (cofactor 1). */
class Curve {
  readonly limbs: i32;
  /** Bytes of a coordinate or a scalar. */
  readonly bytes: i32;
  readonly hash: HashAlg;
  readonly fp: Montgomery;
  readonly fn: Montgomery;
  /** b in Montgomery form modulo p. */
  readonly b: StaticArray<u32>;
  /** 0·G … 15·G (P-384 only: P-256 has its own in p256.ts). */
  readonly gTable: StaticArray<u32>;

  constructor(bits: i32, hash: HashAlg, p: string, n: string, b: string, gx: string, gy: string) {
    const limbs = bits >> 5;
    const t = tmp(0);
    bnFromHex(t, limbs, p);
    const fp = Montgomery.create(t, limbs)!;
    bnFromHex(t, limbs, n);
    const fn = Montgomery.create(t, limbs)!;
    const bm = new StaticArray<u32>(limbs);
    bnFromHex(t, limbs, b);
    fp.toMont(changetype<usize>(bm), t);
    this.limbs = limbs;
    this.bytes = bits >> 3;
    this.hash = hash;
    this.fp = fp;
    this.fn = fn;
    this.b = bm;
    this.gTable = new StaticArray<u32>(bits == 256 ? 0 : 16 * 3 * limbs);
    if (bits != 256) {
      const x = sc(0), y = sc(1);
      bnFromHex(x, limbs, gx);
      bnFromHex(y, limbs, gy);
      buildTable(this, changetype<usize>(this.gTable), x, y);
    }
  }
}

let p256: Curve | null = null;
let p384: Curve | null = null;

/** The curve's constants, prepared on first use. */
function curveOf(id: EcCurve): Curve {
  if (id == EcCurve.P256) {
    if (p256 === null) {
      p256 = new Curve(256, HashAlg.SHA256,
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
        "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
        "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
        "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
    }
    return p256!;
  }
  if (p384 === null) {
    p384 = new Curve(384, HashAlg.SHA384,
      "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
      "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
      "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
      "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
      "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f");
  }
  return p384!;
}

/** out = 2·p (dbl-2001-b, for a = −3). out may alias p. Uses tmp(0..5). */
function pointDouble(c: Curve, out: usize, p: usize): void {
  const f = c.fp;
  const L = c.limbs;
  const s = <usize>L << 2;
  const x = p, y = p + s, z = p + 2 * s;
  if (bnIsZero(z, L)) {
    if (out != p) memory.copy(out, p, 3 * s);
    return;
  }
  const delta = tmp(0), gamma = tmp(1), beta = tmp(2), alpha = tmp(3), t = tmp(4), z3 = tmp(5);
  f.mul(delta, z, z);
  f.mul(gamma, y, y);
  f.mul(beta, x, gamma);
  f.sub(t, x, delta);
  f.add(alpha, x, delta);
  f.mul(alpha, t, alpha);
  f.add(t, alpha, alpha);
  f.add(alpha, alpha, t); // alpha = 3(x − δ)(x + δ)
  f.add(z3, y, z);
  f.mul(z3, z3, z3);
  f.sub(z3, z3, gamma);
  f.sub(z3, z3, delta); // z3 = (y + z)² − γ − δ
  f.double(beta, beta);
  f.double(beta, beta); // 4β
  f.mul(t, alpha, alpha);
  f.sub(t, t, beta);
  f.sub(t, t, beta); // x3 = α² − 8β
  f.sub(beta, beta, t);
  f.mul(beta, alpha, beta);
  f.mul(gamma, gamma, gamma);
  f.double(gamma, gamma);
  f.double(gamma, gamma);
  f.double(gamma, gamma);
  f.sub(beta, beta, gamma); // y3 = α(4β − x3) − 8γ²
  bnCopy(out, t, L);
  bnCopy(out + s, beta, L);
  bnCopy(out + 2 * s, z3, L);
}

/** out = p + q (add-1998-cmo-2), including p = q, p = −q and either at infinity. out may alias p or q. Uses tmp(6..15). */
function pointAdd(c: Curve, out: usize, p: usize, q: usize): void {
  const f = c.fp;
  const L = c.limbs;
  const s = <usize>L << 2;
  const x1 = p, y1 = p + s, z1 = p + 2 * s;
  const x2 = q, y2 = q + s, z2 = q + 2 * s;
  if (bnIsZero(z1, L)) {
    if (out != q) memory.copy(out, q, 3 * s);
    return;
  }
  if (bnIsZero(z2, L)) {
    if (out != p) memory.copy(out, p, 3 * s);
    return;
  }
  const z1z1 = tmp(6), z2z2 = tmp(7), u1 = tmp(8), u2 = tmp(9), s1 = tmp(10), s2 = tmp(11);
  const h = tmp(12), r = tmp(13), x3 = tmp(14), y3 = tmp(15);
  f.mul(z1z1, z1, z1);
  f.mul(z2z2, z2, z2);
  f.mul(u1, x1, z2z2);
  f.mul(u2, x2, z1z1);
  f.mul(s1, y1, z2);
  f.mul(s1, s1, z2z2);
  f.mul(s2, y2, z1);
  f.mul(s2, s2, z1z1);
  f.sub(h, u2, u1);
  f.sub(r, s2, s1);
  if (bnIsZero(h, L)) {
    // Same x: the same point (double it) or opposite points (infinity).
    if (bnIsZero(r, L)) pointDouble(c, out, p);
    else memory.fill(out, 0, 3 * s);
    return;
  }
  const hh = z1z1, hhh = z2z2, v = u2;
  f.mul(hh, h, h);
  f.mul(hhh, h, hh);
  f.mul(v, u1, hh);
  f.mul(x3, r, r);
  f.sub(x3, x3, hhh);
  f.sub(x3, x3, v);
  f.sub(x3, x3, v); // x3 = r² − h³ − 2·u1·h²
  f.sub(y3, v, x3);
  f.mul(y3, r, y3);
  f.mul(s1, s1, hhh);
  f.sub(y3, y3, s1); // y3 = r(u1·h² − x3) − s1·h³
  f.mul(s2, z1, z2);
  f.mul(s2, s2, h); // z3 = z1·z2·h
  bnCopy(out, x3, L);
  bnCopy(out + s, y3, L);
  bnCopy(out + 2 * s, s2, L);
}

/** Fills `table` with 0·P … 15·P for the affine point (x, y), given in ordinary form. */
function buildTable(c: Curve, table: usize, x: usize, y: usize): void {
  const L = c.limbs;
  const stride = (<usize>L << 2) * 3;
  memory.fill(table, 0, stride); // 0·P: Z = 0
  const p1 = table + stride;
  c.fp.toMont(p1, x);
  c.fp.toMont(p1 + (<usize>L << 2), y);
  bnCopy(p1 + 2 * (<usize>L << 2), c.fp.one, L);
  for (let k: usize = 2; k < 16; k++) pointAdd(c, table + k * stride, table + (k - 1) * stride, p1);
}

/** An ECDSA public key, validated and prepared for verification; build it once per key. */
export class EcPublicKey {
  readonly curve: EcCurve;
  private readonly c: Curve;
  private readonly table: StaticArray<u32>; // P-384: 0·Q … 15·Q; P-256: see p256BuildKeyTable

  /**
   * The point (x, y) given as big-endian coordinates (leading zeros allowed; a JWK's fixed-length
   * rule is its parser's to enforce). Returns null unless both coordinates are below p and the
   * point satisfies the curve equation (which also excludes the point at infinity, which has no
   * affine form); with cofactor 1, every such point generates the full group.
   */
  static fromBytes(curve: EcCurve, x: Uint8Array, y: Uint8Array): EcPublicKey | null {
    const c = curveOf(curve);
    const L = c.limbs;
    const f = c.fp;
    const px = sc(0), py = sc(1), mx = sc(2), my = sc(3), lhs = sc(4), rhs = sc(5);
    if (!bnFromBytes(px, L, x.dataStart, x.byteLength) || !bnFromBytes(py, L, y.dataStart, y.byteLength)) return null;
    if (bnCmp(px, f.modulus, L) >= 0 || bnCmp(py, f.modulus, L) >= 0) return null;
    f.toMont(mx, px);
    f.toMont(my, py);
    f.mul(lhs, my, my);
    f.mul(rhs, mx, mx);
    f.mul(rhs, rhs, mx);
    f.sub(rhs, rhs, mx);
    f.sub(rhs, rhs, mx);
    f.sub(rhs, rhs, mx);
    f.add(rhs, rhs, changetype<usize>(c.b));
    if (bnCmp(lhs, rhs, L) != 0) return null;
    return new EcPublicKey(curve, c, px, py);
  }

  private constructor(curve: EcCurve, c: Curve, x: usize, y: usize) {
    this.curve = curve;
    this.c = c;
    const p256 = curve == EcCurve.P256;
    const table = new StaticArray<u32>(p256 ? P256_TABLE_LIMBS : 16 * 3 * c.limbs);
    if (p256) p256BuildKeyTable(changetype<usize>(table), x, y);
    else buildTable(c, changetype<usize>(table), x, y);
    this.table = table;
  }

  /** Verifies an IEEE P1363 signature (r ‖ s, each exactly the scalar length) over a message digest. */
  verifyDigest(hash: usize, hashLength: i32, sig: usize, sigLen: i32): bool {
    const c = this.c;
    const L = c.limbs;
    const bytes = c.bytes;
    if (sigLen != 2 * bytes) return false;
    const r = sc(0), s = sc(1), e = sc(2), w = sc(3), u1 = sc(4), u2 = sc(5), t = sc(6), zz = sc(7);
    const n = c.fn.modulus;
    bnFromBytes(r, L, sig, bytes);
    bnFromBytes(s, L, sig + <usize>bytes, bytes);
    if (bnIsZero(r, L) || bnCmp(r, n, L) >= 0) return false;
    if (bnIsZero(s, L) || bnCmp(s, n, L) >= 0) return false;

    // e = the leftmost bits of the hash, as many as n has (both curves' orders are whole bytes);
    // below 2^bits < 2n, so one subtraction reduces it.
    bnFromBytes(e, L, hash, hashLength < bytes ? hashLength : bytes);
    if (bnCmp(e, n, L) >= 0) bnSub(e, e, n, L);

    // w = s⁻¹ (then in Montgomery form), u1 = e·w, u2 = r·w (ordinary form: one factor in Montgomery form).
    // n is prime and 0 < s < n, so the inverse exists.
    bnModInverse(w, s, n, L);
    c.fn.toMont(w, w);
    c.fn.mul(u1, e, w);
    c.fn.mul(u2, r, w);

    if (this.curve == EcCurve.P256) {
      // r + n, when below p, is the other x coordinate that reduces to r (0: none).
      if (bnAdd(t, r, n, L) != 0 || bnCmp(t, c.fp.modulus, L) >= 0) memory.fill(t, 0, <usize>L << 2);
      return p256CheckCombination(u1, u2, changetype<usize>(this.table), r, t);
    }

    // R = u1·G + u2·Q, 4 bits of both scalars per step.
    const stride = (<usize>L << 2) * 3;
    const g = changetype<usize>(c.gTable);
    const q = changetype<usize>(this.table);
    memory.fill(ACC, 0, stride);
    for (let win = (L << 3) - 1; win >= 0; win--) {
      pointDouble(c, ACC, ACC);
      pointDouble(c, ACC, ACC);
      pointDouble(c, ACC, ACC);
      pointDouble(c, ACC, ACC);
      const shift = <u32>(win & 7) << 2;
      const at = <usize>(win >> 3) << 2;
      const d1 = (load<u32>(u1 + at) >>> shift) & 15;
      const d2 = (load<u32>(u2 + at) >>> shift) & 15;
      if (d1) pointAdd(c, ACC, ACC, g + <usize>d1 * stride);
      if (d2) pointAdd(c, ACC, ACC, q + <usize>d2 * stride);
    }
    const s2 = <usize>L << 2;
    const rx = ACC, rz = ACC + 2 * s2;
    if (bnIsZero(rz, L)) return false;

    // Accept when x(R) mod n = r. x(R) = X/Z², so compare X with r·Z² rather than inverting Z; x(R) is
    // below p, which exceeds n, so x(R) mod n = r also when x(R) = r + n (if that is below p).
    const f = c.fp;
    f.mul(zz, rz, rz);
    f.toMont(t, r);
    f.mul(t, t, zz);
    if (bnCmp(t, rx, L) == 0) return true;
    if (bnAdd(t, r, n, L) != 0 || bnCmp(t, f.modulus, L) >= 0) return false;
    f.toMont(t, t);
    f.mul(t, t, zz);
    return bnCmp(t, rx, L) == 0;
  }
}

/**
 * ECDSA verification of `sig` (IEEE P1363: r ‖ s, as JWS uses) over `msg`, hashed with the curve's
 * hash (P-256: SHA-256, P-384: SHA-384). A signature of any other length is rejected.
 */
export function ecdsaVerify(key: EcPublicKey, msg: Uint8Array, sig: Uint8Array): bool {
  const alg = key.curve == EcCurve.P256 ? HashAlg.SHA256 : HashAlg.SHA384;
  digestRaw(alg, msg.dataStart, <usize>msg.byteLength, HASH);
  return key.verifyDigest(HASH, hashLen(alg), sig.dataStart, sig.byteLength);
}
