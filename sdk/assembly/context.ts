// The contexts a filter extends. Every callback has a no-op default, so a filter overrides only what it needs.
// The host creates one root context per plugin (root_id) and one stream context per HTTP request or TCP
// connection; the SDK keeps them in internal/dispatch.ts and routes the ABI's exports to these methods.

import { Action, PeerType } from "./abi/enums";
import { proxy_continue_stream, proxy_close_stream, proxy_done, proxy_set_tick_period_milliseconds, proxy_set_effective_context } from "./abi/imports";
import { StreamType, WasmResult } from "./abi/enums";
import { currentContextId } from "./internal/current";

/** What every context has: its host-assigned id. */
export abstract class Context {
  constructor(public readonly contextId: u32) {}

  /**
   * Makes this context the one later host calls act on. The SDK does this before every callback and before
   * calling a callout handler, so filters rarely need it.
   */
  makeEffective(): void {
    proxy_set_effective_context(this.contextId);
  }
}

/**
 * The plugin (root) context: one per root_id per VM, alive as long as the plugin is configured.
 * Owns configuration, timers, queues and callouts that are not tied to one request.
 */
export class RootContext extends Context {
  /** The root_id this context was created for ("" when the plugin config sets none). */
  rootId: string = "";

  /** Called once when the VM starts. Read the VM configuration here (see config.ts). Return false to fail the VM. */
  onVmStart(vmConfigurationSize: usize): bool { return true; }

  /**
   * Called with each plugin configuration (at start and on every xDS update). Parse and validate it here,
   * once; return false to reject it: at start-up Envoy then refuses to start, on update it NACKs.
   */
  onConfigure(pluginConfigurationSize: usize): bool { return true; }

  /** Called every tick period set with `setTickPeriod`. */
  onTick(): void {}

  /** Called when a shared queue registered by this context has data. */
  onQueueReady(queueId: u32): void {}

  /** Called when the host calls a foreign function into the plugin. */
  onForeignFunction(functionId: u32, argumentsSize: usize): void {}

  /** Called when the plugin is being shut down. Return false to finish asynchronously, then call `done()`. */
  onDone(): bool { return true; }

  /** Called when the host deletes this context. */
  onDelete(): void {}

  /** Creates the context of a new HTTP stream, or null if this plugin does not filter HTTP. */
  newHttpContext(contextId: u32): HttpContext | null { return null; }

  /** Creates the context of a new TCP connection, or null if this plugin does not filter TCP. */
  newTcpContext(contextId: u32): TcpContext | null { return null; }

  /**
   * Sets how often `onTick` runs (0 stops it). Valid from onVmStart/onConfigure on, also from a stream
   * callback: the stream stays the effective context afterwards.
   */
  setTickPeriod(milliseconds: u32): WasmResult {
    const caller = currentContextId;
    if (caller != this.contextId) proxy_set_effective_context(this.contextId);
    const r = <WasmResult>proxy_set_tick_period_milliseconds(milliseconds);
    if (caller != this.contextId) proxy_set_effective_context(caller);
    return r;
  }

  /** Tells the host an asynchronous shutdown (onDone returned false) has finished. */
  done(): WasmResult {
    const caller = currentContextId;
    if (caller != this.contextId) proxy_set_effective_context(this.contextId);
    const r = <WasmResult>proxy_done();
    if (caller != this.contextId) proxy_set_effective_context(caller);
    return r;
  }
}

/**
 * One HTTP stream (request and response). Header, body and trailer accessors act on this stream while
 * one of its callbacks runs, or after `makeEffective()` (the SDK does that before a callout handler runs).
 */
export class HttpContext extends Context {
  constructor(contextId: u32, public readonly root: RootContext) { super(contextId); }

  /** Request headers arrived. `endOfStream` is true when the request has no body. */
  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action { return Action.Continue; }
  /**
   * A chunk of request body arrived; `bodySize` is the size of the body buffered so far. Returning Pause
   * before end of stream makes Envoy buffer (up to its buffer limit; beyond it Envoy answers 413).
   */
  onRequestBody(bodySize: usize, endOfStream: bool): Action { return Action.Continue; }
  onRequestTrailers(numTrailers: u32): Action { return Action.Continue; }
  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action { return Action.Continue; }
  onResponseBody(bodySize: usize, endOfStream: bool): Action { return Action.Continue; }
  onResponseTrailers(numTrailers: u32): Action { return Action.Continue; }
  /** The stream is complete; access logging happens here (all headers and properties are still readable). */
  onLog(): void {}
  /** The stream is finishing. Return false to keep the context alive until `done()`-style work completes. */
  onDone(): bool { return true; }
  /** The context is deleted; release what it holds. */
  onDelete(): void {}

  /** Resumes a request paused by returning Action.Pause (for example from a callout handler or a timer). */
  resumeRequest(): WasmResult {
    this.makeEffective();
    return <WasmResult>proxy_continue_stream(StreamType.HttpRequest);
  }
  /** Resumes a paused response. */
  resumeResponse(): WasmResult {
    this.makeEffective();
    return <WasmResult>proxy_continue_stream(StreamType.HttpResponse);
  }
  /** Resets the stream (the client sees a reset, not a reply). To answer, use sendLocalResponse. */
  closeRequest(): WasmResult {
    this.makeEffective();
    return <WasmResult>proxy_close_stream(StreamType.HttpRequest);
  }
  closeResponse(): WasmResult {
    this.makeEffective();
    return <WasmResult>proxy_close_stream(StreamType.HttpResponse);
  }
}

/** One TCP connection through a network filter. */
export class TcpContext extends Context {
  constructor(contextId: u32, public readonly root: RootContext) { super(contextId); }

  onNewConnection(): Action { return Action.Continue; }
  /** Data from the client; read and rewrite it with `downstreamData`. */
  onDownstreamData(dataSize: usize, endOfStream: bool): Action { return Action.Continue; }
  /** Data from the upstream; read and rewrite it with `upstreamData`. */
  onUpstreamData(dataSize: usize, endOfStream: bool): Action { return Action.Continue; }
  onDownstreamConnectionClose(peer: PeerType): void {}
  onUpstreamConnectionClose(peer: PeerType): void {}
  onLog(): void {}
  onDone(): bool { return true; }
  onDelete(): void {}

  resumeDownstream(): WasmResult {
    this.makeEffective();
    return <WasmResult>proxy_continue_stream(StreamType.Downstream);
  }
  resumeUpstream(): WasmResult {
    this.makeEffective();
    return <WasmResult>proxy_continue_stream(StreamType.Upstream);
  }
  closeDownstream(): WasmResult {
    this.makeEffective();
    return <WasmResult>proxy_close_stream(StreamType.Downstream);
  }
  closeUpstream(): WasmResult {
    this.makeEffective();
    return <WasmResult>proxy_close_stream(StreamType.Upstream);
  }
}
