// Token buckets in shared data, exact across all worker VMs of one Envoy.
//
// One bucket is one shared-data value of BUCKET_BYTES, updated with compare-and-swap (the SDK's
// atomicUpdate, which is also exact when two workers create the same key at once). Refill is computed
// from timestamps, never from a timer, at Envoy's rate: tokens accrue continuously at tokens_per_fill
// per fill_interval (one token every fill_interval / tokens_per_fill), as Envoy's local_ratelimit does,
// counted in whole tokens with exact integer arithmetic, so no token appears a nanosecond early, and a
// bucket never holds more than max_tokens.
//
// Layout (little-endian):
//   0  u32 magic "RL02"      4  u32 max_tokens      8  u32 tokens_per_fill   12 u32 tokens
//   16 u64 fill_interval_ns  24 u64 anchor_ns (start of the current fill interval)  32 u64 key fingerprint
//   40 u32 tokens already credited from the current interval (< tokens_per_fill)  44 u32 reserved
//
// Dynamic descriptors (a value per client, per user...) would need unbounded keys, and shared data has
// no delete. Each one lives instead in its own fixed table of slots: a key's keyed hashes name four
// candidate slots, and the slot stores a 64-bit fingerprint of the key (a second keyed hash) to tell keys
// apart. A new key takes a slot that is empty or whose bucket is full (a full bucket is indistinguishable
// from a new one, so evicting it loses nothing). When all its candidates hold other keys' non-full
// buckets, the key is charged to its descriptor's overflow bucket, which has the descriptor's own limits
// and is shared by every key of that descriptor that found no slot: stricter, never looser. A key leaving
// the overflow bucket for a slot starts from the overflow bucket's state, not from a full bucket, so the
// move gives it no tokens it would not have had in a bucket of its own.

import { SharedDataUpdater, atomicUpdate, getSharedData, WasmResult } from "proxy-wasm-as";

// @ts-ignore: decorator
@inline export const BUCKET_BYTES: i32 = 48;
// @ts-ignore: decorator
@inline const MAGIC: u32 = 0x32304c52; // "RL02"
/** CAS retries before giving up; 4 workers contending on one bucket settle in a handful. */
// @ts-ignore: decorator
@inline export const MAX_ATTEMPTS: i32 = 64;

/** A token bucket's configuration. */
export class BucketParams {
  constructor(public maxTokens: u32, public tokensPerFill: u32, public fillIntervalNs: u64) {}
}

/** How a consume treats a slot that holds another key's bucket. */
export const enum Policy {
  /** Use the slot only if it holds this key. */
  MatchOnly = 0,
  /** This key, or an empty or full (idle) slot, which is taken over. */
  MatchOrTakeover = 1,
  /** This key; anything else is reset to this key (fixed keys: only a config change puts another key there). */
  Own = 2,
}

export const enum Outcome {
  Miss = 0,
  Allowed = 1,
  Denied = 2,
}

/**
 * One consume of `hits` tokens. atomicUpdate may call `update` several times under contention; the
 * result fields describe the last call, which is the one that took effect.
 */
export class ConsumeUpdater extends SharedDataUpdater {
  fingerprint: u64 = 0;
  params: BucketParams = new BucketParams(1, 1, 1_000_000_000);
  nowNs: u64 = 0;
  policy: Policy = Policy.Own;
  hits: u32 = 1;

  // Results.
  outcome: Outcome = Outcome.Miss;
  /** max_tokens of the bucket charged. */
  limit: u32 = 0;
  /** Tokens left after this consume. */
  remaining: u32 = 0;
  /** Nanoseconds until the bucket gains its next token (for retry-after and x-ratelimit-reset). */
  untilFillNs: u64 = 0;
  /** Fingerprint of the bucket charged (the overflow bucket's when the key found no slot). */
  chargedFingerprint: u64 = 0;
  /** The slot held another key's (full) bucket, which this consume replaced. */
  evicted: bool = false;
  /** The key found no slot and was charged to its descriptor's overflow bucket (set by consumeSlot). */
  overflowed: bool = false;

  /**
   * The state a bucket taken over with Policy.MatchOrTakeover starts from, instead of full: the overflow
   * bucket's, refilled to now (see inheritFrom).
   */
  private inherit: bool = false;
  private inheritTokens: u32 = 0;
  private inheritAnchor: u64 = 0;
  private inheritCredited: u32 = 0;

  // Scratch state of the bucket being updated.
  private max: u32 = 0;
  private perFill: u32 = 0;
  private interval: u64 = 1;
  private tokens: u32 = 0;
  private anchor: u64 = 0;
  private owner: u64 = 0;
  private credited: u32 = 0;
  /** The wall clock went back past an interval and the anchor moved: must be stored even on a denial. */
  private reanchored: bool = false;
  private readonly out: ArrayBuffer = new ArrayBuffer(BUCKET_BYTES);

  update(current: ArrayBuffer | null): ArrayBuffer | null {
    this.evicted = false;
    this.reanchored = false;
    const occupied = current !== null && this.read(current);
    let fresh = !occupied;
    if (occupied) {
      if (this.owner == this.fingerprint) {
        // Same key, different limits: the configuration changed. Envoy builds new buckets on a config
        // update, and so does this filter.
        if (this.max != this.params.maxTokens || this.perFill != this.params.tokensPerFill || this.interval != this.params.fillIntervalNs) fresh = true;
        else this.refill();
      } else {
        this.refill();
        const idle = this.tokens >= this.max;
        if (this.policy == Policy.MatchOnly) { this.outcome = Outcome.Miss; return null; }
        if (this.policy == Policy.MatchOrTakeover) {
          if (!idle) { this.outcome = Outcome.Miss; return null; }
          this.evicted = true;
        }
        fresh = true;
      }
    } else if (this.policy == Policy.MatchOnly) {
      this.outcome = Outcome.Miss;
      return null;
    }
    if (fresh) {
      this.max = this.params.maxTokens;
      this.perFill = this.params.tokensPerFill;
      this.interval = this.params.fillIntervalNs;
      this.tokens = this.max;
      this.anchor = this.nowNs;
      this.credited = 0;
      this.owner = this.fingerprint;
      if (this.inherit && this.policy == Policy.MatchOrTakeover) {
        this.tokens = this.inheritTokens;
        this.anchor = this.inheritAnchor;
        this.credited = this.inheritCredited;
      }
    }
    this.limit = this.max;
    this.chargedFingerprint = this.owner;
    if (this.tokens >= this.hits) {
      this.tokens -= this.hits;
      this.remaining = this.tokens;
      this.outcome = Outcome.Allowed;
      this.untilFillNs = this.untilTokens(1);
      return this.write();
    }
    this.untilFillNs = this.untilTokens(this.hits - this.tokens);
    this.remaining = this.tokens;
    this.outcome = Outcome.Denied;
    // A denial changes nothing a later refill would not recompute; only a new bucket must be stored.
    return fresh || this.reanchored ? this.write() : null;
  }

  /**
   * Makes the next takeover start from the bucket `v` (the overflow bucket, owned by `owner`) as it stands
   * now, when it has this consume's limits and is not full; otherwise a takeover starts full. A key that
   * was charged to the overflow bucket spent at least as much as its own bucket would have, so starting
   * from the overflow bucket's state never gives it more than its own limit. Call after setting params and
   * nowNs; `v` null clears it.
   */
  inheritFrom(v: ArrayBuffer | null, owner: u64): void {
    this.inherit = false;
    if (v === null || !this.read(v) || this.owner != owner) return;
    if (this.max != this.params.maxTokens || this.perFill != this.params.tokensPerFill || this.interval != this.params.fillIntervalNs) return;
    this.reanchored = false;
    this.refill();
    if (this.tokens >= this.max) return;
    this.inherit = true;
    this.inheritTokens = this.tokens;
    this.inheritAnchor = this.anchor;
    this.inheritCredited = this.credited;
  }

  /** Loads a stored bucket; false when the value is not one (missing, cleared or foreign). */
  private read(v: ArrayBuffer): bool {
    if (v.byteLength != BUCKET_BYTES) return false;
    const p = changetype<usize>(v);
    if (load<u32>(p) != MAGIC) return false;
    this.max = load<u32>(p, 4);
    this.perFill = load<u32>(p, 8);
    this.tokens = load<u32>(p, 12);
    this.interval = load<u64>(p, 16);
    this.anchor = load<u64>(p, 24);
    this.owner = load<u64>(p, 32);
    this.credited = load<u32>(p, 40);
    return this.credited < this.perFill && this.max > 0 && this.perFill > 0 && this.interval > 0;
  }

  /**
   * Adds the whole tokens accrued by now. A fill interval that started at `anchor` yields tokens_per_fill
   * tokens spread evenly over it (the k-th at anchor + ceil(k * fill_interval / tokens_per_fill)), and
   * `credited` of them were already added. Whole intervals move the anchor, so nothing drifts; a full
   * bucket accrues nothing (its interval restarts now).
   */
  private refill(): void {
    const now = this.nowNs;
    if (now < this.anchor) {
      // The wall clock went back. Within one interval, wait for it; beyond, re-anchor at now, so a clock
      // step back does not freeze the bucket for as long as the step.
      if (this.anchor - now > this.interval) {
        this.anchor = now;
        this.credited = 0;
        this.reanchored = true;
      }
      return;
    }
    if (this.tokens >= this.max) {
      this.setFull(now);
      return;
    }
    const missing = <u64>(this.max - this.tokens);
    const perFill = <u64>this.perFill;
    const elapsed = now - this.anchor;
    const fills = elapsed / this.interval;
    const within = mulDivFloor(elapsed - fills * this.interval, perFill, this.interval); // < perFill
    // fills * perFill may overflow for a long-idle bucket: anything past `missing` fills it anyway.
    if (fills > missing / perFill + 1) {
      this.setFull(now);
      return;
    }
    const gained = fills * perFill + within - <u64>this.credited;
    if (gained == 0) return;
    if (gained >= missing) {
      this.setFull(now);
      return;
    }
    this.tokens += <u32>gained;
    this.anchor += fills * this.interval;
    this.credited = <u32>within;
  }

  private setFull(now: u64): void {
    this.tokens = this.max;
    this.anchor = now;
    this.credited = 0;
  }

  /** Nanoseconds from now until `k` more whole tokens have accrued (after a refill). */
  private untilTokens(k: u32): u64 {
    const at = this.anchor + mulDivCeil(<u64>this.credited + <u64>k, this.interval, <u64>this.perFill);
    return at > this.nowNs ? at - this.nowNs : 0;
  }

  private write(): ArrayBuffer {
    const p = changetype<usize>(this.out);
    store<u32>(p, MAGIC);
    store<u32>(p, this.max, 4);
    store<u32>(p, this.perFill, 8);
    store<u32>(p, this.tokens, 12);
    store<u64>(p, this.interval, 16);
    store<u64>(p, this.anchor, 24);
    store<u64>(p, this.owner, 32);
    store<u32>(p, this.credited, 40);
    store<u32>(p, 0, 44);
    return this.out;
  }
}

// ---- exact a * b / c for u64 operands (the product may need 128 bits; the quotient saturates)

let hi: u64 = 0;

/** Low 64 bits of a * b; the high 64 bits go to `hi`. */
function mul128(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff, a1 = a >> 32, b0 = b & 0xffffffff, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return (mid << 32) | (p00 & 0xffffffff);
}

/** floor(a * b / c), or u64.MAX_VALUE when it does not fit. c > 0. */
export function mulDivFloor(a: u64, b: u64, c: u64): u64 {
  const lo = mul128(a, b);
  if (hi == 0) return lo / c;
  if (hi >= c) return u64.MAX_VALUE;
  // 128-by-64 long division, one bit at a time (only for products beyond 64 bits).
  let rem = hi;
  let q: u64 = 0;
  for (let i = 63; i >= 0; i--) {
    const carry = rem >> 63;
    rem = (rem << 1) | ((lo >> <u64>i) & 1);
    q <<= 1;
    if (carry != 0 || rem >= c) {
      rem -= c;
      q |= 1;
    }
  }
  return q;
}

/** ceil(a * b / c), or u64.MAX_VALUE when it does not fit. c > 0. */
export function mulDivCeil(a: u64, b: u64, c: u64): u64 {
  const q = mulDivFloor(a, b, c);
  if (q == u64.MAX_VALUE) return q;
  // Exact when q * c == a * b.
  const lo = mul128(q, c);
  const qhi = hi;
  const plo = mul128(a, b);
  return qhi == hi && lo == plo ? q : q + 1;
}

/** Gives tokens back to a bucket (a request denied by a later bucket), if the bucket still has that owner. */
export class RefundUpdater extends SharedDataUpdater {
  fingerprint: u64 = 0;
  hits: u32 = 1;
  private readonly out: ArrayBuffer = new ArrayBuffer(BUCKET_BYTES);

  update(current: ArrayBuffer | null): ArrayBuffer | null {
    if (current === null || current.byteLength != BUCKET_BYTES) return null;
    const p = changetype<usize>(current);
    if (load<u32>(p) != MAGIC || load<u64>(p, 32) != this.fingerprint) return null;
    const max = load<u32>(p, 4);
    const tokens = load<u32>(p, 12);
    const back = <u64>tokens + <u64>this.hits;
    memory.copy(changetype<usize>(this.out), p, <usize>BUCKET_BYTES);
    store<u32>(changetype<usize>(this.out), back > <u64>max ? max : <u32>back, 12);
    return this.out;
  }
}

/** A bucket that was charged, so it can be refunded. */
export class Charged {
  constructor(public key: string, public fingerprint: u64) {}
}

/**
 * Consumes from a bucket at a fixed key (the default bucket, a descriptor with fixed values).
 * Returns the key charged, or null when shared data failed (the updater's outcome is then Miss).
 */
export function consumeFixed(key: string, u: ConsumeUpdater): string | null {
  u.policy = Policy.Own;
  u.outcome = Outcome.Miss;
  const r = atomicUpdate(key, u, MAX_ATTEMPTS);
  return r == WasmResult.Ok && u.outcome != Outcome.Miss ? key : null;
}

/** How many slots a dynamic key may live in: with 4 candidates, sharing needs all 4 busy at once. */
// @ts-ignore: decorator
@inline export const CANDIDATES: i32 = 4;

/**
 * Consumes from a dynamic key's bucket in its descriptor's slot table (shared-data keys `prefix<slot>`):
 * its own slot if it has one (candidates in order), else an empty or idle candidate, else the
 * descriptor's overflow bucket at `overflowKey` (owned by `overflowFingerprint`, same limits). `slots`
 * holds CANDIDATES slot indices (duplicates allowed). Sets u.evicted and u.overflowed. Returns the key
 * charged, or null on a shared-data failure.
 */
export function consumeSlot(prefix: string, slots: StaticArray<u32>, overflowKey: string, overflowFingerprint: u64, u: ConsumeUpdater): string | null {
  u.overflowed = false;
  u.inheritFrom(null, 0);
  const keys = new StaticArray<string>(CANDIDATES);
  for (let i = 0; i < CANDIDATES; i++) {
    let dup = -1;
    for (let j = 0; j < i; j++) if (unchecked(slots[j]) == unchecked(slots[i])) { dup = j; break; }
    unchecked(keys[i] = dup >= 0 ? unchecked(keys[dup]) : prefix + unchecked(slots[i]).toString());
  }
  for (let pass = 0; pass < 2; pass++) {
    const policy = pass == 0 ? Policy.MatchOnly : Policy.MatchOrTakeover;
    // Only a key without a slot gets here: whatever it spent in the overflow bucket carries over.
    if (pass == 1) {
      const o = getSharedData(overflowKey);
      u.inheritFrom(o !== null ? o.value : null, overflowFingerprint);
    }
    for (let i = 0; i < CANDIDATES; i++) {
      if (isDuplicate(slots, i)) continue;
      const r = step(unchecked(keys[i]), policy, u);
      if (r != MISSED) {
        u.inheritFrom(null, 0);
        return r == DECIDED ? unchecked(keys[i]) : null;
      }
    }
  }
  u.inheritFrom(null, 0);
  u.overflowed = true;
  const own = u.fingerprint;
  u.fingerprint = overflowFingerprint;
  const charged = consumeFixed(overflowKey, u);
  u.fingerprint = own;
  return charged;
}

function isDuplicate(slots: StaticArray<u32>, i: i32): bool {
  for (let j = 0; j < i; j++) if (unchecked(slots[j]) == unchecked(slots[i])) return true;
  return false;
}

// @ts-ignore: decorator
@inline const DECIDED: i32 = 1;
// @ts-ignore: decorator
@inline const MISSED: i32 = 0;
// @ts-ignore: decorator
@inline const FAILED: i32 = -1;

/** One atomic attempt on one slot with one policy. */
function step(key: string, policy: Policy, u: ConsumeUpdater): i32 {
  u.policy = policy;
  u.outcome = Outcome.Miss;
  if (atomicUpdate(key, u, MAX_ATTEMPTS) != WasmResult.Ok) {
    u.outcome = Outcome.Miss;
    return FAILED;
  }
  return u.outcome == Outcome.Miss ? MISSED : DECIDED;
}

/** Gives `hits` tokens back to a charged bucket. */
export function refund(c: Charged, hits: u32, u: RefundUpdater): void {
  u.fingerprint = c.fingerprint;
  u.hits = hits;
  atomicUpdate(c.key, u, MAX_ATTEMPTS);
}
