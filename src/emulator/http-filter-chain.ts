// The filter-manager model behind an HttpStream: what Envoy's HTTP connection manager does around a single
// Wasm filter, per direction (request: decoder side, response: encoder side):
// - Headers: Continue forwards them; Pause stops all iteration (Envoy turns StopIteration into
//   StopAllIterationAndWatermark unless allow_on_headers_stop_iteration), so body and trailers that
//   arrive meanwhile are held and delivered to the filter, accumulated, once it continues.
// - Body: Pause before end of stream is StopIterationAndBuffer: the next body callback sees the whole
//   body buffered so far; Continue forwards the (possibly modified) buffered body. StopIterationAndWatermark
//   (2) holds the data too, but the next callback is told of and sees only the newly arrived bytes (measured
//   in Envoy 1.40: chunks "first-" then "second-chunk" report 6 then 12 bytes, not 6 then 18); Continue
//   forwards everything held, in order.
// - Maps are visible to the module only while Envoy holds them: during their callback and while paused
//   there (until proxy_continue_stream), and read-only in proxy_on_log.
// - A local reply sent during the request path goes through this filter's response callbacks, as Envoy
//   sends it through the encoder filter chain; the request is not forwarded any further.

import { Action } from "./abi";
import { concatBytes } from "./bytes";
import { HeaderInput, HeaderMap } from "./headers";
import type { BufferBox } from "./host-types";
import { StreamBase } from "./stream-base";

/** What one side of the proxy received: the upstream for requests, the client for responses. */
export interface Forwarded {
  headers: Array<[string, string]> | null;
  body: Uint8Array;
  trailers: Array<[string, string]> | null;
  endOfStream: boolean;
}

export type Kind = "request" | "response";
type HeaderStop = "stop" | "stopAll" | null;

export interface Direction {
  kind: Kind;
  headers: HeaderMap | null;
  headersVisible: boolean;
  headersForwarded: boolean;
  headersEos: boolean;
  stop: HeaderStop;
  body: BufferBox | null;
  buffering: boolean;
  /** Chunks held after StopIterationAndWatermark: forwarded on continue, no longer visible to the module. */
  watermarked: Uint8Array[];
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

export function newDirection(kind: Kind): Direction {
  return {
    kind,
    headers: null,
    headersVisible: false,
    headersForwarded: false,
    headersEos: false,
    stop: null,
    body: null,
    buffering: false,
    watermarked: [],
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

export function forwarded(d: Direction): Forwarded {
  return {
    headers: d.out.headers?.text() ?? null,
    body: concatBytes(...d.out.body),
    trailers: d.out.trailers?.text() ?? null,
    endOfStream: d.out.end,
  };
}

export abstract class HttpFilterChain extends StreamBase {
  protected readonly req = newDirection("request");
  protected readonly resp = newDirection("response");
  protected responseCode?: number;
  protected responseCodeDetails?: string;

  /** What CHECK_FAIL does before and after each callback once the VM has failed: null when it has not. */
  protected abstract vmUnavailable(): Action | null;

  /** What the filter still holds besides what it forwarded. */
  protected bodyOf(d: Direction): Uint8Array {
    const held = d.body ? [d.body.data] : [];
    return concatBytes(...d.out.body, ...d.watermarked, ...held, ...d.heldBody);
  }

  protected sendHeaders(d: Direction, input: HeaderInput, eos: boolean): Action {
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

  protected deliverHeaders(d: Direction): Action {
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

  protected sendBody(d: Direction, data: Uint8Array, eos: boolean): Action {
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

  protected deliverBody(d: Direction, data: Uint8Array, eos: boolean): Action {
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
      this.forwardBody(d);
      if (eos) {
        if (d.trailers && !d.out.trailers) {
          d.trailersVisible = false;
          d.out.trailers = d.trailers;
        }
        d.out.end = true;
      }
      return Action.Continue;
    }
    // StopIterationAndBuffer (1) keeps buffering: the next callback sees it all. Watermark (2) holds the data
    // out of the module's sight. NoBuffer (3, or a local reply) does neither.
    d.buffering = !res.stopped && r === 1;
    if (!res.stopped && r === 2) {
      d.watermarked.push(box.data);
      d.body = null;
    }
    return Action.Pause;
  }

  protected sendTrailers(d: Direction, input: HeaderInput): Action {
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
    this.forwardBody(d);
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
  protected resume(d: Direction): void {
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
    if (d.body || d.watermarked.length) {
      this.forwardBody(d);
      if (d.eos && !d.trailers) d.out.end = true;
    }
  }

  /** Forwards what the filter held: chunks held with Watermark, then the buffer the module sees. */
  private forwardBody(d: Direction): void {
    d.out.body.push(...d.watermarked);
    if (d.body) d.out.body.push(d.body.data);
    d.watermarked = [];
    d.body = null;
    d.buffering = false;
  }
}
