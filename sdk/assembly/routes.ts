// Per-route rules: one plugin, different settings per route. A filter's configuration may carry
//
//   "route_rules": [
//     {"match": {"route_name": "checkout"}, "config": {"abort": null}},
//     {"match": {"virtual_host": "admin", "path_prefix": "/debug/"}, "config": {...}},
//     {"match": {"cel": "request.headers['x-tier'] == 'gold'"}, "config": {...}}
//   ]
//
// Each rule's `config` is a JSON Merge Patch (RFC 7396) applied to the filter's own configuration (objects
// merge member by member, anything else replaces, null removes), and the filter parses the result with its
// usual reader: a rule can change one field and inherit every other. Matches are compiled and the merged
// configurations parsed once in onConfigure; per request the filter asks once which rule applies
// (`select`), which reads only the attributes the rules use, each at most once. The shape and the order
// of precedence are documented in docs/route-rules.md.

import { ConfigObject, ConfigErrors } from "./config";
import { JsonValue, JsonKind } from "./json";
import { requestHeaders } from "./headers";
import { getPropertyBytes, encodePath } from "./internal/hostcalls";
import { normalizePath, NormalizedPath } from "./path";
import { encodeUtf8 } from "./utf8";
import { Expression } from "./cel";

/** The member of a filter's configuration that holds its rules. */
export const ROUTE_RULES_FIELD = "route_rules";

const MATCH_FIELDS: string[] = ["route_name", "virtual_host", "host", "path_prefix", "cel"];

// @ts-ignore: decorator
@lazy const ROUTE_NAME = encodePath(["xds", "route_name"]);
// @ts-ignore: decorator
@lazy const VIRTUAL_HOST_NAME = encodePath(["xds", "virtual_host_name"]);

/** What one rule requires of a request: every condition set must hold. */
export class RouteMatch {
  /** `xds.route_name` is one of these (UTF-8); empty: any route. */
  routeNames: ArrayBuffer[] = [];
  /** `xds.virtual_host_name` is one of these (UTF-8); empty: any virtual host. */
  virtualHosts: ArrayBuffer[] = [];
  /** The host as configured, lower-cased ("" for any); `*.example.com` is a wildcard. */
  host: string = "";
  /** Lower-cased host bytes, or the suffix after `*` for a wildcard. */
  hostBytes: ArrayBuffer = new ArrayBuffer(0);
  hostWildcard: bool = false;
  /** A prefix of the normalised path ("" for any). */
  pathPrefix: string = "";
  /** A CEL condition evaluated by the host (Envoy's expr_evaluate), or null. */
  cel: Expression | null = null;
  /** The rule's position in the configuration. */
  index: i32 = 0;
  /** A canonical form of the conditions, to find two rules that match the same requests. */
  key: string = "";
}

/**
 * The rules of one configuration, most specific first. Parse in onConfigure with `RouteRules.parse`, build
 * each rule's configuration from `merged(i, cfg)`, and call `select()` once per request (valid from
 * onRequestHeaders on, in an HTTP stream).
 */
export class RouteRules {
  readonly matches: RouteMatch[] = [];
  private patches: JsonValue[] = [];
  private base: JsonValue | null = null;
  private basePath: string = "";
  private errors: ConfigErrors = new ConfigErrors();
  private usesRoute: bool = false;
  private usesVhost: bool = false;
  private usesHost: bool = false;
  private usesPath: bool = false;
  // Per request: each attribute is read at most once, and only when a rule needs it.
  private routeLoaded: bool = false;
  private route: ArrayBuffer | null = null;
  private vhostLoaded: bool = false;
  private vhost: ArrayBuffer | null = null;
  private hostLoaded: bool = false;
  private authority: ArrayBuffer | null = null;
  private pathLoaded: bool = false;
  private norm: NormalizedPath = new NormalizedPath();

  /** Number of rules. */
  get length(): i32 { return this.matches.length; }
  get isEmpty(): bool { return this.matches.length == 0; }

  /**
   * Reads `route_rules` from `cfg` (absent: no rules) and sorts the rules most specific first. Errors go to
   * `cfg.errors`, naming the field ("route_rules[1].match.path_prefix: must start with /"). Valid in
   * onConfigure.
   */
  static parse(cfg: ConfigObject): RouteRules {
    const out = new RouteRules();
    out.base = cfg.json;
    out.basePath = cfg.path;
    out.errors = cfg.errors;
    const list = cfg.array(ROUTE_RULES_FIELD);
    if (list === null) return out;
    for (let i = 0; i < list.length; i++) {
      const rule = list.object(i);
      if (rule === null || !rule.allowOnly(["match", "config"])) return out;
      const m = rule.object("match", true);
      const patch = rule.object("config", true);
      if (m === null || patch === null) return out;
      if (patch.has(ROUTE_RULES_FIELD)) { patch.error(ROUTE_RULES_FIELD, "rules do not nest: set route_rules only at the top level"); return out; }
      const match = parseMatch(m, i);
      if (match === null) { out.release(); return out; }
      // Insertion sort, stable: the new rule goes after every rule at least as specific.
      let at = out.matches.length;
      while (at > 0 && compareSpecificity(match, out.matches[at - 1]) > 0) at--;
      for (let k = 0; k < out.matches.length; k++) {
        if (out.matches[k].key == match.key) {
          m.error("", "matches the same requests as " + list.itemPath(out.matches[k].index) + ".match, so it would never apply");
          if (match.cel !== null) match.cel!.delete();
          out.release();
          return out;
        }
      }
      insertAt<RouteMatch>(out.matches, at, match);
      insertAt<JsonValue>(out.patches, at, patch.json);
      out.usesRoute = out.usesRoute || match.routeNames.length > 0;
      out.usesVhost = out.usesVhost || match.virtualHosts.length > 0;
      out.usesHost = out.usesHost || match.host.length > 0;
      out.usesPath = out.usesPath || match.pathPrefix.length > 0;
    }
    return out;
  }

  /**
   * The configuration rule `i` (in the sorted order) applies: its `config` merged onto the filter's
   * configuration without `route_rules`, for the filter's own reader. Errors are reported under the
   * rule's path ("route_rules[0].config.abort.http_status: …"). Valid in onConfigure.
   */
  merged(i: i32): ConfigObject {
    const base = this.base !== null ? withoutMember(this.base!, ROUTE_RULES_FIELD) : JsonValue.ofKind(JsonKind.Object);
    const path = (this.basePath.length > 0 ? this.basePath + "." : "") + ROUTE_RULES_FIELD + "[" + this.matches[i].index.toString() + "].config";
    return new ConfigObject(mergePatch(base, this.patches[i]), path, this.errors);
  }

  /**
   * Rule `i`'s own `config`, as written (for a filter that refuses some fields in rules, such as settings
   * whose state all routes share). Valid in onConfigure.
   */
  patch(i: i32): ConfigObject {
    const path = (this.basePath.length > 0 ? this.basePath + "." : "") + ROUTE_RULES_FIELD + "[" + this.matches[i].index.toString() + "].config";
    return new ConfigObject(this.patches[i], path, this.errors);
  }

  /**
   * Frees the host's copies of the rules' CEL conditions. Call it on the rules a configuration replaces, once
   * the new one is accepted (and on new rules whose configuration is refused).
   */
  release(): void {
    for (let i = 0; i < this.matches.length; i++) {
      const e = this.matches[i].cel;
      if (e !== null) e.delete();
    }
  }

  /** Drops the JSON kept for `merged`, once every rule's configuration is built. */
  compact(): void {
    this.patches = [];
    this.base = null;
  }

  /**
   * The rule that applies to the current request: the first, in order of specificity, whose conditions
   * all hold; -1 when none does (the filter's own configuration applies). Call once per request, from
   * onRequestHeaders on.
   */
  select(): i32 {
    const n = this.matches.length;
    if (n == 0) return -1;
    this.routeLoaded = false;
    this.vhostLoaded = false;
    this.hostLoaded = false;
    this.pathLoaded = false;
    let found = -1;
    for (let i = 0; i < n; i++) {
      if (this.holds(unchecked(this.matches[i]))) { found = i; break; }
    }
    this.route = null;
    this.vhost = null;
    this.authority = null;
    return found;
  }

  private holds(m: RouteMatch): bool {
    if (m.routeNames.length > 0) {
      if (!this.routeLoaded) { this.route = getPropertyBytes(ROUTE_NAME); this.routeLoaded = true; }
      if (!oneOf(this.route, m.routeNames)) return false;
    }
    if (m.pathPrefix.length > 0) {
      if (!this.pathLoaded) {
        const raw = requestHeaders.get(":path");
        normalizePath(raw !== null ? raw : "", this.norm);
        this.pathLoaded = true;
      }
      // A path that has no safe normal form (escaped slashes) or is not absolute matches no prefix.
      if (!this.norm.ok || !this.norm.path.startsWith(m.pathPrefix)) return false;
    }
    if (m.host.length > 0) {
      if (!this.hostLoaded) { this.authority = requestHeaders.getBytes(":authority"); this.hostLoaded = true; }
      if (!hostMatches(this.authority, m)) return false;
    }
    if (m.virtualHosts.length > 0) {
      if (!this.vhostLoaded) { this.vhost = getPropertyBytes(VIRTUAL_HOST_NAME); this.vhostLoaded = true; }
      if (!oneOf(this.vhost, m.virtualHosts)) return false;
    }
    // Last: the host evaluates it. An evaluation error (a missing attribute, a type error) is no match.
    if (m.cel !== null && !m.cel!.evaluateBool(false)) return false;
    return true;
  }
}

/**
 * Positive when `a` is more specific than `b`. Compared in this order, the first difference deciding:
 * a route name; a longer path prefix; an exact host, then a wildcard host with a longer suffix; a virtual
 * host; a CEL condition. Route-level conditions come before host-level ones, as a route's settings in Envoy
 * override its virtual host's.
 */
export function compareSpecificity(a: RouteMatch, b: RouteMatch): i32 {
  const ar = a.routeNames.length > 0 ? 1 : 0, br = b.routeNames.length > 0 ? 1 : 0;
  if (ar != br) return ar - br;
  if (a.pathPrefix.length != b.pathPrefix.length) return a.pathPrefix.length - b.pathPrefix.length;
  const ah = hostRank(a), bh = hostRank(b);
  if (ah != bh) return ah > bh ? 1 : -1;
  const av = a.virtualHosts.length > 0 ? 1 : 0, bv = b.virtualHosts.length > 0 ? 1 : 0;
  if (av != bv) return av - bv;
  return (a.cel !== null ? 1 : 0) - (b.cel !== null ? 1 : 0);
}

function hostRank(m: RouteMatch): i32 {
  if (m.host.length == 0) return -1;
  return m.hostWildcard ? m.hostBytes.byteLength : i32.MAX_VALUE;
}

function parseMatch(m: ConfigObject, index: i32): RouteMatch | null {
  if (!m.allowOnly(MATCH_FIELDS)) return null;
  const out = new RouteMatch();
  out.index = index;
  let any = false;
  let key = "";
  for (let f = 0; f < 2; f++) {
    const field = f == 0 ? "route_name" : "virtual_host";
    if (!m.has(field)) { key += "\u0000"; continue; }
    const names = nameList(m, field);
    if (names === null) return null;
    any = true;
    const sorted = names.slice(0);
    sorted.sort();
    key += sorted.join("\u0001") + "\u0000";
    const target = f == 0 ? out.routeNames : out.virtualHosts;
    for (let i = 0; i < names.length; i++) target.push(encodeUtf8(names[i]));
  }
  if (m.has("host")) {
    const h = m.nonEmptyString("host");
    if (!m.errors.ok) return null;
    const host = asciiLowerString(h);
    if (host.indexOf(":") >= 0 || host.indexOf("/") >= 0) { m.error("host", "must be a host name without port or path, got \"" + h + "\""); return null; }
    const star = host.indexOf("*");
    if (star > 0 || host.lastIndexOf("*") != star || host == "*") {
      m.error("host", "a wildcard must be a leading \"*\" followed by a suffix, such as \"*.example.com\", got \"" + h + "\"");
      return null;
    }
    out.host = host;
    out.hostWildcard = star == 0;
    out.hostBytes = encodeUtf8(star == 0 ? host.substring(1) : host);
    any = true;
  }
  key += out.host + "\u0000";
  if (m.has("path_prefix")) {
    const p = m.nonEmptyString("path_prefix");
    if (!m.errors.ok) return null;
    const n = normalizePath(p);
    if (!n.ok || n.path != p) {
      m.error("path_prefix", "must be a normalised absolute path (it is compared with the request's normalised path), got \"" + p + "\"" + (n.ok ? "; did you mean \"" + n.path + "\"?" : ""));
      return null;
    }
    out.pathPrefix = p;
    any = true;
  }
  key += out.pathPrefix + "\u0000";
  if (m.has("cel")) {
    const text = m.nonEmptyString("cel");
    if (!m.errors.ok) return null;
    // Compiled once, here; the filter's onConfigure is the only place this runs.
    out.cel = Expression.compileField(m.errors, m.fieldPath("cel"), text);
    if (out.cel === null) return null;
    key += text;
    any = true;
  }
  if (!any) { m.error("", "set at least one of " + MATCH_FIELDS.join(", ")); return null; }
  out.key = key;
  return out;
}

/** A string or a non-empty array of non-empty strings. */
function nameList(m: ConfigObject, field: string): string[] | null {
  const v = m.json.get(field)!;
  if (v.isString) {
    const s = m.nonEmptyString(field);
    return m.errors.ok ? [s] : null;
  }
  if (!v.isArray) { m.error(field, "must be a string or an array of strings, got " + v.typeName); return null; }
  const a = m.array(field)!;
  if (a.length == 0) { m.error(field, "must not be empty"); return null; }
  const names = a.strings();
  for (let i = 0; i < names.length; i++) {
    if (names[i].length == 0) { m.errors.add(a.itemPath(i), "must not be empty"); return null; }
  }
  return m.errors.ok ? names : null;
}

function oneOf(v: ArrayBuffer | null, names: ArrayBuffer[]): bool {
  if (v === null) return false;
  const p = changetype<usize>(v);
  const n = <usize>v.byteLength;
  for (let i = 0; i < names.length; i++) {
    const w = unchecked(names[i]);
    if (<usize>w.byteLength == n && memory.compare(p, changetype<usize>(w), n) == 0) return true;
  }
  return false;
}

/** `:authority` against a rule's host: ASCII case folded, the port ignored; `*.x` needs one character before `.x`. */
function hostMatches(authority: ArrayBuffer | null, m: RouteMatch): bool {
  if (authority === null) return false;
  const p = changetype<usize>(authority);
  let n = <usize>authority.byteLength;
  // Drop a trailing ":port" (digits only), unless it belongs to a bracketed IPv6 literal.
  for (let i = n; i > 0; i--) {
    const c = load<u8>(p + i - 1);
    if (c == 58 /* : */) { n = i - 1; break; }
    if (c < 48 || c > 57) break;
  }
  const want = changetype<usize>(m.hostBytes);
  const wn = <usize>m.hostBytes.byteLength;
  if (m.hostWildcard ? n <= wn : n != wn) return false;
  const start = n - wn;
  for (let i: usize = 0; i < wn; i++) {
    let c = load<u8>(p + start + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c != load<u8>(want + i)) return false;
  }
  return true;
}

function asciiLowerString(s: string): string {
  let out = s;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) { out = s.toLowerCase(); break; }
  }
  return out;
}

function insertAt<T>(list: T[], at: i32, item: T): void {
  list.push(item);
  for (let i = list.length - 1; i > at; i--) list[i] = list[i - 1];
  list[at] = item;
}

/** A copy of object `v` without member `key`. */
function withoutMember(v: JsonValue, key: string): JsonValue {
  const out = JsonValue.ofKind(JsonKind.Object);
  for (let i = 0; i < v.keys.length; i++) {
    if (v.keys[i] == key) continue;
    out.keys.push(v.keys[i]);
    out.items.push(v.items[i]);
  }
  return out;
}

/** RFC 7396: `patch` applied to `target` (neither is modified). */
export function mergePatch(target: JsonValue | null, patch: JsonValue): JsonValue {
  if (!patch.isObject) return patch;
  const out = JsonValue.ofKind(JsonKind.Object);
  if (target !== null && target.isObject) {
    for (let i = 0; i < target.keys.length; i++) { out.keys.push(target.keys[i]); out.items.push(target.items[i]); }
  }
  for (let i = 0; i < patch.keys.length; i++) {
    const k = patch.keys[i];
    const pv = patch.items[i];
    const at = out.keys.indexOf(k);
    if (pv.isNull) {
      if (at >= 0) { out.keys.splice(at, 1); out.items.splice(at, 1); }
    } else if (at >= 0) {
      out.items[at] = mergePatch(out.items[at], pv);
    } else {
      out.keys.push(k);
      out.items.push(mergePatch(null, pv));
    }
  }
  return out;
}
