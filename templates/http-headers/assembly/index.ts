// http-headers: adds configured headers to every response and counts requests per method.
// Config: {"response_headers": {"x-powered-by": "proxy-wasm-as"}, "log_requests": false}

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, Header, registerRootContext, requestHeaders, responseHeaders,
  Counter, ConfigErrors, readPluginConfig, log,
} from "proxy-wasm-as";

class HeadersRoot extends RootContext {
  responseHeaders: Header[] = [];
  logRequests: bool = false;
  requests: Counter | null = null;

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    if (cfg !== null && cfg.allowOnly(["response_headers", "log_requests"])) {
      const headers = cfg.object("response_headers");
      const added = new Array<Header>();
      if (headers !== null) {
        const names = headers.keys();
        for (let i = 0; i < names.length; i++) {
          const value = headers.string(names[i], "", true);
          added.push(Header.of(names[i].toLowerCase(), value));
        }
      }
      this.logRequests = cfg.bool("log_requests", false);
      if (errors.ok) this.responseHeaders = added;
    }
    if (!errors.ok) {
      log.error("http-headers: invalid configuration: " + errors.first);
      return false;
    }
    if (this.requests === null) this.requests = new Counter("http_headers.requests");
    return true;
  }

  newHttpContext(contextId: u32): HttpContext | null {
    return new HeadersStream(contextId, this);
  }
}

class HeadersStream extends HttpContext {
  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const root = changetype<HeadersRoot>(this.root);
    root.requests!.increment();
    if (root.logRequests) {
      const path = requestHeaders.get(":path");
      log.info("request " + (path !== null ? path : "(no path)"));
    }
    return Action.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    const headers = changetype<HeadersRoot>(this.root).responseHeaders;
    for (let i = 0; i < headers.length; i++) {
      const h = unchecked(headers[i]);
      responseHeaders.replaceBytes(h.key, h.value);
    }
    return Action.Continue;
  }
}

registerRootContext((id: u32): RootContext => new HeadersRoot(id));
