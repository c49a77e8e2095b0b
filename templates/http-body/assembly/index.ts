// http-body: rewrites response bodies: replaces every occurrence of configured byte strings (for example,
// masking an internal host name), and reports the size of the request body in a response header.
// Config: {"replace": {"internal.example": "public.example"}, "max_body_bytes": 1048576}

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, registerRootContext, responseHeaders, responseBody,
  ConfigErrors, readPluginConfig, log, encodeUtf8, sendHttpResponse,
} from "proxy-wasm-as";

class Replacement {
  constructor(public from: ArrayBuffer, public to: ArrayBuffer) {}
}

class BodyRoot extends RootContext {
  replacements: Replacement[] = [];
  maxBodyBytes: i64 = 1 << 20;

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    const next = new Array<Replacement>();
    if (cfg !== null && cfg.allowOnly(["replace", "max_body_bytes"])) {
      const r = cfg.object("replace");
      if (r !== null) {
        const keys = r.keys();
        for (let i = 0; i < keys.length; i++) {
          if (keys[i].length == 0) r.error("", "a key (the text to replace) must not be empty");
          next.push(new Replacement(encodeUtf8(keys[i]), encodeUtf8(r.string(keys[i], "", true))));
        }
      }
      this.maxBodyBytes = cfg.int("max_body_bytes", 1 << 20, 1, 64 << 20);
    }
    if (!errors.ok) {
      log.error("http-body: invalid configuration: " + errors.first);
      return false;
    }
    this.replacements = next;
    return true;
  }

  newHttpContext(contextId: u32): HttpContext | null { return new BodyStream(contextId, this); }
}

class BodyStream extends HttpContext {
  rewriting: bool = false;
  requestBodyBytes: u64 = 0;

  onRequestBody(bodySize: usize, endOfStream: bool): Action {
    // bodySize is this chunk's size: the request streams through, nothing is buffered.
    this.requestBodyBytes += <u64>bodySize;
    return Action.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    // Request headers went upstream long ago; the request body size can only be reported on the response.
    responseHeaders.replace("x-request-body-bytes", this.requestBodyBytes.toString());
    const root = changetype<BodyRoot>(this.root);
    this.rewriting = !endOfStream && root.replacements.length > 0;
    // The length changes with the rewrite; Envoy then sends the body chunked.
    if (this.rewriting) responseHeaders.remove("content-length");
    return Action.Continue;
  }

  onResponseBody(bodySize: usize, endOfStream: bool): Action {
    if (!this.rewriting) return Action.Continue;
    const root = changetype<BodyRoot>(this.root);
    if (<i64>bodySize > root.maxBodyBytes) {
      sendHttpResponse(502, "body_too_large_to_rewrite", "response body too large to rewrite\n");
      return Action.Pause;
    }
    if (!endOfStream) return Action.Pause; // buffer until the whole body is here: a match may span chunks
    let body = responseBody.read();
    for (let i = 0; i < root.replacements.length; i++) body = replaceAll(body, root.replacements[i]);
    responseBody.replace(body);
    return Action.Continue;
  }
}

/** Every occurrence of r.from in data replaced by r.to (bytes; no string decoding). */
function replaceAll(data: ArrayBuffer, r: Replacement): ArrayBuffer {
  const n = data.byteLength, m = r.from.byteLength;
  const src = changetype<usize>(data), pat = changetype<usize>(r.from);
  const hits = new Array<i32>();
  for (let i = 0; i + m <= n;) {
    if (memory.compare(src + <usize>i, pat, <usize>m) == 0) { hits.push(i); i += m; } else i++;
  }
  if (hits.length == 0) return data;
  const out = new ArrayBuffer(n + hits.length * (r.to.byteLength - m));
  let from = 0, at = 0;
  const dst = changetype<usize>(out);
  for (let h = 0; h < hits.length; h++) {
    const len = hits[h] - from;
    memory.copy(dst + <usize>at, src + <usize>from, <usize>len);
    at += len;
    memory.copy(dst + <usize>at, changetype<usize>(r.to), <usize>r.to.byteLength);
    at += r.to.byteLength;
    from = hits[h] + m;
  }
  memory.copy(dst + <usize>at, src + <usize>from, <usize>(n - from));
  return out;
}

registerRootContext((id: u32): RootContext => new BodyRoot(id));
