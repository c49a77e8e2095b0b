// Test-only entry: exposes the ratelimit filter's protobuf codec and hash to Node. Compiled with
// `--exportRuntime`; buffers cross as AssemblyScript ArrayBuffers allocated with `__new`.
import "proxy-wasm-as/assembly/runtime";
import { Descriptor, Entry } from "../assembly/descriptors";
import { encodeRateLimitRequest, decodeRateLimitResponse } from "../assembly/rls";
import { ProtoReader } from "../assembly/proto";
import { sipHashBytes } from "../assembly/hash";

/**
 * Builds a RateLimitRequest from a simple length-prefixed description (trusted test input):
 * u32 hits, u32 domainLen, domain, u32 nDescriptors, then per descriptor u32 nEntries and per entry
 * u32 keyLen, key, u32 valueLen, value.
 */
export function testEncodeRequest(spec: ArrayBuffer): ArrayBuffer {
  const p = changetype<usize>(spec);
  let at: usize = 0;
  const hits = load<u32>(p + at); at += 4;
  const dl = <usize>load<u32>(p + at); at += 4;
  const domain = String.UTF8.decodeUnsafe(p + at, dl); at += dl;
  const nd = load<u32>(p + at); at += 4;
  const ds = new Array<Descriptor>();
  for (let i: u32 = 0; i < nd; i++) {
    const d = new Descriptor();
    const ne = load<u32>(p + at); at += 4;
    for (let j: u32 = 0; j < ne; j++) {
      const kl = <usize>load<u32>(p + at); at += 4;
      const key = String.UTF8.decodeUnsafe(p + at, kl); at += kl;
      const vl = <usize>load<u32>(p + at); at += 4;
      const value = new ArrayBuffer(<i32>vl);
      memory.copy(changetype<usize>(value), p + at, vl); at += vl;
      d.entries.push(new Entry(key, value));
    }
    ds.push(d);
  }
  return encodeRateLimitRequest(domain, ds, hits);
}

function hex(b: ArrayBuffer): string {
  let s = "";
  const p = changetype<usize>(b);
  for (let i = 0; i < b.byteLength; i++) {
    const v = load<u8>(p + <usize>i);
    s += (v < 16 ? "0" : "") + (<u32>v).toString(16);
  }
  return s;
}

/** Decodes a RateLimitResponse into JSON (byte fields as hex), or "null" when it is malformed. */
export function testDecodeResponse(buf: ArrayBuffer): string {
  const r = decodeRateLimitResponse(buf);
  if (r === null) return "null";
  let s = "{\"overallCode\":" + r.overallCode.toString() + ",\"statuses\":[";
  for (let i = 0; i < r.statuses.length; i++) {
    const t = r.statuses[i];
    if (i > 0) s += ",";
    s += "{\"code\":" + t.code.toString()
      + ",\"hasLimit\":" + (t.hasLimit ? "true" : "false")
      + ",\"requestsPerUnit\":" + t.requestsPerUnit.toString()
      + ",\"unit\":" + t.unit.toString()
      + ",\"name\":\"" + hex(String.UTF8.encode(t.name)) + "\""
      + ",\"limitRemaining\":" + t.limitRemaining.toString()
      + ",\"hasReset\":" + (t.hasReset ? "true" : "false")
      + ",\"resetSeconds\":" + t.resetSeconds.toString()
      + ",\"resetNanos\":" + t.resetNanos.toString()
      + ",\"resetCeil\":" + t.resetCeilSeconds().toString() + "}";
  }
  s += "],\"responseHeaders\":[";
  for (let i = 0; i < r.responseHeaders.length; i++) {
    if (i > 0) s += ",";
    s += "[\"" + hex(r.responseHeaders[i].key) + "\",\"" + hex(r.responseHeaders[i].value) + "\"]";
  }
  s += "],\"requestHeaders\":[";
  for (let i = 0; i < r.requestHeaders.length; i++) {
    if (i > 0) s += ",";
    s += "[\"" + hex(r.requestHeaders[i].key) + "\",\"" + hex(r.requestHeaders[i].value) + "\"]";
  }
  s += "],\"rawBody\":" + (r.rawBody !== null ? "\"" + hex(r.rawBody!) + "\"" : "null") + "}";
  return s;
}

/** Reads every field of a message, skipping values by wire type; returns fields read, or -1 when malformed. */
export function testWalk(buf: ArrayBuffer): i32 {
  const r = new ProtoReader(buf);
  let n = 0;
  while (r.next()) {
    r.skip();
    n++;
  }
  return r.failed ? -1 : n;
}

export function testSipHash(key: ArrayBuffer, data: ArrayBuffer): u64 {
  const k = changetype<usize>(key);
  return sipHashBytes(load<u64>(k), load<u64>(k, 8), data);
}

import { mulDivFloor, mulDivCeil } from "../assembly/bucket";
export function testMulDivFloor(a: u64, b: u64, c: u64): u64 { return mulDivFloor(a, b, c); }
export function testMulDivCeil(a: u64, b: u64, c: u64): u64 { return mulDivCeil(a, b, c); }
