// The messages of envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit, by field number:
//
// RateLimitRequest    1 domain (string)  2 descriptors (RateLimitDescriptor, repeated)  3 hits_addend (uint32)
// RateLimitDescriptor 1 entries (Entry, repeated): 1 key (string), 2 value (string)
// RateLimitResponse   1 overall_code (enum Code)  2 statuses (DescriptorStatus, repeated)
//                     3 response_headers_to_add (HeaderValue, repeated)  4 request_headers_to_add (HeaderValue, repeated)
//                     5 raw_body (bytes)  6 dynamic_metadata, 7 quota (skipped)
// DescriptorStatus    1 code  2 current_limit (RateLimit)  3 limit_remaining (uint32)  4 duration_until_reset (Duration)
// RateLimit           1 requests_per_unit (uint32)  2 unit (enum)  3 name (string)
// HeaderValue         1 key (string)  2 value (string)  3 raw_value (bytes)
// Duration            1 seconds (int64)  2 nanos (int32)
// Code: UNKNOWN 0, OK 1, OVER_LIMIT 2. Unknown fields are skipped, as protobuf requires.

import { Header } from "proxy-wasm-as";
import { ProtoReader, ProtoWriter } from "./proto";
import { Descriptor, utf8Value } from "./descriptors";

export const RLS_SERVICE = "envoy.service.ratelimit.v3.RateLimitService";
export const RLS_METHOD = "ShouldRateLimit";

export const enum Code {
  Unknown = 0,
  Ok = 1,
  OverLimit = 2,
}

/** Encodes a RateLimitRequest. `hitsAddend` 0 means one hit (the service's default). */
export function encodeRateLimitRequest(domain: string, descriptors: Descriptor[], hitsAddend: u32 = 0): ArrayBuffer {
  const w = new ProtoWriter(128);
  w.stringField(1, domain);
  const dw = new ProtoWriter(64);
  const ew = new ProtoWriter(32);
  for (let i = 0; i < descriptors.length; i++) {
    const d = unchecked(descriptors[i]);
    dw.reset();
    for (let j = 0; j < d.entries.length; j++) {
      const e = unchecked(d.entries[j]);
      ew.reset();
      ew.stringField(1, e.key);
      const v = utf8Value(e.value);
      if (v.byteLength > 0) ew.bytesField(2, v);
      dw.messageField(1, ew);
    }
    w.messageField(2, dw);
  }
  w.uintField(3, hitsAddend);
  return w.finish();
}

export class DescriptorStatus {
  code: i32 = 0;
  hasLimit: bool = false;
  requestsPerUnit: u32 = 0;
  unit: i32 = 0;
  name: string = "";
  limitRemaining: u32 = 0;
  hasReset: bool = false;
  resetSeconds: i64 = 0;
  resetNanos: i32 = 0;

  /** duration_until_reset rounded up to whole seconds (0 when absent or not positive). */
  resetCeilSeconds(): i64 {
    if (!this.hasReset || this.resetSeconds < 0 || (this.resetSeconds == 0 && this.resetNanos <= 0)) return 0;
    return this.resetSeconds + (this.resetNanos > 0 ? 1 : 0);
  }

  /** The unit's length in seconds (0 for UNKNOWN or an unknown value), for the x-ratelimit-limit window. */
  unitSeconds(): i64 {
    switch (this.unit) {
      case 1: return 1;
      case 2: return 60;
      case 3: return 3600;
      case 4: return 86400;
      case 5: return 2592000; // MONTH: 30 days
      case 6: return 31536000; // YEAR: 365 days
      case 7: return 604800; // WEEK
      default: return 0;
    }
  }
}

export class RateLimitResponse {
  overallCode: i32 = 0;
  statuses: DescriptorStatus[] = [];
  responseHeaders: Header[] = [];
  requestHeaders: Header[] = [];
  rawBody: ArrayBuffer | null = null;
}

/** Decodes a RateLimitResponse; null when the bytes are not a well-formed one. Never traps. */
export function decodeRateLimitResponse(buf: ArrayBuffer): RateLimitResponse | null {
  const r = new ProtoReader(buf);
  const out = new RateLimitResponse();
  while (r.next()) {
    switch (r.field) {
      case 1: out.overallCode = <i32>r.uint(); break;
      case 2: {
        if (!r.expectLen()) break;
        const s = decodeStatus(r.sub());
        if (s === null) return null;
        out.statuses.push(s);
        break;
      }
      case 3:
      case 4: {
        if (!r.expectLen()) break;
        const h = decodeHeaderValue(r.sub());
        if (h === null) return null;
        if (r.field == 3) out.responseHeaders.push(h);
        else out.requestHeaders.push(h);
        break;
      }
      case 5: {
        if (!r.expectLen()) break;
        out.rawBody = r.bytes();
        break;
      }
      default: r.skip();
    }
  }
  return r.failed ? null : out;
}

function decodeStatus(r: ProtoReader): DescriptorStatus | null {
  const s = new DescriptorStatus();
  while (r.next()) {
    switch (r.field) {
      case 1: s.code = <i32>r.uint(); break;
      case 2: {
        if (!r.expectLen()) break;
        s.hasLimit = true;
        const l = r.sub();
        while (l.next()) {
          if (l.field == 1) s.requestsPerUnit = <u32>l.uint();
          else if (l.field == 2) s.unit = <i32>l.uint();
          else if (l.field == 3) { if (l.expectLen()) s.name = l.string(); }
          else l.skip();
        }
        if (l.failed) return null;
        break;
      }
      case 3: s.limitRemaining = <u32>r.uint(); break;
      case 4: {
        if (!r.expectLen()) break;
        s.hasReset = true;
        const d = r.sub();
        while (d.next()) {
          if (d.field == 1) s.resetSeconds = <i64>d.uint();
          else if (d.field == 2) s.resetNanos = <i32>d.uint();
          else d.skip();
        }
        if (d.failed) return null;
        break;
      }
      default: r.skip();
    }
  }
  return r.failed ? null : s;
}

function decodeHeaderValue(r: ProtoReader): Header | null {
  let key: ArrayBuffer = new ArrayBuffer(0);
  let value: ArrayBuffer = new ArrayBuffer(0);
  let raw: ArrayBuffer | null = null;
  while (r.next()) {
    if (r.field == 1) { if (r.expectLen()) key = r.bytes(); }
    else if (r.field == 2) { if (r.expectLen()) value = r.bytes(); }
    else if (r.field == 3) { if (r.expectLen()) raw = r.bytes(); }
    else r.skip();
  }
  if (r.failed) return null;
  // Envoy: raw_value wins when set.
  return new Header(key, raw !== null ? raw : value);
}
