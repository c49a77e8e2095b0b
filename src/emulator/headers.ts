// A header map with the behaviour of Envoy's HeaderMapImpl that a filter can observe: keys are
// lower-cased on every write and lookup, pseudo-headers (":...") stay ahead of regular headers,
// duplicate keys are kept in order, and a replace (Envoy's setCopy) removes every value and adds the new one.

import { asciiLower, bytesEqual, BytesLike, toBytes, toText } from "./bytes";
import type { Pair } from "./pairs";

export type HeaderInput = ReadonlyArray<readonly [BytesLike, BytesLike]>;

export class HeaderMap {
  private entries: Pair[] = [];

  static from(input: HeaderInput = []): HeaderMap {
    const m = new HeaderMap();
    for (const [k, v] of input) m.add(toBytes(k), toBytes(v));
    return m;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Sum of key and value lengths: what Envoy's proxy_get_header_map_size reports. */
  get byteSize(): number {
    let n = 0;
    for (const [k, v] of this.entries) n += k.length + v.length;
    return n;
  }

  add(key: Uint8Array, value: Uint8Array): void {
    const k = asciiLower(key);
    const entry: Pair = [k.slice(), value.slice()];
    if (k.length > 0 && k[0] === 0x3a /* ':' */) {
      let i = 0;
      while (i < this.entries.length && this.entries[i][0][0] === 0x3a) i++;
      this.entries.splice(i, 0, entry);
    } else {
      this.entries.push(entry);
    }
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const k = asciiLower(key);
    const e = this.entries.find(([ek]) => bytesEqual(ek, k));
    return e?.[1];
  }

  /**
   * Sets a header to one value as Envoy's setCopy does: every existing value is removed and the header is
   * added again (at the end of its section), also when it was missing.
   */
  replace(key: Uint8Array, value: Uint8Array): void {
    this.remove(key);
    this.add(key, value);
  }

  remove(key: Uint8Array): void {
    const k = asciiLower(key);
    this.entries = this.entries.filter(([ek]) => !bytesEqual(ek, k));
  }

  setAll(pairs: Pair[]): void {
    this.entries = [];
    for (const [k, v] of pairs) this.add(k, v);
  }

  pairs(): Pair[] {
    return this.entries.map(([k, v]) => [k.slice(), v.slice()]);
  }

  text(): Array<[string, string]> {
    return this.entries.map(([k, v]) => [toText(k), toText(v)]);
  }

  getText(key: string): string | undefined {
    const v = this.get(toBytes(key));
    return v === undefined ? undefined : toText(v);
  }

  clone(): HeaderMap {
    const m = new HeaderMap();
    m.entries = this.pairs();
    return m;
  }
}
