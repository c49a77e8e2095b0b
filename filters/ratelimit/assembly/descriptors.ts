// Rate limit descriptors: what a request is counted as. The `rate_limits` config has the shape of Envoy's
// route `rate_limits` (config.route.v3.RateLimit): each entry lists actions, and each action adds one
// (key, value) entry to that entry's descriptor. A request produces one descriptor per `rate_limits`
// entry, unless an action of that entry does not apply (then that descriptor is not produced, as in Envoy).

import {
  ConfigObject, ConfigArray, HeaderMatchers, HeaderView, attributes, encodeUtf8, isValidUtf8, decodeUtf8,
} from "proxy-wasm-as";

/** One (key, value) entry of a descriptor. Values are bytes: header values need not be UTF-8. */
export class Entry {
  constructor(public key: string, public value: ArrayBuffer) {}
}

/** A descriptor produced for one request. */
export class Descriptor {
  entries: Entry[] = [];
}

/** What an action needs from the request: headers loaded once, the peer address read at most once. */
export class RequestFacts {
  readonly view: HeaderView = new HeaderView();
  private address: ArrayBuffer | null = null;
  private addressRead: bool = false;

  /** Loads the request headers (valid from onRequestHeaders on). */
  load(): void {
    this.view.load();
    this.address = null;
    this.addressRead = false;
  }

  /** Drops the request's data (keeps the allocated tables for the next request). */
  clear(): void {
    this.view.clear();
    this.address = null;
    this.addressRead = false;
  }

  /** The downstream peer's IP address without the port ("10.0.0.1", "::1"), or null when unknown. */
  remoteAddress(): ArrayBuffer | null {
    if (!this.addressRead) {
      this.addressRead = true;
      const a = attributes.source.address();
      this.address = a !== null && a.length > 0 ? encodeUtf8(stripPort(a)) : null;
    }
    return this.address;
  }
}

/** "1.2.3.4:5678" → "1.2.3.4"; "[::1]:80" → "::1"; an address without a port is kept. */
export function stripPort(a: string): string {
  if (a.startsWith("[")) {
    const close = a.indexOf("]");
    return close > 0 ? a.substring(1, close) : a;
  }
  const colon = a.indexOf(":");
  if (colon >= 0 && a.lastIndexOf(":") == colon) return a.substring(0, colon);
  return a;
}

// Outcome of one action.
// @ts-ignore: decorator
@inline const ADDED: i32 = 0;
// @ts-ignore: decorator
@inline const SKIPPED_ENTRY: i32 = 1;
// @ts-ignore: decorator
@inline const NO_DESCRIPTOR: i32 = 2;

abstract class Action {
  /** Appends its entry to `d`; returns ADDED, SKIPPED_ENTRY (nothing added) or NO_DESCRIPTOR. */
  abstract apply(facts: RequestFacts, d: Descriptor): i32;
}

/** `request_headers`: the value of a request header (also pseudo-headers: ":path", ":method", ":authority"). */
class RequestHeadersAction extends Action {
  readonly header: ArrayBuffer;
  constructor(headerName: string, public descriptorKey: string, public skipIfAbsent: bool) {
    super();
    this.header = encodeUtf8(headerName);
  }
  apply(facts: RequestFacts, d: Descriptor): i32 {
    const v = facts.view.first(this.header);
    if (v === null) return this.skipIfAbsent ? SKIPPED_ENTRY : NO_DESCRIPTOR;
    d.entries.push(new Entry(this.descriptorKey, v));
    return ADDED;
  }
}

/** `remote_address`: the downstream peer address, key "remote_address". */
class RemoteAddressAction extends Action {
  apply(facts: RequestFacts, d: Descriptor): i32 {
    const a = facts.remoteAddress();
    if (a === null) return NO_DESCRIPTOR;
    d.entries.push(new Entry("remote_address", a));
    return ADDED;
  }
}

/** `generic_key`: a constant entry. */
class GenericKeyAction extends Action {
  readonly value: ArrayBuffer;
  constructor(public descriptorKey: string, value: string) {
    super();
    this.value = encodeUtf8(value);
  }
  apply(facts: RequestFacts, d: Descriptor): i32 {
    d.entries.push(new Entry(this.descriptorKey, this.value));
    return ADDED;
  }
}

/** `header_value_match`: a constant entry when the headers match (or, with expect_match false, do not). */
class HeaderValueMatchAction extends Action {
  readonly value: ArrayBuffer;
  constructor(public descriptorKey: string, value: string, public expectMatch: bool, public matchers: HeaderMatchers) {
    super();
    this.value = encodeUtf8(value);
  }
  apply(facts: RequestFacts, d: Descriptor): i32 {
    if (this.matchers.matchesView(facts.view) != this.expectMatch) return NO_DESCRIPTOR;
    d.entries.push(new Entry(this.descriptorKey, this.value));
    return ADDED;
  }
}

/** One `rate_limits` entry: its actions, in order. */
export class RateLimitRule {
  constructor(public actions: Action[]) {}

  /** The descriptor this rule produces for the request, or null when one of its actions does not apply. */
  produce(facts: RequestFacts): Descriptor | null {
    const d = new Descriptor();
    for (let i = 0, n = this.actions.length; i < n; i++) {
      if (unchecked(this.actions[i]).apply(facts, d) == NO_DESCRIPTOR) return null;
    }
    return d.entries.length > 0 ? d : null;
  }
}

/** Envoy action names this filter does not implement, so the message can say so instead of "unknown field". */
const UNSUPPORTED_ACTIONS = [
  "source_cluster", "destination_cluster", "dynamic_metadata", "metadata", "extension", "masked_remote_address",
  "query_parameter_value_match", "query_parameters",
];

/** Parses `rate_limits` (an array of {actions: [...]}). Errors go to the array's ConfigErrors. */
export function parseRateLimits(arr: ConfigArray): RateLimitRule[] {
  const out = new Array<RateLimitRule>();
  for (let i = 0; i < arr.length; i++) {
    const o = arr.object(i);
    if (o === null) break;
    // Envoy's stage, disable_key, limit and hits_addend have no meaning here: rejected as unknown.
    if (!o.allowOnly(["actions"])) break;
    const actions = o.array("actions", true);
    if (actions === null || !o.errors.ok) break;
    if (actions.length == 0) { o.error("actions", "must list at least one action"); break; }
    const parsed = new Array<Action>();
    for (let j = 0; j < actions.length; j++) {
      const a = actions.object(j);
      if (a === null) break;
      const act = parseAction(a);
      if (act === null) break;
      parsed.push(act);
    }
    if (!o.errors.ok) break;
    out.push(new RateLimitRule(parsed));
  }
  return out;
}

function parseAction(a: ConfigObject): Action | null {
  const keys = a.keys();
  if (keys.length != 1) {
    a.error("", "an action sets exactly one of request_headers, remote_address, generic_key, header_value_match");
    return null;
  }
  const kind = keys[0];
  if (UNSUPPORTED_ACTIONS.includes(kind)) {
    a.error(kind, "is an Envoy rate limit action this filter does not support (supported: request_headers, remote_address, generic_key, header_value_match)");
    return null;
  }
  if (kind == "request_headers") {
    const o = a.object(kind, true);
    if (o === null || !o.allowOnly(["header_name", "descriptor_key", "skip_if_absent"])) return null;
    const header = o.nonEmptyString("header_name");
    const key = o.nonEmptyString("descriptor_key");
    const skip = o.bool("skip_if_absent", false);
    if (!o.errors.ok) return null;
    return new RequestHeadersAction(header.toLowerCase(), key, skip);
  }
  if (kind == "remote_address") {
    const o = a.object(kind, true);
    if (o === null || !o.allowOnly([])) return null;
    return new RemoteAddressAction();
  }
  if (kind == "generic_key") {
    const o = a.object(kind, true);
    if (o === null || !o.allowOnly(["descriptor_value", "descriptor_key"])) return null;
    const value = o.nonEmptyString("descriptor_value");
    const key = o.has("descriptor_key") ? o.nonEmptyString("descriptor_key") : "generic_key";
    if (!o.errors.ok) return null;
    return new GenericKeyAction(key, value);
  }
  if (kind == "header_value_match") {
    const o = a.object(kind, true);
    if (o === null || !o.allowOnly(["descriptor_value", "descriptor_key", "expect_match", "headers"])) return null;
    const value = o.nonEmptyString("descriptor_value");
    const key = o.has("descriptor_key") ? o.nonEmptyString("descriptor_key") : "header_match";
    const expect = o.bool("expect_match", true);
    if (!o.has("headers")) { o.error("headers", "is required (at least one header matcher)"); return null; }
    const matchers = HeaderMatchers.parse(o, "headers");
    if (!o.errors.ok) return null;
    if (matchers.isEmpty) { o.error("headers", "must list at least one header matcher"); return null; }
    return new HeaderValueMatchAction(key, value, expect, matchers);
  }
  a.error(kind, "unknown rate limit action (supported: request_headers, remote_address, generic_key, header_value_match)");
  return null;
}

/** A descriptor value as valid UTF-8 (protobuf strings must be; invalid bytes become U+FFFD). */
export function utf8Value(v: ArrayBuffer): ArrayBuffer {
  return isValidUtf8(v) ? v : encodeUtf8(decodeUtf8(v));
}
