// One request as the matchers see it. The root context owns a single RequestView and reuses it for every
// request (a VM runs one callback at a time): the request headers are fetched from the host in one call
// into a HeaderView, and everything else (path, query parameters, cookies, the client address) is found
// lazily in those bytes, only when a condition or the sticky key asks for it. Values are (pointer, length)
// slices into the host's buffer; only a percent-encoded query value is decoded, into a reused scratch buffer.

import { HeaderView, getProperty } from "proxy-wasm-as";
import { Address, parseSocketAddressUnsafe, addressTextEnd } from "./cidr";

// @ts-ignore: decorator
@lazy const PATH_KEY = String.UTF8.encode(":path");
// @ts-ignore: decorator
@lazy const COOKIE_KEY = String.UTF8.encode("cookie");
// @ts-ignore: decorator
@lazy const SOURCE_ADDRESS: string[] = ["source", "address"];

export class RequestView {
  readonly headers: HeaderView = new HeaderView();

  /** The last lookup's value: `found` false when absent, else `len` bytes at `ptr`. */
  found: bool = false;
  ptr: usize = 0;
  len: usize = 0;

  private pathDone: bool = false;
  private hasPath: bool = false;
  private pathPtr: usize = 0;
  private pathLen: usize = 0; // without query and fragment
  private queryPtr: usize = 0;
  private queryLen: usize = 0; // 0 also when there is no query

  private sourceDone: bool = false;
  private sourceBytes: ArrayBuffer | null = null;
  readonly source: Address = new Address();
  private sourceValid: bool = false;

  private decoded: ArrayBuffer = new ArrayBuffer(128);

  /** Starts a new request: fetches the request headers (valid in onRequestHeaders). */
  begin(): bool {
    this.reset();
    return this.headers.load();
  }

  /** Starts a new request from headers already serialized in the ABI's pairs format (tests, benchmarks). */
  beginWith(pairs: ArrayBuffer): bool {
    this.reset();
    return this.headers.loadPairs(pairs);
  }

  private reset(): void {
    this.pathDone = false;
    this.sourceDone = false;
    this.sourceBytes = null;
  }

  /**
   * Ends the request. The header buffer stays referenced until the next begin() replaces it (one buffer,
   * never more); HeaderView.clear() would allocate an empty buffer per request to drop it sooner.
   */
  end(): void {
    this.sourceBytes = null;
  }

  private loadPath(): void {
    if (this.pathDone) return;
    this.pathDone = true;
    const i = this.headers.indexOf(PATH_KEY);
    this.hasPath = i >= 0;
    if (!this.hasPath) return;
    const p = this.headers.valuePtr(i);
    const n = this.headers.valueLength(i);
    // Envoy matches routes on the path without its query string and fragment.
    let q = n;
    let f = n;
    for (let k: usize = 0; k < n; k++) {
      const c = load<u8>(p + k);
      if (c == 0x3F /* ? */ && q == n) q = k;
      else if (c == 0x23 /* # */) { f = k; break; }
    }
    this.pathPtr = p;
    this.pathLen = q < f ? q : f;
    if (q < f) {
      this.queryPtr = p + q + 1;
      this.queryLen = f - q - 1;
    } else {
      this.queryPtr = 0;
      this.queryLen = 0;
    }
  }

  /** The path without query and fragment. */
  path(): bool {
    this.loadPath();
    return this.set(this.hasPath, this.pathPtr, this.pathLen);
  }

  /**
   * The first value of query parameter `name` (compared byte for byte with the raw key), percent-decoded
   * as Envoy's route matcher does. "?a" and "?a=" give an empty, present value.
   */
  query(name: ArrayBuffer): bool {
    this.loadPath();
    if (!this.hasPath || this.queryLen == 0) return this.set(false, 0, 0);
    const kp = changetype<usize>(name);
    const kl = <usize>name.byteLength;
    const end = this.queryPtr + this.queryLen;
    let at = this.queryPtr;
    while (at <= end) {
      let amp = at;
      while (amp < end && load<u8>(amp) != 0x26 /* & */) amp++;
      let eq = at;
      while (eq < amp && load<u8>(eq) != 0x3D /* = */) eq++;
      if (eq - at == kl && memory.compare(at, kp, kl) == 0) {
        const vp = eq < amp ? eq + 1 : amp;
        return this.percentDecoded(vp, amp - vp);
      }
      at = amp + 1;
    }
    return this.set(false, 0, 0);
  }

  /** The value of cookie `name` from any `cookie` header (surrounding double quotes removed). */
  cookie(name: ArrayBuffer): bool {
    const kp = changetype<usize>(name);
    const kl = <usize>name.byteLength;
    for (let h = this.headers.indexOf(COOKIE_KEY); h >= 0; h = this.headers.indexOf(COOKIE_KEY, h + 1)) {
      const p = this.headers.valuePtr(h);
      const end = p + this.headers.valueLength(h);
      let at = p;
      while (at < end) {
        // One "name=value" pair up to ";" (a "," is accepted too: hosts join repeated headers with it,
        // and RFC 6265 allows neither in a cookie value).
        let stop = at;
        while (stop < end && load<u8>(stop) != 0x3B && load<u8>(stop) != 0x2C) stop++;
        let s = at;
        while (s < stop && isBlank(load<u8>(s))) s++;
        let eq = s;
        while (eq < stop && load<u8>(eq) != 0x3D) eq++;
        let ke = eq;
        while (ke > s && isBlank(load<u8>(ke - 1))) ke--;
        if (eq < stop && ke - s == kl && memory.compare(s, kp, kl) == 0) {
          let vs = eq + 1;
          let ve = stop;
          while (vs < ve && isBlank(load<u8>(vs))) vs++;
          while (ve > vs && isBlank(load<u8>(ve - 1))) ve--;
          if (ve - vs >= 2 && load<u8>(vs) == 0x22 && load<u8>(ve - 1) == 0x22) { vs++; ve--; }
          return this.set(true, vs, ve - vs);
        }
        at = stop + 1;
      }
    }
    return this.set(false, 0, 0);
  }

  /** A header's first value (for sticky keys; conditions use HeaderMatcher, which joins repeats). */
  header(key: ArrayBuffer): bool {
    const i = this.headers.indexOf(key);
    if (i < 0) return this.set(false, 0, 0);
    return this.set(true, this.headers.valuePtr(i), this.headers.valueLength(i));
  }

  private loadSource(): void {
    if (this.sourceDone) return;
    this.sourceDone = true;
    const v = getProperty(SOURCE_ADDRESS);
    this.sourceBytes = v;
    this.sourceValid = v !== null && parseSocketAddressUnsafe(changetype<usize>(v), <usize>v.byteLength, this.source);
  }

  /** The client address (Envoy's `source.address`), parsed; false when unknown or not IP. */
  sourceAddress(): bool {
    this.loadSource();
    return this.sourceValid;
  }

  /** The client address as text without the port (the sticky key for `source_address`). */
  sourceAddressText(): bool {
    this.loadSource();
    const v = this.sourceBytes;
    if (v === null || !this.sourceValid) return this.set(false, 0, 0);
    const p = changetype<usize>(v);
    return this.set(true, p, addressTextEnd(p, <usize>v.byteLength));
  }

  private percentDecoded(p: usize, n: usize): bool {
    let pct = false;
    for (let i: usize = 0; i < n; i++) if (load<u8>(p + i) == 0x25) { pct = true; break; }
    if (!pct) return this.set(true, p, n);
    if (<usize>this.decoded.byteLength < n) this.decoded = new ArrayBuffer(<i32>(n * 2));
    const out = changetype<usize>(this.decoded);
    let o: usize = 0;
    for (let i: usize = 0; i < n; i++) {
      const c = load<u8>(p + i);
      if (c == 0x25 && i + 2 < n && hex(load<u8>(p + i + 1)) >= 0 && hex(load<u8>(p + i + 2)) >= 0) {
        store<u8>(out + o++, <u8>((hex(load<u8>(p + i + 1)) << 4) | hex(load<u8>(p + i + 2))));
        i += 2;
      } else {
        store<u8>(out + o++, c); // a malformed escape stays as written
      }
    }
    return this.set(true, out, o);
  }

  // @ts-ignore: decorator
  @inline private set(found: bool, ptr: usize, len: usize): bool {
    this.found = found;
    this.ptr = ptr;
    this.len = len;
    return found;
  }
}

// @ts-ignore: decorator
@inline function isBlank(c: u8): bool { return c == 0x20 || c == 0x09; }

function hex(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  const l = <i32>(c | 0x20);
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
