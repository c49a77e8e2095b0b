// The parsed configuration and how a request is evaluated against it. Everything here is built once in
// onConfigure (config.ts); evaluating a request walks these objects and reads the RequestView, nothing more.

import { HeaderMatcher, Header, Counter } from "proxy-wasm-as";
import { RequestView } from "./request";
import { Cidr } from "./cidr";
import { stickyHash, bucketOf, randomBucket, pick } from "./split";

/** Where a condition's value comes from. The numbering is also the evaluation order inside a match block. */
export enum Source {
  /** A request header (`headers`, `method` → :method, `authority` → :authority, `scheme` → :scheme). */
  Header = 0,
  /** The path without query string (`uri`). */
  Path = 1,
  /** The destination port (`port`). */
  Port = 2,
  /** A query parameter (`queryParams`). */
  Query = 3,
  /** A cookie (`cookies`). */
  Cookie = 4,
  /** The client address (`sourceCidr`). */
  SourceCidr = 5,
}

/** One condition of a match block. All conditions of a block must hold. */
export class Condition {
  /** The value matcher (its name is the header name, or the query/cookie name for messages). */
  matcher: HeaderMatcher | null = null;
  /** Query parameter or cookie name as bytes. */
  key: ArrayBuffer = new ArrayBuffer(0);
  /** `withoutHeaders`: the condition holds when the matcher does NOT match. */
  negate: bool = false;
  port: i64 = 0;
  cidrs: Cidr[] = [];
  /** Regexes cost more than byte compares: evaluated last within their source. */
  costly: bool = false;

  constructor(public readonly source: Source) {}

  holds(req: RequestView, port: i64): bool {
    let r: bool;
    switch (this.source) {
      case Source.Header: { r = this.matcher!.matches(req.headers); break; }
      case Source.Path: { r = this.value(req.path(), req); break; }
      case Source.Query: { r = this.value(req.query(this.key), req); break; }
      case Source.Cookie: { r = this.value(req.cookie(this.key), req); break; }
      case Source.Port: { r = port == this.port; break; }
      default: {
        r = false;
        if (req.sourceAddress()) {
          const cidrs = this.cidrs;
          for (let i = 0, n = cidrs.length; i < n; i++) {
            if (unchecked(cidrs[i]).contains(req.source)) { r = true; break; }
          }
        }
      }
    }
    return r != this.negate;
  }

  // @ts-ignore: decorator
  @inline private value(found: bool, req: RequestView): bool {
    const m = this.matcher!;
    return found ? m.matchesValueUnsafe(req.ptr, req.len) : m.matchesMissing();
  }
}

/** One entry of `match`: every condition must hold. An empty block matches every request. */
export class MatchBlock {
  constructor(public readonly conditions: Condition[], public readonly needsPort: bool) {}

  holds(req: RequestView, port: i64): bool {
    const cs = this.conditions;
    for (let i = 0, n = cs.length; i < n; i++) {
      if (!unchecked(cs[i]).holds(req, port)) return false;
    }
    return true;
  }
}

/** Istio's `headers: {request|response: {set, add, remove}}`, with names and values encoded once. */
export class HeaderOps {
  set: Header[] = [];
  add: Header[] = [];
  remove: string[] = [];

  get isEmpty(): bool { return this.set.length == 0 && this.add.length == 0 && this.remove.length == 0; }
}

/** One weighted destination of a rule. */
export class Destination {
  /** What the subset header carries: the subset, or the host when no subset is given. */
  value: ArrayBuffer = new ArrayBuffer(0);
  hostBytes: ArrayBuffer = new ArrayBuffer(0);
  request: HeaderOps | null = null;
  response: HeaderOps | null = null;
  counter: Counter | null = null;

  constructor(public readonly host: string, public readonly subset: string, public readonly weight: u32) {}

  /** The subset, or the host when the destination names no subset. */
  get label(): string { return this.subset.length > 0 ? this.subset : this.host; }
}

/** One entry of `http`. */
export class Rule {
  /** Empty: the rule matches every request (Istio's rule without `match`). */
  blocks: MatchBlock[] = [];
  destinations: Destination[] = [];
  /** Cumulative weights: destination i owns buckets [upper[i-1], upper[i]). */
  upper: StaticArray<u32> = new StaticArray<u32>(0);
  /** Hash seed from the rule's name (or index): rules split independently of each other. */
  seed: u64 = 0;
  request: HeaderOps | null = null;
  response: HeaderOps | null = null;
  nameBytes: ArrayBuffer = new ArrayBuffer(0);
  needsPort: bool = false;

  constructor(public readonly index: i32, public readonly name: string) {}

  /** `http[1]` or `http[1](canary)`: how messages and metrics name the rule. */
  get label(): string {
    return "http[" + this.index.toString() + "]" + (this.name.length > 0 ? "(" + this.name + ")" : "");
  }

  matches(req: RequestView, port: i64): bool {
    const blocks = this.blocks;
    const n = blocks.length;
    if (n == 0) return true;
    for (let i = 0; i < n; i++) {
      if (unchecked(blocks[i]).holds(req, port)) return true;
    }
    return false;
  }

  /**
   * The destination for this request: the only one, or the side of the split the sticky key hashes to
   * (a uniformly random side when there is no key).
   */
  choose(haveKey: bool, keyPtr: usize, keyLen: usize): Destination {
    const ds = this.destinations;
    if (ds.length == 1) return unchecked(ds[0]);
    const bucket = haveKey ? bucketOf(stickyHash(this.seed, keyPtr, keyLen)) : randomBucket();
    return unchecked(ds[pick(this.upper, bucket)]);
  }

  /** True when choosing needs the sticky key (a real split). */
  get splits(): bool { return this.destinations.length > 1; }
}

export enum StickyKind { None = 0, Header = 1, Cookie = 2, SourceAddress = 3 }

/** The whole configuration. */
export class Settings {
  rules: Rule[] = [];
  /** Empty with `subset_header: false`. */
  subsetHeader: string = "x-route-subset";
  subsetHeaderBytes: ArrayBuffer = String.UTF8.encode("x-route-subset");
  /** The filter state factory key the subset is published under (set_envoy_filter_state); empty: off. */
  filterStateKey: string = "";
  /** Optional extra outputs (empty: off). */
  hostHeader: string = "";
  hostHeaderBytes: ArrayBuffer = new ArrayBuffer(0);
  ruleHeader: string = "";
  ruleHeaderBytes: ArrayBuffer = new ArrayBuffer(0);
  /** Filter state (proxy_set_property) names; empty: off. */
  filterStateSubset: string = "";
  filterStateRule: string = "";
  stickyKind: StickyKind = StickyKind.None;
  stickyKey: ArrayBuffer = new ArrayBuffer(0);
  stickyName: string = "";
  /** True when some rule has a `port` condition (read destination.port once per request). */
  needsPort: bool = false;
}

/** The first rule whose match holds, or null. `port` is the destination port (-1 when no rule needs it). */
export function firstMatch(s: Settings, req: RequestView, port: i64): Rule | null {
  const rules = s.rules;
  for (let i = 0, n = rules.length; i < n; i++) {
    const r = unchecked(rules[i]);
    if (r.matches(req, port)) return r;
  }
  return null;
}

/** The rule's destination for this request, hashing the configured sticky key when the rule splits. */
export function chooseDestination(s: Settings, rule: Rule, req: RequestView): Destination {
  if (!rule.splits) return unchecked(rule.destinations[0]);
  let haveKey = false;
  switch (s.stickyKind) {
    case StickyKind.Header: { haveKey = req.header(s.stickyKey); break; }
    case StickyKind.Cookie: { haveKey = req.cookie(s.stickyKey); break; }
    case StickyKind.SourceAddress: { haveKey = req.sourceAddressText(); break; }
    default: break;
  }
  return rule.choose(haveKey, req.ptr, req.len);
}
