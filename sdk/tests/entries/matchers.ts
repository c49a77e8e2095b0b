// Test entry for sdk/tests/matchers.test.ts: a filter that answers every request with 200 when all the
// configured header matchers match and 403 otherwise. Config: {"headers": [HeaderMatcher, ...]}.
export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, HeaderMatchers, ConfigErrors, readPluginConfig, registerRootContext,
  sendHttpResponse, log,
} from "proxy-wasm-as";

class MatchRoot extends RootContext {
  matchers: HeaderMatchers = new HeaderMatchers();

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    if (cfg !== null && cfg.allowOnly(["headers"])) {
      const m = HeaderMatchers.parse(cfg, "headers");
      if (errors.ok) this.matchers = m;
    }
    if (!errors.ok) {
      log.error("matchers: " + errors.first);
      return false;
    }
    return true;
  }

  newHttpContext(contextId: u32): HttpContext | null { return new MatchStream(contextId, this); }
}

class MatchStream extends HttpContext {
  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const ok = changetype<MatchRoot>(this.root).matchers.matches();
    sendHttpResponse(ok ? 200 : 403, ok ? "matched" : "not_matched", "");
    return Action.Pause;
  }
}

registerRootContext((id: u32): RootContext => new MatchRoot(id));
