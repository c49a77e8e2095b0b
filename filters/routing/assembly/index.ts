// routing: header-based routing for canary and A/B releases, configured like the `http` section of an Istio
// VirtualService. The first rule whose match holds picks a destination (sticky weighted splits), the
// filter writes the destination's subset into a request header (x-route-subset by default) and clears
// Envoy's route cache, so the route table, matching on that header, sends the request to the subset's
// cluster. With `subset_filter_state` it publishes the subset as typed filter state instead of (or besides)
// the header, which the route table matches with RouteMatch.filter_state and the upstream never sees.
// See ../README.md for the configuration reference.

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, registerRootContext, requestHeaders, responseHeaders, HeaderMap,
  ConfigErrors, readPluginConfig, log, clearRouteCache, setProperty, attributes, Counter, WasmResult,
  hostHas, setFilterState,
} from "proxy-wasm-as";
import { parseSettings, defineCounters } from "./config";
import { RequestView } from "./request";
import { Destination, HeaderOps, Rule, Settings, chooseDestination, firstMatch } from "./rules";

class RoutingRoot extends RootContext {
  settings: Settings | null = null;
  /** Reused for every request: a VM runs one callback at a time. */
  readonly request: RequestView = new RequestView();
  noMatch: Counter | null = null;
  filterStateFailed: Counter | null = null;

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    const settings = cfg !== null ? parseSettings(cfg) : null;
    if (settings === null || !errors.ok) {
      // A rejected update keeps the previous configuration running (Envoy NACKs it).
      log.error("routing: invalid configuration: " + errors.first);
      return false;
    }
    if (settings.filterStateKey.length > 0 && !hostHas("set_envoy_filter_state")) {
      log.error("routing: invalid configuration: subset_filter_state: this host has no set_envoy_filter_state function (Envoy's typed filter state), so the route table could not see the decision");
      return false;
    }
    defineCounters(settings);
    if (this.noMatch === null) {
      this.noMatch = new Counter("routing.no_match");
      this.filterStateFailed = new Counter("routing.filter_state_failed");
    }
    this.settings = settings;
    return true;
  }

  newHttpContext(contextId: u32): HttpContext | null {
    return new RoutingStream(contextId, this);
  }
}

class RoutingStream extends HttpContext {
  private rule: Rule | null = null;
  private destination: Destination | null = null;

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const root = changetype<RoutingRoot>(this.root);
    const s = root.settings;
    if (s === null) return Action.Continue;
    const req = root.request;
    req.begin();
    const port: i64 = s.needsPort ? attributes.destination.port() : -1;

    const rule = firstMatch(s, req, port);

    if (rule === null) {
      // The routing headers are this filter's to write: a client must not pick a subset by sending one.
      let changed = s.subsetHeader.length > 0 && stripClientHeader(req, s.subsetHeaderBytes, s.subsetHeader);
      if (s.hostHeader.length > 0) changed = stripClientHeader(req, s.hostHeaderBytes, s.hostHeader) || changed;
      if (s.ruleHeader.length > 0) changed = stripClientHeader(req, s.ruleHeaderBytes, s.ruleHeader) || changed;
      req.end();
      root.noMatch!.increment();
      if (changed) clearRouteCache();
      return Action.Continue;
    }

    // Chosen before any header is changed: an operation may remove the sticky key.
    const d = chooseDestination(s, rule, req);

    if (rule.request !== null) apply(requestHeaders, rule.request!);
    if (d.request !== null) apply(requestHeaders, d.request!);
    if (s.subsetHeader.length > 0) write(req, s.subsetHeaderBytes, s.subsetHeader, d.value);
    if (s.hostHeader.length > 0) write(req, s.hostHeaderBytes, s.hostHeader, d.hostBytes);
    if (s.ruleHeader.length > 0) write(req, s.ruleHeaderBytes, s.ruleHeader, rule.nameBytes);
    req.end();
    if (s.filterStateSubset.length > 0) setProperty([s.filterStateSubset], d.value);
    if (s.filterStateRule.length > 0) setProperty([s.filterStateRule], rule.nameBytes);
    if (s.filterStateKey.length > 0 && setFilterState(s.filterStateKey, d.label) != WasmResult.Ok) {
      // Envoy has no factory of that name, or it refused the value: the route table will not match it.
      root.filterStateFailed!.increment();
    }
    d.counter!.increment();
    clearRouteCache();

    this.rule = rule;
    this.destination = d;
    return Action.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    const rule = this.rule;
    if (rule === null) return Action.Continue;
    if (rule.response !== null) apply(responseHeaders, rule.response!);
    const d = this.destination!;
    if (d.response !== null) apply(responseHeaders, d.response!);
    return Action.Continue;
  }
}

/** Removes a routing header the client sent; true when there was one. */
function stripClientHeader(req: RequestView, key: ArrayBuffer, name: string): bool {
  if (req.headers.indexOf(key) < 0) return false;
  requestHeaders.remove(name);
  return true;
}

/**
 * Sets a routing header to exactly one value. Envoy's replace changes only the first of repeated headers,
 * so a client that sent the header twice would keep its second value next to ours: remove those first.
 */
function write(req: RequestView, key: ArrayBuffer, name: string, value: ArrayBuffer): void {
  const first = req.headers.indexOf(key);
  if (first >= 0 && req.headers.indexOf(key, first + 1) >= 0) requestHeaders.remove(name);
  requestHeaders.replaceBytes(key, value);
}

/** Envoy's order for header mutations: removals, then replacements, then additions. */
function apply(map: HeaderMap, ops: HeaderOps): void {
  for (let i = 0, n = ops.remove.length; i < n; i++) map.remove(unchecked(ops.remove[i]));
  for (let i = 0, n = ops.set.length; i < n; i++) {
    const h = unchecked(ops.set[i]);
    map.replaceBytes(h.key, h.value);
  }
  for (let i = 0, n = ops.add.length; i < n; i++) {
    const h = unchecked(ops.add[i]);
    map.addBytes(h.key, h.value);
  }
}

registerRootContext((id: u32): RootContext => new RoutingRoot(id));
