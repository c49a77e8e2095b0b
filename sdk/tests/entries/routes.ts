// Test entry for sdk/tests/routes.test.ts: a filter that answers every request with 200 and a body naming
// the settings that applied: "<name> <limits.a> <limits.b>" from its configuration or the route rule
// selected. Config: {"name": string, "limits": {"a": int, "b": int}, "route_rules": [...]}.
export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, ConfigErrors, ConfigObject, readPluginConfig, registerRootContext,
  sendHttpResponse, log, RouteRules,
} from "proxy-wasm-as";

class Settings {
  name: string = "";
  a: i64 = -1;
  b: i64 = -1;
}

function parseSettings(cfg: ConfigObject): Settings {
  const s = new Settings();
  if (!cfg.allowOnly(["name", "limits", "route_rules"])) return s;
  s.name = cfg.nonEmptyString("name");
  const l = cfg.object("limits");
  if (l !== null && l.allowOnly(["a", "b"])) {
    s.a = l.int("a", -1, 0, 1000);
    s.b = l.int("b", -1, 0, 1000);
  }
  return s;
}

class RoutesRoot extends RootContext {
  rules: RouteRules = new RouteRules();
  settings: Settings[] = [];
  base: Settings = new Settings();

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    if (cfg !== null) {
      const base = parseSettings(cfg);
      const rules = errors.ok ? RouteRules.parse(cfg) : new RouteRules();
      const settings: Settings[] = [];
      for (let i = 0; i < rules.length && errors.ok; i++) settings.push(parseSettings(rules.merged(i)));
      rules.compact();
      if (!errors.ok) {
        rules.release();
      } else {
        this.rules.release();
        this.base = base;
        this.rules = rules;
        this.settings = settings;
      }
    }
    if (!errors.ok) {
      log.error("routes: " + errors.first);
      return false;
    }
    return true;
  }

  newHttpContext(contextId: u32): HttpContext | null { return new RoutesStream(contextId, this); }
}

class RoutesStream extends HttpContext {
  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const root = changetype<RoutesRoot>(this.root);
    const i = root.rules.select();
    const s = i < 0 ? root.base : root.settings[i];
    sendHttpResponse(200, "routes", s.name + " " + s.a.toString() + " " + s.b.toString());
    return Action.Pause;
  }
}

registerRootContext((id: u32): RootContext => new RoutesRoot(id));
