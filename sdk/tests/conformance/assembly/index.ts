// The conformance filter: one module that exercises every area of the SDK, scenario by scenario.
// A request picks its scenario with the `x-scenario` header; results come back in response headers
// (`x-result-*`) or as local replies, so the same scenarios can run in the emulator and in Envoy and
// their observable results be compared.
//
// Plugin configuration (JSON): {"callout_cluster": "echo", "grpc_cluster": "grpc", "tick_ms": 10,
//   "reroute_header": "x-route", "fail": false, "gc_every": 16, "gc_bytes": 0}
// gc_every and gc_bytes replace the SDK's collection rules (streams between collections, allocation budget;
// gc_bytes 0 keeps the default) so the soak's control can turn collection off.

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, TcpContext, Action, Header, WasmResult, LogLevel, GrpcStatus,
  registerRootContext, requestHeaders, responseHeaders, responseTrailers, requestBody, responseBody,
  downstreamData, upstreamData, httpCallResponseHeaders, httpCallResponseBody, grpcReceiveBuffer,
  sendLocalResponse, sendHttpResponse, sendGrpcError, HttpCallHandler, GrpcHandler, GrpcStream, httpCall, grpcCall, grpcStream,
  grpcStatusMessage, getSharedData, setSharedData, atomicUpdate, SharedDataUpdater, registerSharedQueue,
  resolveSharedQueue, enqueueSharedQueue, dequeueSharedQueue, Counter, Gauge, Histogram, attributes, getProperty,
  getPropertyString, setProperty, clearRouteCache, callForeignFunction, log, nowNanos, randomU32, ConfigErrors,
  readPluginConfig, readVmConfig, encodeUtf8, decodeUtf8, isValidUtf8, PeerType, lastSharedDataResult, lastQueueResult,
  vmConfiguration, setGarbageCollectionInterval, PAUSE_AND_WATERMARK,
} from "proxy-wasm-as";
import { setAllocationBudget } from "proxy-wasm-as/assembly/internal/memory";
import { compileConformanceExpressions, declareConformanceProperties, hostExtensionLog, hostExtensionScenario } from "./hostext";
import { headerMapScenario } from "./maps";

const QUEUE_NAME = "conformance-queue";
const COUNTER_KEY = "conformance.counter";
/** The tick period the "tick-rearm" scenario switches to while ticks run every tickMs. */
const REARM_PERIOD_MS: u32 = 1000;

class ConformanceRoot extends RootContext {
  calloutCluster: string = "echo";
  grpcCluster: string = "grpc";
  tickMs: u32 = 10;
  rerouteHeader: string = "x-route";
  vmConfigText: string = "";
  queueId: u32 = 0;
  requests: Counter | null = null;
  inFlight: Gauge | null = null;
  bodySizes: Histogram | null = null;
  /** Streams paused until a tick: context id and the time they may resume. */
  waiting: HttpContext[] = [];
  wakeAt: u64[] = [];
  ticks: u32 = 0;
  /** The "tick-rearm" stream, paused until the first tick after the period changed, and when it changed. */
  rearming: HttpContext | null = null;
  rearmedAt: u64 = 0;

  onVmStart(size: usize): bool {
    this.vmConfigText = vmConfiguration.readString();
    return true;
  }

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    if (cfg !== null) {
      cfg.allowOnly(["callout_cluster", "grpc_cluster", "tick_ms", "reroute_header", "fail", "gc_every", "gc_bytes"]);
      setGarbageCollectionInterval(<i32>cfg.int("gc_every", 16, 1, i32.MAX_VALUE));
      const gcBytes = cfg.int("gc_bytes", 0, 0, u32.MAX_VALUE);
      if (gcBytes > 0) setAllocationBudget(<usize>gcBytes);
      this.calloutCluster = cfg.string("callout_cluster", "echo");
      this.grpcCluster = cfg.string("grpc_cluster", "grpc");
      this.tickMs = <u32>cfg.int("tick_ms", 10, 1, 60000);
      this.rerouteHeader = cfg.string("reroute_header", "x-route");
      if (cfg.bool("fail", false)) errors.add("fail", "set to true, so this configuration is rejected on purpose");
    }
    if (!errors.ok) {
      log.error("conformance: invalid configuration: " + errors.first);
      return false;
    }
    this.requests = new Counter("conformance.requests");
    this.inFlight = new Gauge("conformance.in_flight");
    this.bodySizes = new Histogram("conformance.body_bytes");
    this.queueId = registerSharedQueue(QUEUE_NAME);
    this.setTickPeriod(this.tickMs);
    declareConformanceProperties();
    compileConformanceExpressions();
    log.info("conformance: configured, vm config '" + this.vmConfigText + "'");
    return true;
  }

  onTick(): void {
    this.ticks++;
    const now = nowNanos();
    // Resume every stream whose time has come; keep the others.
    let kept = 0;
    for (let i = 0; i < this.waiting.length; i++) {
      const s = this.waiting[i];
      if (this.wakeAt[i] <= now) {
        requestHeaders.size(); // any call: the stream must be effective after makeEffective below
        s.makeEffective();
        requestHeaders.replace("x-resumed-by", "tick");
        s.resumeRequest();
      } else {
        this.waiting[kept] = s;
        this.wakeAt[kept] = this.wakeAt[i];
        kept++;
      }
    }
    this.waiting.length = kept;
    this.wakeAt.length = kept;
    const r = this.rearming;
    if (r !== null) {
      // A timer re-armed by the change fires a whole new period after it; the old schedule fires within tickMs.
      const elapsedMs = (now - this.rearmedAt) / 1_000_000;
      this.rearming = null;
      this.setTickPeriod(this.tickMs);
      r.makeEffective();
      requestHeaders.replace("x-tick-rearmed", elapsedMs >= <u64>REARM_PERIOD_MS / 2 ? "from the change" : "on the old schedule");
      r.resumeRequest();
    }
  }

  onQueueReady(queueId: u32): void {
    // Move every queued message into shared data so a later request can observe it.
    let moved = 0;
    let msg = dequeueSharedQueue(queueId);
    while (msg !== null) {
      setSharedData("conformance.queue.last", msg);
      moved++;
      msg = dequeueSharedQueue(queueId);
    }
    // Logged so a test can wait for the delivery, which Envoy posts to the registering thread.
    log.info("conformance: queue ready, moved " + moved.toString() + " message(s)");
  }

  newHttpContext(contextId: u32): HttpContext | null { return new ConformanceStream(contextId, this); }
  newTcpContext(contextId: u32): TcpContext | null { return new ConformanceTcp(contextId, this); }
}

class Increment extends SharedDataUpdater {
  result: u64 = 0;
  update(current: ArrayBuffer | null): ArrayBuffer | null {
    const v: u64 = current !== null && current.byteLength == 8 ? load<u64>(changetype<usize>(current)) : 0;
    this.result = v + 1;
    const out = new ArrayBuffer(8);
    store<u64>(changetype<usize>(out), this.result);
    return out;
  }
}

/** Copies the callout's response into request headers and resumes the request. */
class CalloutResume extends HttpCallHandler {
  constructor(public stream: ConformanceStream) { super(); }
  onResponse(numHeaders: u32, bodySize: usize, numTrailers: u32): void {
    if (numHeaders == 0) {
      sendHttpResponse(503, "callout_failed", "callout failed\n");
      return;
    }
    const status = httpCallResponseHeaders.get(":status");
    requestHeaders.replace("x-callout-status", status !== null ? status : "none");
    requestHeaders.replace("x-callout-body-bytes", bodySize.toString());
    // The whole (small) body, so a test can compare what the callout upstream was sent.
    const body = httpCallResponseBody.read(0, 1024);
    requestHeaders.replace("x-callout-body", decodeUtf8(body));
    this.stream.resumeRequest();
  }
}

/** Unary gRPC: the reply message bytes (text) and status go into request headers. */
class GrpcResume extends GrpcHandler {
  message: string = "";
  constructor(public stream: ConformanceStream) { super(); }
  onMessage(size: usize): void { this.message = grpcReceiveBuffer.readString(); }
  onClose(status: u32): void {
    requestHeaders.replace("x-grpc-status", status.toString());
    requestHeaders.replace("x-grpc-message", this.message.length > 0 ? this.message : grpcStatusMessage());
    this.stream.resumeRequest();
  }
}

/** Streaming gRPC: sends two messages, counts replies, resumes on close. */
class GrpcStreamResume extends GrpcHandler {
  replies: string[] = [];
  constructor(public stream: ConformanceStream) { super(); }
  onMessage(size: usize): void { this.replies.push(grpcReceiveBuffer.readString()); }
  onClose(status: u32): void {
    requestHeaders.replace("x-grpc-status", status.toString());
    requestHeaders.replace("x-grpc-replies", this.replies.join(","));
    this.stream.resumeRequest();
  }
}

class ConformanceStream extends HttpContext {
  scenario: string = "";
  /** body-chunks: hold with StopIterationAndWatermark rather than StopIterationAndBuffer. */
  holdWithWatermark: bool = false;

  get conf(): ConformanceRoot { return changetype<ConformanceRoot>(this.root); }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    this.conf.requests!.increment();
    this.conf.inFlight!.add(1);
    const s = requestHeaders.get("x-scenario");
    this.scenario = s !== null ? s : "";
    const sc = this.scenario;

    if (sc == "headers") {
      requestHeaders.add("x-added", "1");
      requestHeaders.replace("x-replaced", "new");
      requestHeaders.remove("x-removed");
      requestHeaders.replace("x-header-count", numHeaders.toString());
      const raw = requestHeaders.getBytes("x-bytes");
      if (raw !== null) {
        requestHeaders.replace("x-bytes-valid-utf8", isValidUtf8(raw) ? "true" : "false");
        requestHeaders.replace("x-bytes-length", raw.byteLength.toString());
      }
      return Action.Continue;
    }
    if (sc == "set-all") {
      const all = requestHeaders.getAll();
      const kept = new Array<Header>();
      for (let i = 0; i < all.length; i++) if (!all[i].is("x-drop-me")) kept.push(all[i]);
      kept.push(Header.of("x-set-all", all.length.toString()));
      requestHeaders.setAll(kept);
      return Action.Continue;
    }
    if (sc == "local-reply") {
      sendLocalResponse(418, "conformance_teapot", encodeUtf8("short and stout\n"), [Header.of("x-local", "yes")]);
      return Action.Pause;
    }
    if (sc == "grpc-error") {
      sendGrpcError(GrpcStatus.PermissionDenied, "denied by conformance", "conformance_grpc");
      return Action.Pause;
    }
    if (sc == "delay") {
      this.conf.waiting.push(this);
      this.conf.wakeAt.push(nowNanos() + <u64>this.conf.tickMs * 3 * 1_000_000);
      return Action.Pause;
    }
    if (sc == "body-chunks") {
      const hold = requestHeaders.get("x-body-hold");
      this.holdWithWatermark = hold !== null && hold == "watermark";
      return Action.Continue;
    }
    if (sc == "tick-rearm") {
      // Ticks run every tickMs; a longer period set now applies from now (or from the last tick).
      this.conf.rearming = this;
      this.conf.rearmedAt = nowNanos();
      this.conf.setTickPeriod(REARM_PERIOD_MS);
      return Action.Pause;
    }
    if (sc == "counter") {
      const inc = new Increment();
      const r = atomicUpdate(COUNTER_KEY, inc);
      requestHeaders.replace("x-counter", r == WasmResult.Ok ? inc.result.toString() : "error " + r.toString());
      return Action.Continue;
    }
    if (sc == "cas") {
      // The raw CAS rules: a stale cas is refused, a fresh one accepted, cas 0 always writes.
      setSharedData("conformance.cas", encodeUtf8("a"), 0);
      const first = getSharedData("conformance.cas")!;
      const ok1 = setSharedData("conformance.cas", encodeUtf8("b"), first.cas);
      const stale = setSharedData("conformance.cas", encodeUtf8("c"), first.cas);
      const missing = getSharedData("conformance.missing-" + randomU32().toString());
      requestHeaders.replace("x-cas", ok1.toString() + "," + stale.toString() + "," + (missing === null ? lastSharedDataResult.toString() : "found"));
      return Action.Continue;
    }
    if (sc == "queue-put") {
      const q = resolveSharedQueue("", QUEUE_NAME);
      const id = q != 0 ? q : this.conf.queueId;
      const msg = requestHeaders.get("x-message");
      requestHeaders.replace("x-enqueue", enqueueSharedQueue(id, encodeUtf8(msg !== null ? msg : "")).toString());
      return Action.Continue;
    }
    if (sc == "queue-get") {
      const v = getSharedData("conformance.queue.last");
      requestHeaders.replace("x-queue-last", v !== null ? decodeUtf8(v.value) : "none");
      const none = dequeueSharedQueue(this.conf.queueId);
      requestHeaders.replace("x-dequeue-empty", none === null ? lastQueueResult.toString() : "data");
      return Action.Continue;
    }
    if (sc == "callout") {
      const r = httpCall(this.conf.calloutCluster, [
        Header.of(":method", "GET"), Header.of(":path", "/callout"), Header.of(":authority", "conformance"),
      ], null, [], 5000, new CalloutResume(this));
      if (!r.ok) {
        sendHttpResponse(500, "callout_refused", "callout refused: " + r.result.toString() + "\n");
      }
      return Action.Pause;
    }
    if (sc == "callout-bad") {
      // No :authority: the host must refuse (BadArgument), the filter answers with the status.
      const r = httpCall(this.conf.calloutCluster, [Header.of(":method", "GET"), Header.of(":path", "/")], null, [], 1000, new CalloutResume(this));
      requestHeaders.replace("x-callout-result", r.result.toString());
      return Action.Continue;
    }
    if (sc == "grpc") {
      // `x-grpc-method` picks another method, e.g. one the server does not implement (a failed call).
      const m = requestHeaders.get("x-grpc-method");
      const r = grpcCall(this.conf.grpcCluster, "conformance.Echo", m !== null ? m : "Unary", [Header.of("x-md", "1")], encodeUtf8("ping"), 5000, new GrpcResume(this));
      if (!r.ok) { sendHttpResponse(500, "grpc_refused", "grpc refused: " + r.result.toString() + "\n"); }
      return Action.Pause;
    }
    if (sc == "grpc-stream") {
      const st = grpcStream(this.conf.grpcCluster, "conformance.Echo", "Stream", [], new GrpcStreamResume(this));
      if (st === null) { sendHttpResponse(500, "grpc_refused", "grpc stream refused\n"); return Action.Pause; }
      st.send(encodeUtf8("one"), false);
      st.send(encodeUtf8("two"), true);
      return Action.Pause;
    }
    if (sc == "properties") {
      // A one-segment name round-trips through filter state. A nested path does not in Envoy: the write
      // stores the whole path as one key, the read looks up the first segment and indexes into it.
      setProperty(["conformance_note"], encodeUtf8("set-by-filter"));
      const note = getPropertyString(["conformance_note"]);
      setProperty(["conformance", "nested"], encodeUtf8("set-by-filter"));
      requestHeaders.replace("x-prop-nested", orNone(getPropertyString(["conformance", "nested"])));
      requestHeaders.replace("x-prop-path", orNone(attributes.request.path()));
      requestHeaders.replace("x-prop-method", orNone(attributes.request.method()));
      requestHeaders.replace("x-prop-host", orNone(attributes.request.host()));
      requestHeaders.replace("x-prop-source-has-port", attributes.source.port() > 0 ? "true" : "false");
      requestHeaders.replace("x-prop-plugin-name", orNone(attributes.plugin.name()));
      requestHeaders.replace("x-prop-root-id", orNone(attributes.plugin.rootId()));
      requestHeaders.replace("x-prop-vm-id", orNone(attributes.plugin.vmId()));
      requestHeaders.replace("x-prop-note", orNone(note));
      requestHeaders.replace("x-prop-missing", getProperty(["no", "such", "attribute"]) === null ? "null" : "found");
      return Action.Continue;
    }
    if (sc == "reroute") {
      requestHeaders.replace(this.conf.rerouteHeader, "b");
      requestHeaders.replace("x-clear-route-cache", clearRouteCache().toString());
      return Action.Continue;
    }
    if (sc == "foreign-missing") {
      const r = callForeignFunction("no_such_function", new ArrayBuffer(0));
      requestHeaders.replace("x-foreign", r === null ? "null" : "found");
      return Action.Continue;
    }
    if (hostExtensionScenario(sc)) return Action.Continue;
    if (headerMapScenario(sc)) return Action.Continue;
    if (sc == "log") {
      log.trace("conformance trace");
      log.debug("conformance debug");
      log.info("conformance info");
      log.warn("conformance warn");
      log.error("conformance error");
      requestHeaders.replace("x-log-level", log.level().toString());
      return Action.Continue;
    }
    if (sc == "body-replace" || sc == "body-append" || sc == "body-prepend") {
      // The body will change length: Envoy forwards content-length as it is, so drop it (the codec then
      // frames the new body itself) or the upstream reads a truncated or overlong body.
      requestHeaders.remove("content-length");
      return Action.Continue;
    }
    if (sc == "trap") {
      // Deliberate failure: exercises the abort handler and Envoy's failure_policy.
      abort("conformance trap requested");
      return Action.Continue;
    }
    return Action.Continue;
  }

  onRequestBody(bodySize: usize, endOfStream: bool): Action {
    const sc = this.scenario;
    if (sc == "body-chunks") {
      // Each callback's reported size and what the body buffer holds, while earlier chunks are held with
      // `x-body-hold` (buffer: StopIterationAndBuffer, watermark: StopIterationAndWatermark).
      const held = requestBody.readString();
      log.info("conformance: body callback, " + bodySize.toString() + " bytes reported, buffer '" + held + "', end " + (endOfStream ? "yes" : "no"));
      if (endOfStream) return Action.Continue;
      return this.holdWithWatermark ? PAUSE_AND_WATERMARK : Action.Pause;
    }
    if (sc == "body-replace" || sc == "body-append" || sc == "body-prepend") {
      if (!endOfStream) return Action.Pause; // buffer the whole body
      this.conf.bodySizes!.record(<u64>bodySize);
      if (sc == "body-replace") requestBody.replaceString("replaced");
      else if (sc == "body-append") requestBody.appendString("+tail");
      else requestBody.prependString("head+");
    }
    return Action.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    responseHeaders.replace("x-conformance", "1");
    if (this.scenario == "response-body") {
      // The rewrite changes the length; keep the upstream's for the test to check against "bytes seen".
      const length = responseHeaders.get("content-length");
      responseHeaders.replace("x-upstream-content-length", orNone(length));
      responseHeaders.remove("content-length");
    }
    return Action.Continue;
  }

  onResponseBody(bodySize: usize, endOfStream: bool): Action {
    if (this.scenario == "response-body") {
      if (!endOfStream) return Action.Pause;
      responseBody.replaceString("rewritten response (" + bodySize.toString() + " bytes seen)\n");
    }
    return Action.Continue;
  }

  onLog(): void {
    this.conf.inFlight!.add(-1);
    hostExtensionLog(this.scenario);
  }
}

class ConformanceTcp extends TcpContext {
  onDownstreamData(size: usize, endOfStream: bool): Action {
    if (size > 0) downstreamData.prependString("[wasm]");
    return Action.Continue;
  }
  onUpstreamData(size: usize, endOfStream: bool): Action {
    if (size > 0) upstreamData.appendString("[/wasm]");
    return Action.Continue;
  }
}

function orNone(s: string | null): string { return s !== null ? s : "none"; }

registerRootContext((id: u32): RootContext => new ConformanceRoot(id));
