// Reads the plugin configuration: the `http` section of an Istio VirtualService plus this filter's own
// settings. Every problem is reported once, as "<path>: <what is wrong>", where the path names the rule by
// index and name (`http[1](canary).route: weights sum to 90, must be 100`), and rejects the whole config.

import {
  ConfigObject, ConfigArray, Counter, Header, HeaderMatcher, Regex, StringMatcher, StringMatchKind,
  isHeaderName, isHeaderValue, asciiLower,
} from "proxy-wasm-as";
import { parseCidr, Cidr } from "./cidr";
import { Condition, Destination, HeaderOps, MatchBlock, Rule, Settings, Source, StickyKind } from "./rules";
import { saltSeed, BUCKETS } from "./split";

export const DEFAULT_SUBSET_HEADER = "x-route-subset";

/** Istio fields this filter recognises but cannot honour: the message says where they belong instead. */
const UNSUPPORTED_ROUTE_FIELDS = [
  "redirect", "directResponse", "delegate", "rewrite", "timeout", "retries", "fault", "mirror", "mirrors",
  "mirrorPercentage", "mirror_percent", "mirrorPercent", "corsPolicy",
];
const UNSUPPORTED_MATCH_FIELDS = ["sourceLabels", "gateways", "sourceNamespace", "statPrefix"];

/** Parses a whole configuration; null when it is invalid (the reason is in `errors.first`). */
export function parseSettings(cfg: ConfigObject): Settings | null {
  const errors = cfg.errors;
  const s = new Settings();
  if (!cfg.allowOnly(["http", "subset_header", "subset_filter_state", "sticky_key", "metadata"])) return null;

  const sh = cfg.json.get("subset_header");
  if (sh !== null && sh.isBool) {
    // false: no header at all, the decision travels in filter state only (the upstream sees nothing).
    if (sh.boolValue) cfg.error("subset_header", "must be a header name, or false for no header");
    else { s.subsetHeader = ""; s.subsetHeaderBytes = new ArrayBuffer(0); }
  } else if (cfg.has("subset_header")) {
    s.subsetHeader = headerName(cfg, "subset_header");
    s.subsetHeaderBytes = String.UTF8.encode(s.subsetHeader);
  }
  if (cfg.has("subset_filter_state")) {
    const key = cfg.nonEmptyString("subset_filter_state");
    if (cfg.errors.ok && !isFactoryKey(key)) {
      cfg.error("subset_filter_state", "must be the name of a filter state object factory Envoy registers, such as \"envoy.string\", got \"" + key + "\"");
    }
    s.filterStateKey = key;
  }
  if (cfg.errors.ok && s.subsetHeader.length == 0 && s.filterStateKey.length == 0) {
    cfg.error("subset_header", "false needs subset_filter_state: without the header or the filter state the route table cannot see the decision");
  }
  const sticky = cfg.object("sticky_key");
  if (sticky !== null) parseSticky(sticky, s);
  const meta = cfg.object("metadata");
  if (meta !== null) parseMetadata(meta, s);
  if (!errors.ok) return null;

  const http = cfg.array("http", true);
  if (http === null) return null;
  if (http.length == 0) { cfg.error("http", "must list at least one rule"); return null; }
  const names = new Set<string>();
  for (let i = 0; i < http.length && errors.ok; i++) {
    const rule = parseRule(http, i, s);
    if (rule === null) break;
    if (rule.name.length > 0) {
      if (names.has(rule.name)) { errors.add(rule.label + ".name", "\"" + rule.name + "\" is used by an earlier rule; names must be unique"); break; }
      names.add(rule.name);
    }
    if (rule.needsPort) s.needsPort = true;
    s.rules.push(rule);
  }
  if (!errors.ok) return null;
  return s;
}

/** Defines the per-destination counters (`routing.<rule>.<subset>`). Valid in onConfigure. */
export function defineCounters(s: Settings): void {
  for (let i = 0; i < s.rules.length; i++) {
    const r = s.rules[i];
    const ruleName = r.name.length > 0 ? r.name : "http_" + r.index.toString();
    for (let j = 0; j < r.destinations.length; j++) {
      const d = r.destinations[j];
      d.counter = new Counter("routing." + ruleName + "." + d.label);
    }
  }
}

function parseSticky(o: ConfigObject, s: Settings): void {
  if (!o.allowOnly(["header", "cookie", "source_address"])) return;
  const which = o.oneOf(["header", "cookie", "source_address"], true);
  if (which == "header") {
    s.stickyKind = StickyKind.Header;
    s.stickyName = headerName(o, "header");
  } else if (which == "cookie") {
    s.stickyKind = StickyKind.Cookie;
    s.stickyName = o.nonEmptyString("cookie");
  } else if (which == "source_address") {
    if (!o.bool("source_address", false)) { o.error("source_address", "must be true when set (remove sticky_key for random splits)"); return; }
    s.stickyKind = StickyKind.SourceAddress;
  }
  s.stickyKey = String.UTF8.encode(s.stickyName);
}

function parseMetadata(o: ConfigObject, s: Settings): void {
  if (o.has("dynamic_metadata")) {
    o.error("dynamic_metadata", "not supported: proxy-wasm ABI 0.2.1 cannot write Envoy's dynamic metadata; " +
      "put Envoy's header_to_metadata filter after this one to copy " + s.subsetHeader + " into it");
    return;
  }
  if (!o.allowOnly(["host_header", "rule_header", "filter_state"])) return;
  if (o.has("host_header")) {
    s.hostHeader = headerName(o, "host_header");
    s.hostHeaderBytes = String.UTF8.encode(s.hostHeader);
  }
  if (o.has("rule_header")) {
    s.ruleHeader = headerName(o, "rule_header");
    s.ruleHeaderBytes = String.UTF8.encode(s.ruleHeader);
  }
  const fs = o.object("filter_state");
  if (fs !== null && fs.allowOnly(["subset", "rule"])) {
    if (fs.has("subset")) s.filterStateSubset = propertyName(fs, "subset");
    if (fs.has("rule")) s.filterStateRule = propertyName(fs, "rule");
  }
  if (s.hostHeader.length > 0 && s.hostHeader == s.subsetHeader) o.error("host_header", "must differ from subset_header");
  else if (s.ruleHeader.length > 0 && (s.ruleHeader == s.subsetHeader || s.ruleHeader == s.hostHeader)) {
    o.error("rule_header", "must differ from subset_header and host_header");
  }
}

function parseRule(http: ConfigArray, i: i32, s: Settings): Rule | null {
  const raw = http.object(i);
  if (raw === null) return null;
  const nameValue = raw.json.get("name");
  const name = nameValue !== null && nameValue.isString ? nameValue.stringValue : "";
  const rule = new Rule(i, name);
  // Name the rule in every message below it: http[1](canary).route...
  const o = new ConfigObject(raw.json, rule.label, raw.errors);
  if (!rejectUnsupported(o, UNSUPPORTED_ROUTE_FIELDS,
    "not supported: this filter only chooses the destination; configure it on the Envoy route or in Istio")) return null;
  if (!o.allowOnly(["name", "match", "route", "headers"])) return null;
  o.string("name");
  rule.seed = saltSeed(name.length > 0 ? name : "http[" + i.toString() + "]");
  rule.nameBytes = String.UTF8.encode(name.length > 0 ? name : "http[" + i.toString() + "]");

  const match = o.array("match");
  if (match !== null) {
    for (let j = 0; j < match.length; j++) {
      const mo = match.object(j);
      if (mo === null) return null;
      const block = parseMatchBlock(mo);
      if (block === null) return null;
      if (block.needsPort) rule.needsPort = true;
      rule.blocks.push(block);
    }
  }

  const headers = o.object("headers");
  if (headers !== null && headers.allowOnly(["request", "response"])) {
    rule.request = parseHeaderOps(headers, "request", s);
    rule.response = parseHeaderOps(headers, "response", s);
  }
  if (!o.errors.ok) return null;

  const route = o.array("route", true);
  if (route === null) return null;
  if (route.length == 0) { o.error("route", "must list at least one destination"); return null; }
  const n = route.length;
  let sum: u32 = 0;
  let omitted = false;
  for (let k = 0; k < n; k++) {
    const d = parseDestination(route, k, n, s);
    if (d === null) return null;
    sum += d.weight;
    if (n > 1 && !route.json.items[k].get("weight")) omitted = true;
    rule.destinations.push(d);
  }
  if (sum != BUCKETS) {
    o.error("route", "weights sum to " + sum.toString() + ", must be 100" +
      (omitted ? " (a destination without weight counts as 0)" : ""));
    return null;
  }
  // Keep only destinations that can be chosen, with their cumulative upper bounds.
  const live = new Array<Destination>();
  for (let k = 0; k < n; k++) if (rule.destinations[k].weight > 0) live.push(rule.destinations[k]);
  rule.destinations = live;
  rule.upper = new StaticArray<u32>(live.length);
  let acc: u32 = 0;
  for (let k = 0; k < live.length; k++) {
    acc += live[k].weight;
    rule.upper[k] = acc;
  }
  return rule;
}

function parseDestination(route: ConfigArray, k: i32, n: i32, s: Settings): Destination | null {
  const o = route.object(k);
  if (o === null) return null;
  if (!o.allowOnly(["destination", "weight", "headers"])) return null;
  const dest = o.object("destination", true);
  if (dest === null) return null;
  if (!dest.allowOnly(["host", "subset", "port"])) return null;
  const host = dest.nonEmptyString("host", true);
  const subset = dest.string("subset");
  if (dest.has("subset") && subset.length == 0) dest.error("subset", "must not be empty (omit it to route by host)");
  const port = dest.object("port");
  if (port !== null && port.allowOnly(["number"])) port.int("number", 0, 1, 65535, true); // accepted, not used: the Envoy route picks the port
  if (!o.errors.ok) return null;
  if (!isHeaderValue(host)) { dest.error("host", "must not contain control characters"); return null; }
  if (!isHeaderValue(subset)) { dest.error("subset", "must not contain control characters"); return null; }
  // Istio: one destination takes all traffic; with several, a missing weight is 0.
  const weight = <u32>o.int("weight", n == 1 ? 100 : 0, 0, 100);
  if (!o.errors.ok) return null;
  const d = new Destination(host, subset, weight);
  d.value = String.UTF8.encode(d.label);
  d.hostBytes = String.UTF8.encode(host);
  const headers = o.object("headers");
  if (headers !== null && headers.allowOnly(["request", "response"])) {
    d.request = parseHeaderOps(headers, "request", s);
    d.response = parseHeaderOps(headers, "response", s);
  }
  return o.errors.ok ? d : null;
}

function parseMatchBlock(o: ConfigObject): MatchBlock | null {
  if (!rejectUnsupported(o, UNSUPPORTED_MATCH_FIELDS,
    "not supported: a Wasm filter cannot see it (use sourceCidr for the client address)")) return null;
  if (!o.allowOnly([
    "name", "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams", "cookies",
    "port", "sourceCidr", "ignoreUriCase",
  ])) return null;
  o.string("name");
  const ignoreUriCase = o.bool("ignoreUriCase", false);
  const cs = new Array<Condition>();
  let needsPort = false;

  const uri = o.object("uri");
  if (uri !== null) pushValue(cs, Source.Path, parseStringMatch(uri, ":path", ignoreUriCase), false, "");
  const pseudo: string[] = ["scheme", ":scheme", "method", ":method", "authority", ":authority"];
  for (let i = 0; i < pseudo.length; i += 2) {
    const so = o.object(pseudo[i]);
    if (so !== null) pushValue(cs, Source.Header, parseStringMatch(so, pseudo[i + 1], false), false, "");
  }
  parseMap(o, "headers", Source.Header, false, cs);
  parseMap(o, "withoutHeaders", Source.Header, true, cs);
  parseMap(o, "queryParams", Source.Query, false, cs);
  parseMap(o, "cookies", Source.Cookie, false, cs);
  if (o.has("port")) {
    const c = new Condition(Source.Port);
    c.port = o.int("port", 0, 1, 65535);
    cs.push(c);
    needsPort = true;
  }
  if (o.has("sourceCidr")) {
    const c = new Condition(Source.SourceCidr);
    c.cidrs = parseCidrs(o);
    cs.push(c);
  }
  if (!o.errors.ok) return null;
  // Cheap conditions first: a block fails on its first false condition.
  cs.sort((a: Condition, b: Condition): i32 => {
    const d = <i32>a.source - <i32>b.source;
    return d != 0 ? d : (a.costly ? 1 : 0) - (b.costly ? 1 : 0);
  });
  return new MatchBlock(cs, needsPort);
}

/** `headers`, `withoutHeaders`, `queryParams`, `cookies`: maps from a name to a StringMatch. */
function parseMap(o: ConfigObject, field: string, source: Source, negate: bool, out: Condition[]): void {
  const m = o.object(field);
  if (m === null) return;
  const keys = m.keys();
  for (let i = 0; i < keys.length && o.errors.ok; i++) {
    const key = keys[i];
    let name = key;
    if (source == Source.Header) {
      if (!isHeaderName(key)) { m.error(key, "\"" + key + "\" is not a valid header name"); return; }
      name = asciiLower(key);
    } else if (key.length == 0) {
      m.error("", "names must not be empty");
      return;
    }
    const so = m.object(key, true);
    if (so === null) return;
    pushValue(out, source, parseStringMatch(so, name, false), negate, name);
  }
}

function pushValue(out: Condition[], source: Source, m: HeaderMatcher | null, negate: bool, key: string): void {
  if (m === null) return;
  const c = new Condition(source);
  c.matcher = m;
  c.negate = negate;
  c.key = String.UTF8.encode(key);
  const sm = m.string;
  c.costly = sm !== null && sm.kind == StringMatchKind.Regex;
  out.push(c);
}

/**
 * An Istio StringMatch ({exact | prefix | regex}, and here also suffix and present, each with an optional
 * invert) as a HeaderMatcher. An empty object means "present", as in Istio. Regexes are RE2, matched
 * against the whole value.
 */
export function parseStringMatch(o: ConfigObject, name: string, ignoreCase: bool): HeaderMatcher | null {
  if (!o.allowOnly(["exact", "prefix", "suffix", "regex", "present", "invert"])) return null;
  const which = o.oneOf(["exact", "prefix", "suffix", "regex", "present"], false);
  const invert = o.bool("invert", false);
  if (!o.errors.ok) return null;
  if (which.length == 0 || which == "present") {
    return HeaderMatcher.presence(name, which.length == 0 ? true : o.bool("present", true), invert);
  }
  const text = o.string(which, "", true);
  if (!o.errors.ok) return null;
  let sm: StringMatcher;
  if (which == "regex") {
    if (text.length == 0) { o.error("regex", "must not be empty"); return null; }
    const r = Regex.compile(text);
    if (!r.ok) { o.error("regex", "invalid regex: " + r.error!.message); return null; }
    let re = r.regex!;
    if (ignoreCase) {
      // The pattern is valid on its own, so wrapping it in a case-insensitive group cannot fail.
      re = Regex.compile("(?i:" + text + ")").regex!;
    }
    sm = new StringMatcher(StringMatchKind.Regex, text, false, re);
  } else {
    const kind = which == "exact" ? StringMatchKind.Exact : which == "prefix" ? StringMatchKind.Prefix : StringMatchKind.Suffix;
    sm = StringMatcher.of(kind, text, ignoreCase);
  }
  return HeaderMatcher.of(name, sm, invert);
}

function parseCidrs(o: ConfigObject): Cidr[] {
  const out = new Array<Cidr>();
  const v = o.json.get("sourceCidr")!;
  const texts = new Array<string>();
  if (v.isString) texts.push(v.stringValue);
  else if (v.isArray) {
    const arr = o.array("sourceCidr")!;
    if (arr.length == 0) { o.error("sourceCidr", "must list at least one block"); return out; }
    for (let i = 0; i < arr.length; i++) texts.push(arr.string(i));
  } else {
    o.error("sourceCidr", "must be a CIDR block such as \"10.0.0.0/8\" or a list of them, got " + v.typeName);
    return out;
  }
  for (let i = 0; i < texts.length && o.errors.ok; i++) {
    const r = parseCidr(texts[i]);
    if (r.cidr === null) o.error("sourceCidr" + (v.isArray ? "[" + i.toString() + "]" : ""), r.error);
    else out.push(r.cidr!);
  }
  return out;
}

/** `headers.request` or `headers.response`: {set: {name: value}, add: {name: value}, remove: [name]}. */
function parseHeaderOps(o: ConfigObject, field: string, s: Settings): HeaderOps | null {
  const ops = o.object(field);
  if (ops === null) return null;
  if (!ops.allowOnly(["set", "add", "remove"])) return null;
  const out = new HeaderOps();
  const guard = field == "request";
  const set = ops.object("set");
  if (set !== null) out.set = headerPairs(set, guard, s);
  const add = ops.object("add");
  if (add !== null) out.add = headerPairs(add, guard, s);
  const remove = ops.array("remove");
  if (remove !== null) {
    for (let i = 0; i < remove.length; i++) {
      const n = remove.string(i);
      if (!o.errors.ok) return null;
      if (!checkWritable(ops, "remove[" + i.toString() + "]", n, guard, s)) return null;
      out.remove.push(asciiLower(n));
    }
  }
  return out.isEmpty ? null : out;
}

function headerPairs(m: ConfigObject, guard: bool, s: Settings): Header[] {
  const out = new Array<Header>();
  const keys = m.keys();
  for (let i = 0; i < keys.length; i++) {
    const name = keys[i];
    if (!checkWritable(m, name, name, guard, s)) break;
    const value = m.string(name, "", true);
    if (!m.errors.ok) break;
    if (!isHeaderValue(value)) { m.error(name, "the value must not contain control characters"); break; }
    out.push(Header.of(asciiLower(name), value));
  }
  return out;
}

/** A header an operation may change: a real name, not a pseudo-header, not one this filter writes itself. */
function checkWritable(o: ConfigObject, field: string, name: string, guard: bool, s: Settings): bool {
  if (!isHeaderName(name)) { o.error(field, "\"" + name + "\" is not a valid header name"); return false; }
  if (name.charCodeAt(0) == 58) { o.error(field, "pseudo-headers such as " + name + " cannot be changed here"); return false; }
  const lower = asciiLower(name);
  if (guard && (lower == s.subsetHeader || lower == s.hostHeader || lower == s.ruleHeader)) {
    o.error(field, lower + " is written by this filter (subset_header/metadata); it cannot be changed here too");
    return false;
  }
  return true;
}

function rejectUnsupported(o: ConfigObject, fields: string[], message: string): bool {
  for (let i = 0; i < fields.length; i++) {
    if (o.has(fields[i])) { o.error(fields[i], message); return false; }
  }
  return true;
}

function headerName(o: ConfigObject, key: string): string {
  const n = o.nonEmptyString(key, true);
  if (!o.errors.ok) return "";
  if (!isHeaderName(n) || n.charCodeAt(0) == 58) { o.error(key, "\"" + n + "\" is not a valid header name"); return ""; }
  return asciiLower(n);
}

/** A factory name as Envoy spells them: dot-separated words of letters, digits, `_` and `-`. */
function isFactoryKey(k: string): bool {
  if (k.length > 256 || k.charCodeAt(0) == 46 || k.charCodeAt(k.length - 1) == 46) return false;
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 46 || c == 95 || c == 45;
    if (!ok) return false;
  }
  return true;
}

function propertyName(o: ConfigObject, key: string): string {
  const n = o.nonEmptyString(key, true);
  if (o.errors.ok && n.indexOf("\0") >= 0) o.error(key, "must not contain NUL");
  return n;
}

