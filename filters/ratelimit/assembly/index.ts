// ratelimit: token-bucket rate limiting, local (buckets in shared data, exact across Envoy's workers) or
// global (envoy.service.ratelimit.v3.RateLimitService over gRPC). README.md has the config reference.
//
//   {"token_bucket": {"max_tokens": 20, "tokens_per_fill": 20, "fill_interval": "60s"}}

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, Header, WasmResult, registerRootContext, requestHeaders, responseHeaders,
  grpcReceiveBuffer, sendLocalResponse, grpcCall, cancelGrpcCall, GrpcHandler, Counter, ConfigErrors,
  readPluginConfig, log, nowNanos, randomBelow, randomU32, atomicUpdate, SharedDataUpdater, attributes,
  encodeUtf8, getSharedData, RouteRules,
} from "proxy-wasm-as";
import { FilterConfig, LocalDescriptor, ALWAYS_PPM, parseFilterConfig } from "./config";
import { BucketParams, CANDIDATES, Charged, ConsumeUpdater, RefundUpdater, Outcome, consumeFixed, consumeSlot, refund } from "./bucket";
import { Descriptor, RequestFacts } from "./descriptors";
import { sipHash24 } from "./hash";
import { Code, RLS_METHOD, RLS_SERVICE, RateLimitResponse, decodeRateLimitResponse, encodeRateLimitRequest } from "./rls";

const DETAILS_LOCAL = "local_rate_limited";
const DETAILS_GLOBAL = "request_rate_limited";
const DETAILS_ERROR = "rate_limiter_error";
const EMPTY = new ArrayBuffer(0);

/** The hash key shared by all workers: created once per VM (shared data), then read by every worker. */
class SeedUpdater extends SharedDataUpdater {
  update(current: ArrayBuffer | null): ArrayBuffer | null {
    if (current !== null && current.byteLength == 32) return null;
    const out = new ArrayBuffer(32);
    for (let i = 0; i < 8; i++) store<u32>(changetype<usize>(out) + (<usize>i << 2), randomU32());
    return out;
  }
}

class Metrics {
  ok: Counter;
  overLimit: Counter;
  shadowOverLimit: Counter;
  errors: Counter;
  /** A new key took over a slot from another key's full (idle) bucket. */
  evictions: Counter;
  /** A key found every candidate slot busy and was charged to its descriptor's overflow bucket. */
  overflow: Counter;
  constructor(prefix: string) {
    this.ok = new Counter(prefix + "ok");
    this.overLimit = new Counter(prefix + "over_limit");
    this.shadowOverLimit = new Counter(prefix + "shadow_over_limit");
    this.errors = new Counter(prefix + "errors");
    this.evictions = new Counter(prefix + "evictions");
    this.overflow = new Counter(prefix + "overflow");
  }
}

/** What the x-ratelimit-* headers report: the most restrictive limit met by the request. */
class LimitInfo {
  set: bool = false;
  // The limit as the headers word it: the global mode's text ("n, n;w=s"), or the local bucket's size,
  // kept as a number and formatted only when a header is written (most requests write none).
  private limitText: string | null = null;
  private limitCount: u32 = 0;
  remaining: u64 = 0;
  resetSeconds: u64 = 0;

  clear(): void { this.set = false; }

  offer(limit: string, remaining: u64, resetSeconds: u64): void {
    if (this.set && remaining >= this.remaining) return;
    this.set = true;
    this.limitText = limit;
    this.remaining = remaining;
    this.resetSeconds = resetSeconds;
  }

  /** As offer, for a limit that is a count of requests. */
  offerCount(limit: u32, remaining: u64, resetSeconds: u64): void {
    if (this.set && remaining >= this.remaining) return;
    this.set = true;
    this.limitText = null;
    this.limitCount = limit;
    this.remaining = remaining;
    this.resetSeconds = resetSeconds;
  }

  get limit(): string {
    const text = this.limitText;
    return text !== null ? text : this.limitCount.toString();
  }

  addTo(headers: Header[], cfg: FilterConfig): void {
    if (!this.set) return;
    const limit = this.limit;
    if (cfg.xRateLimitHeaders) {
      headers.push(Header.of("x-ratelimit-limit", limit));
      headers.push(Header.of("x-ratelimit-remaining", this.remaining.toString()));
      headers.push(Header.of("x-ratelimit-reset", this.resetSeconds.toString()));
    }
    if (cfg.ietfRateLimitHeaders) {
      headers.push(Header.of("ratelimit-limit", limit));
      headers.push(Header.of("ratelimit-remaining", this.remaining.toString()));
      headers.push(Header.of("ratelimit-reset", this.resetSeconds.toString()));
    }
  }
}

function ceilSeconds(ns: u64): u64 { return (ns + 999_999_999) / 1_000_000_000; }

/**
 * One configuration's limits, the filter's own or a route rule's, with the shared-data keys of its buckets.
 * Each plan has buckets of its own: a route rule is a separate limit even where it inherits token_bucket.
 */
class Plan {
  defaultKey: string = "";
  descriptorKeys: string[] = [];
  descriptorFingerprints: u64[] = [];
  /** Per descriptor: its slot table's key prefix and its overflow bucket's key (dynamic ones only). */
  slotPrefixes: string[] = [];
  overflowKeys: string[] = [];
  constructor(public readonly cfg: FilterConfig, public readonly metrics: Metrics) {}
}

class RateLimitRoot extends RootContext {
  /** The filter's own configuration (plans[0]) and one plan per route rule (plans[1 + rule]). */
  plans: Plan[] = [];
  routeRules: RouteRules = new RouteRules();
  /** Shared-data key prefix: per plugin name, so two plugins in one VM keep their buckets apart. */
  ns: string = "";
  k0: u64 = 0;
  k1: u64 = 0;
  k2: u64 = 0;
  k3: u64 = 0;
  // Reused on every request of this worker (one request runs at a time per VM).
  readonly facts: RequestFacts = new RequestFacts();
  readonly consume: ConsumeUpdater = new ConsumeUpdater();
  readonly refunder: RefundUpdater = new RefundUpdater();
  readonly charged: Charged[] = [];
  private scratch: ArrayBuffer = new ArrayBuffer(256);
  private readonly candidates: StaticArray<u32> = new StaticArray<u32>(CANDIDATES);

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const obj = readPluginConfig(errors);
    const cfg = obj !== null ? parseFilterConfig(obj) : null;
    const configs: FilterConfig[] = [];
    const prefixes: string[] = [""];
    let routeRules = new RouteRules();
    if (cfg !== null && errors.ok) {
      configs.push(cfg);
      routeRules = RouteRules.parse(obj!);
      for (let i = 0; i < routeRules.length && errors.ok; i++) {
        const rc = parseFilterConfig(routeRules.merged(i));
        if (rc !== null) configs.push(rc);
        // Bucket keys follow the rule's place in the configuration, not its rank.
        prefixes.push("r" + routeRules.matches[i].index.toString() + "/");
      }
      routeRules.compact();
    }
    if (cfg === null || !errors.ok) {
      routeRules.release();
      log.error("ratelimit: invalid configuration: " + errors.first);
      return false;
    }
    const name = attributes.plugin.name();
    this.ns = "ratelimit/" + (name !== null ? name : "") + "/";
    this.routeRules.release();
    this.routeRules = routeRules;
    this.plans = [];
    let local = false;
    for (let i = 0; i < configs.length; i++) {
      const c = configs[i];
      // Configurations with the same stat_prefix count in the same metrics.
      let metrics: Metrics | null = null;
      for (let k = 0; k < i && metrics === null; k++) {
        if (this.plans[k].cfg.metricPrefix == c.metricPrefix) metrics = this.plans[k].metrics;
      }
      this.plans.push(new Plan(c, metrics !== null ? metrics : new Metrics(c.metricPrefix)));
      if (!c.global) local = true;
    }
    if (local) {
      const seedKey = this.ns + "seed";
      const r = atomicUpdate(seedKey, new SeedUpdater());
      const seed = getSeed(seedKey);
      if (r != WasmResult.Ok || seed === null) {
        log.error("ratelimit: cannot create the shared hash key in shared data (" + r.toString() + ")");
        return false;
      }
      const p = changetype<usize>(seed);
      this.k0 = load<u64>(p);
      this.k1 = load<u64>(p, 8);
      this.k2 = load<u64>(p, 16);
      this.k3 = load<u64>(p, 24);
      for (let j = 0; j < this.plans.length; j++) {
        const plan = this.plans[j];
        if (plan.cfg.global) continue;
        const base = this.ns + prefixes[j];
        plan.defaultKey = base + "default";
        for (let i = 0; i < plan.cfg.descriptors.length; i++) {
          const key = base + "d" + i.toString();
          plan.descriptorKeys.push(key);
          plan.descriptorFingerprints.push(this.fixedFingerprint(i, plan.cfg.descriptors[i]));
          // Each valueless descriptor has its own table, so keys of one never take the slots of another.
          plan.slotPrefixes.push(key + "/s");
          plan.overflowKeys.push(key + "/o");
        }
      }
    }
    log.info("ratelimit: configured (" + (cfg.global ? "global, domain " + cfg.domain + ", cluster " + cfg.cluster : "local")
      + (routeRules.length > 0 ? ", " + routeRules.length.toString() + " route rules" : "") + ")");
    return true;
  }

  newHttpContext(contextId: u32): HttpContext | null { return new RateLimitStream(contextId, this); }

  /** A fixed descriptor's fingerprint: its index and entries, so a reordered config gets fresh buckets. */
  private fixedFingerprint(index: i32, d: LocalDescriptor): u64 {
    let s = index.toString();
    for (let i = 0; i < d.keys.length; i++) {
      s += "\u0000" + d.keys[i] + "\u0000";
      const v = d.values[i];
      if (v !== null) s += String.UTF8.decode(v);
    }
    const b = encodeUtf8(s);
    return sipHash24(this.k2, this.k3, changetype<usize>(b), <usize>b.byteLength) | 1;
  }

  /** Serializes a dynamic descriptor (index, then length-prefixed values) into the scratch buffer. */
  private serialize(index: i32, d: Descriptor): i32 {
    let n = 4;
    for (let i = 0; i < d.entries.length; i++) n += 4 + d.entries[i].value.byteLength;
    if (this.scratch.byteLength < n) this.scratch = new ArrayBuffer(n * 2);
    const p = changetype<usize>(this.scratch);
    store<u32>(p, <u32>index);
    let at: usize = 4;
    for (let i = 0; i < d.entries.length; i++) {
      const v = unchecked(d.entries[i]).value;
      store<u32>(p + at, <u32>v.byteLength);
      memory.copy(p + at + 4, changetype<usize>(v), <usize>v.byteLength);
      at += 4 + <usize>v.byteLength;
    }
    return n;
  }

  /**
   * Charges one token to the bucket of descriptor `index` for request descriptor `d` (null: the default
   * bucket). Returns the key charged, or null when shared data failed.
   */
  charge(plan: Plan, index: i32, d: Descriptor | null, params: BucketParams, now: u64): string | null {
    const u = this.consume;
    u.params = params;
    u.nowNs = now;
    u.hits = 1;
    if (d === null) {
      u.fingerprint = 1;
      return consumeFixed(plan.defaultKey, u);
    }
    const desc = plan.cfg.descriptors[index];
    if (!desc.dynamic) {
      u.fingerprint = plan.descriptorFingerprints[index];
      return consumeFixed(plan.descriptorKeys[index], u);
    }
    const n = this.serialize(index, d);
    const p = changetype<usize>(this.scratch);
    const h = sipHash24(this.k0, this.k1, p, <usize>n);
    // 0 is never a fingerprint, so a zeroed value can never look like an owned bucket.
    u.fingerprint = sipHash24(this.k2, this.k3, p, <usize>n) | 1;
    const fp = u.fingerprint;
    const slots = <u64>plan.cfg.slots;
    const c = this.candidates;
    unchecked(c[0] = <u32>((h & 0xffffffff) % slots));
    unchecked(c[1] = <u32>((h >> 32) % slots));
    unchecked(c[2] = <u32>((fp & 0xffffffff) % slots));
    unchecked(c[3] = <u32>((fp >> 32) % slots));
    const charged = consumeSlot(plan.slotPrefixes[index], c, plan.overflowKeys[index], plan.descriptorFingerprints[index], u);
    const m = plan.metrics;
    if (u.evicted) m.evictions.increment();
    if (u.overflowed) m.overflow.increment();
    return charged;
  }
}

function getSeed(key: string): ArrayBuffer | null {
  const v = getSharedData(key);
  return v !== null && v.value.byteLength == 32 ? v.value : null;
}


/** Rolls a fractional percentage; no random draw at 0 % or 100 %. */
function roll(ppm: u32): bool {
  if (ppm >= ALWAYS_PPM) return true;
  if (ppm == 0) return false;
  return randomBelow(ALWAYS_PPM) < ppm;
}

class RateLimitStream extends HttpContext {
  /** The limits for this request's route (the filter's own or a route rule's), chosen once. */
  plan: Plan | null = null;
  /** Headers to add to the response (x-ratelimit-*, and in global mode the service's headers). */
  responseExtra: Header[] | null = null;
  pendingToken: u32 = 0;
  pending: bool = false;

  get rl(): RateLimitRoot { return changetype<RateLimitRoot>(this.root); }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const root = this.rl;
    const plan = unchecked(root.plans[1 + root.routeRules.select()]);
    this.plan = plan;
    const cfg = plan.cfg;
    if (!roll(cfg.enabledPpm)) return Action.Continue;
    return cfg.global ? this.checkGlobal(root, cfg) : this.checkLocal(root, plan);
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    const extra = this.responseExtra;
    if (extra !== null) {
      for (let i = 0; i < extra.length; i++) {
        const h = unchecked(extra[i]);
        responseHeaders.addBytes(h.key, h.value);
      }
    }
    return Action.Continue;
  }

  onDelete(): void {
    // The client went away while the service was deciding: drop the call so its answer finds nothing.
    if (this.pending) {
      this.pending = false;
      cancelGrpcCall(this.pendingToken);
    }
  }

  // ---- local mode

  private checkLocal(root: RateLimitRoot, plan: Plan): Action {
    const cfg = plan.cfg;
    const m = plan.metrics;
    const now = nowNanos();
    const u = root.consume;
    const charged = root.charged;
    charged.length = 0;
    const info = new LimitInfo();
    let allowed = true;
    let failed = false;
    let matched = 0;
    let retryNs: u64 = 0;

    if (cfg.rules.length > 0 && cfg.descriptors.length > 0) {
      const facts = root.facts;
      facts.load();
      for (let r = 0; r < cfg.rules.length && allowed; r++) {
        const d = unchecked(cfg.rules[r]).produce(facts);
        if (d === null) continue;
        let index = -1;
        for (let i = 0; i < cfg.descriptors.length; i++) {
          if (unchecked(cfg.descriptors[i]).matches(d)) { index = i; break; }
        }
        if (index < 0) continue;
        matched++;
        const key = root.charge(plan, index, d, unchecked(cfg.descriptors[index]).params, now);
        if (key === null) { failed = true; continue; }
        if (!this.account(u, charged, key, info)) { allowed = false; retryNs = u.untilFillNs; }
      }
      facts.clear();
    }
    const dflt = cfg.defaultBucket;
    if (allowed && dflt !== null && (matched == 0 || cfg.alwaysConsumeDefault)) {
      const key = root.charge(plan, -1, null, dflt, now);
      if (key === null) failed = true;
      else if (!this.account(u, charged, key, info)) { allowed = false; retryNs = u.untilFillNs; }
    }
    if (failed) {
      // Shared data refused every attempt: count it and let the request through, as Envoy's filters
      // fail open on limiter errors.
      m.errors.increment();
      log.warn("ratelimit: shared data update failed; request allowed");
    }
    if (!allowed) {
      for (let i = 0; i < charged.length; i++) refund(unchecked(charged[i]), 1, root.refunder);
    }
    charged.length = 0;
    return this.decide(root, cfg, allowed, info, retryNs > 0 ? ceilSeconds(retryNs) : 1, DETAILS_LOCAL, null, null);
  }

  /** Records a consume's result; false when it was denied. */
  private account(u: ConsumeUpdater, charged: Charged[], key: string, info: LimitInfo): bool {
    info.offerCount(u.limit, <u64>u.remaining, ceilSeconds(u.untilFillNs));
    if (u.outcome == Outcome.Allowed) {
      charged.push(new Charged(key, u.chargedFingerprint));
      return true;
    }
    return false;
  }

  // ---- both modes

  /**
   * Applies a decision. Allowed: counts ok and remembers the x-ratelimit-* headers for the response.
   * Over the limit: enforced → the configured status; not enforced (shadow) → counted and let through.
   */
  decide(root: RateLimitRoot, cfg: FilterConfig, allowed: bool, info: LimitInfo, retryAfter: u64, details: string,
         serviceHeaders: Header[] | null, body: ArrayBuffer | null): Action {
    const m = this.plan!.metrics;
    if (allowed) {
      m.ok.increment();
      if ((cfg.xRateLimitHeaders || cfg.ietfRateLimitHeaders) && info.set) {
        const extra = this.extra();
        info.addTo(extra, cfg);
      }
      return Action.Continue;
    }
    if (!roll(cfg.enforcedPpm)) {
      m.shadowOverLimit.increment();
      const add = cfg.requestHeadersWhenNotEnforced;
      for (let i = 0; i < add.length; i++) requestHeaders.addBytes(add[i].key, add[i].value);
      return Action.Continue;
    }
    m.overLimit.increment();
    const headers = new Array<Header>();
    if (cfg.xEnvoyRateLimited) headers.push(Header.of("x-envoy-ratelimited", "true"));
    if (retryAfter > 0) headers.push(Header.of("retry-after", retryAfter.toString()));
    info.addTo(headers, cfg);
    if (serviceHeaders !== null) for (let i = 0; i < serviceHeaders.length; i++) headers.push(serviceHeaders[i]);
    for (let i = 0; i < cfg.responseHeadersToAdd.length; i++) headers.push(cfg.responseHeadersToAdd[i]);
    const text = body !== null ? body : (details == DETAILS_LOCAL ? encodeUtf8(DETAILS_LOCAL) : EMPTY);
    sendLocalResponse(cfg.status, details, text, headers);
    return Action.Pause;
  }

  extra(): Header[] {
    let e = this.responseExtra;
    if (e === null) {
      e = new Array<Header>();
      this.responseExtra = e;
    }
    return e;
  }

  // ---- global mode

  private checkGlobal(root: RateLimitRoot, cfg: FilterConfig): Action {
    const facts = root.facts;
    facts.load();
    const descriptors = new Array<Descriptor>();
    for (let r = 0; r < cfg.rules.length; r++) {
      const d = unchecked(cfg.rules[r]).produce(facts);
      if (d !== null) descriptors.push(d);
    }
    facts.clear();
    if (descriptors.length == 0) return Action.Continue;
    const message = encodeRateLimitRequest(cfg.domain, descriptors);
    const handler = new ServiceCall(this);
    const call = grpcCall(cfg.cluster, RLS_SERVICE, RLS_METHOD, [], message, cfg.timeoutMs, handler);
    if (!call.ok) {
      log.warn("ratelimit: cannot call the rate limit service on cluster " + cfg.cluster + " (" + call.result.toString() + ")");
      return this.failure(root, cfg, false);
    }
    this.pendingToken = call.token;
    this.pending = true;
    return Action.Pause;
  }

  /** The service answered. */
  onServiceResponse(resp: RateLimitResponse | null): void {
    this.pending = false;
    const root = this.rl;
    const cfg = this.plan!.cfg;
    if (resp === null || resp.overallCode == Code.Unknown) {
      log.warn("ratelimit: the rate limit service sent " + (resp === null ? "a malformed response" : "overall_code UNKNOWN"));
      this.failure(root, cfg, true);
      return;
    }
    const info = new LimitInfo();
    let retry: u64 = 0;
    for (let i = 0; i < resp.statuses.length; i++) {
      const s = unchecked(resp.statuses[i]);
      if (!s.hasLimit) continue;
      const reset = <u64>s.resetCeilSeconds();
      const window = s.unitSeconds();
      const limit = s.requestsPerUnit.toString();
      info.offer(window > 0 ? limit + ", " + limit + ";w=" + window.toString() : limit, <u64>s.limitRemaining, reset);
      if (s.code == Code.OverLimit && reset > retry) retry = reset;
    }
    for (let i = 0; i < resp.requestHeaders.length; i++) {
      requestHeaders.replaceBytes(resp.requestHeaders[i].key, resp.requestHeaders[i].value);
    }
    const allowed = resp.overallCode != Code.OverLimit;
    if (allowed && resp.responseHeaders.length > 0) {
      const extra = this.extra();
      for (let i = 0; i < resp.responseHeaders.length; i++) extra.push(resp.responseHeaders[i]);
    }
    const action = this.decide(root, cfg, allowed, info, retry, DETAILS_GLOBAL, allowed ? null : resp.responseHeaders, resp.rawBody);
    if (action == Action.Continue) this.resumeRequest();
  }

  /** The call failed (timeout, unreachable, gRPC error, malformed answer): fail open unless configured not to. */
  onServiceError(status: u32): void {
    this.pending = false;
    log.warn("ratelimit: the rate limit service call failed with gRPC status " + status.toString());
    this.failure(this.rl, this.plan!.cfg, true);
  }

  private failure(root: RateLimitRoot, cfg: FilterConfig, resume: bool): Action {
    this.plan!.metrics.errors.increment();
    if (cfg.failureModeDeny) {
      sendLocalResponse(cfg.statusOnError, DETAILS_ERROR, EMPTY, []);
      return Action.Pause;
    }
    if (resume) this.resumeRequest();
    return Action.Continue;
  }
}

/** One ShouldRateLimit call for one stream. The SDK ends every call in onClose, a success too. */
class ServiceCall extends GrpcHandler {
  response: RateLimitResponse | null = null;
  received: bool = false;
  constructor(public stream: RateLimitStream) { super(); }

  onMessage(size: usize): void {
    this.received = true;
    this.response = decodeRateLimitResponse(grpcReceiveBuffer.read());
  }

  onClose(status: u32): void {
    // OK with no message is an empty response, which reads as overall_code UNKNOWN: an error too.
    if (status == 0) this.stream.onServiceResponse(this.received ? this.response : null);
    else this.stream.onServiceError(status);
  }
}

registerRootContext((id: u32): RootContext => new RateLimitRoot(id));
