// Envoy's host extensions as typed calls: foreign functions Envoy registers (source/extensions/common/wasm/
// foreign.cc) for typed filter state, property declarations, signatures and zlib. Another host may lack any of
// them: `hostHas` tells, so a filter can fall back (every call here then returns NotFound, never traps).

import { WasmResult } from "./abi/enums";
import { callForeignFunction, lastForeignFunctionResult } from "./foreign";
import {
  decodeResult, encodeDeclareProperty, encodeSetEnvoyFilterState, encodeSign, encodeVerifySignature, hostHasFunction,
} from "./internal/hostext";
import { decodeUtf8 } from "./utf8";

/**
 * Whether the host has the foreign function `name` ("set_envoy_filter_state", "declare_property",
 * "verify_signature", "sign", "compress", "uncompress", ...). Asked once per VM, then remembered; call it from
 * onConfigure (see hostHasFunction for what the probe sends).
 */
export function hostHas(name: string): bool {
  return hostHasFunction(name);
}

/** How long a filter state object lives (Envoy's StreamInfo::FilterState::LifeSpan). */
export enum LifeSpan {
  /** Until the filter chain ends: the request, for an HTTP filter. */
  FilterChain = 0,
  /** The downstream request, including internal redirects. */
  Request = 1,
  /** The downstream connection: later requests on it see the object too. */
  Connection = 2,
}

/** How Envoy's expressions (CEL, access logs) read a declared property. */
export enum PropertyType {
  Bytes = 0,
  String = 1,
  FlatBuffers = 2,
  Protobuf = 3,
}

/**
 * Sets an object in Envoy's filter state, where Envoy's own filters, the route table (RouteMatch.filter_state)
 * and the access log read it. `key` names both the object and the factory Envoy builds it with: one Envoy
 * registers, such as "envoy.string" (a generic string), "envoy.tcp_proxy.cluster",
 * "envoy.upstream.dynamic_host", "envoy.network.upstream_server_name". Valid in stream callbacks.
 * Returns Ok; NotFound when Envoy has no factory of that name, no stream is current, or the host lacks the
 * function; BadArgument when the factory refuses the value. Unlike setProperty, the key has no "wasm." prefix.
 */
export function setFilterState(key: string, value: string, span: LifeSpan = LifeSpan.FilterChain): WasmResult {
  const args = encodeSetEnvoyFilterState(String.UTF8.encode(key), String.UTF8.encode(value), <u32>span);
  callForeignFunction("set_envoy_filter_state", args);
  return lastForeignFunctionResult;
}

/**
 * Declares the property `name` (then set with setProperty([name], value)) with its type, life span and whether
 * it may be set only once. Call it in onConfigure: Envoy keeps declarations on the root context, and
 * setProperty in a stream uses the declaration of its root. Returns Ok; BadArgument when `name` is already
 * declared (a declaration is never replaced); NotFound when the host lacks the function.
 */
export function declareProperty(
  name: string, type: PropertyType = PropertyType.Bytes, span: LifeSpan = LifeSpan.FilterChain, readOnly: bool = false,
): WasmResult {
  const args = encodeDeclareProperty(String.UTF8.encode(name), readOnly, <u32>type, new ArrayBuffer(0), <u32>span);
  callForeignFunction("declare_property", args);
  return lastForeignFunctionResult;
}

/** The outcome of verifySignature or sign. */
export class SignatureResult {
  /** Ok when the host ran the check; BadArgument for a key it could not read; NotFound without the function. */
  status: WasmResult = WasmResult.Ok;
  /** True for a valid signature (verify) or a signature made (sign). */
  ok: bool = false;
  /** The signature sign made; empty otherwise. */
  signature: ArrayBuffer = new ArrayBuffer(0);
  /** Envoy's reason when `ok` is false with status Ok (an unsupported hash, a signature that does not match). */
  error: string = "";
}

const PEM_START = "-----BEGIN";

/** True when key bytes start with "-----BEGIN" (PEM); anything else is taken as DER. */
function isPem(key: ArrayBuffer): bool {
  const n = PEM_START.length;
  if (key.byteLength < n) return false;
  const p = changetype<usize>(key);
  for (let i = 0; i < n; i++) if (load<u8>(p + <usize>i) != <u8>PEM_START.charCodeAt(i)) return false;
  return true;
}

function signatureResult(out: ArrayBuffer | null, signature: bool): SignatureResult {
  const r = new SignatureResult();
  r.status = lastForeignFunctionResult;
  if (out === null) return r;
  const f = decodeResult(out);
  if (!f.ok) {
    r.status = WasmResult.SerializationFailure;
    return r;
  }
  r.ok = f.flag;
  if (signature) {
    r.signature = f.field2;
    r.error = decodeUtf8(f.field3);
  } else {
    r.error = decodeUtf8(f.field2);
  }
  return r;
}

/**
 * Verifies `signature` over `text` with a public key (PEM text or DER bytes) and a hash function ("sha1",
 * "sha224", "sha256", "sha384", "sha512"; RSA PKCS#1 v1.5 or ECDSA by the key's type), natively in the host.
 * Valid in any callback. A wrong signature or an unsupported hash gives status Ok, ok false and Envoy's reason.
 */
export function verifySignature(hash: string, publicKey: ArrayBuffer, signature: ArrayBuffer, text: ArrayBuffer): SignatureResult {
  const pem = isPem(publicKey);
  const none = new ArrayBuffer(0);
  const args = encodeVerifySignature(String.UTF8.encode(hash), pem ? none : publicKey, pem ? publicKey : none, signature, text);
  return signatureResult(callForeignFunction("verify_signature", args), false);
}

/**
 * Signs `text` with a private key (PEM text or PKCS#8/traditional DER bytes) and a hash function, natively in the
 * host. Valid in any callback. Returns the signature in `signature`; see verifySignature for the statuses.
 */
export function sign(hash: string, privateKey: ArrayBuffer, text: ArrayBuffer): SignatureResult {
  const pem = isPem(privateKey);
  const none = new ArrayBuffer(0);
  const args = encodeSign(String.UTF8.encode(hash), pem ? none : privateKey, pem ? privateKey : none, text);
  return signatureResult(callForeignFunction("sign", args), true);
}

/**
 * `data` compressed by the host's zlib (the zlib format with its default level), or null with
 * lastForeignFunctionResult NotFound when the host lacks the function. Valid in any callback.
 */
export function compress(data: ArrayBuffer): ArrayBuffer | null {
  return callForeignFunction("compress", data);
}

/**
 * The bytes of a zlib-format stream, or null: lastForeignFunctionResult is SerializationFailure for data that
 * is not a complete zlib stream, NotFound when the host lacks the function. Valid in any callback.
 */
export function uncompress(data: ArrayBuffer): ArrayBuffer | null {
  return callForeignFunction("uncompress", data);
}
