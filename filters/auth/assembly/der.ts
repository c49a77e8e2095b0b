// DER (X.690) for the host's verify_signature: a JWK's public key as a SubjectPublicKeyInfo (RFC 5280 §4.1,
// RSA as RFC 8017 A.1.1, EC as RFC 5480), built once per key when the key set is parsed; and a JWS ECDSA
// signature (r‖s, RFC 7518 §3.4) as the ECDSA-Sig-Value SEQUENCE { r INTEGER, s INTEGER } BoringSSL
// reads, built per request. Integers are minimal (no leading zero byte unless the next has its high bit
// set), as DER requires and BoringSSL's strict parser checks.

import { EcCurve } from "./crypto/ec";

// AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }
const RSA_ALG: StaticArray<u8> = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
// AlgorithmIdentifier { id-ecPublicKey (1.2.840.10045.2.1), prime256v1 (1.2.840.10045.3.1.7) }
const P256_ALG: StaticArray<u8> = [0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
// AlgorithmIdentifier { id-ecPublicKey, secp384r1 (1.3.132.0.34) }
const P384_ALG: StaticArray<u8> = [0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/** Bytes a DER length takes (definite form: short below 128, else 0x81/0x82 and the length). */
function lengthSize(len: i32): i32 {
  return len < 0x80 ? 1 : len < 0x100 ? 2 : 3;
}

/** Bytes a TLV with `len` content bytes takes. */
function tlvSize(len: i32): i32 {
  return 1 + lengthSize(len) + len;
}

/** Content length of the minimal INTEGER for the unsigned big-endian `v[start, end)`. */
function intContent(v: Uint8Array, start: i32, end: i32): i32 {
  let i = start;
  while (i < end && v[i] == 0) i++;
  if (i == end) return 1; // zero is one 0x00 byte
  return end - i + (v[i] >= 0x80 ? 1 : 0);
}

/** Appends DER bytes to a buffer sized exactly beforehand. */
class Writer {
  out: Uint8Array;
  at: i32 = 0;
  constructor(size: i32) { this.out = new Uint8Array(size); }

  byte(b: u8): void { this.out[this.at++] = b; }

  header(tag: u8, len: i32): void {
    this.byte(tag);
    if (len < 0x80) this.byte(<u8>len);
    else if (len < 0x100) { this.byte(0x81); this.byte(<u8>len); }
    else { this.byte(0x82); this.byte(<u8>(len >> 8)); this.byte(<u8>len); }
  }

  bytes(v: Uint8Array, start: i32, end: i32): void {
    for (let i = start; i < end; i++) this.byte(v[i]);
  }

  fixed(v: StaticArray<u8>): void {
    for (let i = 0; i < v.length; i++) this.byte(v[i]);
  }

  /** The minimal INTEGER for the unsigned big-endian `v[start, end)`. */
  integer(v: Uint8Array, start: i32, end: i32): void {
    const len = intContent(v, start, end);
    this.header(0x02, len);
    let i = start;
    while (i < end && v[i] == 0) i++;
    if (i == end) { this.byte(0); return; }
    if (v[i] >= 0x80) this.byte(0);
    this.bytes(v, i, end);
  }
}

/** SubjectPublicKeyInfo of the RSA key (n, e) (unsigned big-endian). */
export function rsaSpki(n: Uint8Array, e: Uint8Array): Uint8Array {
  const rsaKey = tlvSize(intContent(n, 0, n.byteLength)) + tlvSize(intContent(e, 0, e.byteLength));
  const bits = 1 + tlvSize(rsaKey);
  const body = RSA_ALG.length + tlvSize(bits);
  const w = new Writer(tlvSize(body));
  w.header(0x30, body);
  w.fixed(RSA_ALG);
  w.header(0x03, bits);
  w.byte(0); // no unused bits
  w.header(0x30, rsaKey);
  w.integer(n, 0, n.byteLength);
  w.integer(e, 0, e.byteLength);
  return w.out;
}

/** SubjectPublicKeyInfo of the EC point (x, y), each exactly the curve's size, uncompressed. */
export function ecSpki(curve: EcCurve, x: Uint8Array, y: Uint8Array): Uint8Array {
  const alg = curve == EcCurve.P256 ? P256_ALG : P384_ALG;
  const bits = 2 + x.byteLength + y.byteLength;
  const body = alg.length + tlvSize(bits);
  const w = new Writer(tlvSize(body));
  w.header(0x30, body);
  w.fixed(alg);
  w.header(0x03, bits);
  w.byte(0);
  w.byte(0x04); // uncompressed point
  w.bytes(x, 0, x.byteLength);
  w.bytes(y, 0, y.byteLength);
  return w.out;
}

/**
 * The DER ECDSA-Sig-Value of a JWS signature r‖s, each `size` bytes (32 for ES256, 48 for ES384), or null
 * when the signature is not exactly 2 × size bytes (RFC 7518 §3.4: such a signature is invalid). r or s of
 * zero or not below the order is encoded as is: the verifier refuses it.
 */
export function ecdsaSignatureDer(sig: Uint8Array, size: i32): Uint8Array | null {
  if (sig.byteLength != 2 * size) return null;
  const seq = tlvSize(intContent(sig, 0, size)) + tlvSize(intContent(sig, size, 2 * size));
  const w = new Writer(tlvSize(seq));
  w.header(0x30, seq);
  w.integer(sig, 0, size);
  w.integer(sig, size, 2 * size);
  return w.out;
}
