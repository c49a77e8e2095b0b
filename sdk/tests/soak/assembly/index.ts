// The soak filter: each long-lived kind of traffic in a few lines, as a filter author would write it.
// It reads every body chunk, every TCP data chunk, every message of a gRPC stream it opens from the root
// context, and the response of an HTTP callout it makes on every tick, and counts what it read in metrics
// so a test can check that it did. sdk/tests/long-lived.test.ts drives it.
//
// Plugin configuration (JSON): {"tick_ms": 0, "callout_cluster": "echo", "grpc_cluster": "", "gc_bytes": 0,
//   "retain_kib": 0}
// `gc_bytes` fixes the SDK's allocation budget between collections (0 keeps the automatic one); the soaks'
// controls set it beyond what they allocate, which turns allocation-triggered collection off.
// `retain_kib` keeps that much live data in the root context (1 KiB buffers), as a large configuration
// would. The gauge soak.collections reports how many collections the SDK made so far.

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, TcpContext, Action, Header, Counter, Gauge, HttpCallHandler, GrpcHandler, GrpcStream,
  registerRootContext, requestBody, downstreamData, httpCallResponseHeaders, httpCallResponseBody,
  grpcReceiveBuffer, httpCall, grpcStream, ConfigErrors, readPluginConfig, decodeUtf8, log,
} from "proxy-wasm-as";
import { setAllocationBudget, collections } from "proxy-wasm-as/assembly/internal/memory";

class Stats {
  bodyBytes: Counter = new Counter("soak.body_bytes");
  tcpBytes: Counter = new Counter("soak.tcp_bytes");
  grpcMessages: Counter = new Counter("soak.grpc_messages");
  calloutResponses: Counter = new Counter("soak.callout_responses");
  collections: Gauge = new Gauge("soak.collections");
}

class SoakRoot extends RootContext {
  stats: Stats | null = null;
  calloutCluster: string = "echo";
  stream: GrpcStream | null = null;
  ticks: u32 = 0;
  retained: ArrayBuffer[] = [];

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    if (cfg === null || !errors.ok) { log.error("soak: " + errors.first); return false; }
    cfg.allowOnly(["tick_ms", "callout_cluster", "grpc_cluster", "gc_bytes", "retain_kib"]);
    const retainKib = <i32>cfg.int("retain_kib", 0, 0, 65536);
    for (let i = 0; i < retainKib; i++) this.retained.push(new ArrayBuffer(1024));
    const gcBytes = cfg.int("gc_bytes", 0, 0, u32.MAX_VALUE);
    if (gcBytes > 0) setAllocationBudget(<usize>gcBytes);
    this.calloutCluster = cfg.string("callout_cluster", "echo");
    this.stats = new Stats();
    const grpcCluster = cfg.string("grpc_cluster", "");
    if (grpcCluster.length > 0) {
      this.stream = grpcStream(grpcCluster, "soak.Feed", "Watch", [Header.of("x-soak", "1")], new FeedHandler(this.stats!));
    }
    this.setTickPeriod(<u32>cfg.int("tick_ms", 0, 0, 60000));
    return errors.ok;
  }

  onTick(): void {
    this.ticks++;
    httpCall(this.calloutCluster, [
      Header.of(":method", "GET"), Header.of(":path", "/poll?tick=" + this.ticks.toString()), Header.of(":authority", "soak"),
    ], null, [], 1000, new PollHandler(this.stats!));
  }

  newHttpContext(id: u32): HttpContext | null { return new Upload(id, this, this.stats!); }
  newTcpContext(id: u32): TcpContext | null { return new Connection(id, this, this.stats!); }
}

/** Reads each body chunk as it passes. */
class Upload extends HttpContext {
  constructor(id: u32, root: RootContext, private stats: Stats) { super(id, root); }
  onRequestBody(size: usize, endOfStream: bool): Action {
    const chunk = requestBody.read();
    this.stats.bodyBytes.increment(chunk.byteLength);
    this.stats.collections.set(collections);
    return Action.Continue;
  }
}

/** Reads each chunk the client sends. */
class Connection extends TcpContext {
  constructor(id: u32, root: RootContext, private stats: Stats) { super(id, root); }
  onDownstreamData(size: usize, endOfStream: bool): Action {
    const chunk = downstreamData.read();
    this.stats.tcpBytes.increment(chunk.byteLength);
    return Action.Continue;
  }
}

/** Reads each message of the root's gRPC stream. */
class FeedHandler extends GrpcHandler {
  constructor(private stats: Stats) { super(); }
  onMessage(size: usize): void {
    const message = grpcReceiveBuffer.read();
    if (message.byteLength == <i32>size) this.stats.grpcMessages.increment();
  }
}

/** Reads the status and the body of each tick's callout. */
class PollHandler extends HttpCallHandler {
  constructor(private stats: Stats) { super(); }
  onResponse(numHeaders: u32, bodySize: usize, numTrailers: u32): void {
    const status = httpCallResponseHeaders.get(":status");
    const body = decodeUtf8(httpCallResponseBody.read());
    if (status !== null && status == "200" && body.length > 0) this.stats.calloutResponses.increment();
  }
}

registerRootContext((id: u32): RootContext => new SoakRoot(id));
