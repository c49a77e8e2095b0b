// The one place that maps host context ids to the filter's context objects and callout tokens to their
// handlers. abi/exports.ts forwards every ABI export here.

import { Action, PeerType, WasmResult, LogLevel, GrpcStatus } from "../abi/enums";
import { proxy_set_effective_context, proxy_log } from "../abi/imports";
import { RootContext, HttpContext, TcpContext } from "../context";
import { HttpCallHandler, GrpcHandler } from "../handlers";
import { getPropertyBytes } from "./hostcalls";
import { decodeUtf8 } from "../utf8";
import { currentContextId, setCurrentContext } from "./current";
import { allocationBudgetSpent, streamEndBudgetSpent, collectGarbage } from "./memory";
import { IdTable } from "./ids";

export type RootFactory = (contextId: u32) => RootContext;

const factories = new Map<string, RootFactory>();
const roots = new Map<u32, RootContext>();
const httpStreams = new IdTable<HttpContext>();
const tcpStreams = new IdTable<TcpContext>();
const httpCalls = new Map<u32, CalloutEntry<HttpCallHandler>>();
const grpcCalls = new Map<u32, CalloutEntry<GrpcHandler>>();


class CalloutEntry<T> {
  constructor(public handler: T, public contextId: u32, public unary: bool = false) {}
}

// ---- Registration ----

export function registerRootFactory(factory: RootFactory, rootId: string): void {
  factories.set(rootId, factory);
}

export function rootContext(contextId: u32): RootContext | null {
  if (contextId == lastRootId && lastRoot !== null) return lastRoot;
  if (!roots.has(contextId)) return null;
  const root = roots.get(contextId);
  lastRootId = contextId;
  lastRoot = root;
  return root;
}

export function httpContext(contextId: u32): HttpContext | null {
  if (contextId == lastHttpId && lastHttp !== null) return lastHttp;
  const ctx = httpStreams.get(contextId);
  if (ctx !== null) {
    lastHttpId = contextId;
    lastHttp = ctx;
  }
  return ctx;
}

// ---- Lookup caches ----
// Every callback of a stream names its context by id. The host runs one stream's callbacks in a row far
// more often than not, so the last root and the last HTTP stream looked up are kept beside the maps: a
// repeated id costs one comparison instead of two hash lookups. Each is cleared when its context is deleted.

let lastRootId: u32 = 0;
let lastRoot: RootContext | null = null;
let lastHttpId: u32 = 0;
let lastHttp: HttpContext | null = null;
// The stream context created last whose kind is not known yet (see `unborn`), kept out of the map.
let pendingId: u32 = 0;
let pendingRoot: RootContext | null = null;

function forget(contextId: u32): void {
  if (contextId == lastHttpId) {
    lastHttpId = 0;
    lastHttp = null;
  }
  if (contextId == lastRootId) {
    lastRootId = 0;
    lastRoot = null;
  }
  if (contextId == pendingId) {
    pendingId = 0;
    pendingRoot = null;
  }
}

/** Takes the root of a stream context whose kind is not known yet, or null. */
function takeUnborn(contextId: u32): RootContext | null {
  if (contextId == pendingId && pendingRoot !== null) {
    const root = pendingRoot;
    pendingId = 0;
    pendingRoot = null;
    return root;
  }
  if (!unborn.has(contextId)) return null;
  const root = unborn.get(contextId);
  unborn.delete(contextId);
  return root;
}

export function registerHttpCall(token: u32, handler: HttpCallHandler): void {
  httpCalls.set(token, new CalloutEntry<HttpCallHandler>(handler, currentContextId));
}

export function registerGrpcCall(token: u32, handler: GrpcHandler, unary: bool): void {
  grpcCalls.set(token, new CalloutEntry<GrpcHandler>(handler, currentContextId, unary));
}

/** True while a handler's onClose runs for a unary call that succeeded: the host has no status to report. */
export let closingUnaryWithOk: bool = false;

export function forgetGrpcCall(token: u32): void {
  if (grpcCalls.has(token)) grpcCalls.delete(token);
}

export function pendingCallouts(): i32 {
  return httpCalls.size + grpcCalls.size;
}

// ---- Memory management (see docs/memory.md) ----
// The minimal runtime never collects on its own. Between callbacks no managed reference lives on the Wasm
// stack, so the dispatcher collects when it leaves the outermost callback, if either rule says so:
// - bytes: the allocation budget is spent (memory.ts), so a long-lived stream, connection, gRPC stream or
//   ticking root cannot pile up garbage, whichever callback allocates;
// - stream end: a stream finished and STREAM_END_BUDGET bytes (memory.ts) were allocated since the last collection, so
//   short requests are reclaimed well before their garbage outgrows the VM's first pages. A collection
//   marks the whole live set, so it waits for that much garbage rather than for a number of streams;
// - configure: after every configure, which allocates the most;
// - streams, only when a filter asks for it (setGarbageCollectionInterval): every `collectEvery` finished
//   streams.

let collectEvery: i32 = 0;
let finishedSinceCollect: i32 = 0;
let collectDue: bool = false;
/** Callbacks in progress: 1 inside a callback, more only if a host ever re-entered the module. */
let depth: i32 = 0;

export function setCollectInterval(streams: i32): void {
  collectEvery = streams < 1 ? 0 : streams;
  finishedSinceCollect = 0;
}

// @ts-ignore: decorator
@inline function streamFinished(): void {
  if (streamEndBudgetSpent()) collectDue = true;
  else if (collectEvery != 0 && ++finishedSinceCollect >= collectEvery) collectDue = true;
}

// @ts-ignore: decorator
@inline function enter(contextId: u32): void {
  depth++;
  setCurrentContext(contextId);
}

// Every callback ends here, with nothing but scalars left to return: the one safe point to collect.
// @ts-ignore: decorator
@inline function leave(): void {
  if (--depth == 0 && (collectDue || allocationBudgetSpent())) collect();
}

function collect(): void {
  collectDue = false;
  finishedSinceCollect = 0;
  collectGarbage();
}

// ---- Lifecycle ----

export function onContextCreate(contextId: u32, parentId: u32): void {
  enter(contextId);
  if (parentId == 0) {
    createRoot(contextId);
  } else {
    // Envoy creates HTTP and TCP stream contexts with the same call; the first callback tells which one
    // this is (onRequestHeaders or onNewConnection), so the filter's context is created then.
    const root = rootContext(parentId);
    if (root !== null) {
      if (pendingRoot === null) {
        pendingId = contextId;
        pendingRoot = root;
      } else {
        unborn.set(contextId, root);
      }
    }
  }
  leave();
}

/** Stream contexts created by the host whose kind is not known yet, with their root. */
const unborn = new Map<u32, RootContext>();

function http(contextId: u32): HttpContext | null {
  if (contextId == lastHttpId && lastHttp !== null) return lastHttp;
  // A new stream's first callback: its id is the pending one, and the map need not be searched.
  const root = contextId == pendingId ? takeUnborn(contextId) : null;
  if (root === null) {
    const known = httpContext(contextId);
    if (known !== null) return known;
  }
  const owner = root !== null ? root : takeUnborn(contextId);
  if (owner === null) return null;
  const ctx = owner.newHttpContext(contextId);
  if (ctx !== null) {
    httpStreams.set(contextId, ctx);
    lastHttpId = contextId;
    lastHttp = ctx;
  }
  return ctx;
}

function tcp(contextId: u32): TcpContext | null {
  const known = tcpStreams.get(contextId);
  if (known !== null) return known;
  const root = takeUnborn(contextId);
  if (root === null) return null;
  const ctx = root.newTcpContext(contextId);
  if (ctx !== null) tcpStreams.set(contextId, ctx);
  return ctx;
}

function createRoot(contextId: u32): void {
  const idBytes = getPropertyBytes(String.UTF8.encode("plugin_root_id"));
  const rootId = idBytes !== null ? decodeUtf8(idBytes) : "";
  let factory: RootFactory | null = null;
  if (factories.has(rootId)) factory = factories.get(rootId);
  else if (factories.has("")) factory = factories.get("");
  let root: RootContext;
  if (factory !== null) {
    root = factory(contextId);
  } else {
    logRaw(LogLevel.Error, "no root context registered for root_id '" + rootId + "'; this plugin will pass traffic through");
    root = new RootContext(contextId);
  }
  root.rootId = rootId;
  roots.set(contextId, root);
}

export function onVmStart(contextId: u32, size: usize): bool {
  enter(contextId);
  const ok = roots.has(contextId) ? roots.get(contextId).onVmStart(size) : true;
  leave();
  return ok;
}

export function onConfigure(contextId: u32, size: usize): bool {
  enter(contextId);
  const ok = roots.has(contextId) ? roots.get(contextId).onConfigure(size) : true;
  // Configuration parsing allocates the most, and what it drops is best reclaimed at once.
  collectDue = true;
  leave();
  return ok;
}

export function onTick(contextId: u32): void {
  enter(contextId);
  if (roots.has(contextId)) roots.get(contextId).onTick();
  leave();
}

export function onQueueReady(contextId: u32, queueId: u32): void {
  enter(contextId);
  if (roots.has(contextId)) roots.get(contextId).onQueueReady(queueId);
  leave();
}

export function onForeignFunction(contextId: u32, functionId: u32, size: usize): void {
  enter(contextId);
  if (roots.has(contextId)) roots.get(contextId).onForeignFunction(functionId, size);
  leave();
}

export function onDone(contextId: u32): bool {
  enter(contextId);
  let done = true;
  const h = httpContext(contextId);
  if (h !== null) done = h.onDone();
  else if (tcpStreams.has(contextId)) done = tcpStreams.get(contextId)!.onDone();
  else if (roots.has(contextId)) done = roots.get(contextId).onDone();
  leave();
  return done;
}

export function onLog(contextId: u32): void {
  enter(contextId);
  const h = httpContext(contextId);
  if (h !== null) h.onLog();
  else if (tcpStreams.has(contextId)) tcpStreams.get(contextId)!.onLog();
  leave();
}

export function onDelete(contextId: u32): void {
  enter(contextId);
  const h = httpContext(contextId);
  forget(contextId);
  if (unborn.size > 0 && unborn.has(contextId)) unborn.delete(contextId);
  if (h !== null) {
    h.onDelete();
    httpStreams.delete(contextId);
    streamFinished();
  } else if (tcpStreams.has(contextId)) {
    tcpStreams.get(contextId)!.onDelete();
    tcpStreams.delete(contextId);
    streamFinished();
  } else if (roots.has(contextId)) {
    roots.get(contextId).onDelete();
    roots.delete(contextId);
  }
  leave();
}

// ---- HTTP ----

export function onRequestHeaders(contextId: u32, n: u32, eos: bool): Action {
  enter(contextId);
  const ctx = http(contextId);
  const a = ctx !== null ? ctx.onRequestHeaders(n, eos) : Action.Continue;
  leave();
  return a;
}
export function onRequestBody(contextId: u32, size: usize, eos: bool): Action {
  enter(contextId);
  const ctx = http(contextId);
  const a = ctx !== null ? ctx.onRequestBody(size, eos) : Action.Continue;
  leave();
  return a;
}
export function onRequestTrailers(contextId: u32, n: u32): Action {
  enter(contextId);
  const ctx = http(contextId);
  const a = ctx !== null ? ctx.onRequestTrailers(n) : Action.Continue;
  leave();
  return a;
}
export function onResponseHeaders(contextId: u32, n: u32, eos: bool): Action {
  enter(contextId);
  const ctx = http(contextId);
  const a = ctx !== null ? ctx.onResponseHeaders(n, eos) : Action.Continue;
  leave();
  return a;
}
export function onResponseBody(contextId: u32, size: usize, eos: bool): Action {
  enter(contextId);
  const ctx = http(contextId);
  const a = ctx !== null ? ctx.onResponseBody(size, eos) : Action.Continue;
  leave();
  return a;
}
export function onResponseTrailers(contextId: u32, n: u32): Action {
  enter(contextId);
  const ctx = http(contextId);
  const a = ctx !== null ? ctx.onResponseTrailers(n) : Action.Continue;
  leave();
  return a;
}

// ---- TCP ----

export function onNewConnection(contextId: u32): Action {
  enter(contextId);
  const ctx = tcp(contextId);
  const a = ctx !== null ? ctx.onNewConnection() : Action.Continue;
  leave();
  return a;
}
export function onDownstreamData(contextId: u32, size: usize, eos: bool): Action {
  enter(contextId);
  const ctx = tcp(contextId);
  const a = ctx !== null ? ctx.onDownstreamData(size, eos) : Action.Continue;
  leave();
  return a;
}
export function onUpstreamData(contextId: u32, size: usize, eos: bool): Action {
  enter(contextId);
  const ctx = tcp(contextId);
  const a = ctx !== null ? ctx.onUpstreamData(size, eos) : Action.Continue;
  leave();
  return a;
}
export function onDownstreamClose(contextId: u32, peer: PeerType): void {
  enter(contextId);
  const ctx = tcp(contextId);
  if (ctx !== null) ctx.onDownstreamConnectionClose(peer);
  leave();
}
export function onUpstreamClose(contextId: u32, peer: PeerType): void {
  enter(contextId);
  const ctx = tcp(contextId);
  if (ctx !== null) ctx.onUpstreamConnectionClose(peer);
  leave();
}

// ---- Callouts ----
// Responses arrive on the root context. Before the handler runs, the context that made the call becomes
// the effective one again, so the handler can read and change that stream and resume it.

function restoreCaller(callerId: u32): void {
  // A stream may have ended while its callout was in flight; then the handler runs on the root context.
  if (httpStreams.has(callerId) || tcpStreams.has(callerId)) {
    setCurrentContext(callerId);
    proxy_set_effective_context(callerId);
  }
}

export function onHttpCallResponse(rootId: u32, token: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {
  enter(rootId);
  if (httpCalls.has(token)) {
    const entry = httpCalls.get(token);
    httpCalls.delete(token);
    restoreCaller(entry.contextId);
    entry.handler.onResponse(numHeaders, bodySize, numTrailers);
  }
  leave();
}

export function onGrpcInitialMetadata(rootId: u32, token: u32, n: u32): void {
  enter(rootId);
  if (grpcCalls.has(token)) {
    const entry = grpcCalls.get(token);
    restoreCaller(entry.contextId);
    entry.handler.onInitialMetadata(n);
  }
  leave();
}

export function onGrpcMessage(rootId: u32, token: u32, size: usize): void {
  enter(rootId);
  if (grpcCalls.has(token)) grpcMessage(token, size);
  leave();
}

function grpcMessage(token: u32, size: usize): void {
  const entry = grpcCalls.get(token);
  if (entry.unary) grpcCalls.delete(token);
  restoreCaller(entry.contextId);
  entry.handler.onMessage(size);
  if (entry.unary) {
    // Envoy ends a successful unary call with its one message: proxy_on_grpc_close comes only on failure.
    // Close it here so every call ends in onClose, as streams do.
    closingUnaryWithOk = true;
    entry.handler.onClose(GrpcStatus.Ok);
    closingUnaryWithOk = false;
  }
}

export function onGrpcTrailingMetadata(rootId: u32, token: u32, n: u32): void {
  enter(rootId);
  if (grpcCalls.has(token)) {
    const entry = grpcCalls.get(token);
    restoreCaller(entry.contextId);
    entry.handler.onTrailingMetadata(n);
  }
  leave();
}

export function onGrpcClose(rootId: u32, token: u32, status: u32): void {
  enter(rootId);
  if (grpcCalls.has(token)) {
    const entry = grpcCalls.get(token);
    grpcCalls.delete(token);
    restoreCaller(entry.contextId);
    entry.handler.onClose(status);
  }
  leave();
}

export function logRaw(level: LogLevel, message: string): void {
  const bytes = String.UTF8.encode(message);
  proxy_log(level, changetype<usize>(bytes), <usize>bytes.byteLength);
}
