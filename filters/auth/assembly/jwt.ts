// Verifying one compact JWS/JWT against a key set, in the order that keeps attacker-controlled input away
// from anything but the signature check: split and size-check the token, decode and parse the header
// (strict JSON object, no duplicate names), pick the algorithm from the header and the key from the
// set (the key must fit the algorithm; embedded `jwk`/`jku`/`x5u`/`x5c` headers are never used), verify
// the signature over the exact signing input, and only then parse the payload and check the claims.

import { JsonValue, parseJson } from "proxy-wasm-as";
import { hmacVerify } from "./crypto/hmac";
import { rsaPkcs1v15Verify, rsaPssVerify } from "./crypto/rsa";
import { ecdsaVerify } from "./crypto/ec";
import { Alg, algFromName, algHash, Jwk, KeySet, KeyType } from "./jwk";
import { base64UrlDecodeUnsafe } from "./encoding";
import { hostAlg, hostVerify, HostVerdict } from "./native";

/**
 * Outcomes, named after Envoy's jwt_authn (jwt_verify_lib) statuses; `message` gives the sentence Envoy
 * puts in the 401/403 body, so clients see the same text whichever filter answered.
 */
export enum Status {
  Ok,
  JwtMissed,
  JwtNotYetValid,
  JwtExpired,
  JwtBadFormat,
  JwtTooLarge,
  JwtHeaderParseError,
  JwtHeaderBadAlg,
  JwtHeaderNotImplementedAlg,
  JwtHeaderBadKid,
  JwtHeaderCrit,
  JwtPayloadParseError,
  JwtSignatureParseError,
  JwtUnknownIssuer,
  JwtAudienceNotAllowed,
  JwtVerificationFail,
  JwtExpirationRequired,
  JwksKidAlgMismatch,
  JwksAmbiguousKid,
  JwksFetchFail,
  /** Internal: the provider's keys are being fetched; the request waits (never sent to a client). */
  Waiting,
  /** The path holds an escaped slash or a backslash, so rules cannot be matched safely (400). */
  PathRefused,
  /** A token without kid, and more keys fit its algorithm than MAX_KIDLESS_TRIES. */
  JwtKidRequired,
}

export function statusMessage(s: Status): string {
  switch (s) {
    case Status.Ok: return "OK";
    case Status.JwtMissed: return "Jwt is missing";
    case Status.JwtNotYetValid: return "Jwt not yet valid";
    case Status.JwtExpired: return "Jwt is expired";
    case Status.JwtBadFormat: return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
    case Status.JwtTooLarge: return "Jwt is too large";
    case Status.JwtHeaderParseError: return "Jwt header is an invalid Base64url input or an invalid JSON";
    case Status.JwtHeaderBadAlg: return "Jwt header [alg] field is not a string";
    case Status.JwtHeaderNotImplementedAlg: return "Jwt header [alg] field value is invalid";
    case Status.JwtHeaderBadKid: return "Jwt header [kid] field is not a string";
    case Status.JwtHeaderCrit: return "Jwt header [crit] names an extension that is not supported";
    case Status.JwtPayloadParseError: return "Jwt payload is an invalid Base64 or an invalid JSON";
    case Status.JwtSignatureParseError: return "Jwt signature is an invalid Base64";
    case Status.JwtUnknownIssuer: return "Jwt issuer is not configured";
    case Status.JwtAudienceNotAllowed: return "Audiences in Jwt are not allowed";
    case Status.JwtVerificationFail: return "Jwt verification fails";
    case Status.JwtExpirationRequired: return "Jwt expiration is required";
    case Status.JwksKidAlgMismatch: return "Jwks doesn't have key to match kid or alg from Jwt";
    case Status.JwksAmbiguousKid: return "Jwks has several keys with the kid from Jwt";
    case Status.JwksFetchFail: return "Jwks remote fetch is failed";
    case Status.PathRefused: return "Path with an escaped slash or a backslash is refused";
    case Status.JwtKidRequired: return "Jwt header [kid] is required: several keys fit its algorithm";
    default: return "Jwt verification fails";
  }
}

/** A token whose header parsed: what key selection needs. */
export class JwsHeader {
  alg: Alg = Alg.None;
  kid: string | null = null;
}

/** Claims read once from a verified payload (kept in the token cache). */
export class Claims {
  hasExp: bool = false;
  exp: f64 = 0;
  hasNbf: bool = false;
  nbf: f64 = 0;
  iss: string | null = null;
  aud: string[] = [];
  /** The payload JSON object (for claim_to_headers); dropped by `keepOnly` before the claims are cached. */
  payload: JsonValue = new JsonValue();
  /** The decoded payload bytes (for forward_payload_header); empty when the provider does not forward it. */
  payloadBytes: Uint8Array = new Uint8Array(0);
  /** The claim_to_headers values, one per configured entry (null: the claim is absent or not a scalar). */
  headerValues: Array<string | null> = [];

  /** Drops what the provider will not use: the parsed payload, and its bytes unless they are forwarded. */
  keepOnly(headerValues: Array<string | null>, keepPayloadBytes: bool): void {
    this.headerValues = headerValues;
    this.payload = new JsonValue();
    if (!keepPayloadBytes) this.payloadBytes = new Uint8Array(0);
  }

  /** Bytes these claims hold (strings as UTF-16), for the token cache's byte budget. */
  cost(): i32 {
    let n = 64 + this.payloadBytes.byteLength;
    if (this.iss !== null) n += this.iss!.length << 1;
    for (let i = 0; i < this.aud.length; i++) n += 16 + (this.aud[i].length << 1);
    for (let i = 0; i < this.headerValues.length; i++) {
      const v = this.headerValues[i];
      n += 16 + (v !== null ? v.length << 1 : 0);
    }
    return n;
  }
}

/** Result of the signature stage. `claims` is set only when the status is Ok. */
export class JwsResult {
  status: Status = Status.JwtVerificationFail;
  claims: Claims | null = null;
  /** The token's header was valid and a key was looked up by this kid but none matched (refetch candidate). */
  unknownKid: bool = false;
}

/**
 * A token without kid is tried against the keys that fit its algorithm, at most this many; beyond that it
 * is refused (JwtKidRequired) without trying any: each try is a signature verification an attacker
 * chooses to cost.
 */
export const MAX_KIDLESS_TRIES = 4;
/** Largest decoded JWS header accepted, and most members in it: a header names alg, kid, typ and little else. */
export const MAX_HEADER_BYTES = 4096;
export const MAX_HEADER_MEMBERS = 32;

/** Splits a compact JWS: exactly three parts, two dots. Returns the dot positions packed, or -1. */
function dots(ptr: usize, len: usize): i64 {
  let first: i64 = -1, second: i64 = -1;
  for (let i: usize = 0; i < len; i++) {
    if (load<u8>(ptr + i) == 0x2E) {
      if (first < 0) first = <i64>i;
      else if (second < 0) second = <i64>i;
      else return -1; // a fourth part (JWE has five)
    }
  }
  if (second < 0) return -1;
  return (first << 32) | second;
}

/**
 * Parses the token's header and checks its signature with the set's keys. `token` is the exact ASCII text.
 * The payload is decoded (base64url) before the signature check only to reject malformed tokens early;
 * its JSON is parsed after the signature verified. `parsePayload` false stops after the signature (a plain
 * JWS whose payload need not be JSON, as in the Wycheproof JWS tests).
 */
export function verifyJws(token: ArrayBuffer, keys: KeySet, maxBytes: i32, parsePayload: bool = true, host: bool = false): JwsResult {
  const res = new JwsResult();
  const ptr = changetype<usize>(token);
  const len = <usize>token.byteLength;
  if (len == 0) { res.status = Status.JwtBadFormat; return res; }
  if (maxBytes > 0 && len > <usize>maxBytes) { res.status = Status.JwtTooLarge; return res; }
  const d = dots(ptr, len);
  if (d < 0) { res.status = Status.JwtBadFormat; return res; }
  const d1 = <usize>(d >> 32), d2 = <usize>(d & 0xFFFFFFFF);
  if (d1 == 0) { res.status = Status.JwtBadFormat; return res; }

  // Header: bounded before it is decoded or parsed.
  if (d1 > <usize>(MAX_HEADER_BYTES / 3 * 4 + 3)) { res.status = Status.JwtHeaderParseError; return res; }
  const headerBytes = base64UrlDecodeUnsafe(ptr, d1);
  if (headerBytes === null) { res.status = Status.JwtHeaderParseError; return res; }
  const header = new JwsHeader();
  const hs = parseHeader(headerBytes, header);
  if (hs != Status.Ok) { res.status = hs; return res; }

  // Payload and signature bytes.
  const payloadBytes = base64UrlDecodeUnsafe(ptr + d1 + 1, d2 - d1 - 1);
  if (payloadBytes === null) { res.status = Status.JwtPayloadParseError; return res; }
  const sig = base64UrlDecodeUnsafe(ptr + d2 + 1, len - d2 - 1);
  if (sig === null) { res.status = Status.JwtSignatureParseError; return res; }
  if (sig.byteLength == 0) { res.status = Status.JwtVerificationFail; return res; }

  // Key selection: by kid when the token names one (several keys with it is ambiguous, so refused),
  // else the keys that fit the algorithm are tried, when there are at most MAX_KIDLESS_TRIES of them.
  const signingInput = Uint8Array.wrap(token, 0, <i32>d2);
  const kid = header.kid;
  let verified = false;
  if (kid !== null) {
    let match: Jwk | null = null;
    let count = 0;
    let sameKid = 0;
    for (let i = 0, n = keys.keys.length; i < n; i++) {
      const k = unchecked(keys.keys[i]);
      if (k.kid === null || k.kid! != kid) continue;
      sameKid++;
      if (k.fits(header.alg)) { match = k; count++; }
    }
    if (sameKid > 1) { res.status = Status.JwksAmbiguousKid; return res; }
    if (match === null) {
      res.status = Status.JwksKidAlgMismatch;
      res.unknownKid = sameKid == 0;
      return res;
    }
    verified = verifyWith(match, header.alg, signingInput, sig, host);
  } else {
    let fitting = 0;
    for (let i = 0, n = keys.keys.length; i < n; i++) if (unchecked(keys.keys[i]).fits(header.alg)) fitting++;
    if (fitting > MAX_KIDLESS_TRIES) { res.status = Status.JwtKidRequired; return res; }
    let tried = 0;
    for (let i = 0, n = keys.keys.length; i < n && !verified; i++) {
      const k = unchecked(keys.keys[i]);
      if (!k.fits(header.alg)) continue;
      tried++;
      verified = verifyWith(k, header.alg, signingInput, sig, host);
    }
    if (tried == 0) { res.status = Status.JwksKidAlgMismatch; return res; }
  }
  if (!verified) { res.status = Status.JwtVerificationFail; return res; }

  // The signature holds: now the payload may be parsed.
  if (!parsePayload) { res.status = Status.Ok; return res; }
  const claims = parseClaims(payloadBytes);
  if (claims === null) { res.status = Status.JwtPayloadParseError; return res; }
  res.status = Status.Ok;
  res.claims = claims;
  return res;
}

/** `host`: RS* and ES* go to the host's verify_signature (falling back to Wasm if the host errs). */
function verifyWith(k: Jwk, alg: Alg, msg: Uint8Array, sig: Uint8Array, host: bool): bool {
  if (host && k.spki !== null && hostAlg(alg)) {
    const v = hostVerify(alg, k.spki!, msg, sig);
    if (v != HostVerdict.Error) return v == HostVerdict.Valid;
  }
  switch (k.type) {
    case KeyType.Oct: return hmacVerify(algHash(alg), k.secret!, msg, sig);
    case KeyType.Rsa:
      if (alg >= Alg.PS256) return rsaPssVerify(k.rsa!, algHash(alg), msg, sig);
      return rsaPkcs1v15Verify(k.rsa!, algHash(alg), msg, sig);
    default: return ecdsaVerify(k.ec!, msg, sig);
  }
}

/** Reads alg, kid and crit from the header JSON. */
export function parseHeader(bytes: Uint8Array, out: JwsHeader): Status {
  if (bytes.byteLength > MAX_HEADER_BYTES) return Status.JwtHeaderParseError;
  const r = parseJson(bytes.buffer, MAX_HEADER_MEMBERS);
  if (!r.ok || !r.value!.isObject) return Status.JwtHeaderParseError;
  const h = r.value!;
  const alg = h.get("alg");
  if (alg === null || !alg.isString) return Status.JwtHeaderBadAlg;
  out.alg = algFromName(alg.stringValue);
  if (out.alg == Alg.None) return Status.JwtHeaderNotImplementedAlg;
  const kid = h.get("kid");
  if (kid !== null) {
    if (!kid.isString) return Status.JwtHeaderBadKid;
    out.kid = kid.stringValue;
  }
  // RFC 7515 §4.1.11: a recipient must reject a token whose crit lists an extension it does not
  // understand. This filter understands none (not even b64, RFC 7797), so any crit is refused.
  if (h.get("crit") !== null) return Status.JwtHeaderCrit;
  return Status.Ok;
}

/** Parses a verified payload: it must be a JSON object; exp/nbf must be numbers, iss a string, aud a string or strings. */
export function parseClaims(bytes: Uint8Array): Claims | null {
  const r = parseJson(bytes.buffer);
  if (!r.ok) return null;
  const p = r.value!;
  if (!p.isObject) return null;
  const c = new Claims();
  c.payload = p;
  c.payloadBytes = bytes;
  const exp = p.get("exp");
  if (exp !== null) {
    if (!exp.isNumber) return null;
    c.hasExp = true;
    c.exp = exp.numberValue;
  }
  const nbf = p.get("nbf");
  if (nbf !== null) {
    if (!nbf.isNumber) return null;
    c.hasNbf = true;
    c.nbf = nbf.numberValue;
  }
  const iss = p.get("iss");
  if (iss !== null) {
    if (!iss.isString) return null;
    c.iss = iss.stringValue;
  }
  const aud = p.get("aud");
  if (aud !== null) {
    if (aud.isString) c.aud.push(aud.stringValue);
    else if (aud.isArray) {
      for (let i = 0; i < aud.length; i++) {
        if (!aud.at(i).isString) return null;
        c.aud.push(aud.at(i).stringValue);
      }
    } else return null;
  }
  return c;
}

/** What a provider requires of the claims. */
export class ClaimRules {
  issuer: string = "";
  /** Already normalised with normalizeAudience. */
  audiences: string[] = [];
  clockSkewSeconds: i64 = 60;
  requireExpiration: bool = false;
}

/**
 * Checks time and identity claims at `nowNanos`: exp is exclusive (a token is expired at exp, plus the
 * skew), nbf inclusive (valid from nbf, minus the skew); then issuer, then audience.
 */
export function checkClaims(c: Claims, rules: ClaimRules, audiences: string[], nowNanos: u64): Status {
  const now = <f64>nowNanos / 1e9;
  const skew = <f64>rules.clockSkewSeconds;
  if (c.hasExp) {
    if (!(now < c.exp + skew)) return Status.JwtExpired;
  } else if (rules.requireExpiration) {
    return Status.JwtExpirationRequired;
  }
  if (c.hasNbf && !(now >= c.nbf - skew)) return Status.JwtNotYetValid;
  if (rules.issuer.length > 0) {
    const iss = c.iss;
    if (iss === null || iss != rules.issuer) return Status.JwtUnknownIssuer;
  }
  if (audiences.length > 0) {
    let found = false;
    for (let i = 0; i < c.aud.length && !found; i++) {
      const a = normalizeAudience(c.aud[i]);
      for (let j = 0; j < audiences.length; j++) if (a == audiences[j]) { found = true; break; }
    }
    if (!found) return Status.JwtAudienceNotAllowed;
  }
  return Status.Ok;
}

/**
 * Audiences compare without an http:// or https:// scheme and without a trailing slash, as Envoy's
 * jwt_verify_lib does ("https://api.example.com/" matches "api.example.com").
 */
export function normalizeAudience(a: string): string {
  let s = a;
  if (s.startsWith("https://")) s = s.substring(8);
  else if (s.startsWith("http://")) s = s.substring(7);
  if (s.endsWith("/")) s = s.substring(0, s.length - 1);
  return s;
}
