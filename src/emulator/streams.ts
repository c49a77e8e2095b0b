// HTTP streams and TCP connections driven through a Host, with the filter-manager behaviour Envoy shows
// a single Wasm filter:
// - Headers: Continue forwards them; Pause stops all iteration (Envoy turns StopIteration into
//   StopAllIterationAndWatermark unless allow_on_headers_stop_iteration), so body and trailers that
//   arrive meanwhile are held and delivered to the filter, accumulated, once it continues.
// - Body: Pause before end of stream is StopIterationAndBuffer: the next body callback sees the whole
//   body buffered so far; Continue forwards the (possibly modified) buffered body.
// - Maps are visible to the module only while Envoy holds them: during their callback and while paused
//   there (until proxy_continue_stream), and read-only in proxy_on_log.
// - A local reply sent during the request path goes through this filter's response callbacks, as Envoy
//   sends it through the encoder filter chain; the request is not forwarded any further.

import { Action, GrpcStatus, PeerType, StreamType, WasmResult } from "./abi";
import { BytesLike, concatBytes, toBytes, toText } from "./bytes";
import { WasmTrapError } from "./errors";
import { HeaderInput, HeaderMap } from "./headers";
import type { BufferBox, Context, Host } from "./host";
import type { Pair } from "./pairs";
import type { PropertyOverrides, PropertyValue, StreamFacts } from "./properties";

export interface HttpStreamOptions {
  /** Attribute overrides for this stream only (on top of the host's). */
  properties?: PropertyOverrides;
}

export interface LocalResponse {
  status: number;
  /** Response code details, with whitespace replaced by '_' as Envoy does. */
  details: string;
  body: Uint8Array;
  /** The additional headers the module passed (keys lower-cased). */
  headers: Array<[string, string]>;
  /** gRPC status the module passed, or null for -1 / out of range. */
  grpcStatus: number | null;
}

/** What one side of the proxy received: the upstream for requests, the client for responses. */
export interface Forwarded {
  headers: Array<[string, string]> | null;
  body: Uint8Array;
  trailers: Array<[string, string]> | null;
  endOfStream: boolean;
}

type Kind = "request" | "response";
type HeaderStop = "stop" | "stopAll" | null;

interface Direction {
  kind: Kind;
  headers: HeaderMap | null;
  headersVisible: boolean;
  headersForwarded: boolean;
  headersEos: boolean;
  stop: HeaderStop;
  body: BufferBox | null;
  buffering: boolean;
  inBodyEos: boolean;
  heldBody: Uint8Array[];
  heldEos: boolean;
  heldTrailers: HeaderMap | null;
  trailers: HeaderMap | null;
  trailersVisible: boolean;
  trailersPaused: boolean;
  eos: boolean;
  bytes: number;
  out: { headers: HeaderMap | null; body: Uint8Array[]; trailers: HeaderMap | null; end: boolean };
  /** No more events from the test side are delivered (local reply, reset, failure). */
  ended: boolean;
}

function newDirection(kind: Kind): Direction {
  return {
    kind,
    headers: null,
    headersVisible: false,
    headersForwarded: false,
    headersEos: false,
    stop: null,
    body: null,
    buffering: false,
    inBodyEos: false,
    heldBody: [],
    heldEos: false,
    heldTrailers: null,
    trailers: null,
    trailersVisible: false,
    trailersPaused: false,
    eos: false,
    bytes: 0,
    out: { headers: null, body: [], trailers: null, end: false },
    ended: false,
  };
}

/** Maps an HTTP status to a gRPC status the way Envoy's local replies to gRPC requests do. */
function httpToGrpc(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.Internal;
    case 401:
      return GrpcStatus.Unauthenticated;
    case 403:
      return GrpcStatus.PermissionDenied;
    case 404:
      return GrpcStatus.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.Unavailable;
    default:
      return GrpcStatus.Unknown;
  }
}

/** A filter state object set through set_envoy_filter_state: its serialised value and life span. */
export interface EnvoyFilterStateObject {
  value: string;
  span: "FilterChain" | "Request" | "Connection";
}

abstract class StreamBase {
  /** Values written by proxy_set_property, keyed by the path the module passed. */
  readonly filterState = new Map<string, Uint8Array>();
  /** Objects set with set_envoy_filter_state, by factory key (read back as filter_state.<key>). */
  readonly envoyFilterState = new Map<string, EnvoyFilterStateObject>();
  readonly propertyOverrides: PropertyOverrides;
  protected readonly startTimeNs: bigint;
  protected readonly continues = new Map<StreamType, number>();
  protected completed = false;

  constructor(
    protected readonly host: Host,
    protected readonly ctx: Context,
    readonly connectionId: number,
    opts: { properties?: PropertyOverrides },
  ) {
    this.propertyOverrides = { ...(opts.properties ?? {}) };
    this.startTimeNs = host.nowNs;
  }

  /** The context id the module knows this stream by. */
  get id(): number {
    return this.ctx.id;
  }

  get contextId(): number {
    return this.ctx.id;
  }

  /** How many times the module called proxy_continue_stream(type) acting on this stream. */
  continued(type: StreamType): number {
    return this.continues.get(type) ?? 0;
  }

  /** Overrides one attribute for this stream (dotted path). */
  setProperty(path: string, value: PropertyValue): void {
    this.propertyOverrides[path] = value;
  }

  /** The filter-state value the module stored with proxy_set_property, as text. */
  filterStateText(path: string): string | undefined {
    const v = this.filterState.get(path);
    return v && toText(v);
  }

  protected call(name: string, args: Array<number | bigint>): { value: number | undefined; stopped: boolean } {
    try {
      return this.host.dispatch(this.ctx, name, args);
    } catch (e) {
      if (e instanceof WasmTrapError) this.onTrap();
      throw e;
    }
  }

  protected abstract onTrap(): void;

  /** @internal */
  abstract continueFromModule(type: StreamType): WasmResult;
  /** @internal */
  abstract closeFromModule(type: StreamType): void;
  /** @internal */
  abstract facts(): StreamFacts;
}

export class HttpStream extends StreamBase {
  private readonly req = newDirection("request");
  private readonly resp = newDirection("response");
  private logPhase = false;
  private responseCode?: number;
  private responseCodeDetails?: string;
  private directResponse: { headers: HeaderMap; body: Uint8Array } | null = null;
  private failureReplySent = false;
  /** The local reply the module sent (the first one), or null. */
  localResponse: LocalResponse | null = null;
  /** Envoy reset the stream (proxy_close_stream, or a local reply after the response started). */
  reset = false;
  /** Times the module called the `clear_route_cache` foreign function on this stream. */
  routeCacheClears = 0;

  constructor(host: Host, ctx: Context, connectionId: number, opts: HttpStreamOptions) {
    super(host, ctx, connectionId, opts);
  }

  // ------------------------------------------------------------ driving the stream

  sendRequestHeaders(headers: HeaderInput, endOfStream = false): Action {
    return this.sendHeaders(this.req, headers, endOfStream);
  }

  sendRequestBody(body: BytesLike, endOfStream = false): Action {
    return this.sendBody(this.req, toBytes(body), endOfStream);
  }

  sendRequestTrailers(trailers: HeaderInput): Action {
    return this.sendTrailers(this.req, trailers);
  }

  sendResponseHeaders(headers: HeaderInput, endOfStream = false): Action {
    return this.sendHeaders(this.resp, headers, endOfStream);
  }

  sendResponseBody(body: BytesLike, endOfStream = false): Action {
    return this.sendBody(this.resp, toBytes(body), endOfStream);
  }

  sendResponseTrailers(trailers: HeaderInput): Action {
    return this.sendTrailers(this.resp, trailers);
  }

  /** Ends the stream as Envoy does: proxy_on_log (maps readable), then proxy_on_done and proxy_on_delete. */
  complete(): void {
    if (this.completed) return;
    this.completed = true;
    if (this.ctx.created && !this.host.failed) {
      this.logPhase = true;
      try {
        this.call("proxy_on_log", [this.id]);
      } finally {
        this.logPhase = false;
      }
      this.call("proxy_on_done", [this.id]);
      this.call("proxy_on_delete", [this.id]);
    }
    this.host.contexts.delete(this.id);
  }

  // ------------------------------------------------------------ inspection

  /** The request headers as the filter left them. */
  requestHeaders(): Array<[string, string]> {
    return this.req.headers?.text() ?? [];
  }
  requestHeadersBytes(): Pair[] {
    return this.req.headers?.pairs() ?? [];
  }
  requestTrailers(): Array<[string, string]> {
    return this.req.trailers?.text() ?? [];
  }
  requestTrailersBytes(): Pair[] {
    return this.req.trailers?.pairs() ?? [];
  }
  /** Response headers as the client sees them (a direct local reply replaces the upstream's). */
  responseHeaders(): Array<[string, string]> {
    return (this.directResponse?.headers ?? this.resp.headers)?.text() ?? [];
  }
  responseHeadersBytes(): Pair[] {
    return (this.directResponse?.headers ?? this.resp.headers)?.pairs() ?? [];
  }
  responseTrailers(): Array<[string, string]> {
    return this.resp.trailers?.text() ?? [];
  }
  responseTrailersBytes(): Pair[] {
    return this.resp.trailers?.pairs() ?? [];
  }
  /** Request body as modified by the filter: what was forwarded plus what the filter still holds. */
  requestBody(): Uint8Array {
    return this.bodyOf(this.req);
  }
  requestBodyText(): string {
    return toText(this.requestBody());
  }
  responseBody(): Uint8Array {
    return this.directResponse ? this.directResponse.body : this.bodyOf(this.resp);
  }
  responseBodyText(): string {
    return toText(this.responseBody());
  }

  /** What reached the upstream (the router). */
  get upstream(): Forwarded {
    return forwarded(this.req);
  }

  /** What reached the client. */
  get downstream(): Forwarded {
    if (this.directResponse) {
      return { headers: this.directResponse.headers.text(), body: this.directResponse.body, trailers: null, endOfStream: true };
    }
    return forwarded(this.resp);
  }

  /** The stream is over: completed, reset, or ended by a local reply. */
  get closed(): boolean {
    return this.completed || this.reset || (this.req.ended && this.resp.ended);
  }

  /** @internal proxy_on_log is running. */
  get inLogPhase(): boolean {
    return this.logPhase;
  }

  private bodyOf(d: Direction): Uint8Array {
    const held = d.body ? [d.body.data] : [];
    return concatBytes(...d.out.body, ...held, ...d.heldBody);
  }

  // ------------------------------------------------------------ what the host asks

  /** @internal */
  headerMapFor(type: number, mutable: boolean): HeaderMap | null {
    const d = type <= 1 ? this.req : this.resp;
    const trailers = type === 1 || type === 3;
    if (!trailers) {
      if (this.logPhase && !mutable) return d.kind === "response" ? this.directResponse?.headers ?? d.headers : d.headers;
      return d.headersVisible ? d.headers : null;
    }
    if (this.logPhase && !mutable) return d.kind === "request" ? null : d.trailers;
    if (d.trailersVisible) return d.trailers;
    if (mutable && d.inBodyEos && !d.trailers) {
      // Envoy adds trailers on demand while the last body chunk is being processed.
      d.trailers = new HeaderMap();
      d.trailersVisible = true;
      return d.trailers;
    }
    return null;
  }

  /** @internal */
  bodyBuffer(type: number): BufferBox {
    const d = type === 0 ? this.req : this.resp;
    return d.body ?? { data: new Uint8Array(0), mutable: false };
  }

  /** @internal */
  facts(): StreamFacts {
    const vis = (d: Direction) => (this.logPhase ? d.headers : d.headersVisible ? d.headers : null);
    return {
      http: true,
      connectionId: this.connectionId,
      startTimeNs: this.startTimeNs,
      nowNs: this.host.nowNs,
      logPhase: this.logPhase,
      requestHeaders: vis(this.req),
      responseHeaders: this.logPhase ? this.directResponse?.headers ?? this.resp.headers : vis(this.resp),
      responseTrailers: this.logPhase || this.resp.trailersVisible ? this.resp.trailers : null,
      requestBytes: this.req.bytes,
      responseBytes: this.responseBody().length,
      responseCode: this.responseCode,
      responseCodeDetails: this.responseCodeDetails,
      filterState: this.filterState,
      envoyFilterState: this.envoyFilterState,
    };
  }

  /** @internal */
  continueFromModule(type: StreamType): WasmResult {
    this.continues.set(type, this.continued(type) + 1);
    if (type === StreamType.HttpRequest || type === StreamType.HttpResponse) {
      const d = type === StreamType.HttpRequest ? this.req : this.resp;
      this.host.defer(() => this.resume(d));
      // Envoy drops its request-side pointers at once (for either direction).
      this.req.headersVisible = false;
      this.req.trailersVisible = false;
      if (!this.req.buffering) this.req.body = null;
    }
    return WasmResult.Ok;
  }

  /** @internal */
  closeFromModule(type: StreamType): void {
    if (type !== StreamType.HttpRequest && type !== StreamType.HttpResponse) return;
    this.responseCodeDetails ??= "wasm_close_stream";
    this.host.defer(() => {
      this.reset = true;
      this.req.ended = true;
      this.resp.ended = true;
    });
  }

  /** @internal The deferred half of proxy_send_local_response. */
  localReply(status: number, details: string, body: Uint8Array, extra: Pair[], grpcStatus: number | null): void {
    if (this.reset || this.completed) return;
    const cleanDetails = details.replace(/\s/g, "_");
    this.localResponse ??= {
      status,
      details: cleanDetails,
      body,
      headers: HeaderMap.from(extra).text(),
      grpcStatus,
    };
    this.req.ended = true;
    this.responseCode = status;
    this.responseCodeDetails = cleanDetails;
    const map = this.localReplyHeaders(status, body, extra, grpcStatus);
    const grpc = this.isGrpcRequest();
    const replyBody = grpc ? new Uint8Array(0) : body;
    if (!this.resp.headers) {
      // Not started: the reply goes through the encoder filters, this one included.
      this.resp.headers = map;
      this.resp.eos = replyBody.length === 0;
      this.resp.headersEos = this.resp.eos;
      this.deliverHeaders(this.resp);
      if (replyBody.length && !this.reset) {
        this.resp.eos = true;
        this.resp.bytes += replyBody.length;
        if (this.resp.headersForwarded || this.resp.stop === "stop") this.deliverBody(this.resp, replyBody, true);
        else {
          this.resp.heldBody.push(replyBody);
          this.resp.heldEos = true;
        }
      }
    } else if (!this.resp.out.headers) {
      // Headers reached the filter but not the client: Envoy replies directly, bypassing the filters.
      this.directResponse = { headers: map, body: replyBody };
    } else {
      this.reset = true;
    }
    this.resp.ended = true;
  }

  private isGrpcRequest(): boolean {
    const ct = this.req.headers?.getText("content-type");
    return !!ct && ct.startsWith("application/grpc");
  }

  private localReplyHeaders(status: number, body: Uint8Array, extra: Pair[], grpcStatus: number | null): HeaderMap {
    const m = new HeaderMap();
    const put = (k: string, v: string) => m.add(toBytes(k), toBytes(v));
    if (this.isGrpcRequest()) {
      put(":status", "200");
      put("content-type", "application/grpc");
      put("grpc-status", String(grpcStatus ?? httpToGrpc(status)));
      if (body.length) put("grpc-message", toText(body));
    } else {
      put(":status", String(status));
      if (body.length) {
        put("content-length", String(body.length));
        put("content-type", "text/plain");
      }
    }
    for (const [k, v] of extra) m.add(k, v);
    return m;
  }

  protected onTrap(): void {
    this.failClosed();
  }

  /** Envoy's failStream: 503 wasm_fail_stream straight to the client, the filter is not called again. */
  private failClosed(): void {
    if (this.failureReplySent) return;
    this.failureReplySent = true;
    this.localResponse ??= {
      status: 503,
      details: "wasm_fail_stream",
      body: new Uint8Array(0),
      headers: [],
      grpcStatus: GrpcStatus.Unavailable,
    };
    this.responseCode = 503;
    this.responseCodeDetails = "wasm_fail_stream";
    this.directResponse = { headers: this.localReplyHeaders(503, new Uint8Array(0), [], GrpcStatus.Unavailable), body: new Uint8Array(0) };
    this.req.ended = true;
    this.resp.ended = true;
  }

  /** What CHECK_FAIL does before and after each callback once the VM has failed. */
  private vmUnavailable(): Action | null {
    if (!this.host.failed && this.ctx.created) return null;
    if (this.host.failOpen) return Action.Continue;
    this.failClosed();
    return Action.Pause;
  }

  // ------------------------------------------------------------ the filter-manager model

  private sendHeaders(d: Direction, input: HeaderInput, eos: boolean): Action {
    if (d.ended || this.completed) return Action.Pause;
    if (d.headers) throw new Error(`${d.kind} headers were already sent on this stream`);
    d.headers = HeaderMap.from(input);
    d.eos = eos;
    d.headersEos = eos;
    if (d.kind === "response") {
      const s = d.headers.getText(":status");
      if (s && /^\d+$/.test(s)) this.responseCode = Number(s);
      this.responseCodeDetails ??= "via_upstream";
    }
    return this.deliverHeaders(d);
  }

  private deliverHeaders(d: Direction): Action {
    const unavailable = this.vmUnavailable();
    if (unavailable === Action.Continue) {
      this.forwardHeaders(d);
      if (d.headersEos) d.out.end = true;
    }
    if (unavailable !== null) return unavailable;
    d.headersVisible = true;
    const { value, stopped } = this.call(`proxy_on_${d.kind}_headers`, [this.id, d.headers!.size, d.headersEos ? 1 : 0]);
    const r = value ?? 0;
    let stop: HeaderStop = null;
    if (stopped || r > 4 || r === 3 || r === 4) stop = "stopAll";
    else if (r === 1) stop = this.host.options.allowOnHeadersStopIteration ? "stop" : "stopAll";
    if (stop === null) {
      d.headersVisible = false;
      this.forwardHeaders(d);
      if (d.headersEos) d.out.end = true;
      return Action.Continue;
    }
    if (!d.headersForwarded) d.stop = stop;
    return Action.Pause;
  }

  private sendBody(d: Direction, data: Uint8Array, eos: boolean): Action {
    if (!d.headers) throw new Error(`send ${d.kind} headers before the ${d.kind} body`);
    if (d.ended || this.completed) return Action.Pause;
    if (d.eos) throw new Error(`the ${d.kind} already ended`);
    d.bytes += data.length;
    d.eos = eos;
    if (!d.headersForwarded && d.stop !== "stop") {
      d.heldBody.push(data);
      d.heldEos = eos;
      return Action.Pause;
    }
    return this.deliverBody(d, data, eos);
  }

  private deliverBody(d: Direction, data: Uint8Array, eos: boolean): Action {
    const unavailable = this.vmUnavailable();
    if (unavailable === Action.Continue) {
      d.out.body.push(data);
      if (eos) d.out.end = true;
    }
    if (unavailable !== null) return unavailable;
    const box: BufferBox = { data: d.buffering && d.body ? concatBytes(d.body.data, data) : data, mutable: true };
    d.body = box;
    d.inBodyEos = eos;
    let res: { value: number | undefined; stopped: boolean };
    try {
      res = this.call(`proxy_on_${d.kind}_body`, [this.id, box.data.length, eos ? 1 : 0]);
    } finally {
      d.inBodyEos = false;
    }
    const r = res.value ?? 0;
    if (!res.stopped && r === 0) {
      if (!d.headersForwarded) this.forwardHeaders(d);
      d.out.body.push(box.data);
      d.body = null;
      d.buffering = false;
      if (eos) {
        if (d.trailers && !d.out.trailers) {
          d.trailersVisible = false;
          d.out.trailers = d.trailers;
        }
        d.out.end = true;
      }
      return Action.Continue;
    }
    // StopIterationAndBuffer (1) and Watermark (2) keep buffering; NoBuffer (3, or a local reply) does not.
    d.buffering = !res.stopped && (r === 1 || r === 2);
    return Action.Pause;
  }

  private sendTrailers(d: Direction, input: HeaderInput): Action {
    if (!d.headers) throw new Error(`send ${d.kind} headers before the ${d.kind} trailers`);
    if (d.ended || this.completed) return Action.Pause;
    if (d.eos) throw new Error(`the ${d.kind} already ended`);
    d.eos = true;
    const map = HeaderMap.from(input);
    if (!d.headersForwarded && d.stop !== "stop") {
      d.heldTrailers = map;
      return Action.Pause;
    }
    return this.deliverTrailers(d, map);
  }

  private deliverTrailers(d: Direction, map: HeaderMap): Action {
    d.trailers = map;
    const unavailable = this.vmUnavailable();
    if (unavailable === Action.Continue) {
      d.out.trailers = map;
      d.out.end = true;
    }
    if (unavailable !== null) return unavailable;
    d.trailersVisible = true;
    const { value, stopped } = this.call(`proxy_on_${d.kind}_trailers`, [this.id, map.size]);
    if (!stopped && (value ?? 0) === 0) {
      d.trailersVisible = false;
      this.flushAfterTrailers(d);
      return Action.Continue;
    }
    d.trailersPaused = true;
    return Action.Pause;
  }

  private flushAfterTrailers(d: Direction): void {
    if (!d.headersForwarded) this.forwardHeaders(d);
    if (d.body) {
      d.out.body.push(d.body.data);
      d.body = null;
      d.buffering = false;
    }
    d.out.trailers = d.trailers;
    d.trailersPaused = false;
    d.out.end = true;
  }

  private forwardHeaders(d: Direction): void {
    d.headersForwarded = true;
    d.out.headers = d.headers;
    d.stop = null;
  }

  /** continueDecoding / continueEncoding, run after the module's callback returns. */
  private resume(d: Direction): void {
    if (d.ended || this.completed) return;
    if (!d.headersForwarded) {
      this.forwardHeaders(d);
      d.headersVisible = false;
      if (d.headersEos) {
        d.out.end = true;
        return;
      }
      const held = d.heldBody;
      const trailers = d.heldTrailers;
      d.heldBody = [];
      d.heldTrailers = null;
      if (held.length) this.deliverBody(d, concatBytes(...held), d.heldEos && !trailers);
      if (trailers && !d.ended) this.deliverTrailers(d, trailers);
      return;
    }
    if (d.trailersPaused) {
      this.flushAfterTrailers(d);
      return;
    }
    if (d.body) {
      d.out.body.push(d.body.data);
      d.body = null;
      d.buffering = false;
      if (d.eos && !d.trailers) d.out.end = true;
    }
  }
}

function forwarded(d: Direction): Forwarded {
  return {
    headers: d.out.headers?.text() ?? null,
    body: concatBytes(...d.out.body),
    trailers: d.out.trailers?.text() ?? null,
    endOfStream: d.out.end,
  };
}

export class TcpStream extends StreamBase {
  private down: BufferBox | null = null;
  private up: BufferBox | null = null;
  private toUpstream: Uint8Array[] = [];
  private toDownstream: Uint8Array[] = [];
  private downstreamClosed = false;
  private upstreamClosed = false;
  /** What proxy_on_new_connection returned. */
  newConnectionAction: Action = Action.Continue;

  /** @internal */
  start(): void {
    if (this.host.failed) {
      this.downstreamClosed = true;
      this.completed = true;
      return;
    }
    this.call("proxy_on_context_create", [this.id, this.ctx.root!.id]);
    this.ctx.created = true;
    const { value } = this.call("proxy_on_new_connection", [this.id]);
    this.newConnectionAction = (value ?? 0) === 0 ? Action.Continue : Action.Pause;
  }

  /** Data from the client. Paused data stays buffered and the next call sees all of it. */
  sendDownstreamData(data: BytesLike, endOfStream = false): Action {
    if (this.completed || this.downstreamClosed) return Action.Pause;
    this.down = { data: this.down ? concatBytes(this.down.data, toBytes(data)) : toBytes(data), mutable: true };
    const { value } = this.call("proxy_on_downstream_data", [this.id, this.down.data.length, endOfStream ? 1 : 0]);
    if ((value ?? 0) === 0) {
      this.toUpstream.push(this.down.data);
      this.down = null;
      return Action.Continue;
    }
    return Action.Pause;
  }

  /** Data from the upstream; end of stream also reports the upstream side closed (as Envoy does). */
  sendUpstreamData(data: BytesLike, endOfStream = false): Action {
    if (this.completed) return Action.Pause;
    this.up = { data: this.up ? concatBytes(this.up.data, toBytes(data)) : toBytes(data), mutable: true };
    const { value } = this.call("proxy_on_upstream_data", [this.id, this.up.data.length, endOfStream ? 1 : 0]);
    let action = Action.Pause;
    if ((value ?? 0) === 0) {
      this.toDownstream.push(this.up.data);
      this.up = null;
      action = Action.Continue;
    }
    if (endOfStream) this.closeUpstream(PeerType.Unknown);
    return action;
  }

  /** The client side closes (Remote) or Envoy closes it (Local); the connection then completes. */
  closeDownstream(peer: PeerType = PeerType.Remote): void {
    if (this.downstreamClosed || this.completed) return;
    this.downstreamClosed = true;
    this.call("proxy_on_downstream_connection_close", [this.id, peer]);
    this.finish();
  }

  closeUpstream(peer: PeerType = PeerType.Remote): void {
    if (this.upstreamClosed || this.completed) return;
    this.upstreamClosed = true;
    this.call("proxy_on_upstream_connection_close", [this.id, peer]);
    if (this.downstreamClosed) this.finish();
  }

  private finish(): void {
    if (this.completed) return;
    this.completed = true;
    if (!this.host.failed) {
      this.call("proxy_on_done", [this.id]);
      this.call("proxy_on_log", [this.id]);
      this.call("proxy_on_delete", [this.id]);
    }
    this.host.contexts.delete(this.id);
  }

  /** Bytes forwarded to the upstream so far. */
  get upstreamData(): Uint8Array {
    return concatBytes(...this.toUpstream);
  }

  /** Bytes forwarded to the client so far. */
  get downstreamData(): Uint8Array {
    return concatBytes(...this.toDownstream);
  }

  /** Data the filter is holding (paused), per direction. */
  get pendingDownstreamData(): Uint8Array {
    return this.down?.data ?? new Uint8Array(0);
  }

  get pendingUpstreamData(): Uint8Array {
    return this.up?.data ?? new Uint8Array(0);
  }

  get closed(): boolean {
    return this.completed;
  }

  protected onTrap(): void {
    this.downstreamClosed = true;
  }

  /** @internal */
  dataBuffer(type: number): BufferBox {
    const b = type === 2 ? this.down : this.up;
    return b ?? { data: new Uint8Array(0), mutable: false };
  }

  /** @internal */
  continueFromModule(type: StreamType): WasmResult {
    this.continues.set(type, this.continued(type) + 1);
    if (type === StreamType.Downstream) {
      this.host.defer(() => {
        if (this.down && !this.completed) {
          this.toUpstream.push(this.down.data);
          this.down = null;
        }
      });
    }
    return WasmResult.Ok;
  }

  /** @internal Both close the client connection in Envoy (FlushWrite), seen as a local close. */
  closeFromModule(type: StreamType): void {
    if (type === StreamType.Downstream || type === StreamType.Upstream) {
      this.host.defer(() => this.closeDownstream(PeerType.Local));
    }
  }

  /** @internal */
  facts(): StreamFacts {
    return {
      http: false,
      connectionId: this.connectionId,
      startTimeNs: this.startTimeNs,
      nowNs: this.host.nowNs,
      logPhase: false,
      requestHeaders: null,
      responseHeaders: null,
      responseTrailers: null,
      requestBytes: 0,
      responseBytes: 0,
      filterState: this.filterState,
      envoyFilterState: this.envoyFilterState,
    };
  }
}
