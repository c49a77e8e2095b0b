// auth: JWT verification with Envoy jwt_authn's configuration and answers, API keys, and external
// authorization over HTTP, in one filter. Stages run in this order for each request; each must pass:
//   1. jwt       the first rule matching the path names a requirement (providers, any/all, allow_missing…)
//   2. api_keys  a key from a header or query parameter, compared by SHA-256 in constant time
//   3. ext_authz an HTTP callout to an authorization service
// See ../README.md for the configuration reference.

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, Header, registerRootContext, requestHeaders, sendLocalResponse,
  ConfigErrors, readPluginConfig, log, Counter, nowNanos, HttpCallHandler, httpCall, httpCallResponseHeaders,
  httpCallResponseBody, clearRouteCache, encodeUtf8, JsonValue, decodeUtf8, isHeaderValue, isHeaderValueBytes,
  asciiLower, normalizePath, PathNormalization, RouteRules,
} from "proxy-wasm-as";
import {
  AuthConfig, ProviderConfig, Requirement, ReqKind, Rule, MatchKind, parseAuthConfig, ApiKeysConfig, ExtAuthzConfig,
  SHARED_FIELDS, NamePattern,
} from "./config";
import { Status, statusMessage, verifyJws, checkClaims, Claims } from "./jwt";
import { ProviderState, JwksMetrics, KeyWaiter } from "./jwks";
import { TokenCache } from "./cache";
import { base64UrlEncodeUnsafe } from "./encoding";
import { sha256Raw } from "./crypto/sha256";
import { constantTimeEqualRaw } from "./crypto/ct";
import { useHostVerify, verifierSentence } from "./native";

/** Timer period while remote JWKS exist: drives first fetches, retries and refreshes. */
const TICK_MS: u32 = 500;
/** Envoy truncates the path in the WWW-Authenticate realm to this many bytes. */
const MAX_REALM_PATH = 256;
/** Largest ext_authz response body passed to the client on a denial; a larger one is an error. */
export const MAX_EXT_AUTHZ_BODY = 64 * 1024;

class Metrics {
  jwtAllowed: Counter = new Counter("auth.jwt.allowed");
  jwtDenied: Counter = new Counter("auth.jwt.denied");
  cacheHits: Counter = new Counter("auth.token_cache.hits");
  cacheMisses: Counter = new Counter("auth.token_cache.misses");
  apiKeyAllowed: Counter = new Counter("auth.api_key.allowed");
  apiKeyDenied: Counter = new Counter("auth.api_key.denied");
  extAuthzOk: Counter = new Counter("auth.ext_authz.ok");
  extAuthzDenied: Counter = new Counter("auth.ext_authz.denied");
  extAuthzError: Counter = new Counter("auth.ext_authz.error");
  /** Requests refused because their path holds an escaped slash or a backslash (rules could not be matched safely). */
  pathRefused: Counter = new Counter("auth.path.refused");
  /** Header values from untrusted input (claims, the ext_authz response) skipped because they are not valid header values. */
  headerRefused: Counter = new Counter("auth.header_value.refused");
  jwks: JwksMetrics = new JwksMetrics();
}

let metrics: Metrics | null = null;

const EMPTY_CONFIG = new AuthConfig();

class AuthRoot extends RootContext {
  /** The filter's own configuration, and one per route rule (in the rules' order). */
  config: AuthConfig = new AuthConfig();
  routeRules: RouteRules = new RouteRules();
  ruleConfigs: AuthConfig[] = [];
  /**
   * Headers only this filter may set, under any of its configurations: removed from every request, so a
   * route whose rule sets no such header cannot carry a client's forgery of one another route sets.
   */
  ownHeaders: string[] = [];
  /** With route rules: every configuration's ext_authz allowed_upstream_headers, for the same reason. */
  serviceHeaders: NamePattern[] = [];
  providers: ProviderState[] = [];
  cache: TokenCache = new TokenCache(0);
  /** RS* and ES* signatures through the host's verify_signature (see native.ts). */
  hostVerify: bool = false;

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const obj = readPluginConfig(errors);
    const cfg = obj !== null ? parseAuthConfig(obj) : null;
    let routeRules = new RouteRules();
    const ruleConfigs: AuthConfig[] = [];
    if (cfg !== null && errors.ok) {
      routeRules = RouteRules.parse(obj!);
      for (let i = 0; i < routeRules.length && errors.ok; i++) {
        const patch = routeRules.patch(i);
        for (let k = 0; k < SHARED_FIELDS.length; k++) {
          if (patch.json.get(SHARED_FIELDS[k]) !== null) {
            patch.error(SHARED_FIELDS[k], "is shared by all routes (key sets, fetches, the token cache, the signature path): set it at the top level only");
          }
        }
        if (!errors.ok) break;
        const rc = parseAuthConfig(routeRules.merged(i));
        if (rc !== null) ruleConfigs.push(rc);
      }
      routeRules.compact();
    }
    if (cfg === null || !errors.ok) {
      routeRules.release();
      log.error("auth: invalid configuration: " + errors.first);
      return false;
    }
    if (metrics === null) metrics = new Metrics();
    this.hostVerify = useHostVerify(cfg.hostCrypto);
    log.info("auth: " + verifierSentence(cfg.hostCrypto, this.hostVerify));
    this.config = cfg;
    this.routeRules.release();
    this.routeRules = routeRules;
    this.ruleConfigs = ruleConfigs;
    this.ownHeaders = [];
    this.serviceHeaders = [];
    this.collectOwnHeaders(cfg, false);
    for (let i = 0; i < ruleConfigs.length; i++) this.collectOwnHeaders(ruleConfigs[i], true);
    this.cache = new TokenCache(cfg.tokenCacheSize, cfg.tokenCacheBytes);
    this.providers = [];
    let remote = false;
    for (let i = 0; i < cfg.providers.length; i++) {
      const p = new ProviderState(cfg.providers[i], metrics!.jwks, cfg.kidRefetchCooldownNs);
      this.providers.push(p);
      if (p.remote) remote = true;
    }
    this.setTickPeriod(remote ? TICK_MS : 0);
    const now = nowNanos();
    for (let i = 0; i < this.providers.length; i++) this.providers[i].onTick(now);
    return true;
  }

  private collectOwnHeaders(c: AuthConfig, rule: bool): void {
    const own = this.ownHeaders;
    for (let i = 0; i < c.providers.length; i++) {
      const p = c.providers[i];
      if (p.forwardPayloadHeader.length > 0 && !own.includes(p.forwardPayloadHeader)) own.push(p.forwardPayloadHeader);
      for (let j = 0; j < p.claimToHeaders.length; j++) {
        const h = p.claimToHeaders[j].header;
        if (!own.includes(h)) own.push(h);
      }
    }
    if (c.apiKeys !== null) {
      const h = c.apiKeys!.forwardClientHeader;
      if (h.length > 0 && !own.includes(h)) own.push(h);
    }
    if (c.extAuthz !== null) {
      if (!own.includes("x-envoy-auth-failure-mode-allowed")) own.push("x-envoy-auth-failure-mode-allowed");
      // Without route rules the ext_authz stage itself removes them (it runs on every request).
      const patterns = c.extAuthz!.allowedUpstreamHeaders;
      if (rule || this.ruleConfigs.length > 0) for (let i = 0; i < patterns.length; i++) this.serviceHeaders.push(patterns[i]);
    }
  }

  onTick(): void {
    const now = nowNanos();
    for (let i = 0; i < this.providers.length; i++) this.providers[i].onTick(now);
  }

  newHttpContext(contextId: u32): HttpContext | null {
    return new AuthStream(contextId, this);
  }
}

/** What a successful provider verification leaves for the request: headers to set or remove. */
class Success {
  constructor(public readonly p: ProviderState, public readonly claims: Claims, public readonly fromHeader: string) {}
}

enum Stage { Jwt, ApiKeys, ExtAuthz, Done }

class StreamWaiter extends KeyWaiter {
  constructor(private readonly s: AuthStream) { super(); }
  onKeysSettled(): void { this.s.resume(); }
}

class ExtAuthzHandler extends HttpCallHandler {
  constructor(private readonly s: AuthStream) { super(); }
  onResponse(numHeaders: u32, bodySize: usize, numTrailers: u32): void { this.s.onExtAuthzResponse(numHeaders, bodySize); }
}

class AuthStream extends HttpContext {
  /** The configuration for this request's route (the filter's or a route rule's), chosen once. */
  private cfg: AuthConfig = EMPTY_CONFIG;
  private stage: Stage = Stage.Jwt;
  private paused: bool = false;
  private finished: bool = false;
  private successes: Success[] = [];
  private waitFor: ProviderState | null = null;
  private pathCache: string | null = null;
  /** The rule the normalised path matched (kept while the request waits for keys). */
  private rule: Rule | null = null;
  /** Set once this request triggered a kid refetch: a request refetches at most once. */
  kidRefetchUsed: bool = false;

  get authRoot(): AuthRoot { return changetype<AuthRoot>(this.root); }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const root = this.authRoot;
    const rule = root.routeRules.select();
    this.cfg = rule < 0 ? root.config : unchecked(root.ruleConfigs[rule]);
    this.sanitize();
    const a = this.run();
    if (a == Action.Pause) this.paused = true;
    return a;
  }

  onDelete(): void { this.finished = true; }
  onDone(): bool { this.finished = true; return true; }

  /** Called when the keys this request waited for are settled: run again from where it stopped. */
  resume(): void {
    if (this.finished) return;
    this.makeEffective();
    if (this.run() == Action.Continue) this.resumeRequest();
  }

  private path(): string {
    let p = this.pathCache;
    if (p === null) {
      const v = requestHeaders.get(":path");
      p = v !== null ? v : "";
      this.pathCache = p;
    }
    return p!;
  }

  /** Runs the stages from the current one; Pause when one answered or waits. */
  private run(): Action {
    const cfg = this.cfg;
    while (this.stage != Stage.Done) {
      if (this.stage == Stage.Jwt) {
        const s = this.jwtStage(cfg);
        if (s == Status.Waiting) return Action.Pause;
        if (s != Status.Ok) { this.denyJwt(s); return Action.Pause; }
        this.stage = Stage.ApiKeys;
      } else if (this.stage == Stage.ApiKeys) {
        if (cfg.apiKeys !== null && !this.apiKeyStage(cfg.apiKeys!)) return Action.Pause;
        this.stage = Stage.ExtAuthz;
      } else {
        this.stage = Stage.Done;
        if (cfg.extAuthz !== null && this.startExtAuthz(cfg.extAuthz!)) return Action.Pause;
      }
    }
    return Action.Continue;
  }

  // ------------------------------------------------------------------------------------------- JWT

  /** Removes headers only this filter may set, so a client cannot forge them. */
  private sanitize(): void {
    const root = this.authRoot;
    const own = root.ownHeaders;
    for (let i = 0; i < own.length; i++) requestHeaders.remove(unchecked(own[i]));
    const patterns = root.serviceHeaders;
    if (patterns.length == 0) return;
    const all = requestHeaders.getAll();
    for (let i = 0; i < all.length; i++) {
      if (all[i].name.startsWith(":")) continue;
      for (let j = 0; j < patterns.length; j++) {
        if (patterns[j].matches(all[i].key)) { requestHeaders.removeBytes(all[i].key); break; }
      }
    }
  }

  private jwtStage(cfg: AuthConfig): Status {
    if (cfg.rules.length == 0) return Status.Ok;
    if (cfg.bypassCorsPreflight && this.isCorsPreflight()) return Status.Ok;
    let rule = this.rule;
    if (rule === null) {
      const norm = normalizePath(this.path());
      if (norm.status == PathNormalization.EscapedSlash) return Status.PathRefused;
      rule = matchRule(cfg.rules, norm.ok ? norm.path : this.path());
      if (rule === null) return Status.Ok;
      this.rule = rule;
    }
    if (rule.requires === null) return Status.Ok;
    this.successes = [];
    this.waitFor = null;
    const s = this.evaluate(rule.requires!);
    if (s == Status.Waiting) {
      const p = this.waitFor!;
      if (p.addWaiter(new StreamWaiter(this))) return Status.Waiting;
      return Status.JwksFetchFail;
    }
    if (s == Status.Ok) this.applySuccesses();
    return s;
  }

  private isCorsPreflight(): bool {
    const m = requestHeaders.get(":method");
    return m !== null && m == "OPTIONS" && requestHeaders.has("origin") && requestHeaders.has("access-control-request-method");
  }

  private evaluate(req: Requirement): Status {
    const root = this.authRoot;
    switch (req.kind) {
      case ReqKind.Provider: {
        const p = root.providers[req.provider];
        const loc = new TokenLocation();
        if (!findToken(p.cfg, loc)) return Status.JwtMissed;
        return this.verifyToken(p, loc, req.audiences !== null ? req.audiences! : p.cfg.claims.audiences);
      }
      case ReqKind.Any: {
        let firstError = Status.JwtMissed;
        let waiting = false;
        for (let i = 0; i < req.children.length; i++) {
          const s = this.evaluate(req.children[i]);
          if (s == Status.Ok) return Status.Ok;
          if (s == Status.Waiting) waiting = true;
          else if (s != Status.JwtMissed && firstError == Status.JwtMissed) firstError = s;
        }
        return waiting ? Status.Waiting : firstError;
      }
      case ReqKind.All: {
        let waiting = false;
        for (let i = 0; i < req.children.length; i++) {
          const s = this.evaluate(req.children[i]);
          if (s == Status.Waiting) waiting = true;
          else if (s != Status.Ok) return s;
        }
        return waiting ? Status.Waiting : Status.Ok;
      }
      case ReqKind.AllowMissing:
      case ReqKind.AllowMissingOrFailed: {
        let found = false;
        let firstError = Status.JwtMissed;
        let waiting = false;
        for (let i = 0; i < root.providers.length; i++) {
          const p = root.providers[i];
          const loc = new TokenLocation();
          if (!findToken(p.cfg, loc)) continue;
          found = true;
          const s = this.verifyToken(p, loc, p.cfg.claims.audiences);
          if (s == Status.Ok) return Status.Ok;
          if (s == Status.Waiting) waiting = true;
          else if (firstError == Status.JwtMissed) firstError = s;
        }
        if (waiting) return Status.Waiting;
        if (!found || req.kind == ReqKind.AllowMissingOrFailed) return Status.Ok;
        return firstError;
      }
      default: return Status.Ok;
    }
  }

  private verifyToken(p: ProviderState, loc: TokenLocation, audiences: string[]): Status {
    const root = this.authRoot;
    const cfg = this.cfg;
    const token = tokenBytes(loc.token);
    if (token.byteLength > cfg.maxTokenBytes) return Status.JwtTooLarge;
    const now = nowNanos();
    const keys = p.keysAt(now);
    if (keys === null) {
      if (p.waitForKeys(now)) { this.waitFor = p; return Status.Waiting; }
      return Status.JwksFetchFail;
    }
    const cache = root.cache;
    cache.computeKey(p.cfg.index, token);
    let claims = cache.get(p.gen);
    if (claims !== null) {
      metrics!.cacheHits.increment();
    } else {
      metrics!.cacheMisses.increment();
      const r = verifyJws(token, keys, cfg.maxTokenBytes, true, root.hostVerify);
      if (r.status != Status.Ok) {
        if (r.status == Status.JwksKidAlgMismatch && r.unknownKid && !this.kidRefetchUsed && p.refetchForKid(now)) {
          this.kidRefetchUsed = true;
          this.waitFor = p;
          return Status.Waiting;
        }
        return r.status;
      }
      claims = r.claims!;
      // Keep only what this provider uses: the claim_to_headers values and, when forwarded, the payload.
      const values = new Array<string | null>();
      for (let j = 0; j < p.cfg.claimToHeaders.length; j++) values.push(claimText(claims.payload, p.cfg.claimToHeaders[j].claimPath));
      claims.keepOnly(values, p.cfg.forwardPayloadHeader.length > 0);
      cache.put(p.gen, claims);
    }
    const s = checkClaims(claims, p.cfg.claims, audiences, now);
    if (s == Status.Ok) this.successes.push(new Success(p, claims, loc.header));
    return s;
  }

  private applySuccesses(): void {
    let clear = false;
    for (let i = 0; i < this.successes.length; i++) {
      const s = this.successes[i];
      const c = s.p.cfg;
      if (!c.forward && s.fromHeader.length > 0) requestHeaders.remove(s.fromHeader);
      if (c.forwardPayloadHeader.length > 0) {
        const b = s.claims.payloadBytes;
        requestHeaders.replace(c.forwardPayloadHeader, base64UrlEncodeUnsafe(b.dataStart, <usize>b.byteLength, c.padForwardPayloadHeader));
      }
      for (let j = 0; j < c.claimToHeaders.length; j++) {
        const ch = c.claimToHeaders[j];
        const v = s.claims.headerValues[j];
        if (v === null) continue;
        // A signed claim is still untrusted text: CR, LF or NUL in it would forge headers upstream.
        if (!isHeaderValue(v)) {
          metrics!.headerRefused.increment();
          log.debug("auth: claim_to_headers: claim for " + ch.header + " is not a valid header value; header not set");
          continue;
        }
        requestHeaders.replace(ch.header, v);
        clear = true;
      }
      if (c.clearRouteCache) clear = true;
    }
    this.removeTokenParams();
    if (clear) clearRouteCache();
    metrics!.jwtAllowed.increment();
  }

  private denyJwt(s: Status): void {
    if (s == Status.PathRefused) {
      metrics!.pathRefused.increment();
      sendLocalResponse(400, "auth_path_refused", encodeUtf8(statusMessage(s)), []);
      return;
    }
    metrics!.jwtDenied.increment();
    this.removeTokenParams();
    const msg = statusMessage(s);
    const code: u32 = s == Status.JwtAudienceNotAllowed ? 403 : 401;
    const details = "jwt_authn_access_denied{" + msg.replaceAll(" ", "_") + "}";
    if (this.cfg.stripFailureResponse) {
      sendLocalResponse(code, details, new ArrayBuffer(0), []);
      return;
    }
    let value = "Bearer realm=\"" + this.realm() + "\"";
    if (s != Status.JwtMissed) value += ", error=\"invalid_token\"";
    sendLocalResponse(code, details, encodeUtf8(msg), [Header.of("www-authenticate", value)]);
  }

  /** Removes every query parameter a token is read from (providers without `forward`), whatever the outcome. */
  private removeTokenParams(): void {
    const path = this.path();
    const stripped = this.withoutTokenParams(path);
    if (stripped == path) return;
    requestHeaders.replace(":path", stripped);
    this.pathCache = stripped;
  }

  /** `path` without the query parameters tokens are read from (providers without `forward`). */
  private withoutTokenParams(path: string): string {
    const providers = this.cfg.providers;
    for (let i = 0; i < providers.length; i++) {
      const p = providers[i];
      if (p.forward) continue;
      for (let j = 0; j < p.fromParams.length; j++) path = withoutQueryParam(path, p.fromParams[j]);
    }
    return path;
  }

  /** Removes query parameter `name` (every occurrence) from :path, so a credential never travels on. */
  private removeParam(name: string): void {
    const path = this.path();
    const stripped = withoutQueryParam(path, name);
    if (stripped == path) return;
    requestHeaders.replace(":path", stripped);
    this.pathCache = stripped;
  }

  /** The request URL as Envoy writes it in the realm: scheme://host + path (original path if rewritten), path cut at 256 bytes. */
  private realm(): string {
    const scheme = requestHeaders.get(":scheme");
    const host = requestHeaders.get(":authority");
    // A rewritten request keeps its original path, query included: the token parameters go from it too.
    const orig = requestHeaders.get("x-envoy-original-path");
    let path = orig !== null ? this.withoutTokenParams(orig) : this.path();
    if (path.length == 0) return "";
    if (String.UTF8.byteLength(path) > MAX_REALM_PATH) {
      const b = encodeUtf8(path);
      path = String.UTF8.decodeUnsafe(changetype<usize>(b), MAX_REALM_PATH, false);
    }
    return (scheme !== null ? scheme : "") + "://" + (host !== null ? host : "") + path;
  }

  // ------------------------------------------------------------------------------------------- API keys

  private apiKeyStage(c: ApiKeysConfig): bool {
    let key: string | null = null;
    let header = "";
    for (let i = 0; i < c.fromHeaders.length && key === null; i++) {
      const v = requestHeaders.get(c.fromHeaders[i]);
      if (v !== null && v.length > 0) { key = v; header = c.fromHeaders[i]; }
    }
    if (key === null && c.fromParams.length > 0) {
      for (let i = 0; i < c.fromParams.length && key === null; i++) key = queryParam(this.path(), c.fromParams[i]);
    }
    if (!c.forward) for (let i = 0; i < c.fromParams.length; i++) this.removeParam(c.fromParams[i]);
    if (key === null) {
      metrics!.apiKeyDenied.increment();
      sendLocalResponse(401, "api_key_missing", encodeUtf8("API key is missing"), []);
      return false;
    }
    // Hash the presented key and compare it with every configured hash, without stopping at a match, so
    // the time taken says nothing about which key (or how much of one) matched.
    const k = encodeUtf8(key);
    const digest = new Uint8Array(32);
    sha256Raw(changetype<usize>(k), <usize>k.byteLength, digest.dataStart);
    let found = -1;
    for (let i = 0; i < c.keys.length; i++) {
      const eq = constantTimeEqualRaw(digest.dataStart, c.keys[i].sha256.dataStart, 32);
      found = select(i, found, eq);
    }
    if (found < 0) {
      metrics!.apiKeyDenied.increment();
      sendLocalResponse(401, "api_key_invalid", encodeUtf8("API key is not valid"), []);
      return false;
    }
    metrics!.apiKeyAllowed.increment();
    if (!c.forward && header.length > 0) requestHeaders.remove(header);
    if (c.forwardClientHeader.length > 0) requestHeaders.replace(c.forwardClientHeader, c.keys[found].client);
    return true;
  }

  // ------------------------------------------------------------------------------------------- ext_authz

  /** Starts the check; false when it could not start (then the error policy decided and may have answered). */
  private startExtAuthz(c: ExtAuthzConfig): bool {
    const all = requestHeaders.getAll();
    const h = new Array<Header>();
    const method = requestHeaders.get(":method");
    const host = requestHeaders.get(":authority");
    h.push(Header.of(":method", method !== null ? method : "GET"));
    h.push(Header.of(":path", c.pathPrefix + this.path()));
    h.push(Header.of(":authority", host !== null ? host : c.authority));
    h.push(Header.of("content-length", "0"));
    for (let i = 0; i < all.length; i++) {
      const name = all[i].name;
      if (name.startsWith(":") || name == "content-length") continue;
      for (let j = 0; j < c.allowedHeaders.length; j++) {
        if (c.allowedHeaders[j].matches(all[i].key)) { h.push(all[i]); break; }
      }
    }
    for (let i = 0; i < c.headersToAdd.length; i++) h.push(Header.of(c.headersToAdd[i][0], c.headersToAdd[i][1]));
    // Headers the service may set upstream are the service's alone: a client-sent copy never goes on,
    // whether the service answers with one or not (and so never survives next to the service's value).
    if (c.allowedUpstreamHeaders.length > 0) {
      for (let i = 0; i < all.length; i++) {
        if (all[i].name.startsWith(":")) continue;
        for (let j = 0; j < c.allowedUpstreamHeaders.length; j++) {
          if (c.allowedUpstreamHeaders[j].matches(all[i].key)) { requestHeaders.removeBytes(all[i].key); break; }
        }
      }
    }
    const r = httpCall(c.cluster, h, null, [], c.timeoutMs, new ExtAuthzHandler(this));
    if (!r.ok) {
      log.warn("auth: ext_authz call to cluster \"" + c.cluster + "\" could not start (result " + (<i32>r.result).toString() + ")");
      return this.extAuthzError(c, false);
    }
    return true;
  }

  /** The service failed (no response, 5xx, or the call could not start): failure_mode_allow decides. */
  private extAuthzError(c: ExtAuthzConfig, later: bool): bool {
    metrics!.extAuthzError.increment();
    if (c.failureModeAllow) {
      requestHeaders.replace("x-envoy-auth-failure-mode-allowed", "true");
      if (later) this.resumeRequest();
      return false;
    }
    sendLocalResponse(c.statusOnError, "ext_authz_error", new ArrayBuffer(0), []);
    return true;
  }

  onExtAuthzResponse(numHeaders: u32, bodySize: usize): void {
    if (this.finished) return;
    const c = this.cfg.extAuthz!;
    const status: string | null = numHeaders == 0 ? null : httpCallResponseHeaders.get(":status");
    const code = status !== null ? statusCode(status) : 0;
    // 1xx is no decision (a final answer was expected): an error, as a 5xx is.
    if (numHeaders == 0 || code < 200 || code >= 500) {
      this.extAuthzError(c, true);
      return;
    }
    const headers = httpCallResponseHeaders.getAll();
    if (code == 200) {
      metrics!.extAuthzOk.increment();
      // Client-sent copies were removed when the check started, so adding keeps every value the service sent.
      for (let i = 0; i < headers.length; i++) {
        const name = headers[i].name;
        if (name.startsWith(":")) continue;
        for (let j = 0; j < c.allowedUpstreamHeaders.length; j++) {
          if (!c.allowedUpstreamHeaders[j].matches(headers[i].key)) continue;
          if (isHeaderValueBytes(headers[i].value)) requestHeaders.addBytes(headers[i].key, headers[i].value);
          else metrics!.headerRefused.increment();
          break;
        }
      }
      this.resumeRequest();
      return;
    }
    if (bodySize > <usize>MAX_EXT_AUTHZ_BODY) {
      log.warn("auth: ext_authz denial body of " + bodySize.toString() + " bytes is over " + MAX_EXT_AUTHZ_BODY.toString() + "; treated as an error");
      this.extAuthzError(c, true);
      return;
    }
    metrics!.extAuthzDenied.increment();
    const out = new Array<Header>();
    const allowed = c.allowedClientHeaders;
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i].name;
      if (name.startsWith(":") || name == "content-length" || name == "transfer-encoding" || name == "connection" || name == "host") continue;
      if (allowed !== null) {
        let ok = false;
        for (let j = 0; j < allowed.length; j++) if (allowed[j].matches(headers[i].key)) { ok = true; break; }
        if (!ok) continue;
      }
      if (!isHeaderValueBytes(headers[i].value)) { metrics!.headerRefused.increment(); continue; }
      out.push(headers[i]);
    }
    sendLocalResponse(<u32>code, "ext_authz_denied", httpCallResponseBody.read(0, <u32>bodySize), out);
  }
}

/** Where a provider's token was found: the token text and, for a header, the header's name. */
class TokenLocation {
  token: string = "";
  header: string = "";
}

/**
 * The first rule matching `path` (normalised, without its query): prefix or exact, case-insensitive
 * rules compare ASCII-lower-cased (rule values are lower-cased the same way when configured).
 */
function matchRule(rules: Rule[], path: string): Rule | null {
  let lower: string | null = null;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    let subject = path;
    if (!r.caseSensitive) {
      if (lower === null) lower = asciiLower(path);
      subject = lower!;
    }
    if (r.kind == MatchKind.Prefix ? subject.startsWith(r.value) : subject == r.value) return r;
  }
  return null;
}

/**
 * Finds the provider's token: its headers first (in order; with a value prefix, the token is what follows
 * the prefix, from the first base64url character on, as Envoy extracts it), then query parameters, then
 * cookies. The first one found is used.
 */
/**
 * The token's bytes: a byte per character when all are ASCII (a JWS always is: base64url and dots), which
 * costs a fraction of String.UTF8.encode; any other text is encoded as UTF-8 (and then refused by the
 * strict base64url decoding).
 */
function tokenBytes(s: string): ArrayBuffer {
  const n = s.length;
  const src = changetype<usize>(s);
  const out = new ArrayBuffer(n);
  const dst = changetype<usize>(out);
  for (let i = 0; i < n; i++) {
    const c = load<u16>(src + (<usize>i << 1));
    if (c >= 0x80) return encodeUtf8(s);
    store<u8>(dst + <usize>i, <u8>c);
  }
  return out;
}

function findToken(p: ProviderConfig, out: TokenLocation): bool {
  for (let i = 0; i < p.fromHeaders.length; i++) {
    const loc = p.fromHeaders[i];
    const v = requestHeaders.get(loc.name);
    if (v === null) continue;
    if (loc.prefix.length == 0) { out.token = v; out.header = loc.name; return true; }
    const at = v.indexOf(loc.prefix);
    if (at < 0) continue;
    let start = at + loc.prefix.length;
    while (start < v.length && !isTokenChar(v.charCodeAt(start))) start++;
    out.token = start < v.length ? v.substring(start) : v;
    out.header = loc.name;
    return true;
  }
  if (p.fromParams.length > 0) {
    const path = requestHeaders.get(":path");
    if (path !== null) {
      for (let i = 0; i < p.fromParams.length; i++) {
        const t = queryParam(path, p.fromParams[i]);
        if (t !== null) { out.token = t; return true; }
      }
    }
  }
  if (p.fromCookies.length > 0) {
    const cookie = requestHeaders.get("cookie");
    if (cookie !== null) {
      for (let i = 0; i < p.fromCookies.length; i++) {
        const t = cookieValue(cookie, p.fromCookies[i]);
        if (t !== null) { out.token = t; return true; }
      }
    }
  }
  return false;
}

/** An HTTP status from its text; 0 unless it is three digits. */
function statusCode(s: string): i32 {
  if (s.length != 3) return 0;
  let v = 0;
  for (let i = 0; i < 3; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return 0;
    v = v * 10 + (c - 48);
  }
  return v;
}

function isTokenChar(c: i32): bool {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 || c == 95 || c == 46;
}

/** The first value of query parameter `name` in `path`, percent-decoded; null when absent. */
export function queryParam(path: string, name: string): string | null {
  const q = path.indexOf("?");
  if (q < 0) return null;
  let i = q + 1;
  const n = path.length;
  while (i <= n) {
    let amp = path.indexOf("&", i);
    if (amp < 0) amp = n;
    const eq = path.indexOf("=", i);
    const keyEnd = eq >= 0 && eq < amp ? eq : amp;
    if (percentDecode(path.substring(i, keyEnd)) == name) {
      return keyEnd < amp ? percentDecode(path.substring(keyEnd + 1, amp)) : "";
    }
    i = amp + 1;
  }
  return null;
}

/** `path` without any `name` parameter in its query (names compared percent-decoded); `path` itself when none. */
export function withoutQueryParam(path: string, name: string): string {
  const q = path.indexOf("?");
  if (q < 0) return path;
  if (path.indexOf(name, q) < 0 && path.indexOf("%", q) < 0) return path; // the common case, without a copy
  const parts = path.substring(q + 1).split("&");
  const kept = new Array<string>();
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const eq = part.indexOf("=");
    if (percentDecode(eq < 0 ? part : part.substring(0, eq)) != name) kept.push(part);
  }
  if (kept.length == parts.length) return path;
  return kept.length == 0 ? path.substring(0, q) : path.substring(0, q + 1) + kept.join("&");
}

function percentDecode(s: string): string {
  if (s.indexOf("%") < 0) return s;
  const src = encodeUtf8(s);
  const p = changetype<usize>(src);
  const n = <usize>src.byteLength;
  const out = new Uint8Array(<i32>n);
  let o = 0;
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(p + i);
    if (c == 0x25 && i + 2 < n) {
      const hi = hexValue(load<u8>(p + i + 1)), lo = hexValue(load<u8>(p + i + 2));
      if (hi >= 0 && lo >= 0) { out[o++] = <u8>((hi << 4) | lo); i += 2; continue; }
    }
    out[o++] = c;
  }
  return decodeUtf8(out.buffer.slice(0, o));
}

function hexValue(c: u8): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** The value of cookie `name` in a Cookie header ("a=1; b=2"); null when absent. */
function cookieValue(header: string, name: string): string | null {
  const parts = header.split(";");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i].trim();
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.substring(0, eq) == name) {
      let v = part.substring(eq + 1);
      if (v.length >= 2 && v.startsWith("\"") && v.endsWith("\"")) v = v.substring(1, v.length - 1);
      return v;
    }
  }
  return null;
}

/** A claim's value as header text: strings as they are, numbers and booleans printed; objects, arrays and null: none. */
function claimText(payload: JsonValue, path: string[]): string | null {
  let v: JsonValue | null = payload;
  for (let i = 0; i < path.length && v !== null; i++) v = v.get(path[i]);
  if (v === null) return null;
  if (v.isString) return v.stringValue;
  if (v.isBool) return v.boolValue ? "true" : "false";
  if (v.isNumber) {
    const n = v.numberValue;
    if (v.isInteger && Math.abs(n) < 9007199254740992) return (<i64>n).toString();
    return n.toString();
  }
  return null;
}

registerRootContext((id: u32): RootContext => new AuthRoot(id));
