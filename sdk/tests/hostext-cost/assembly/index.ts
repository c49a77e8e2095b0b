// Per-call cost of Envoy's host extensions against the pure-Wasm alternative, measured inside the filter with
// the host clock: a request names the operation (x-op) and a count (x-n); the filter runs it that many times
// and answers 200 with the nanoseconds per call, or 500 naming the first call that failed.
//   verify-native  verifySignature (RSA-2048 PKCS#1 v1.5, sha256) through the host
//   verify-wasm    the auth filter's own RSA code (filters/auth/assembly/crypto) on the same key and signature
//   cel            a compiled CEL condition on a request header, evaluated by the host (plugin configuration
//                  {"condition": "<CEL>"} replaces it; one that does not compile is refused, naming the field)
//   matcher        the same condition in Wasm with the SDK's HeaderMatchers
//   compress, uncompress   zlib through the host on x-size bytes of text
// Inputs in hex headers: x-n-hex and x-e-hex (the RSA key's modulus and exponent), x-key-hex (its SPKI DER),
// x-sig-hex, x-text.

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, registerRootContext, requestHeaders, sendHttpResponse, nowNanos, encodeUtf8,
  verifySignature, compress, uncompress, Expression, HeaderMatchers, parseConfig, readPluginConfig, ConfigErrors, log,
} from "proxy-wasm-as";
import { RsaPublicKey } from "../../../../filters/auth/assembly/crypto/rsa";
import { HashAlg } from "../../../../filters/auth/assembly/crypto/digest";
import { rsaPkcs1v15Verify } from "../../../../filters/auth/assembly/crypto/rsa";

const CONDITION = "request.headers['x-cel'] == 'yes'";

class CostRoot extends RootContext {
  condition: Expression | null = null;
  matchers: HeaderMatchers | null = null;

  onConfigure(size: usize): bool {
    // The previous configuration's expression goes first: the host keeps it until deleted.
    if (this.condition !== null) this.condition!.delete();
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    const text = cfg !== null ? cfg.string("condition", CONDITION) : CONDITION;
    this.condition = Expression.compileField(errors, "condition", text);
    const spec = parseConfig(encodeUtf8('{"matchers": [{"name": "x-cel", "exact_match": "yes"}]}'), errors);
    if (spec !== null) this.matchers = HeaderMatchers.parse(spec, "matchers");
    if (!errors.ok) {
      log.error("hostext-cost: invalid configuration: " + errors.first);
      return false;
    }
    return true;
  }

  newHttpContext(contextId: u32): HttpContext | null { return new CostStream(contextId, this); }
}

class CostStream extends HttpContext {
  get cost(): CostRoot { return changetype<CostRoot>(this.root); }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const op = header("x-op");
    const n = I32.parseInt(header("x-n"));
    const text = encodeUtf8(header("x-text"));
    const keyDer = fromHex(header("x-key-hex"));
    const sig = fromHex(header("x-sig-hex"));
    let failed = -1;
    let t0: u64 = 0;
    let t1: u64 = 0;
    if (op == "verify-native") {
      t0 = nowNanos();
      for (let i = 0; i < n; i++) if (!verifySignature("sha256", keyDer, sig, text).ok) { failed = i; break; }
      t1 = nowNanos();
    } else if (op == "verify-wasm") {
      t0 = nowNanos();
      // Preparing the key is part of each call, as verifySignature reads its key each time.
      for (let i = 0; i < n; i++) {
        const key = RsaPublicKey.fromBytes(Uint8Array.wrap(fromHex(header("x-n-hex"))), Uint8Array.wrap(fromHex(header("x-e-hex"))));
        if (key === null || !rsaVerify(key, text, sig)) { failed = i; break; }
      }
      t1 = nowNanos();
    } else if (op == "cel") {
      const e = this.cost.condition!;
      t0 = nowNanos();
      for (let i = 0; i < n; i++) if (!e.evaluateBool()) { failed = i; break; }
      t1 = nowNanos();
    } else if (op == "matcher") {
      const m = this.cost.matchers!;
      t0 = nowNanos();
      for (let i = 0; i < n; i++) if (!m.matches()) { failed = i; break; }
      t1 = nowNanos();
    } else if (op == "compress" || op == "uncompress") {
      const size = I32.parseInt(header("x-size"));
      const data = new ArrayBuffer(size);
      for (let i = 0; i < size; i++) store<u8>(changetype<usize>(data) + <usize>i, <u8>(0x61 + (i * 7) % 13));
      const packed = compress(data);
      if (packed === null) failed = 0;
      else {
        t0 = nowNanos();
        for (let i = 0; i < n; i++) {
          const out = op == "compress" ? compress(data) : uncompress(packed);
          if (out === null) { failed = i; break; }
        }
        t1 = nowNanos();
      }
    } else {
      sendHttpResponse(400, "unknown_op", "unknown x-op " + op + "\n");
      return Action.Pause;
    }
    if (failed >= 0) sendHttpResponse(500, "op_failed", op + " failed at call " + failed.toString() + "\n");
    else sendHttpResponse(200, "cost", ((t1 - t0) / <u64>n).toString() + "\n");
    return Action.Pause;
  }
}

function rsaVerify(key: RsaPublicKey, text: ArrayBuffer, sig: ArrayBuffer): bool {
  return rsaPkcs1v15Verify(key, HashAlg.SHA256, Uint8Array.wrap(text), Uint8Array.wrap(sig));
}

function header(name: string): string {
  const v = requestHeaders.get(name);
  return v !== null ? v : "";
}

const HEX = "0123456789abcdef";

function fromHex(s: string): ArrayBuffer {
  const out = new ArrayBuffer(s.length >> 1);
  for (let i = 0; i + 1 < s.length; i += 2) {
    const hi = HEX.indexOf(s.charAt(i));
    const lo = HEX.indexOf(s.charAt(i + 1));
    store<u8>(changetype<usize>(out) + <usize>(i >> 1), <u8>((hi << 4) | lo));
  }
  return out;
}

registerRootContext((id: u32): RootContext => new CostRoot(id));
