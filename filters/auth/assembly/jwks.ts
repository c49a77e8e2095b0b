// Key sets per provider: local ones parsed at configure time, remote ones fetched by an HTTP callout from
// the root context (at configure time, then on the timer), cached for cache_duration and refreshed in the
// background before they expire. Failed or malformed fetches are retried with exponential backoff; while
// a provider has no usable keys its requests fail closed (401). A token with an unknown kid triggers at most
// one refetch per cooldown, and a request causes at most one. Each worker VM fetches for itself (Envoy runs one VM per worker thread).

import { HttpCallHandler, httpCall, Header, httpCallResponseHeaders, httpCallResponseBody, log, nowNanos, Counter } from "proxy-wasm-as";
import { ProviderConfig } from "./config";
import { KeySet, parseJwks, MAX_JWKS_BYTES } from "./jwk";

/** A request waiting for a provider's keys; told once the fetch it waits for has finished. */
export abstract class KeyWaiter {
  abstract onKeysSettled(): void;
}

/**
 * Backoff after a failed fetch: 1 s, doubling, at most 60 s and at most the refresh period
 * (0.9 × cache_duration), so an endpoint that comes back is used again within one refresh period.
 */
const RETRY_BASE_NS: u64 = 1_000_000_000;
const RETRY_MAX_NS: u64 = 60_000_000_000;
/** Requests that may wait for one provider's fetch; beyond this they fail closed at once. */
export const MAX_WAITERS = 4096;

export class JwksMetrics {
  fetches: Counter = new Counter("auth.jwks.fetches");
  failures: Counter = new Counter("auth.jwks.fetch_failures");
}

export class ProviderState {
  keys: KeySet | null = null;
  /** Increases on every key set change; token cache entries carry it. */
  gen: u32 = 0;
  expiresAt: u64 = 0;
  refreshAt: u64 = 0;
  fetching: bool = false;
  failures: i32 = 0;
  nextRetryAt: u64 = 0;
  lastKidRefetchAt: u64 = 0;
  kidRefetched: bool = false;
  waiters: KeyWaiter[] = [];
  lastError: string = "";

  constructor(public readonly cfg: ProviderConfig, public readonly metrics: JwksMetrics, public readonly kidCooldownNs: u64) {
    if (cfg.localKeys !== null) {
      this.keys = cfg.localKeys;
      this.gen = 1;
      this.expiresAt = u64.MAX_VALUE;
    }
  }

  get remote(): bool { return this.cfg.remote !== null; }

  /** The keys usable now, or null (never fetched, expired, or every fetch failed). */
  keysAt(now: u64): KeySet | null {
    return this.keys !== null && now < this.expiresAt ? this.keys : null;
  }

  /**
   * No usable keys: returns true when the request should wait (a fetch is running, or one may start now
   * and was started), false when it must fail closed (backing off after failures).
   */
  waitForKeys(now: u64): bool {
    if (!this.remote) return false;
    if (this.fetching) return true;
    if (now < this.nextRetryAt) return false;
    return this.startFetch("no keys");
  }

  /** A token's kid is not in the set: refetch at most once per cooldown. True when the request should wait. */
  refetchForKid(now: u64): bool {
    if (!this.remote) return false;
    if (this.fetching) return true;
    if (this.kidRefetched && now - this.lastKidRefetchAt < this.kidCooldownNs) return false;
    if (now < this.nextRetryAt) return false;
    this.kidRefetched = true;
    this.lastKidRefetchAt = now;
    return this.startFetch("unknown kid");
  }

  addWaiter(w: KeyWaiter): bool {
    if (this.waiters.length >= MAX_WAITERS) return false;
    this.waiters.push(w);
    return true;
  }

  /** Timer: first fetch, retries after backoff, and the refresh before expiry. */
  onTick(now: u64): void {
    if (!this.remote || this.fetching || now < this.nextRetryAt) return;
    if (this.keys === null || now >= this.refreshAt) this.startFetch(this.keys === null ? "initial" : "refresh");
  }

  startFetch(reason: string): bool {
    const r = this.cfg.remote!;
    const headers: Header[] = [
      Header.of(":method", "GET"), Header.of(":path", r.path), Header.of(":authority", r.authority),
      Header.of(":scheme", r.uri.startsWith("https://") ? "https" : "http"), Header.of("accept", "application/json"),
    ];
    this.metrics.fetches.increment();
    const res = httpCall(r.cluster, headers, null, [], r.timeoutMs, new FetchHandler(this));
    if (!res.ok) {
      this.fetchFailed("the call to cluster \"" + r.cluster + "\" could not start (result " + (<i32>res.result).toString() + "; is the cluster defined?)");
      return false;
    }
    this.fetching = true;
    log.debug("auth: fetching JWKS for provider " + this.cfg.name + " (" + reason + ")");
    return true;
  }

  fetched(keys: KeySet): void {
    const now = nowNanos();
    const d = this.cfg.remote!.cacheDurationNs;
    this.fetching = false;
    this.keys = keys;
    this.gen++;
    this.failures = 0;
    this.nextRetryAt = 0;
    this.expiresAt = now + d;
    // Refresh when 90% of the cache duration has passed, so the keys never lapse while the JWKS server is up.
    this.refreshAt = now + d - d / 10;
    this.lastError = "";
    if (keys.skipped.length > 0) log.warn("auth: provider " + this.cfg.name + ": JWKS keys skipped: " + keys.skipped.join("; "));
    this.settle();
  }

  fetchFailed(why: string): void {
    const now = nowNanos();
    this.fetching = false;
    this.metrics.failures.increment();
    this.failures++;
    let backoff = RETRY_BASE_NS << <u64>min(this.failures - 1, 16);
    if (backoff > RETRY_MAX_NS) backoff = RETRY_MAX_NS;
    const d = this.cfg.remote!.cacheDurationNs;
    const refreshPeriod = d - d / 10;
    if (backoff > refreshPeriod) backoff = refreshPeriod;
    this.nextRetryAt = now + backoff;
    this.lastError = why;
    log.warn("auth: provider " + this.cfg.name + ": JWKS fetch from " + this.cfg.remote!.uri + " failed: " + why
      + (this.keysAt(now) !== null ? " (keeping the current keys until they expire)" : " (requests fail closed until a fetch succeeds)")
      + "; retry in " + (backoff / 1_000_000).toString() + " ms");
    this.settle();
  }

  private settle(): void {
    const w = this.waiters;
    this.waiters = [];
    for (let i = 0; i < w.length; i++) w[i].onKeysSettled();
  }
}

class FetchHandler extends HttpCallHandler {
  constructor(private readonly p: ProviderState) { super(); }

  onResponse(numHeaders: u32, bodySize: usize, numTrailers: u32): void {
    if (numHeaders == 0) { this.p.fetchFailed("no response (reset, timeout or no healthy upstream)"); return; }
    const status = httpCallResponseHeaders.get(":status");
    if (status === null || status != "200") {
      this.p.fetchFailed("HTTP status " + (status !== null ? status : "(none)"));
      return;
    }
    // The announced size first: a larger body is refused without being copied into the VM.
    if (bodySize > <usize>MAX_JWKS_BYTES) {
      this.p.fetchFailed("Jwks is larger than " + MAX_JWKS_BYTES.toString() + " bytes (" + bodySize.toString() + " announced)");
      return;
    }
    const r = parseJwks(httpCallResponseBody.read(0, <u32>MAX_JWKS_BYTES + 1));
    if (!r.ok) { this.p.fetchFailed(r.error); return; }
    this.p.fetched(r.keys!);
  }
}
