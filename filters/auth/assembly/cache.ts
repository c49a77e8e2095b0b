// A bounded cache of tokens whose signature verified, keyed by SHA-256(provider index ‖ token), so a
// repeated token costs one hash instead of a signature verification. Entries remember the provider's key
// generation: after a key set change (rotation) an entry no longer counts, so a token signed by a key
// that was withdrawn is verified again (and refused). Claims (exp, nbf, iss, aud) are checked on every
// use, so expiry is never cached. Eviction is first in, first out.

import { sha256Init, sha256Update, sha256Final } from "./crypto/sha256";
import { constantTimeEqualRaw } from "./crypto/ct";
import { Claims } from "./jwt";

class Entry {
  constructor(public hash: Uint8Array, public gen: u32, public claims: Claims) {}
}

const PROVIDER_BYTE: usize = memory.data(4, 4);

export class TokenCache {
  private map: Map<u64, Entry> = new Map<u64, Entry>();
  private order: StaticArray<u64>;
  private next: i32 = 0;
  private count: i32 = 0;
  /** Scratch for the key of the last lookup (reused by `put`). */
  readonly key: Uint8Array = new Uint8Array(32);

  constructor(public readonly capacity: i32) {
    this.order = new StaticArray<u64>(capacity > 0 ? capacity : 1);
  }

  get size(): i32 { return this.count; }

  /** Computes the key of (provider, token) into `this.key`. */
  computeKey(provider: i32, token: ArrayBuffer): void {
    store<u8>(PROVIDER_BYTE, <u8>provider);
    sha256Init();
    sha256Update(PROVIDER_BYTE, 1);
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

  /** Remembers verified claims for the key in `this.key`. */
  put(gen: u32, claims: Claims): void {
    if (this.capacity <= 0) return;
    const id = load<u64>(this.key.dataStart);
    const hash = new Uint8Array(32);
    memory.copy(hash.dataStart, this.key.dataStart, 32);
    if (this.map.has(id)) { this.map.set(id, new Entry(hash, gen, claims)); return; }
    if (this.count == this.capacity) {
      this.map.delete(unchecked(this.order[this.next]));
    } else {
      this.count++;
    }
    unchecked(this.order[this.next] = id);
    this.next = (this.next + 1) % this.capacity;
    this.map.set(id, new Entry(hash, gen, claims));
  }

  clear(): void {
    this.map.clear();
    this.next = 0;
    this.count = 0;
  }
}
