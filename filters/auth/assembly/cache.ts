// A bounded cache of tokens whose signature verified, keyed by SHA-256(provider index ‖ token), so a
// repeated token costs one hash instead of a signature verification. Entries remember the provider's key
// generation: after a key set change (rotation) an entry no longer counts, so a token signed by a key
// that was withdrawn is verified again (and refused). Claims (exp, nbf, iss, aud) are checked on every
// use, so expiry is never cached. Bounded twice: by entries and by bytes (what an entry keeps of the
// payload: see Claims.cost). Eviction is first in, first out.

import { sha256Init, sha256Update, sha256Final } from "./crypto/sha256";
import { constantTimeEqualRaw } from "./crypto/ct";
import { Claims } from "./jwt";

class Entry {
  constructor(public hash: Uint8Array, public gen: u32, public claims: Claims, public cost: i32) {}
}

/** Bytes an entry costs beside its claims: the key, the hash, the entry and map slot. */
const ENTRY_OVERHEAD = 96;
const PROVIDER_INDEX: usize = memory.data(4, 4);

export class TokenCache {
  private map: Map<u64, Entry> = new Map<u64, Entry>();
  private order: StaticArray<u64>;
  /** Ring of ids in insertion order: `head` is the oldest, `count` are live. */
  private head: i32 = 0;
  private count: i32 = 0;
  private used: i64 = 0;
  /** Scratch for the key of the last lookup (reused by `put`). */
  readonly key: Uint8Array = new Uint8Array(32);

  constructor(public readonly capacity: i32, public readonly maxBytes: i64 = 1 << 20) {
    this.order = new StaticArray<u64>(capacity > 0 ? capacity : 1);
  }

  get size(): i32 { return this.map.size; }
  /** Bytes the live entries cost. */
  get bytes(): i64 { return this.used; }

  /**
   * Computes the key of (provider, token) into `this.key`; the whole provider index is hashed. Nothing to do
   * when the cache is off (get and put then ignore the key): the hash is a third of a cached request's cost.
   */
  computeKey(provider: i32, token: ArrayBuffer): void {
    if (this.capacity <= 0) return;
    store<u32>(PROVIDER_INDEX, <u32>provider);
    sha256Init();
    sha256Update(PROVIDER_INDEX, 4);
    sha256Update(changetype<usize>(token), <usize>token.byteLength);
    sha256Final(this.key.dataStart);
  }

  /** The cached claims for the key in `this.key`, when verified under key generation `gen`. */
  get(gen: u32): Claims | null {
    if (this.capacity <= 0) return null;
    const id = load<u64>(this.key.dataStart);
    if (!this.map.has(id)) return null;
    const e = this.map.get(id);
    if (e.gen != gen || !constantTimeEqualRaw(e.hash.dataStart, this.key.dataStart, 32)) return null;
    return e.claims;
  }

  /** Remembers verified claims for the key in `this.key`; an entry larger than the byte budget is not kept. */
  put(gen: u32, claims: Claims): void {
    if (this.capacity <= 0) return;
    const cost = ENTRY_OVERHEAD + claims.cost();
    if (<i64>cost > this.maxBytes) return;
    const id = load<u64>(this.key.dataStart);
    const hash = new Uint8Array(32);
    memory.copy(hash.dataStart, this.key.dataStart, 32);
    if (this.map.has(id)) {
      this.used -= <i64>this.map.get(id).cost;
      this.map.set(id, new Entry(hash, gen, claims, cost));
      this.used += <i64>cost;
      this.shrink();
      return;
    }
    while (this.count > 0 && (this.count == this.capacity || this.used + <i64>cost > this.maxBytes)) this.evictOldest();
    unchecked(this.order[(this.head + this.count) % this.capacity] = id);
    this.count++;
    this.map.set(id, new Entry(hash, gen, claims, cost));
    this.used += <i64>cost;
  }

  private shrink(): void {
    while (this.count > 1 && this.used > this.maxBytes) this.evictOldest();
  }

  private evictOldest(): void {
    const id = unchecked(this.order[this.head]);
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    if (this.map.has(id)) {
      this.used -= <i64>this.map.get(id).cost;
      this.map.delete(id);
    }
  }

  clear(): void {
    this.map.clear();
    this.head = 0;
    this.count = 0;
    this.used = 0;
  }
}
