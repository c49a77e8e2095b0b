// The filter's configuration: the JSON shape of Envoy's local_ratelimit (LocalRateLimit) where the two
// overlap, plus Envoy's global ratelimit filter fields (RateLimit) for global mode. Parsed once in
// onConfigure; every error names its field ("token_bucket.fill_interval: must be at least 50 ms ...").
// README.md has the reference and the mapping table.

import { ConfigObject, ConfigArray, ConfigErrors, Header, JsonKind, encodeUtf8 } from "proxy-wasm-as";
import { BucketParams } from "./bucket";
import { Descriptor, RateLimitRule, parseRateLimits } from "./descriptors";

/** Envoy's minimum fill interval for local rate limits (its TooFastFillRate check). */
export const MIN_FILL_INTERVAL_NS: u64 = 50_000_000;
/** Parts per million that mean "always". */
export const ALWAYS_PPM: u32 = 1_000_000;
export const DEFAULT_SLOTS: u32 = 1024;
export const MAX_SLOTS: u32 = 1 << 20;

/** A `descriptors` entry: entries to match and the bucket used for requests that match. */
export class LocalDescriptor {
  keys: string[] = [];
  /** Expected values; null for an entry without a value (a wildcard: one bucket per distinct value). */
  values: Array<ArrayBuffer | null> = [];
  params: BucketParams = new BucketParams(1, 1, 1);
  /** True when some entry is a wildcard: buckets live in this descriptor's own slot table. */
  dynamic: bool = false;

  /** Envoy's rule: same number of entries, same keys in order, equal values (a wildcard takes any). */
  matches(d: Descriptor): bool {
    const n = this.keys.length;
    if (d.entries.length != n) return false;
    for (let i = 0; i < n; i++) {
      const e = unchecked(d.entries[i]);
      if (e.key != unchecked(this.keys[i])) return false;
      const want = unchecked(this.values[i]);
      if (want !== null && !bytesEqual(want, e.value)) return false;
    }
    return true;
  }
}

function bytesEqual(a: ArrayBuffer, b: ArrayBuffer): bool {
  const n = a.byteLength;
  return n == b.byteLength && memory.compare(changetype<usize>(a), changetype<usize>(b), <usize>n) == 0;
}

export class FilterConfig {
  global: bool = false;
  /** Metric names are `ratelimit.<name>`, or `ratelimit.<stat_prefix>.<name>` when stat_prefix is set. */
  metricPrefix: string = "ratelimit.";
  enabledPpm: u32 = ALWAYS_PPM;
  enforcedPpm: u32 = ALWAYS_PPM;
  status: u32 = 429;
  responseHeadersToAdd: Header[] = [];
  requestHeadersWhenNotEnforced: Header[] = [];
  xRateLimitHeaders: bool = false;
  /** RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset (IETF httpapi draft names). */
  ietfRateLimitHeaders: bool = false;
  xEnvoyRateLimited: bool = true;
  rules: RateLimitRule[] = [];

  // Local mode.
  defaultBucket: BucketParams | null = null;
  descriptors: LocalDescriptor[] = [];
  alwaysConsumeDefault: bool = true;
  slots: u32 = DEFAULT_SLOTS;

  // Global mode.
  domain: string = "";
  cluster: string = "";
  timeoutMs: u32 = 20;
  failureModeDeny: bool = false;
  statusOnError: u32 = 500;
}

const FIELDS = [
  "stat_prefix", "status", "token_bucket", "filter_enabled", "filter_enforced",
  "request_headers_to_add_when_not_enforced", "response_headers_to_add", "descriptors",
  "enable_x_ratelimit_headers", "enable_ratelimit_headers", "disable_x_envoy_ratelimited_header", "always_consume_default_token_bucket",
  "rate_limits", "max_dynamic_descriptors",
  "domain", "rate_limit_service", "timeout", "failure_mode_deny", "status_on_error", "rate_limited_status",
  "route_rules",
];
const LOCAL_ONLY = ["token_bucket", "descriptors", "always_consume_default_token_bucket", "max_dynamic_descriptors"];
const GLOBAL_ONLY = ["domain", "timeout", "failure_mode_deny", "status_on_error", "rate_limited_status"];
/** Envoy fields with no meaning in a Wasm filter, so the message can say that instead of "unknown field". */
const UNSUPPORTED = [
  "stage", "local_rate_limit_per_downstream_connection", "local_cluster_rate_limit", "vh_rate_limits",
  "rate_limited_as_resource_exhausted", "request_type", "enable_x_ratelimit_headers_on_ok", "status_on_error_grpc",
];

/** Parses the plugin configuration; null (with the reason in `cfg.errors`) when it is invalid. */
export function parseFilterConfig(cfg: ConfigObject): FilterConfig | null {
  const keys = cfg.keys();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (UNSUPPORTED.includes(k)) { cfg.error(k, "is an Envoy field this filter does not support"); return null; }
  }
  if (!cfg.allowOnly(FIELDS)) return null;
  const c = new FilterConfig();
  c.global = cfg.has("rate_limit_service");
  const wrong = c.global ? LOCAL_ONLY : GLOBAL_ONLY;
  for (let i = 0; i < wrong.length; i++) {
    if (cfg.has(wrong[i])) {
      cfg.error(wrong[i], c.global ? "is a local-mode field; remove it or remove rate_limit_service" : "is a global-mode field; it needs rate_limit_service");
      return null;
    }
  }

  if (cfg.has("stat_prefix")) c.metricPrefix = "ratelimit." + cfg.nonEmptyString("stat_prefix") + ".";
  c.enabledPpm = fraction(cfg, "filter_enabled");
  c.enforcedPpm = fraction(cfg, "filter_enforced");
  c.status = httpStatus(cfg, c.global && cfg.has("rate_limited_status") ? "rate_limited_status" : "status", 429);
  if (c.global && cfg.has("rate_limited_status") && cfg.has("status")) cfg.error("status", "set only one of status, rate_limited_status");
  c.responseHeadersToAdd = headerOptions(cfg, "response_headers_to_add");
  c.requestHeadersWhenNotEnforced = headerOptions(cfg, "request_headers_to_add_when_not_enforced");
  const xrl = cfg.string("enable_x_ratelimit_headers", "OFF");
  if (xrl == "DRAFT_VERSION_03") c.xRateLimitHeaders = true;
  else if (xrl != "OFF") cfg.error("enable_x_ratelimit_headers", "must be OFF or DRAFT_VERSION_03, got \"" + xrl + "\"");
  // Beyond Envoy: the IETF httpapi draft's names (RateLimit-Limit/-Remaining/-Reset), same values.
  const ietf = cfg.string("enable_ratelimit_headers", "OFF");
  if (ietf == "IETF_DRAFT") c.ietfRateLimitHeaders = true;
  else if (ietf != "OFF") cfg.error("enable_ratelimit_headers", "must be OFF or IETF_DRAFT, got \"" + ietf + "\"");
  c.xEnvoyRateLimited = !cfg.bool("disable_x_envoy_ratelimited_header", false);
  const rl = cfg.array("rate_limits");
  if (rl !== null) c.rules = parseRateLimits(rl);
  if (!cfg.errors.ok) return null;

  if (c.global) parseGlobal(cfg, c);
  else parseLocal(cfg, c);
  return cfg.errors.ok ? c : null;
}

function parseLocal(cfg: ConfigObject, c: FilterConfig): void {
  const tb = cfg.object("token_bucket");
  if (tb !== null) c.defaultBucket = tokenBucket(tb);
  c.alwaysConsumeDefault = cfg.bool("always_consume_default_token_bucket", true);
  c.slots = <u32>cfg.int("max_dynamic_descriptors", DEFAULT_SLOTS, 1, MAX_SLOTS);
  const ds = cfg.array("descriptors");
  if (ds !== null) c.descriptors = localDescriptors(ds);
  if (!cfg.errors.ok) return;
  if (c.defaultBucket === null && c.descriptors.length == 0) {
    cfg.error("token_bucket", "is required (or list descriptors with their own token_bucket)");
    return;
  }
  if (c.descriptors.length > 0 && c.rules.length == 0) {
    cfg.error("rate_limits", "is required when descriptors are set: its actions produce the descriptors that select a bucket");
  }
}

function parseGlobal(cfg: ConfigObject, c: FilterConfig): void {
  c.domain = cfg.nonEmptyString("domain", true);
  const svc = cfg.object("rate_limit_service", true);
  if (svc !== null && svc.allowOnly(["grpc_service", "transport_api_version"])) {
    const api = svc.string("transport_api_version", "V3");
    if (api != "V3") svc.error("transport_api_version", "must be V3 (the only version Envoy still serves), got \"" + api + "\"");
    const grpc = svc.object("grpc_service", true);
    if (grpc !== null && grpc.allowOnly(["envoy_grpc", "timeout"])) {
      const eg = grpc.object("envoy_grpc", true);
      if (eg !== null && eg.allowOnly(["cluster_name", "authority"])) c.cluster = eg.nonEmptyString("cluster_name");
      // Envoy's per-service timeout; the filter's own `timeout` wins when both are set.
      if (grpc.has("timeout")) c.timeoutMs = durationMs(grpc, "timeout");
    }
  }
  if (cfg.has("timeout")) c.timeoutMs = durationMs(cfg, "timeout");
  c.failureModeDeny = cfg.bool("failure_mode_deny", false);
  c.statusOnError = httpStatus(cfg, "status_on_error", 500);
  if (cfg.errors.ok && c.rules.length == 0) {
    cfg.error("rate_limits", "is required in global mode: its actions produce the descriptors sent to the service");
  }
}

function durationMs(o: ConfigObject, key: string): u32 {
  const ns = o.duration(key, 20_000_000);
  if (!o.errors.ok) return 20;
  if (ns < 1_000_000 || ns > 3_600_000_000_000) {
    o.error(key, "must be between 0.001s and 3600s");
    return 20;
  }
  return <u32>(ns / 1_000_000);
}

/** A TokenBucket {max_tokens, tokens_per_fill (default 1), fill_interval (at least 50 ms)}. */
function tokenBucket(o: ConfigObject): BucketParams | null {
  if (!o.allowOnly(["max_tokens", "tokens_per_fill", "fill_interval"])) return null;
  const max = o.int("max_tokens", 0, 1, u32.MAX_VALUE, true);
  const perFill = o.int("tokens_per_fill", 1, 1, u32.MAX_VALUE);
  const v = o.json.get("fill_interval");
  if (v !== null && v.isString && v.stringValue.startsWith("-")) {
    o.error("fill_interval", "must be positive, got \"" + v.stringValue + "\"");
    return null;
  }
  const interval = o.duration("fill_interval", 0, true);
  if (!o.errors.ok) return null;
  if (<u64>interval < MIN_FILL_INTERVAL_NS) {
    o.error("fill_interval", "must be at least 50 ms (\"0.05s\"), as in Envoy; got \"" + (v !== null ? v.stringValue : "") + "\"");
    return null;
  }
  return new BucketParams(<u32>max, <u32>perFill, <u64>interval);
}

function localDescriptors(arr: ConfigArray): LocalDescriptor[] {
  const out = new Array<LocalDescriptor>();
  for (let i = 0; i < arr.length; i++) {
    const o = arr.object(i);
    if (o === null || !o.allowOnly(["entries", "token_bucket"])) break;
    const d = new LocalDescriptor();
    const entries = o.array("entries", true);
    const tb = o.object("token_bucket", true);
    if (entries === null || tb === null) break;
    if (entries.length == 0) { o.error("entries", "must list at least one entry"); break; }
    for (let j = 0; j < entries.length; j++) {
      const e = entries.object(j);
      if (e === null || !e.allowOnly(["key", "value"])) break;
      d.keys.push(e.nonEmptyString("key"));
      const value = e.string("value", "");
      d.values.push(value.length > 0 ? encodeUtf8(value) : null);
      if (value.length == 0) d.dynamic = true;
    }
    const p = tokenBucket(tb);
    if (p === null || !o.errors.ok) break;
    d.params = p;
    out.push(d);
  }
  return out;
}

/**
 * `filter_enabled` / `filter_enforced`: Envoy's RuntimeFractionalPercent
 * {"default_value": {"numerator": 50, "denominator": "HUNDRED"}, "runtime_key": "..."} or a plain
 * percentage (a number from 0 to 100). Absent: always (Envoy's default is never; see README).
 */
function fraction(cfg: ConfigObject, key: string): u32 {
  const v = cfg.json.get(key);
  if (v === null || v.isNull) return ALWAYS_PPM;
  if (v.kind == JsonKind.Number) {
    const p = v.numberValue;
    if (!(p >= 0 && p <= 100)) { cfg.error(key, "a plain percentage must be between 0 and 100"); return 0; }
    return <u32>Math.round(p * 10000);
  }
  const o = cfg.object(key);
  if (o === null || !o.allowOnly(["default_value", "runtime_key"])) return 0;
  o.string("runtime_key"); // accepted for compatibility: a Wasm filter has no Envoy runtime to read
  if (!o.has("default_value")) { o.error("default_value", "is required"); return 0; }
  return o.percentage("default_value", 0);
}

/** Envoy's HttpStatus {"code": 429} (or a bare number). */
function httpStatus(cfg: ConfigObject, key: string, orElse: u32): u32 {
  const v = cfg.json.get(key);
  if (v === null || v.isNull) return orElse;
  let code: i64;
  if (v.kind == JsonKind.Number) code = cfg.int(key, orElse, 400, 599);
  else {
    const o = cfg.object(key);
    if (o === null || !o.allowOnly(["code"])) return orElse;
    code = o.int("code", orElse, 400, 599, true);
  }
  return <u32>code;
}

/** Envoy's HeaderValueOption list: [{"header": {"key", "value"}, "append_action"?: ...}]. */
function headerOptions(cfg: ConfigObject, key: string): Header[] {
  const out = new Array<Header>();
  const arr = cfg.array(key);
  if (arr === null) return out;
  for (let i = 0; i < arr.length; i++) {
    const o = arr.object(i);
    if (o === null || !o.allowOnly(["header", "append", "append_action", "keep_empty_value"])) break;
    const action = o.string("append_action", "APPEND_IF_EXISTS_OR_ADD");
    if (action != "APPEND_IF_EXISTS_OR_ADD" && action != "ADD_IF_ABSENT" && action != "OVERWRITE_IF_EXISTS_OR_ADD" && action != "OVERWRITE_IF_EXISTS") {
      o.error("append_action", "must be APPEND_IF_EXISTS_OR_ADD, ADD_IF_ABSENT, OVERWRITE_IF_EXISTS_OR_ADD or OVERWRITE_IF_EXISTS");
      break;
    }
    o.bool("append", true);
    o.bool("keep_empty_value", false);
    const h = o.object("header", true);
    if (h === null || !h.allowOnly(["key", "value", "raw_value"])) break;
    const name = h.nonEmptyString("key");
    const value = h.string("value", "");
    if (!o.errors.ok) break;
    out.push(Header.of(name.toLowerCase(), value));
  }
  return out;
}
