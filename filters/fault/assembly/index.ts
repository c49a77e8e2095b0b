// fault: fault injection at parity with Envoy's envoy.filters.http.fault (delays, HTTP and gRPC aborts,
// header control, header matchers, upstream cluster, downstream nodes, max_active_faults, response rate
// limit), plus `active_window` (faults only between two instants). See ../README.md for the configuration.

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, WasmResult, registerRootContext, requestHeaders, HeaderView,
  sendLocalResponse, ConfigErrors, readPluginConfig, log, RouteRules, Counter, Gauge, nowNanos, randomBelow,
  atomicUpdate, SharedDataUpdater, attributes, encodeUtf8, parseIntegerUnsafe, parsedOk, PAUSE_AND_WATERMARK,
} from "proxy-wasm-as";
import { FaultConfig, Percent, parseFaultConfig } from "./config";

// Header names, encoded once (header lookups compare bytes in place).
const ABORT_REQUEST = encodeUtf8("x-envoy-fault-abort-request");
const ABORT_GRPC_REQUEST = encodeUtf8("x-envoy-fault-abort-grpc-request");
const ABORT_PERCENTAGE = encodeUtf8("x-envoy-fault-abort-request-percentage");
const DELAY_REQUEST = encodeUtf8("x-envoy-fault-delay-request");
const DELAY_PERCENTAGE = encodeUtf8("x-envoy-fault-delay-request-percentage");
const THROUGHPUT_RESPONSE = encodeUtf8("x-envoy-fault-throughput-response");
const THROUGHPUT_PERCENTAGE = encodeUtf8("x-envoy-fault-throughput-response-percentage");
const DOWNSTREAM_NODE = encodeUtf8("x-envoy-downstream-service-node");

// What Envoy's fault filter answers with: the body and the response code details.
const ABORT_BODY = encodeUtf8("fault filter abort");
const ABORT_DETAILS = "fault_filter_abort";

/** How often the timer runs while a request waits (0, no timer, when none waits). */
const TICK_MS: u32 = 1;
/** A waiter is due when its deadline is at most this close: the host's timer may fire a little early. */
const DUE_SLACK_NS: u64 = 200_000;
/** Decrements of the shared active-fault counter must not be lost: retry contention much longer. */
const RELEASE_ATTEMPTS: i32 = 1000;

const EMPTY_CONFIG = new FaultConfig();

function hasFault(c: FaultConfig): bool { return c.delay !== null || c.abort !== null || c.rateLimit !== null; }

/** Status of an abort decision: -1 for no abort. */
class AbortDecision {
  http: i32 = -1;
  grpc: i32 = -1;
}

/** Increments the shared active-fault count unless it already reached the limit. */
class TryAcquire extends SharedDataUpdater {
  limit: u64 = 0;
  granted: bool = false;
  overflow: bool = false;
  update(current: ArrayBuffer | null): ArrayBuffer | null {
    const v = readCount(current);
    if (v >= this.limit) { this.granted = false; this.overflow = true; return null; }
    this.granted = true;
    this.overflow = false;
    return countBytes(v + 1);
  }
}

/** Decrements the shared active-fault count (never below 0). */
class Release extends SharedDataUpdater {
  update(current: ArrayBuffer | null): ArrayBuffer | null {
    const v = readCount(current);
    return v == 0 ? null : countBytes(v - 1);
  }
}

function readCount(b: ArrayBuffer | null): u64 {
  return b !== null && b.byteLength == 8 ? load<u64>(changetype<usize>(b)) : 0;
}

function countBytes(v: u64): ArrayBuffer {
  const out = new ArrayBuffer(8);
  store<u64>(changetype<usize>(out), v);
  return out;
}

class FaultRoot extends RootContext {
  /** The filter's own configuration, and one per route rule (in the rules' order). */
  config: FaultConfig = new FaultConfig();
  rules: RouteRules = new RouteRules();
  ruleConfigs: FaultConfig[] = [];
  /** Whether any fault is configured at all (else every request passes untouched). */
  enabled: bool = false;
  delaysInjected: Counter | null = null;
  abortsInjected: Counter | null = null;
  rateLimitsInjected: Counter | null = null;
  overflow: Counter | null = null;
  activeFaults: Gauge | null = null;
  /** Shared-data key of the active-fault count (per plugin name, across all workers). */
  activeKey: string = "";
  /** Request headers of the stream being decided, fetched once per request. */
  view: HeaderView = new HeaderView();
  decision: AbortDecision = new AbortDecision();
  acquire: TryAcquire = new TryAcquire();
  release: Release = new Release();
  /** Streams paused until a deadline (a delay, or a paced response body). */
  waiting: FaultStream[] = [];
  due: FaultStream[] = [];
  ticking: bool = false;

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    let parsed: FaultConfig | null = null;
    let rules = new RouteRules();
    const ruleConfigs: FaultConfig[] = [];
    if (cfg !== null) {
      parsed = parseFaultConfig(cfg);
      if (errors.ok) rules = RouteRules.parse(cfg);
      for (let i = 0; i < rules.length && errors.ok; i++) {
        const merged = rules.merged(i);
        const rc = parseFaultConfig(merged);
        for (let k = 0; k < rc.warnings.length; k++) rc.warnings[k] = merged.path + ": " + rc.warnings[k];
        ruleConfigs.push(rc);
      }
      rules.compact();
    }
    if (!errors.ok || parsed === null) {
      rules.release();
      log.error("fault: invalid configuration: " + errors.first);
      return false;
    }
    this.config = parsed;
    this.rules.release();
    this.rules = rules;
    this.ruleConfigs = ruleConfigs;
    this.enabled = hasFault(parsed);
    for (let i = 0; i < parsed.warnings.length; i++) log.warn("fault: " + parsed.warnings[i]);
    for (let i = 0; i < ruleConfigs.length; i++) {
      const rc = ruleConfigs[i];
      if (hasFault(rc)) this.enabled = true;
      for (let k = 0; k < rc.warnings.length; k++) log.warn("fault: " + rc.warnings[k]);
    }
    if (this.delaysInjected === null) {
      this.delaysInjected = new Counter("fault.delays_injected");
      this.abortsInjected = new Counter("fault.aborts_injected");
      this.rateLimitsInjected = new Counter("fault.response_rl_injected");
      this.overflow = new Counter("fault.faults_overflow");
      this.activeFaults = new Gauge("fault.active_faults");
      const name = attributes.plugin.name();
      this.activeKey = "proxy-wasm-as.fault.active." + (name !== null ? name : "");
    }
    if (!this.enabled) log.info("fault: no delay, abort or response_rate_limit configured; requests pass untouched");
    return true;
  }

  newHttpContext(contextId: u32): HttpContext | null { return new FaultStream(contextId, this); }

  /** A percentage draw, as Envoy's runtime featureEnabled does: a uniform value below the denominator. */
  draw(numerator: u32, denominator: u32): bool {
    if (numerator == 0) return false;
    if (numerator >= denominator) return true;
    return randomBelow(denominator) < numerator;
  }

  /**
   * The percentage for a header-controlled fault: the header's numerator capped by the configured one,
   * over the configured denominator; the configured percentage when the header is absent or not a number.
   */
  headerNumerator(p: Percent, header: ArrayBuffer): u32 {
    const i = this.view.indexOf(header);
    if (i < 0) return p.numerator;
    const v = parseIntegerUnsafe(this.view.valuePtr(i), this.view.valueLength(i));
    if (!parsedOk || v < 0 || v > <i64>u32.MAX_VALUE) return p.numerator;
    return <u32>v < p.numerator ? <u32>v : p.numerator;
  }

  /** The delay for this request in nanoseconds, 0 for none. Needs `view` loaded when header-controlled. */
  delayNanos(c: FaultConfig): i64 {
    const d = c.delay;
    if (d === null) return 0;
    if (!d.fromHeader) return this.draw(d.percent.numerator, d.percent.denominator) ? d.fixedNanos : 0;
    if (!this.draw(this.headerNumerator(d.percent, DELAY_PERCENTAGE), d.percent.denominator)) return 0;
    const i = this.view.indexOf(DELAY_REQUEST);
    if (i < 0) return 0;
    const ms = parseIntegerUnsafe(this.view.valuePtr(i), this.view.valueLength(i));
    // Envoy delays only for a positive number of milliseconds.
    if (!parsedOk || ms <= 0 || ms > 86_400_000_000) return 0;
    return ms * 1_000_000;
  }

  /** Decides whether to abort this request; fills `decision`. Needs `view` loaded when header-controlled. */
  decideAbort(c: FaultConfig): bool {
    const r = this.decision;
    r.http = -1;
    r.grpc = -1;
    const a = c.abort;
    if (a === null) return false;
    if (!a.fromHeader) {
      if (!this.draw(a.percent.numerator, a.percent.denominator)) return false;
      r.http = a.httpStatus;
      r.grpc = a.grpcStatus;
      return true;
    }
    if (!this.draw(this.headerNumerator(a.percent, ABORT_PERCENTAGE), a.percent.denominator)) return false;
    // The HTTP status header wins; without a valid one, the gRPC status header.
    let i = this.view.indexOf(ABORT_REQUEST);
    if (i >= 0) {
      const code = parseIntegerUnsafe(this.view.valuePtr(i), this.view.valueLength(i));
      if (parsedOk && code >= 200 && code < 600) { r.http = <i32>code; return true; }
    }
    i = this.view.indexOf(ABORT_GRPC_REQUEST);
    if (i >= 0) {
      const code = parseIntegerUnsafe(this.view.valuePtr(i), this.view.valueLength(i));
      if (parsedOk && code >= 0 && code <= <i64>i32.MAX_VALUE) { r.grpc = <i32>code; return true; }
    }
    return false;
  }

  /** The response rate for this request in bytes per second, 0 for none. */
  rateLimitBytesPerSecond(c: FaultConfig): u64 {
    const rl = c.rateLimit;
    if (rl === null) return 0;
    if (!rl.fromHeader) return this.draw(rl.percent.numerator, rl.percent.denominator) ? rl.kibPerSecond * 1024 : 0;
    if (!this.draw(this.headerNumerator(rl.percent, THROUGHPUT_PERCENTAGE), rl.percent.denominator)) return 0;
    const i = this.view.indexOf(THROUGHPUT_RESPONSE);
    if (i < 0) return 0;
    const kib = parseIntegerUnsafe(this.view.valuePtr(i), this.view.valueLength(i));
    if (!parsedOk || kib <= 0 || kib > 1 << 40) return 0;
    return <u64>kib * 1024;
  }

  /** Whether the request's route goes to `upstream_cluster`. */
  clusterMatches(want: ArrayBuffer): bool {
    const name = attributes.xds.clusterName();
    if (name === null) return false;
    const got = encodeUtf8(name);
    return got.byteLength == want.byteLength && memory.compare(changetype<usize>(got), changetype<usize>(want), <usize>want.byteLength) == 0;
  }

  /** Whether x-envoy-downstream-service-node names one of `downstream_nodes`. Needs `view` loaded. */
  downstreamNodeMatches(c: FaultConfig): bool {
    const i = this.view.indexOf(DOWNSTREAM_NODE);
    if (i < 0) return false;
    const p = this.view.valuePtr(i);
    const n = this.view.valueLength(i);
    const nodes = c.downstreamNodes;
    for (let k = 0; k < nodes.length; k++) {
      const want = unchecked(nodes[k]);
      if (<usize>want.byteLength == n && memory.compare(p, changetype<usize>(want), n) == 0) return true;
    }
    return false;
  }

  /**
   * Counts a fault as active unless max_active_faults is reached (then counts an overflow). The limit holds
   * across every worker: the count lives in shared data and is updated with compare-and-swap.
   */
  tryAcquire(s: FaultStream): bool {
    if (s.active) return true;
    const max = s.config.maxActiveFaults;
    if (max >= 0) {
      const a = this.acquire;
      a.limit = <u64>max;
      a.granted = false;
      a.overflow = false;
      const r = atomicUpdate(this.activeKey, a);
      if (r != WasmResult.Ok || !a.granted) {
        if (a.overflow) this.overflow!.increment();
        else log.warn("fault: could not update the active fault count (" + r.toString() + "); no fault injected");
        return false;
      }
      s.counted = true;
    }
    s.active = true;
    this.activeFaults!.add(1);
    return true;
  }

  /** Undoes tryAcquire, exactly once per acquired fault. */
  releaseFault(s: FaultStream): void {
    if (!s.active) return;
    s.active = false;
    this.activeFaults!.add(-1);
    if (s.counted) {
      s.counted = false;
      const r = atomicUpdate(this.activeKey, this.release, RELEASE_ATTEMPTS);
      if (r != WasmResult.Ok) log.error("fault: could not decrement the active fault count (" + r.toString() + ")");
    }
  }

  /** Pauses `s` until `deadline` (ns); the timer runs only while something waits. */
  wait(s: FaultStream, deadline: u64): void {
    s.wakeAt = deadline;
    s.waitingSince = nowNanos();
    this.waiting.push(s);
    if (!this.ticking) {
      this.ticking = true;
      this.setTickPeriod(TICK_MS);
    }
  }

  onTick(): void {
    const now = nowNanos();
    // Split first, act second: a local reply or a resume may end a stream (and run its onLog) before
    // this loop is done, so the list must not be in the middle of being rewritten.
    const due = this.due;
    let kept = 0;
    for (let i = 0, n = this.waiting.length; i < n; i++) {
      const s = unchecked(this.waiting[i]);
      if (s.wakeAt == 0) continue; // the stream ended while waiting
      // A wall clock that jumped backwards must not strand a request: treat it as due.
      if (s.wakeAt <= now + DUE_SLACK_NS || now < s.waitingSince) due.push(s);
      else unchecked(this.waiting[kept++] = s);
    }
    this.waiting.length = kept;
    for (let i = 0; i < due.length; i++) {
      const s = unchecked(due[i]);
      s.wakeAt = 0;
      s.makeEffective();
      s.onWake();
    }
    due.length = 0;
    if (this.waiting.length == 0 && this.ticking) {
      this.ticking = false;
      this.setTickPeriod(0);
    }
  }
}

class FaultStream extends HttpContext {
  /** The configuration that applies to this request (the filter's or a route rule's). */
  config: FaultConfig = EMPTY_CONFIG;
  /** Counted in active_faults (and, with max_active_faults, in the shared count). */
  active: bool = false;
  counted: bool = false;
  /** Nonzero while paused: the instant (ns) to resume at. */
  wakeAt: u64 = 0;
  waitingSince: u64 = 0;
  /** In a delay (request paused) rather than pacing the response. */
  delaying: bool = false;
  /** Response pacing: bytes per second (0: none), when pacing started, bytes let through, bytes held. */
  rate: u64 = 0;
  paceStart: u64 = 0;
  released: u64 = 0;
  held: u64 = 0;
  ended: bool = false;

  get fault(): FaultRoot { return changetype<FaultRoot>(this.root); }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const r = this.fault;
    if (!r.enabled) return Action.Continue;
    // The configuration for this request's route, chosen once.
    const rule = r.rules.select();
    const c = rule < 0 ? r.config : unchecked(r.ruleConfigs[rule]);
    this.config = c;
    if (!hasFault(c)) return Action.Continue;
    if (c.hasWindow) {
      const now = <i64>nowNanos();
      if (now < c.windowStartNanos || now >= c.windowEndNanos) return Action.Continue;
    }
    const cluster = c.upstreamCluster;
    if (cluster !== null && !r.clusterMatches(cluster)) return Action.Continue;
    if (c.needsHeaders) r.view.load(requestHeaders);
    if (c.downstreamNodes.length > 0 && !r.downstreamNodeMatches(c)) return Action.Continue;
    if (!c.headers.matchesView(r.view)) return Action.Continue;

    // Same order as Envoy: response rate limit, then delay (an abort, if any, follows the delay), then abort.
    if (c.rateLimit !== null) {
      const rate = r.rateLimitBytesPerSecond(c);
      if (rate > 0 && r.tryAcquire(this)) {
        this.rate = rate;
        r.rateLimitsInjected!.increment();
      }
    }
    const delay = r.delayNanos(c);
    if (delay > 0 && r.tryAcquire(this)) {
      r.delaysInjected!.increment();
      this.delaying = true;
      r.wait(this, nowNanos() + <u64>delay);
      return Action.Pause;
    }
    if (r.decideAbort(c) && r.tryAcquire(this)) {
      this.abort();
      return Action.Pause;
    }
    r.view.clear();
    return Action.Continue;
  }

  /** Called by the root's timer when this stream's deadline has come (the stream is effective). */
  onWake(): void {
    const r = this.fault;
    if (this.delaying) {
      this.delaying = false;
      // As in Envoy, a delay may be followed by an abort, decided now.
      if (this.config.needsHeaders) r.view.load(requestHeaders);
      if (r.decideAbort(this.config)) {
        this.abort();
        return;
      }
      r.view.clear();
      // The delay is over: it no longer counts as active unless the response is still to be paced.
      if (this.rate == 0) r.releaseFault(this);
      this.resumeRequest();
      return;
    }
    // Pacing: let the held response bytes through.
    this.released += this.held;
    this.held = 0;
    this.resumeResponse();
  }

  private abort(): void {
    const r = this.fault;
    r.view.clear();
    r.abortsInjected!.increment();
    const d = r.decision;
    if (d.http >= 0) sendLocalResponse(<u32>d.http, ABORT_DETAILS, ABORT_BODY, []);
    else sendLocalResponse(200, ABORT_DETAILS, ABORT_BODY, [], d.grpc);
  }

  onRequestBody(bodySize: usize, endOfStream: bool): Action {
    // Only reached while delayed when the plugin sets allow_on_headers_stop_iteration; hold the body with
    // watermarks, as Envoy's fault filter does.
    return this.delaying ? PAUSE_AND_WATERMARK : Action.Continue;
  }

  onRequestTrailers(numTrailers: u32): Action {
    return this.delaying ? Action.Pause : Action.Continue;
  }

  onResponseBody(bodySize: usize, endOfStream: bool): Action {
    if (this.rate == 0) return Action.Continue;
    const now = nowNanos();
    if (this.paceStart == 0) this.paceStart = now;
    if (this.wakeAt != 0) {
      // More data joined the held buffer. With StopIterationAndWatermark Envoy reports only the new
      // bytes (it reports the whole buffer only for StopIterationAndBuffer): add them up. The buffer now
      // leaves when all of it has had its time.
      this.held += <u64>bodySize;
      this.wakeAt = this.paceStart + (this.released + this.held) * 1_000_000_000 / this.rate;
      return PAUSE_AND_WATERMARK;
    }
    // A chunk may leave once the rate allows its last byte: Envoy hands over whole buffers (a buffer
    // cannot be released in part), so the response is never faster than the limit, in chunk-sized steps.
    const allowedAt = this.paceStart + (this.released + <u64>bodySize) * 1_000_000_000 / this.rate;
    if (allowedAt <= now + DUE_SLACK_NS) {
      this.released += <u64>bodySize;
      return Action.Continue;
    }
    this.held = <u64>bodySize;
    this.fault.wait(this, allowedAt);
    // StopIterationAndWatermark: Envoy buffers and, above its buffer limit, stops reading the upstream
    // instead of failing the response.
    return PAUSE_AND_WATERMARK;
  }

  onResponseTrailers(numTrailers: u32): Action {
    return this.wakeAt != 0 ? Action.Pause : Action.Continue;
  }

  onLog(): void { this.end(); }
  onDelete(): void { this.end(); }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.wakeAt = 0; // the root drops it from the waiting list at its next tick
    this.delaying = false;
    this.fault.releaseFault(this);
  }
}

registerRootContext((id: u32): RootContext => new FaultRoot(id));
