// signed-requests: refuses requests that are not signed by a known partner key. The signature (RSA or ECDSA,
// checked natively by Envoy's verify_signature) covers "<method>\n<path>\n<body>", the body as content: a body
// sent with content-encoding: deflate is inflated (Envoy's zlib) before it is checked. A CEL expression chooses
// which requests must be signed. The signer of a verified request is published as Envoy filter state (routes,
// access logs and later filters read it) and as a declared, read-only property. Responses can be deflated.
// Config: {"keys": {"partner-a": "-----BEGIN PUBLIC KEY-----\n..."}, "require_signature": "request.method != 'GET'"}

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, Header, registerRootContext, requestHeaders, requestBody, responseHeaders,
  responseBody, ConfigErrors, ConfigObject, readPluginConfig, log, encodeUtf8, sendHttpResponse, Counter, WasmResult,
  hostHas, setFilterState, declareProperty, verifySignature, compress, uncompress, clearRouteCache, setProperty,
  LifeSpan, PropertyType, Expression, lastForeignFunctionResult,
} from "proxy-wasm-as";
import { decodeBase64 } from "./base64";

const FIELDS = [
  "keys", "hash", "require_signature", "key_id_header", "signature_header", "max_body_bytes", "max_deflated_bytes",
  "hold_request_headers", "filter_state_key", "property", "compress_responses",
];
const HASHES = ["sha256", "sha384", "sha512"];
/** The filter state factories that take any string (Envoy's generic string objects). */
const STRING_FACTORIES = ["envoy.string", "envoy.hashable_string"];
const PUBLIC_KEY_PEM = "-----BEGIN PUBLIC KEY-----";
/** Deflate's best ratio is about 1032:1: this bounds what one inflated body can cost the host and the VM. */
const MAX_DEFLATED_LIMIT: i64 = 256 << 10;

class SigningKey {
  constructor(public readonly id: string, public readonly pem: ArrayBuffer) {}
}

class Settings {
  keys: SigningKey[] = [];
  hash: string = "sha256";
  selector: Expression | null = null;
  keyIdHeader: string = "x-signature-key";
  signatureHeader: string = "x-signature";
  maxBodyBytes: i64 = 1 << 20;
  maxDeflatedBytes: i64 = 64 << 10;
  holdRequestHeaders: bool = false;
  filterStateKey: string = "envoy.string";
  property: string = "signed_by";
  compressResponses: bool = false;
  /** The host inflates deflated bodies (Envoy's uncompress); without it they are refused with 415. */
  canInflate: bool = false;

  key(id: string): SigningKey | null {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i].id == id) return this.keys[i];
    return null;
  }
}

class SignedRoot extends RootContext {
  settings: Settings = new Settings();
  verified: Counter | null = null;
  refused: Counter | null = null;

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const next = new Settings();
    const cfg = readPluginConfig(errors);
    if (cfg !== null && cfg.allowOnly(FIELDS)) readSettings(cfg, next, errors);
    if (errors.ok && !hostHas("verify_signature")) {
      errors.add("", "this host cannot verify signatures (it has no verify_signature foreign function: Envoy 1.40 or later has it)");
    }
    next.canInflate = hostHas("uncompress");
    if (errors.ok && next.compressResponses && !hostHas("compress")) {
      errors.add("compress_responses", "this host has no compress foreign function (Envoy's zlib)");
    }
    if (errors.ok && next.property.length > 0) {
      // Declared once per root: a read-only string for the request, so no later filter can overwrite the signer.
      const r = declareProperty(next.property, PropertyType.String, LifeSpan.Request, true);
      if (r == WasmResult.NotFound) log.warn("signed-requests: this host cannot declare properties; " + next.property + " is set as plain bytes");
      else if (r != WasmResult.Ok && r != WasmResult.BadArgument) errors.add("property", "the host refused to declare it (" + r.toString() + ")");
    }
    if (errors.ok && next.filterStateKey.length > 0 && !hostHas("set_envoy_filter_state")) {
      log.warn("signed-requests: this host has no set_envoy_filter_state; the signer is published as the property only");
      next.filterStateKey = "";
    }
    if (!errors.ok) {
      if (next.selector !== null) next.selector!.delete();
      log.error("signed-requests: invalid configuration: " + errors.first);
      return false;
    }
    const old = this.settings.selector;
    if (old !== null) old.delete();
    this.settings = next;
    if (this.verified === null) {
      this.verified = new Counter("signed_requests.verified");
      this.refused = new Counter("signed_requests.refused");
    }
    return true;
  }

  newHttpContext(contextId: u32): HttpContext | null { return new SignedStream(contextId, this); }
}

function readSettings(cfg: ConfigObject, s: Settings, errors: ConfigErrors): void {
  s.hash = cfg.string("hash", "sha256");
  if (!HASHES.includes(s.hash)) errors.add("hash", "must be one of " + HASHES.join(", ") + ", got \"" + s.hash + "\"");
  const keys = cfg.object("keys", true);
  if (keys !== null) {
    const ids = keys.keys();
    if (ids.length == 0) errors.add("keys", "must name at least one public key");
    for (let i = 0; i < ids.length && errors.ok; i++) {
      const pem = keys.string(ids[i], "", true);
      if (errors.ok) checkKey(keys.fieldPath(ids[i]), pem, s.hash, errors);
      s.keys.push(new SigningKey(ids[i], encodeUtf8(pem)));
    }
  }
  s.keyIdHeader = cfg.nonEmptyString("key_id_header", false).toLowerCase();
  if (s.keyIdHeader.length == 0) s.keyIdHeader = "x-signature-key";
  s.signatureHeader = cfg.nonEmptyString("signature_header", false).toLowerCase();
  if (s.signatureHeader.length == 0) s.signatureHeader = "x-signature";
  s.maxBodyBytes = cfg.int("max_body_bytes", 1 << 20, 0, 64 << 20);
  s.maxDeflatedBytes = cfg.int("max_deflated_bytes", 64 << 10, 0, MAX_DEFLATED_LIMIT);
  s.holdRequestHeaders = cfg.bool("hold_request_headers", false);
  s.filterStateKey = cfg.string("filter_state_key", "envoy.string");
  if (s.filterStateKey.length > 0 && !STRING_FACTORIES.includes(s.filterStateKey)) {
    errors.add("filter_state_key", "must be \"\" or one of " + STRING_FACTORIES.join(", ") + " (Envoy builds the object with the factory of that name), got \"" + s.filterStateKey + "\"");
  }
  s.property = cfg.string("property", "signed_by");
  s.compressResponses = cfg.bool("compress_responses", false);
  // Last, so a configuration refused for another field leaves no expression behind on the host.
  if (errors.ok && cfg.has("require_signature")) {
    s.selector = Expression.compileField(errors, "require_signature", cfg.nonEmptyString("require_signature"));
  }
}

/**
 * Refuses a key Envoy could not use: anything but an SPKI PEM public key, or one Envoy cannot read. A check
 * against a one-byte signature tells an unreadable key ("Failed to initialize digest verify.") from a good one.
 */
function checkKey(field: string, pem: string, hash: string, errors: ConfigErrors): void {
  if (!pem.trim().startsWith(PUBLIC_KEY_PEM)) {
    errors.add(field, "must be a PEM public key (" + PUBLIC_KEY_PEM + " ..., RSA or ECDSA)");
    return;
  }
  if (!hostHas("verify_signature")) return; // refused below, with the reason
  const r = verifySignature(hash, encodeUtf8(pem), new ArrayBuffer(1), new ArrayBuffer(0));
  if (r.status != WasmResult.Ok || r.error.startsWith("Failed to initialize")) {
    errors.add(field, "Envoy cannot read this public key (" + (r.error.length > 0 ? r.error : "status " + r.status.toString()) + ")");
  }
}

class SignedStream extends HttpContext {
  /** The request must be signed, and its body is still to be checked. */
  pending: bool = false;
  deflated: bool = false;
  key: SigningKey | null = null;
  signature: ArrayBuffer = new ArrayBuffer(0);
  method: string = "";
  path: string = "";
  acceptsDeflate: bool = false;
  compressing: bool = false;

  get settings(): Settings { return changetype<SignedRoot>(this.root).settings; }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const s = this.settings;
    const accept = requestHeaders.get("accept-encoding");
    this.acceptsDeflate = accept !== null && accept.toLowerCase().includes("deflate");
    // An expression that fails to evaluate (a missing header, a type error) selects the request: fail closed.
    if (s.selector !== null && !s.selector!.evaluateBool(true)) return Action.Continue;
    const keyId = requestHeaders.get(s.keyIdHeader);
    const sig = requestHeaders.get(s.signatureHeader);
    if (keyId === null || sig === null || keyId.length == 0 || sig.length == 0) {
      return this.refuse(401, "signature_missing", "this request must be signed: send " + s.keyIdHeader + " and " + s.signatureHeader);
    }
    const key = s.key(keyId);
    if (key === null) return this.refuse(403, "signature_unknown_key", "unknown signing key \"" + keyId + "\"");
    const decoded = decodeBase64(sig.trim());
    if (decoded === null || decoded.byteLength == 0) return this.refuse(400, "signature_malformed", s.signatureHeader + " must be base64");
    const encoding = requestHeaders.get("content-encoding");
    const enc = encoding === null ? "" : encoding.trim().toLowerCase();
    if (enc != "" && enc != "identity" && enc != "deflate") {
      return this.refuse(415, "signature_unsupported_encoding", "content-encoding \"" + enc + "\" is not supported: send the body as is or deflated");
    }
    if (enc == "deflate" && !s.canInflate) {
      return this.refuse(415, "signature_unsupported_encoding", "this proxy cannot inflate content-encoding: deflate");
    }
    this.deflated = enc == "deflate";
    this.key = key;
    this.signature = decoded;
    const method = requestHeaders.get(":method");
    const path = requestHeaders.get(":path");
    this.method = method !== null ? method : "";
    this.path = path !== null ? path : "";
    if (endOfStream) return this.check(new ArrayBuffer(0));
    this.pending = true;
    // Holding the headers keeps the upstream from seeing any part of an unverified request, and lets the route
    // and later filters read the signer; it needs Envoy's allow_on_headers_stop_iteration (see README.md).
    return s.holdRequestHeaders ? Action.Pause : Action.Continue;
  }

  onRequestBody(bodySize: usize, endOfStream: bool): Action {
    if (!this.pending) return Action.Continue;
    const s = this.settings;
    const limit = this.deflated ? s.maxDeflatedBytes : s.maxBodyBytes;
    if (<i64>bodySize > limit) {
      return this.refuse(413, "signature_body_too_large", (this.deflated ? "deflated body over " : "body over ") + limit.toString() + " bytes");
    }
    if (!endOfStream) return Action.Pause; // buffer: the signature covers the whole body
    return this.check(requestBody.read());
  }

  onRequestTrailers(numTrailers: u32): Action {
    if (!this.pending) return Action.Continue;
    return this.check(requestBody.read());
  }

  /** Inflates the body when it is deflated, verifies the signature and publishes the signer; or refuses. */
  check(body: ArrayBuffer): Action {
    this.pending = false;
    const s = this.settings;
    let content = body;
    if (this.deflated) {
      if (<i64>body.byteLength > s.maxDeflatedBytes) {
        return this.refuse(413, "signature_body_too_large", "deflated body over " + s.maxDeflatedBytes.toString() + " bytes");
      }
      const inflated = uncompress(body);
      if (inflated === null) {
        return this.refuse(400, "signature_bad_deflate", "the body is not valid content-encoding: deflate (zlib) data (" + lastForeignFunctionResult.toString() + ")");
      }
      content = inflated;
    }
    if (<i64>content.byteLength > s.maxBodyBytes) {
      return this.refuse(413, "signature_body_too_large", "body over " + s.maxBodyBytes.toString() + " bytes");
    }
    const key = this.key!;
    const r = verifySignature(s.hash, key.pem, this.signature, signedText(this.method, this.path, content));
    if (r.status != WasmResult.Ok) {
      log.warn("signed-requests: verify_signature answered " + r.status.toString() + " for key " + key.id);
      return this.refuse(500, "signature_check_failed", "the signature could not be checked");
    }
    if (!r.ok) return this.refuse(403, "signature_invalid", "the signature does not match this request for key \"" + key.id + "\"");
    this.publish(key.id);
    changetype<SignedRoot>(this.root).verified!.increment();
    return Action.Continue;
  }

  publish(signer: string): void {
    const s = this.settings;
    if (s.filterStateKey.length > 0) {
      const r = setFilterState(s.filterStateKey, signer, LifeSpan.Request);
      if (r != WasmResult.Ok) log.warn("signed-requests: filter state " + s.filterStateKey + " not set (" + r.toString() + ")");
      // Routes that match on the filter state are chosen again, now that it is set.
      else clearRouteCache();
    }
    if (s.property.length > 0) setProperty([s.property], encodeUtf8(signer));
  }

  refuse(status: u32, details: string, message: string): Action {
    this.pending = false;
    changetype<SignedRoot>(this.root).refused!.increment();
    sendHttpResponse(status, details, message + "\n", [Header.of("content-type", "text/plain")]);
    return Action.Pause;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    const s = this.settings;
    if (!s.compressResponses || !this.acceptsDeflate || endOfStream) return Action.Continue;
    // Only a body whose size is known and bounded: the headers leave before the body is seen.
    const length = responseHeaders.get("content-length");
    const n = length !== null ? I64.parseInt(length) : -1;
    if (n <= 0 || n > s.maxBodyBytes || responseHeaders.get("content-encoding") !== null) return Action.Continue;
    this.compressing = true;
    responseHeaders.remove("content-length");
    responseHeaders.replace("content-encoding", "deflate");
    responseHeaders.add("vary", "accept-encoding");
    return Action.Continue;
  }

  onResponseBody(bodySize: usize, endOfStream: bool): Action {
    if (!this.compressing) return Action.Continue;
    if (<i64>bodySize > this.settings.maxBodyBytes) {
      // More than content-length said: the reply cannot be finished correctly.
      sendHttpResponse(502, "signature_response_too_large", "response body larger than its content-length\n");
      return Action.Pause;
    }
    if (!endOfStream) return Action.Pause;
    const packed = compress(responseBody.read());
    if (packed === null) {
      sendHttpResponse(502, "signature_compress_failed", "the response could not be compressed\n");
      return Action.Pause;
    }
    responseBody.replace(packed);
    return Action.Continue;
  }
}

/** What a signature covers: the method, the path (with its query) and the body as content, one per line. */
function signedText(method: string, path: string, content: ArrayBuffer): ArrayBuffer {
  const head = encodeUtf8(method + "\n" + path + "\n");
  const out = new ArrayBuffer(head.byteLength + content.byteLength);
  memory.copy(changetype<usize>(out), changetype<usize>(head), <usize>head.byteLength);
  memory.copy(changetype<usize>(out) + <usize>head.byteLength, changetype<usize>(content), <usize>content.byteLength);
  return out;
}

registerRootContext((id: u32): RootContext => new SignedRoot(id));
