// Scenarios for Envoy's host extensions (filter state, declared properties, signatures, zlib, feature
// detection). Inputs come in request headers (keys, signatures and zlib streams as hex), results go into request
// headers the upstream echoes, so Envoy's answers and the emulator's can be compared byte for byte.

import {
  requestHeaders, WasmResult, callForeignFunction, getProperty, setProperty, encodeUtf8, decodeUtf8, lastForeignFunctionResult,
  hostHas, setFilterState, declareProperty, verifySignature, sign, compress, uncompress, LifeSpan, PropertyType,
  Expression, lastExpressionResult, log,
} from "proxy-wasm-as";

/** What onConfigure's declarations answered, reported by the "declare" scenario. */
let declared: string = "";

/** Declares the properties the "declare" scenario sets: a read-only string and a writable byte string. */
export function declareConformanceProperties(): void {
  const a = declareProperty("conformance_once", PropertyType.String, LifeSpan.FilterChain, true);
  const b = declareProperty("conformance_bytes", PropertyType.Bytes, LifeSpan.Request, false);
  if (declared.length == 0) declared = a.toString() + "," + b.toString();
}

/** Expressions compiled in onConfigure (the "cel" scenario evaluates them) and what compiling answered. */
const CEL_TEXTS = [
  "request.path",
  "request.method + ' ' + request.headers['x-cel']",
  "request.headers['x-cel'] == 'yes' && size(request.headers) > 3",
  "int(request.headers['x-n']) * 2",
  "uint(request.headers['x-n']) + 1u",
  "double(request.headers['x-n']) / 4.0",
  "'x-cel' in request.headers",
  "1 + 'a'",
  "request.no_such_field",
  "int('twelve')",
  "request.path ==",
  "no_such_function(1)",
  "xds.listener_direction",
  "size(filter_state) == 0",
  "size(request.id) == 36",
  "xds.node.id + ' ' + xds.node.cluster",
  "'[' + xds.filter_chain_name + ']'",
  "request.time > timestamp('2020-01-01T00:00:00Z')",
  "size(metadata.filter_metadata)",
  "size(xds.route_metadata.filter_metadata)",
  "size(xds.cluster_metadata.filter_metadata)",
  "size(xds.listener_metadata.filter_metadata)",
  "size(xds.virtual_host_metadata.filter_metadata)",
  "has(xds.route_metadata.filter_metadata)",
  "timestamp('2020-01-01T00:00:01Z')",
  "duration('1.5s')",
  "{'a': 'b'}",
  "{'n': 1}",
  "['a', b'x', 2u]",
  "{}",
  "request.time - request.time",
];
let expressions: Array<Expression | null> = [];
let compiled: string = "";
/**
 * `xds.node`, a message: Envoy answers its protobuf bytes (an envoy.config.core.v3.Node listing every extension
 * the binary has, 61 KB in Envoy 1.40), so the scenario reports the fields it shares with the emulator (id,
 * cluster) rather than the bytes.
 */
let nodeExpression: Expression | null = null;

/** Compiles CEL_TEXTS, deleting the previous configuration's expressions first. */
export function compileConformanceExpressions(): void {
  for (let i = 0; i < expressions.length; i++) if (expressions[i] !== null) expressions[i]!.delete();
  if (nodeExpression !== null) nodeExpression!.delete();
  nodeExpression = Expression.compile("xds.node");
  expressions = [];
  const statuses = new Array<string>();
  for (let i = 0; i < CEL_TEXTS.length; i++) {
    expressions.push(Expression.compile(CEL_TEXTS[i]));
    statuses.push(lastExpressionResult.toString());
  }
  compiled = statuses.join(",");
}

const FUNCTIONS = ["set_envoy_filter_state", "declare_property", "verify_signature", "sign", "compress", "uncompress", "expr_delete", "no_such_function"];

/** Runs scenario `sc` if it is one of these; false otherwise. */
export function hostExtensionScenario(sc: string): bool {
  if (sc == "host-has") {
    const out = new Array<string>();
    for (let i = 0; i < FUNCTIONS.length; i++) out.push(FUNCTIONS[i] + "=" + (hostHas(FUNCTIONS[i]) ? "yes" : "no"));
    requestHeaders.replace("x-host-has", out.join(","));
    return true;
  }
  if (sc == "cel") {
    requestHeaders.replace("x-cel-compiled", compiled);
    for (let i = 0; i < expressions.length; i++) {
      const e = expressions[i];
      const v = e !== null ? e.evaluate() : null;
      requestHeaders.replace("x-cel-" + i.toString(), lastExpressionResult.toString() + " " + readable(v));
    }
    const node = nodeExpression !== null ? nodeExpression!.evaluate() : null;
    requestHeaders.replace("x-cel-node", lastExpressionResult.toString() + " " + (node !== null ? nodeFields(node) : "null"));
    const once = Expression.compile("request.method");
    if (once !== null) {
      once.delete();
      const token = new ArrayBuffer(4);
      store<u32>(changetype<usize>(token), once.token);
      // Straight to the host: evaluating a deleted token.
      callForeignFunction("expr_evaluate", token);
      requestHeaders.replace("x-cel-deleted", lastForeignFunctionResult.toString());
    }
    return true;
  }
  if (sc == "sign") {
    const r = sign(header("x-hash"), hexHeader("x-key-hex"), encodeUtf8(header("x-text")));
    requestHeaders.replace("x-sign-status", r.status.toString());
    requestHeaders.replace("x-sign-ok", r.ok ? "true" : "false");
    requestHeaders.replace("x-sign-error", r.error);
    requestHeaders.replace("x-signature", toHex(r.signature));
    return true;
  }
  if (sc == "verify") {
    const r = verifySignature(header("x-hash"), hexHeader("x-key-hex"), hexHeader("x-sig-hex"), encodeUtf8(header("x-text")));
    requestHeaders.replace("x-verify-status", r.status.toString());
    requestHeaders.replace("x-verify-ok", r.ok ? "true" : "false");
    requestHeaders.replace("x-verify-error", r.error);
    return true;
  }
  if (sc == "zlib") {
    const text = encodeUtf8(header("x-text"));
    const packed = compress(text);
    requestHeaders.replace("x-compress-status", lastForeignFunctionResult.toString());
    const back = packed !== null ? uncompress(packed) : null;
    requestHeaders.replace("x-roundtrip", back !== null && decodeUtf8(back) == header("x-text") ? "same" : "differs");
    const given = uncompress(hexHeader("x-zlib-hex"));
    requestHeaders.replace("x-uncompress-status", lastForeignFunctionResult.toString());
    requestHeaders.replace("x-uncompressed", given !== null ? hexOrDigest(given) : "null");
    return true;
  }
  if (sc == "filter-state") {
    const key = header("x-fs-key");
    const span = header("x-fs-span");
    const life = span == "connection" ? LifeSpan.Connection : span == "request" ? LifeSpan.Request : LifeSpan.FilterChain;
    requestHeaders.replace("x-fs-status", setFilterState(key, header("x-fs-value"), life).toString());
    requestHeaders.replace("x-fs-read", readable(getProperty(["filter_state", key])));
    requestHeaders.replace("x-fs-read-top", readable(getProperty([key])));
    // What CEL's filter_state sees of it.
    const texts = ["size(filter_state)", "filter_state['" + key + "']", "'" + key + "' in filter_state"];
    for (let i = 0; i < texts.length; i++) {
      const e = Expression.compile(texts[i]);
      const v = e !== null ? e.evaluate() : null;
      requestHeaders.replace("x-fs-cel-" + i.toString(), lastExpressionResult.toString() + " " + readable(v));
      if (e !== null) e.delete();
    }
    return true;
  }
  if (sc == "declare") {
    requestHeaders.replace("x-declared", declared);
    requestHeaders.replace("x-declare-again", declareProperty("conformance_once", PropertyType.String).toString());
    const first = setProperty(["conformance_once"], encodeUtf8(header("x-value")));
    const second = setProperty(["conformance_once"], encodeUtf8("changed"));
    requestHeaders.replace("x-set-once", first.toString() + "," + second.toString());
    requestHeaders.replace("x-read-once", readable(getProperty(["conformance_once"])));
    const bytes = setProperty(["conformance_bytes"], encodeUtf8(header("x-value")));
    requestHeaders.replace("x-set-bytes", bytes.toString() + "," + setProperty(["conformance_bytes"], encodeUtf8("again")).toString());
    requestHeaders.replace("x-read-bytes", readable(getProperty(["conformance_bytes"])));
    return true;
  }
  return false;
}

function header(name: string): string {
  const v = requestHeaders.get(name);
  return v !== null ? v : "";
}

/** A value for a header: its text when printable ASCII, else "hex:" and its bytes; "null" when absent. */
/** In on_log, where Envoy has the request's duration: what the "cel" scenario's log-time expressions answer. */
export function hostExtensionLog(sc: string): void {
  if (sc != "cel") return;
  const texts = ["request.duration >= duration('0s')", "request.duration < duration('1h')"];
  const out = new Array<string>();
  for (let i = 0; i < texts.length; i++) {
    const e = Expression.compile(texts[i]);
    const v = e !== null ? e.evaluate() : null;
    out.push(lastExpressionResult.toString() + " " + readable(v));
    if (e !== null) e.delete();
  }
  log.info("cel at log: " + out.join(", "));
}

function readable(v: ArrayBuffer | null): string {
  if (v === null) return "null";
  const p = changetype<usize>(v);
  for (let i = 0; i < v.byteLength; i++) {
    const c = load<u8>(p + <usize>i);
    if (c < 0x20 || c > 0x7e) return "hex:" + toHex(v);
  }
  return decodeUtf8(v);
}

function hexHeader(name: string): ArrayBuffer {
  return fromHex(header(name));
}

const HEX = "0123456789abcdef";

// @ts-ignore: decorator
@lazy const HEX_DIGITS = String.UTF8.encode(HEX);

/**
 * Written into one buffer and decoded once: a string grown by `+=` per byte copies everything so far each time,
 * and a collection runs only between callbacks, so 61 KB of bytes (xds.node's) would take gigabytes of garbage
 * and trap the VM when linear memory can grow no more.
 */
function toHex(b: ArrayBuffer): string {
  const n = <usize>b.byteLength;
  const out = new ArrayBuffer(<i32>(n << 1));
  const p = changetype<usize>(b);
  const q = changetype<usize>(out);
  const d = changetype<usize>(HEX_DIGITS);
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(p + i);
    store<u8>(q + (i << 1), load<u8>(d + (c >> 4)));
    store<u8>(q + (i << 1) + 1, load<u8>(d + (c & 15)));
  }
  return String.UTF8.decode(out);
}

/** Up to 1 KiB, the bytes as hex; beyond, their length and FNV-1a hash, so a header stays far below Envoy's limits. */
function hexOrDigest(b: ArrayBuffer): string {
  if (b.byteLength <= 1024) return toHex(b);
  const p = changetype<usize>(b);
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < b.byteLength; i++) h = (h ^ load<u8>(p + <usize>i)) * 0x01000193;
  return b.byteLength.toString() + " bytes, fnv1a " + h.toString(16);
}

/**
 * The `id` and `cluster` (fields 1 and 2) of a serialised Node message, skipping the others; "not a message"
 * when the bytes do not parse as protobuf.
 */
function nodeFields(b: ArrayBuffer): string {
  const p = changetype<usize>(b);
  const end = <usize>b.byteLength;
  let at: usize = 0;
  let id = "";
  let cluster = "";
  while (at < end) {
    const key = readVarint(p, end, at);
    if (key < 0) return "not a message";
    at = varintEnd;
    const field = key >> 3;
    const wire = key & 7;
    if (wire == 0) {
      if (readVarint(p, end, at) < 0) return "not a message";
      at = varintEnd;
    } else if (wire == 1 || wire == 5) {
      at += wire == 1 ? 8 : 4;
      if (at > end) return "not a message";
    } else if (wire == 2) {
      const len = readVarint(p, end, at);
      if (len < 0 || <u64>len > <u64>(end - varintEnd)) return "not a message";
      at = varintEnd;
      if (field == 1) id = String.UTF8.decodeUnsafe(p + at, <usize>len);
      if (field == 2) cluster = String.UTF8.decodeUnsafe(p + at, <usize>len);
      at += <usize>len;
    } else return "not a message";
  }
  return "message id=" + id + " cluster=" + cluster;
}

/** Where the last readVarint stopped. */
let varintEnd: usize = 0;

/** A varint at `at` (of at most 9 bytes, enough for any length here), or -1 when it runs past `end` or is longer. */
function readVarint(p: usize, end: usize, at: usize): i64 {
  let v: i64 = 0;
  for (let shift: i64 = 0; shift < 63; shift += 7) {
    if (at >= end) return -1;
    const c = load<u8>(p + at++);
    v |= <i64>(c & 0x7f) << shift;
    if ((c & 0x80) == 0) { varintEnd = at; return v; }
  }
  return -1;
}

function fromHex(s: string): ArrayBuffer {
  const out = new ArrayBuffer(s.length >> 1);
  for (let i = 0; i + 1 < s.length; i += 2) {
    const hi = HEX.indexOf(s.charAt(i).toLowerCase());
    const lo = HEX.indexOf(s.charAt(i + 1).toLowerCase());
    store<u8>(changetype<usize>(out) + <usize>(i >> 1), <u8>(((hi < 0 ? 0 : hi) << 4) | (lo < 0 ? 0 : lo)));
  }
  return out;
}
