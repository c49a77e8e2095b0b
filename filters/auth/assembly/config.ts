// The auth filter's configuration: Envoy's JwtAuthentication in its JSON form (so a jwt_authn config moves
// over unchanged), plus three fields of this filter's own: `api_keys`, `ext_authz` and `limits`.
// Everything is parsed and validated here, once, in onConfigure; a field this filter does not implement
// is refused with "not supported" and the reason, never silently ignored.

import { ConfigObject, StringMatcher, StringMatchKind, isHeaderValue, asciiLower } from "proxy-wasm-as";
import { KeySet, parseJwks } from "./jwk";
import { ClaimRules, normalizeAudience } from "./jwt";
import { hexDecode, base64UrlDecodeString } from "./encoding";

// ---------------------------------------------------------------------------------------------------------
// Model

export class HeaderLocation {
  constructor(public readonly name: string, public readonly prefix: string) {}
}

export class ClaimToHeader {
  constructor(public readonly header: string, public readonly claimPath: string[]) {}
}

export class RemoteJwksConfig {
  cluster: string = "";
  uri: string = "";
  authority: string = "";
  path: string = "/";
  timeoutMs: u32 = 1000;
  cacheDurationNs: u64 = 600_000_000_000;
}

export class ProviderConfig {
  name: string = "";
  index: i32 = 0;
  claims: ClaimRules = new ClaimRules();
  localKeys: KeySet | null = null;
  remote: RemoteJwksConfig | null = null;
  fromHeaders: HeaderLocation[] = [];
  fromParams: string[] = [];
  fromCookies: string[] = [];
  forward: bool = false;
  forwardPayloadHeader: string = "";
  padForwardPayloadHeader: bool = false;
  claimToHeaders: ClaimToHeader[] = [];
  clearRouteCache: bool = false;
}

export enum ReqKind { None, Provider, Any, All, AllowMissing, AllowMissingOrFailed }

/** A JwtRequirement tree. */
export class Requirement {
  kind: ReqKind = ReqKind.None;
  provider: i32 = -1;
  /** provider_and_audiences: replaces the provider's audiences (normalised). Null: the provider's own. */
  audiences: string[] | null = null;
  children: Requirement[] = [];
}

export enum MatchKind { Prefix, Path }

export class Rule {
  kind: MatchKind = MatchKind.Prefix;
  value: string = "/";
  caseSensitive: bool = true;
  /** Null: no verification for matching requests. */
  requires: Requirement | null = null;
}

export class ApiKey {
  constructor(public readonly client: string, public readonly sha256: Uint8Array) {}
}

export class ApiKeysConfig {
  keys: ApiKey[] = [];
  fromHeaders: string[] = ["x-api-key"];
  fromParams: string[] = [];
  forwardClientHeader: string = "";
  forward: bool = false;
}

/** A header-name pattern of ext_authz's allowed_* lists (exact, prefix, suffix or contains; ignore_case). */
/** A header-name pattern (Envoy's StringMatcher without regexes): the SDK's matcher, used on name bytes. */
export type NamePattern = StringMatcher;

export class ExtAuthzConfig {
  cluster: string = "";
  authority: string = "";
  pathPrefix: string = "";
  timeoutMs: u32 = 200;
  /** Request headers sent to the service (names), beside the pseudo-headers. Default: authorization. */
  allowedHeaders: NamePattern[] = [];
  headersToAdd: string[][] = [];
  /** Service response headers copied upstream on 200 (none by default, as in Envoy). */
  allowedUpstreamHeaders: NamePattern[] = [];
  /** Service response headers passed to the client on a denial; null means all. */
  allowedClientHeaders: NamePattern[] | null = null;
  failureModeAllow: bool = false;
  statusOnError: u32 = 403;
}

export class AuthConfig {
  providers: ProviderConfig[] = [];
  rules: Rule[] = [];
  bypassCorsPreflight: bool = false;
  stripFailureResponse: bool = false;
  apiKeys: ApiKeysConfig | null = null;
  extAuthz: ExtAuthzConfig | null = null;
  maxTokenBytes: i32 = 8192;
  tokenCacheSize: i32 = 256;
  tokenCacheBytes: i64 = 1 << 20;
  kidRefetchCooldownNs: u64 = 30_000_000_000;
  /** RS* and ES* signatures through the host's verify_signature when it has it; false: always in Wasm. */
  hostCrypto: bool = true;

  providerIndex(name: string): i32 {
    for (let i = 0; i < this.providers.length; i++) if (this.providers[i].name == name) return i;
    return -1;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

/** Shortest kid_refetch_cooldown accepted. */
export const MIN_KID_REFETCH_COOLDOWN_NS: u64 = 1_000_000_000;

const TOP_FIELDS = [
  "providers", "rules", "bypass_cors_preflight", "strip_failure_response", "filter_state_rules", "requirement_map",
  "api_keys", "ext_authz", "limits", "route_rules", "host_crypto",
];
/** Fields a route rule may not change: all routes share their state (key sets and fetches, the token cache). */
export const SHARED_FIELDS = ["providers", "limits", "host_crypto"];
const PROVIDER_FIELDS = [
  "issuer", "audiences", "remote_jwks", "local_jwks", "forward", "from_headers", "from_params", "from_cookies",
  "forward_payload_header", "pad_forward_payload_header", "clock_skew_seconds", "claim_to_headers", "clear_route_cache",
  "jwt_cache_config", "require_expiration", "subjects", "max_lifetime", "payload_in_metadata",
  "normalize_payload_in_metadata", "header_in_metadata", "failed_status_in_metadata",
];

const NO_METADATA = "Wasm filters cannot write Envoy dynamic metadata; use forward_payload_header or claim_to_headers";

/** Refuses `key` when present: this filter does not implement it, for `why`. */
function notSupported(o: ConfigObject, key: string, why: string): void {
  if (o.json.get(key) !== null) o.error(key, "not supported: " + why);
}

export function parseAuthConfig(cfg: ConfigObject): AuthConfig | null {
  const out = new AuthConfig();
  const e = cfg.errors;
  if (!cfg.allowOnly(TOP_FIELDS)) return null;
  notSupported(cfg, "filter_state_rules", "Wasm filters cannot read Envoy's Router::StringAccessor filter state");
  notSupported(cfg, "requirement_map", "it is selected by per-route config (PerRouteConfig), which Wasm filters do not receive; use rules, or route_rules for settings per route");
  out.bypassCorsPreflight = cfg.bool("bypass_cors_preflight", false);
  out.stripFailureResponse = cfg.bool("strip_failure_response", false);
  out.hostCrypto = cfg.bool("host_crypto", true);

  const limits = cfg.object("limits");
  if (limits !== null && limits.allowOnly(["max_token_bytes", "token_cache_size", "token_cache_bytes", "kid_refetch_cooldown"])) {
    out.maxTokenBytes = <i32>limits.int("max_token_bytes", 8192, 64, 65536);
    out.tokenCacheSize = <i32>limits.int("token_cache_size", 256, 0, 65536);
    out.tokenCacheBytes = limits.int("token_cache_bytes", 1 << 20, 4096, 64 << 20);
    const cd = limits.duration("kid_refetch_cooldown", 30_000_000_000);
    if (limits.errors.ok && cd < <i64>MIN_KID_REFETCH_COOLDOWN_NS) {
      limits.error("kid_refetch_cooldown", "must be at least 1s: a shorter cooldown lets tokens with unknown kids keep the JWKS endpoint busy");
    }
    out.kidRefetchCooldownNs = <u64>cd;
  }

  const providers = cfg.object("providers");
  if (providers !== null) {
    const names = providers.keys();
    for (let i = 0; i < names.length && e.ok; i++) {
      const p = providers.object(names[i], true);
      if (p === null) break;
      const pc = parseProvider(p, names[i]);
      if (pc === null) break;
      pc.index = out.providers.length;
      out.providers.push(pc);
    }
  }

  const rules = cfg.array("rules");
  if (rules !== null) {
    for (let i = 0; i < rules.length && e.ok; i++) {
      const r = rules.object(i);
      if (r === null) break;
      const rule = parseRule(r, out);
      if (rule === null) break;
      out.rules.push(rule);
    }
  }

  const ak = cfg.object("api_keys");
  if (ak !== null) out.apiKeys = parseApiKeys(ak);
  const ea = cfg.object("ext_authz");
  if (ea !== null) out.extAuthz = parseExtAuthz(ea);

  if (e.ok && out.rules.length == 0 && out.providers.length > 0) {
    cfg.error("rules", "no rules: add at least one rule, e.g. {\"match\": {\"prefix\": \"/\"}, \"requires\": {\"provider_name\": \"" + out.providers[0].name + "\"}} (without rules no request is verified)");
  }
  return e.ok ? out : null;
}

function parseProvider(p: ConfigObject, name: string): ProviderConfig | null {
  const pc = new ProviderConfig();
  pc.name = name;
  if (!p.allowOnly(PROVIDER_FIELDS)) return null;
  notSupported(p, "subjects", "subject matching is not implemented; check `sub` in the upstream or with ext_authz");
  notSupported(p, "max_lifetime", "not implemented; set require_expiration and keep token lifetimes short at the issuer");
  notSupported(p, "payload_in_metadata", NO_METADATA);
  notSupported(p, "normalize_payload_in_metadata", NO_METADATA);
  notSupported(p, "header_in_metadata", NO_METADATA);
  notSupported(p, "failed_status_in_metadata", NO_METADATA);
  pc.claims.issuer = p.string("issuer", "");
  const auds = p.array("audiences");
  if (auds !== null) {
    const list = auds.strings();
    for (let i = 0; i < list.length; i++) pc.claims.audiences.push(normalizeAudience(list[i]));
  }
  pc.claims.clockSkewSeconds = p.int("clock_skew_seconds", 60, 0, u32.MAX_VALUE);
  pc.claims.requireExpiration = p.bool("require_expiration", false);
  pc.forward = p.bool("forward", false);
  pc.forwardPayloadHeader = headerName(p, "forward_payload_header");
  pc.padForwardPayloadHeader = p.bool("pad_forward_payload_header", false);
  pc.clearRouteCache = p.bool("clear_route_cache", false);
  const cache = p.object("jwt_cache_config");
  if (cache !== null && cache.allowOnly(["jwt_cache_size"])) cache.int("jwt_cache_size", 100, 0, u32.MAX_VALUE); // see README: one shared cache

  const which = p.oneOf(["remote_jwks", "local_jwks"], true);
  if (which == "local_jwks") {
    const l = p.object("local_jwks", true)!;
    if (l.allowOnly(["inline_string", "inline_bytes", "filename", "environment_variable"])) {
      notSupported(l, "filename", "a Wasm VM has no file system; inline the JWKS with inline_string");
      notSupported(l, "environment_variable", "not implemented; use inline_string");
      const src = l.oneOf(["inline_string", "inline_bytes"], true);
      if (p.errors.ok) {
        let bytes: ArrayBuffer;
        if (src == "inline_string") bytes = String.UTF8.encode(l.string("inline_string", "", true));
        else {
          const b64 = l.string("inline_bytes", "", true);
          const dec = decodeStdBase64(b64);
          if (dec === null) { l.error("inline_bytes", "must be base64"); return null; }
          bytes = dec;
        }
        const r = parseJwks(bytes);
        if (!r.ok) l.error(src, r.error);
        else pc.localKeys = r.keys;
      }
    }
  } else if (which == "remote_jwks") {
    pc.remote = parseRemote(p.object("remote_jwks", true)!);
  }

  const fh = p.array("from_headers");
  if (fh !== null) {
    for (let i = 0; i < fh.length; i++) {
      const h = fh.object(i);
      if (h === null || !h.allowOnly(["name", "value_prefix"])) break;
      const n = h.nonEmptyString("name");
      pc.fromHeaders.push(new HeaderLocation(n.toLowerCase(), h.string("value_prefix", "")));
    }
  }
  const fp = p.array("from_params");
  if (fp !== null) pc.fromParams = fp.strings();
  const fc = p.array("from_cookies");
  if (fc !== null) pc.fromCookies = fc.strings();
  if (pc.fromHeaders.length == 0 && pc.fromParams.length == 0 && pc.fromCookies.length == 0) {
    pc.fromHeaders.push(new HeaderLocation("authorization", "Bearer "));
    pc.fromParams.push("access_token");
  }

  const cth = p.array("claim_to_headers");
  if (cth !== null) {
    for (let i = 0; i < cth.length; i++) {
      const c = cth.object(i);
      if (c === null || !c.allowOnly(["header_name", "claim_name"])) break;
      const h = headerName(c, "header_name", true);
      const claim = c.nonEmptyString("claim_name");
      pc.claimToHeaders.push(new ClaimToHeader(h, claim.split(".")));
    }
  }
  return p.errors.ok ? pc : null;
}

function parseRemote(r: ConfigObject): RemoteJwksConfig | null {
  const out = new RemoteJwksConfig();
  if (!r.allowOnly(["http_uri", "cache_duration", "async_fetch", "retry_policy"])) return null;
  // async_fetch and retry_policy are accepted: this filter always fetches from the root context, before
  // requests need the keys, and always retries with backoff (see README).
  r.object("async_fetch");
  r.object("retry_policy");
  const u = r.object("http_uri", true);
  if (u === null) return null;
  if (!parseHttpUri(u, out)) return null;
  const cd = r.duration("cache_duration", 600_000_000_000);
  if (cd < 1_000_000) { r.error("cache_duration", "must be at least 1ms"); return null; }
  out.cacheDurationNs = <u64>cd;
  return out;
}

/** Envoy's HttpUri {uri, cluster, timeout}: the cluster carries the call, the uri gives :authority and :path. */
function parseHttpUri(u: ConfigObject, out: RemoteJwksConfig): bool {
  if (!u.allowOnly(["uri", "cluster", "timeout"])) return false;
  out.uri = u.nonEmptyString("uri");
  out.cluster = u.nonEmptyString("cluster");
  const t = u.duration("timeout", 1_000_000_000);
  if (!u.errors.ok) return false;
  out.timeoutMs = <u32>max<i64>(1, t / 1_000_000);
  const split = splitUri(out.uri);
  if (split === null) { u.error("uri", "must be an absolute http:// or https:// URI, got \"" + out.uri + "\""); return false; }
  out.authority = split[0];
  out.path = split[1];
  return true;
}

/** "https://host:8443/a/b?c" → ["host:8443", "/a/b?c"]. */
export function splitUri(uri: string): string[] | null {
  let rest: string;
  if (uri.startsWith("https://")) rest = uri.substring(8);
  else if (uri.startsWith("http://")) rest = uri.substring(7);
  else return null;
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.substring(0, slash);
  if (authority.length == 0) return null;
  return [authority, slash < 0 ? "/" : rest.substring(slash)];
}

function parseRule(r: ConfigObject, cfg: AuthConfig): Rule | null {
  const rule = new Rule();
  if (!r.allowOnly(["match", "requires", "requirement_name"])) return null;
  notSupported(r, "requirement_name", "it refers to requirement_map, which is not supported");
  const m = r.object("match", true);
  if (m === null) return null;
  if (!m.allowOnly(["prefix", "path", "case_sensitive", "safe_regex", "path_separated_prefix", "connect_matcher",
    "path_match_policy", "headers", "query_parameters", "runtime_fraction", "grpc", "tls_context", "dynamic_metadata", "filter_state"])) return null;
  const unsupported = ["safe_regex", "path_separated_prefix", "connect_matcher", "path_match_policy", "headers", "query_parameters",
    "runtime_fraction", "grpc", "tls_context", "dynamic_metadata", "filter_state"];
  for (let i = 0; i < unsupported.length; i++) notSupported(m, unsupported[i], "rules match on prefix or path only in this filter");
  const which = m.oneOf(["prefix", "path"], true);
  if (!r.errors.ok) return null;
  rule.kind = which == "path" ? MatchKind.Path : MatchKind.Prefix;
  rule.caseSensitive = m.bool("case_sensitive", true);
  rule.value = m.string(which, "", true);
  // ASCII only, as the path is lower-cased when matched (Unicode lower-casing changes lengths).
  if (!rule.caseSensitive) rule.value = asciiLower(rule.value);
  const req = r.object("requires");
  if (req !== null) rule.requires = parseRequirement(req, cfg);
  return r.errors.ok ? rule : null;
}

function parseRequirement(o: ConfigObject, cfg: AuthConfig): Requirement | null {
  const req = new Requirement();
  if (!o.allowOnly(["provider_name", "provider_and_audiences", "requires_any", "requires_all", "allow_missing", "allow_missing_or_failed"])) return null;
  const which = o.oneOf(["provider_name", "provider_and_audiences", "requires_any", "requires_all", "allow_missing", "allow_missing_or_failed"], false);
  if (!o.errors.ok) return null;
  if (which == "provider_name") {
    req.kind = ReqKind.Provider;
    req.provider = providerRef(o, "provider_name", o.string("provider_name", "", true), cfg);
  } else if (which == "provider_and_audiences") {
    const pa = o.object("provider_and_audiences", true)!;
    if (!pa.allowOnly(["provider_name", "audiences"])) return null;
    req.kind = ReqKind.Provider;
    req.provider = providerRef(pa, "provider_name", pa.string("provider_name", "", true), cfg);
    const list = pa.array("audiences");
    const auds = new Array<string>();
    if (list !== null) {
      const s = list.strings();
      for (let i = 0; i < s.length; i++) auds.push(normalizeAudience(s[i]));
    }
    req.audiences = auds;
  } else if (which == "requires_any" || which == "requires_all") {
    req.kind = which == "requires_any" ? ReqKind.Any : ReqKind.All;
    const lo = o.object(which, true)!;
    if (!lo.allowOnly(["requirements"])) return null;
    const list = lo.array("requirements", true);
    if (list === null) return null;
    if (list.length < 2) { lo.error("requirements", "needs at least 2 requirements (Envoy's min_items)"); return null; }
    for (let i = 0; i < list.length; i++) {
      const c = list.object(i);
      if (c === null) return null;
      const child = parseRequirement(c, cfg);
      if (child === null) return null;
      req.children.push(child);
    }
  } else if (which == "allow_missing" || which == "allow_missing_or_failed") {
    const empty = o.object(which, true)!;
    if (!empty.allowOnly([])) return null;
    req.kind = which == "allow_missing" ? ReqKind.AllowMissing : ReqKind.AllowMissingOrFailed;
  } else {
    req.kind = ReqKind.None;
  }
  return o.errors.ok ? req : null;
}

function providerRef(o: ConfigObject, key: string, name: string, cfg: AuthConfig): i32 {
  const i = cfg.providerIndex(name);
  if (i < 0 && o.errors.ok) o.error(key, "no provider named \"" + name + "\" in providers");
  return i;
}

function parseApiKeys(o: ConfigObject): ApiKeysConfig | null {
  const out = new ApiKeysConfig();
  if (!o.allowOnly(["keys", "from_headers", "from_params", "forward_client_header", "forward"])) return null;
  const keys = o.array("keys", true);
  if (keys === null) return null;
  if (keys.length == 0) { o.error("keys", "must list at least one key"); return null; }
  for (let i = 0; i < keys.length; i++) {
    const k = keys.object(i);
    if (k === null || !k.allowOnly(["client", "sha256"])) return null;
    const client = k.nonEmptyString("client");
    const hex = k.nonEmptyString("sha256");
    if (!k.errors.ok) return null;
    if (!isHeaderValue(client)) { k.error("client", "must be a valid header value (no control characters): it is sent in forward_client_header"); return null; }
    const h = hexDecode(hex);
    if (h === null || h.byteLength != 32) {
      k.error("sha256", "must be the SHA-256 of the key as 64 hex digits (e.g. `printf %s \"$KEY\" | sha256sum`), never the key itself");
      return null;
    }
    out.keys.push(new ApiKey(client, h));
  }
  const fh = o.array("from_headers");
  if (fh !== null) {
    const names = fh.strings();
    out.fromHeaders = new Array<string>();
    for (let i = 0; i < names.length; i++) out.fromHeaders.push(names[i].toLowerCase());
  }
  const fp = o.array("from_params");
  if (fp !== null) out.fromParams = fp.strings();
  if (out.fromHeaders.length == 0 && out.fromParams.length == 0) { o.error("from_headers", "set from_headers or from_params"); return null; }
  out.forwardClientHeader = headerName(o, "forward_client_header");
  out.forward = o.bool("forward", false);
  return o.errors.ok ? out : null;
}

const STATUS_NAMES = ["BadRequest", "Unauthorized", "Forbidden", "NotFound", "TooManyRequests", "InternalServerError", "BadGateway", "ServiceUnavailable", "GatewayTimeout"];
const STATUS_CODES: u32[] = [400, 401, 403, 404, 429, 500, 502, 503, 504];

function parseExtAuthz(o: ConfigObject): ExtAuthzConfig | null {
  const out = new ExtAuthzConfig();
  if (!o.allowOnly(["http_service", "grpc_service", "failure_mode_allow", "status_on_error", "with_request_body", "transport_api_version"])) return null;
  notSupported(o, "grpc_service", "only the HTTP service form (http_service) is implemented");
  notSupported(o, "with_request_body", "the check request carries headers only");
  o.string("transport_api_version", "V3");
  out.failureModeAllow = o.bool("failure_mode_allow", false);
  const soe = o.object("status_on_error");
  if (soe !== null && soe.allowOnly(["code"])) {
    const v = soe.json.get("code");
    if (v !== null && v.isString) {
      const i = STATUS_NAMES.indexOf(v.stringValue);
      if (i < 0) soe.error("code", "use a number or one of " + STATUS_NAMES.join(", "));
      else out.statusOnError = STATUS_CODES[i];
    } else out.statusOnError = <u32>soe.int("code", 403, 200, 599);
  }
  const hs = o.object("http_service", true);
  if (hs === null) return null;
  if (!hs.allowOnly(["server_uri", "path_prefix", "authorization_request", "authorization_response"])) return null;
  const su = hs.object("server_uri", true);
  if (su === null) return null;
  const tmp = new RemoteJwksConfig();
  if (!su.allowOnly(["uri", "cluster", "timeout"])) return null;
  tmp.uri = su.nonEmptyString("uri");
  out.cluster = su.nonEmptyString("cluster");
  const t = su.duration("timeout", 200_000_000);
  out.timeoutMs = <u32>max<i64>(1, t / 1_000_000);
  const split = splitUri(tmp.uri);
  if (su.errors.ok && split === null) { su.error("uri", "must be an absolute http:// URI"); return null; }
  if (split !== null) out.authority = split[0];
  out.pathPrefix = hs.string("path_prefix", "");
  if (out.pathPrefix.length > 0 && !out.pathPrefix.startsWith("/")) hs.error("path_prefix", "must start with /");
  const areq = hs.object("authorization_request");
  out.allowedHeaders = [StringMatcher.of(StringMatchKind.Exact, "authorization")];
  if (areq !== null && areq.allowOnly(["allowed_headers", "headers_to_add"])) {
    const ah = areq.object("allowed_headers");
    if (ah !== null) out.allowedHeaders = parsePatterns(ah);
    const add = areq.array("headers_to_add");
    if (add !== null) {
      for (let i = 0; i < add.length; i++) {
        const kv = add.object(i);
        if (kv === null || !kv.allowOnly(["key", "value"])) break;
        const value = kv.string("value", "");
        if (!isHeaderValue(value)) { kv.error("value", "must be a valid header value (no control characters)"); break; }
        out.headersToAdd.push([kv.nonEmptyString("key").toLowerCase(), value]);
      }
    }
  }
  const ares = hs.object("authorization_response");
  if (ares !== null && ares.allowOnly(["allowed_upstream_headers", "allowed_client_headers"])) {
    const up = ares.object("allowed_upstream_headers");
    if (up !== null) out.allowedUpstreamHeaders = parsePatterns(up);
    const cl = ares.object("allowed_client_headers");
    if (cl !== null) out.allowedClientHeaders = parsePatterns(cl);
  }
  return o.errors.ok ? out : null;
}

/** Envoy's ListStringMatcher {patterns: [StringMatcher]}, for header names (regexes not supported). */
function parsePatterns(o: ConfigObject): NamePattern[] {
  const out = new Array<NamePattern>();
  if (!o.allowOnly(["patterns"])) return out;
  const list = o.array("patterns", true);
  if (list === null) return out;
  for (let i = 0; i < list.length; i++) {
    const m = list.object(i);
    if (m === null || !m.allowOnly(["exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case"])) break;
    notSupported(m, "safe_regex", "header name patterns are exact, prefix, suffix or contains");
    const which = m.oneOf(["exact", "prefix", "suffix", "contains"], true);
    if (!m.errors.ok) break;
    const kind = which == "exact" ? StringMatchKind.Exact : which == "prefix" ? StringMatchKind.Prefix : which == "suffix" ? StringMatchKind.Suffix : StringMatchKind.Contains;
    out.push(StringMatcher.of(kind, m.string(which, ""), m.bool("ignore_case", false)));
  }
  return out;
}

/** A header name field: lower-cased, and refused when it is a pseudo-header or holds invalid characters. */
function headerName(o: ConfigObject, key: string, required: bool = false): string {
  const v = o.string(key, "", required);
  if (v.length == 0) return "";
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 45 || c == 95 || c == 46;
    if (!ok) { o.error(key, "\"" + v + "\" is not a valid header name"); return ""; }
  }
  return v.toLowerCase();
}

/** Standard base64 (inline_bytes is protobuf bytes: RFC 4648 §4 with padding). */
function decodeStdBase64(s: string): ArrayBuffer | null {
  let t = s;
  while (t.endsWith("=")) t = t.substring(0, t.length - 1);
  const d = base64UrlDecodeString(t.replaceAll("+", "-").replaceAll("/", "_"));
  return d === null ? null : d.buffer;
}
