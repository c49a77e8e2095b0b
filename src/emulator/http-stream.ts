// HTTP streams driven through a Host: the test side sends headers, body and trailers each way and inspects what
// the filter left and what reached the upstream and the client; the host functions find here the maps and
// buffers the module may see. The filter-manager model is HttpFilterChain's; reply headers come from local-reply.ts.

import { Action, GrpcStatus, StreamType, WasmResult } from "./abi";
import { BytesLike, toBytes, toText } from "./bytes";
import { HeaderInput, HeaderMap } from "./headers";
import type { Host } from "./host";
import type { BufferBox, Context } from "./host-types";
import { forwarded, HttpFilterChain, type Direction, type Forwarded } from "./http-filter-chain";
import { localReplyHeaders, type LocalResponse } from "./local-reply";
import type { Pair } from "./pairs";
import type { PropertyOverrides, StreamFacts } from "./properties";

export type { Forwarded } from "./http-filter-chain";
export type { LocalResponse } from "./local-reply";

export interface HttpStreamOptions {
  /** Attribute overrides for this stream only (on top of the host's). */
  properties?: PropertyOverrides;
}

export class HttpStream extends HttpFilterChain {
  private logPhase = false;
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
    const map = localReplyHeaders(this.isGrpcRequest(), status, body, extra, grpcStatus);
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
    this.directResponse = { headers: localReplyHeaders(this.isGrpcRequest(), 503, new Uint8Array(0), [], GrpcStatus.Unavailable), body: new Uint8Array(0) };
    this.req.ended = true;
    this.resp.ended = true;
  }

  protected vmUnavailable(): Action | null {
    if (!this.host.failed && this.ctx.created) return null;
    if (this.host.failOpen) return Action.Continue;
    this.failClosed();
    return Action.Pause;
  }
}
