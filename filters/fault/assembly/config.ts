// The fault filter's configuration: the JSON form of Envoy's envoy.extensions.filters.http.fault.v3.HTTPFault
// (snake_case, as in Envoy's YAML), plus `active_window`. Parsed once in onConfigure; every error names
// its field ("abort.http_status: must be between 200 and 599, got 600").

import { ConfigObject, HeaderMatchers, JsonKind, encodeUtf8 } from "proxy-wasm-as";
import { parseTimestampNanos } from "./timestamp";

/** A FractionalPercent: `numerator` out of `denominator` (100, 10 000 or 1 000 000). */
export class Percent {
  constructor(public numerator: u32 = 0, public denominator: u32 = 100) {}
}

export class DelayConfig {
  /** The fixed delay in nanoseconds; 0 with `fromHeader`. */
  fixedNanos: i64 = 0;
  /** header_delay: the delay comes from x-envoy-fault-delay-request (milliseconds). */
  fromHeader: bool = false;
  percent: Percent = new Percent();
}

export class AbortConfig {
  /** The HTTP status to answer with, or -1. */
  httpStatus: i32 = -1;
  /** The gRPC status to answer with (over HTTP 200), or -1. */
  grpcStatus: i32 = -1;
  /** header_abort: the status comes from x-envoy-fault-abort-request / x-envoy-fault-abort-grpc-request. */
  fromHeader: bool = false;
  percent: Percent = new Percent();
}

export class RateLimitConfig {
  /** The fixed limit in KiB/s; 0 with `fromHeader`. */
  kibPerSecond: u64 = 0;
  /** header_limit: the limit comes from x-envoy-fault-throughput-response (KiB/s). */
  fromHeader: bool = false;
  percent: Percent = new Percent();
}

export class FaultConfig {
  delay: DelayConfig | null = null;
  abort: AbortConfig | null = null;
  rateLimit: RateLimitConfig | null = null;
  headers: HeaderMatchers = new HeaderMatchers();
  /** The route's cluster must equal this (UTF-8), or null for any cluster. */
  upstreamCluster: ArrayBuffer | null = null;
  /** x-envoy-downstream-service-node must be one of these; empty for any. */
  downstreamNodes: ArrayBuffer[] = [];
  /** At most this many faults at once across all workers; -1 for no limit. */
  maxActiveFaults: i64 = -1;
  /** Faults only at or after this instant (ns since the epoch); i64.MIN_VALUE when open. */
  windowStartNanos: i64 = i64.MIN_VALUE;
  /** Faults only before this instant (ns since the epoch); i64.MAX_VALUE when open. */
  windowEndNanos: i64 = i64.MAX_VALUE;
  /** Warnings worth logging at configure time (the config is valid but probably not what was meant). */
  warnings: string[] = [];

  get hasWindow(): bool { return this.windowStartNanos != i64.MIN_VALUE || this.windowEndNanos != i64.MAX_VALUE; }
  /** Whether the request headers are needed to decide (matchers, downstream nodes or header control). */
  needsHeaders: bool = false;
}

// Envoy fields that have no meaning for a Wasm filter: named so the error says why rather than "unknown".
const RUNTIME_FIELDS: string[] = [
  "delay_percent_runtime", "abort_percent_runtime", "delay_duration_runtime", "abort_http_status_runtime",
  "max_active_faults_runtime", "response_rate_limit_percent_runtime", "abort_grpc_status_runtime",
];

const FIELDS: string[] = [
  "delay", "abort", "headers", "upstream_cluster", "downstream_nodes", "max_active_faults",
  "response_rate_limit", "active_window", "disable_downstream_cluster_stats", "route_rules",
];

/** Parses the whole configuration; errors go to `cfg.errors` (check `cfg.errors.ok`). */
export function parseFaultConfig(cfg: ConfigObject): FaultConfig {
  const out = new FaultConfig();
  for (let i = 0; i < RUNTIME_FIELDS.length; i++) {
    if (cfg.has(RUNTIME_FIELDS[i])) {
      cfg.error(RUNTIME_FIELDS[i], "Envoy runtime overrides are not available to Wasm filters; set the value in this configuration instead");
      return out;
    }
  }
  if (cfg.has("filter_metadata")) {
    cfg.error("filter_metadata", "not supported by this filter (a Wasm filter cannot set Envoy's per-filter metadata this way)");
    return out;
  }
  if (!cfg.allowOnly(FIELDS)) return out;

  const delay = cfg.object("delay");
  if (delay !== null) out.delay = parseDelay(delay);
  const abort = cfg.object("abort");
  if (abort !== null) out.abort = parseAbort(abort);
  const rl = cfg.object("response_rate_limit");
  if (rl !== null) out.rateLimit = parseRateLimit(rl);
  if (!cfg.errors.ok) return out;

  out.headers = HeaderMatchers.parse(cfg, "headers");

  const cluster = cfg.string("upstream_cluster", "");
  if (cluster.length > 0) out.upstreamCluster = encodeUtf8(cluster);

  const nodes = cfg.array("downstream_nodes");
  if (nodes !== null) {
    const names = nodes.strings();
    for (let i = 0; i < names.length; i++) out.downstreamNodes.push(encodeUtf8(names[i]));
  }

  // google.protobuf.UInt32Value: a number (or a string holding one) in JSON.
  if (cfg.has("max_active_faults")) out.maxActiveFaults = cfg.int("max_active_faults", -1, 0, <i64>u32.MAX_VALUE);

  const window = cfg.object("active_window");
  if (window !== null) parseWindow(window, out);

  cfg.bool("disable_downstream_cluster_stats", false); // accepted: this filter keeps no per-downstream-cluster stats

  const d = out.delay;
  const a = out.abort;
  const r = out.rateLimit;
  if (d !== null && !d.fromHeader && d.percent.numerator == 0) {
    out.warnings.push("delay.percentage is 0% (unset means 0%, as in Envoy): no request will be delayed");
  }
  if (a !== null && !a.fromHeader && a.percent.numerator == 0) {
    out.warnings.push("abort.percentage is 0% (unset means 0%, as in Envoy): no request will be aborted");
  }
  out.needsHeaders = !out.headers.isEmpty || out.downstreamNodes.length > 0
    || (d !== null && d.fromHeader) || (a !== null && a.fromHeader) || (r !== null && r.fromHeader);
  return out;
}

function parseDelay(o: ConfigObject): DelayConfig | null {
  if (!o.allowOnly(["fixed_delay", "header_delay", "percentage"])) return null;
  const which = o.oneOf(["fixed_delay", "header_delay"], true);
  const d = new DelayConfig();
  if (which == "fixed_delay") {
    d.fixedNanos = o.duration("fixed_delay", 0, true);
    if (o.errors.ok && d.fixedNanos <= 0) o.error("fixed_delay", "must be greater than 0s");
    // Envoy keeps millisecond precision; so do timers here.
    if (o.errors.ok && d.fixedNanos < 1_000_000) o.error("fixed_delay", "must be at least 0.001s (delays have millisecond precision)");
  } else if (which == "header_delay") {
    d.fromHeader = true;
    emptyObject(o, "header_delay");
  }
  d.percent = parsePercent(o);
  return o.errors.ok ? d : null;
}

function parseAbort(o: ConfigObject): AbortConfig | null {
  if (!o.allowOnly(["http_status", "grpc_status", "header_abort", "percentage"])) return null;
  const which = o.oneOf(["http_status", "grpc_status", "header_abort"], true);
  const a = new AbortConfig();
  if (which == "http_status") a.httpStatus = <i32>o.int("http_status", -1, 200, 599);
  else if (which == "grpc_status") a.grpcStatus = <i32>o.int("grpc_status", -1, 0, 16);
  else if (which == "header_abort") { a.fromHeader = true; emptyObject(o, "header_abort"); }
  a.percent = parsePercent(o);
  return o.errors.ok ? a : null;
}

function parseRateLimit(o: ConfigObject): RateLimitConfig | null {
  if (!o.allowOnly(["fixed_limit", "header_limit", "percentage"])) return null;
  const which = o.oneOf(["fixed_limit", "header_limit"], true);
  const r = new RateLimitConfig();
  if (which == "fixed_limit") {
    const f = o.object("fixed_limit", true);
    if (f !== null && f.allowOnly(["limit_kbps"])) r.kibPerSecond = <u64>f.int("limit_kbps", 0, 1, i64.MAX_VALUE, true);
  } else if (which == "header_limit") {
    r.fromHeader = true;
    emptyObject(o, "header_limit");
  }
  r.percent = parsePercent(o);
  return o.errors.ok ? r : null;
}

/** header_delay / header_abort / header_limit: an empty object in Envoy's API. */
function emptyObject(o: ConfigObject, key: string): void {
  const inner = o.object(key, true);
  if (inner !== null) inner.allowOnly([]);
}

/**
 * `percentage`: {numerator, denominator: HUNDRED | TEN_THOUSAND | MILLION (or 0, 1, 2 as protobuf JSON
 * allows)}. Absent means 0%, as in Envoy. A numerator above the denominator means 100%.
 */
function parsePercent(o: ConfigObject): Percent {
  const p = new Percent(0, 100);
  const po = o.object("percentage");
  if (po === null || !po.allowOnly(["numerator", "denominator"])) return p;
  p.numerator = <u32>po.int("numerator", 0, 0, <i64>u32.MAX_VALUE);
  const den = po.json.get("denominator");
  if (den === null || den.isNull) return p;
  let code: i32 = -1;
  if (den.kind == JsonKind.String) {
    const s = den.stringValue;
    code = s == "HUNDRED" ? 0 : s == "TEN_THOUSAND" ? 1 : s == "MILLION" ? 2 : -1;
  } else if (den.kind == JsonKind.Number && den.isInteger) {
    const n = den.numberValue;
    code = n == 0 ? 0 : n == 1 ? 1 : n == 2 ? 2 : -1;
  }
  if (code < 0) {
    po.error("denominator", "must be HUNDRED, TEN_THOUSAND or MILLION");
    return p;
  }
  p.denominator = code == 0 ? 100 : code == 1 ? 10_000 : 1_000_000;
  return p;
}

/** active_window: {start, end}, each an RFC 3339 timestamp or seconds since the epoch; at least one. */
function parseWindow(o: ConfigObject, out: FaultConfig): void {
  if (!o.allowOnly(["start", "end"])) return;
  if (!o.has("start") && !o.has("end")) { o.error("", "set start, end or both"); return; }
  if (o.has("start")) out.windowStartNanos = instant(o, "start");
  if (o.has("end")) out.windowEndNanos = instant(o, "end");
  if (o.errors.ok && out.windowStartNanos >= out.windowEndNanos) o.error("end", "must be after start");
}

function instant(o: ConfigObject, key: string): i64 {
  const v = o.json.get(key)!;
  if (v.kind == JsonKind.Number) {
    const s = v.numberValue;
    // Seconds since the epoch; representable in i64 nanoseconds until the year 2262.
    if (!(s >= 0 && s < 9.2e9)) { o.error(key, "must be seconds since the epoch between 0 and 9200000000"); return 0; }
    return <i64>Math.round(s * 1e9);
  }
  if (v.kind == JsonKind.String) {
    const ns = parseTimestampNanos(v.stringValue);
    if (ns == i64.MIN_VALUE) {
      o.error(key, "must be an RFC 3339 timestamp such as \"2025-06-01T09:00:00Z\" or \"2025-06-01T11:00:00+02:00\", got \"" + v.stringValue + "\"");
      return 0;
    }
    return ns;
  }
  o.error(key, "must be an RFC 3339 timestamp (string) or seconds since the epoch (number), got " + v.typeName);
  return 0;
}

