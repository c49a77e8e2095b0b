// Every area of the SDK's public API, exercised through the compiled conformance filter
// (sdk/tests/conformance) running in the emulator. e2e/conformance.test.ts runs the same scenarios in Envoy.
import { join } from "node:path";
import { buildFilter } from "../../src/build/build";
import { Action, Host, LogLevel, SharedData, WasmResult, GrpcStatus, WasmTrapError } from "../../src/emulator";

const ROOT = join(__dirname, "..", "..");
let wasm: string;

beforeAll(async () => {
  wasm = (await buildFilter(join(ROOT, "sdk/tests/conformance"))).wasmPath;
});

const CONFIG = JSON.stringify({ callout_cluster: "echo", grpc_cluster: "grpc", tick_ms: 10 });
const start = (opts: Parameters<typeof Host.start>[1] = {}) =>
  Host.start(wasm, { pluginConfig: CONFIG, vmConfig: "vm-config-text", pluginName: "conformance", rootId: "", vmId: "vm1", ...opts });

function request(host: Host, scenario: string, extra: Array<[string, string | Uint8Array]> = [], eos = true) {
  const s = host.newHttpStream();
  const action = s.sendRequestHeaders([[":method", "GET"], [":path", "/p?q=1"], [":authority", "example.com"], ["x-scenario", scenario], ...extra], eos);
  return { s, action, h: new Map(s.requestHeaders()) };
}

describe("lifecycle and configuration", () => {
  test("onVmStart reads the VM configuration, onConfigure the plugin configuration", async () => {
    const host = await start();
    expect(host.logMessages(LogLevel.Info)).toContain("conformance: configured, vm config 'vm-config-text'");
    expect(host.tickPeriodMs()).toBe(10);
  });

  test("an invalid configuration is refused with a sentence naming the field", async () => {
    const host = await Host.load(wasm, { pluginConfig: '{"tick_ms": 0}' });
    expect(host.startVm()).toBe(true);
    expect(host.configure()).toBe(false);
    expect(host.logMessages(LogLevel.Error)).toContain("conformance: invalid configuration: tick_ms: must be between 1 and 60000, got 0");
    const unknown = await Host.load(wasm, { pluginConfig: '{"tick": 1}' });
    unknown.startVm();
    expect(unknown.configure()).toBe(false);
    expect(unknown.logMessages(LogLevel.Error)[0]).toMatch(/tick: unknown field \(expected one of: callout_cluster, grpc_cluster, tick_ms, reroute_header, fail, gc_every, gc_bytes\)/);
    const broken = await Host.load(wasm, { pluginConfig: "{not json" });
    broken.startVm();
    expect(broken.configure()).toBe(false);
    expect(broken.logMessages(LogLevel.Error)[0]).toMatch(/invalid JSON at byte 1/);
  });

  test("several root_ids in one module each get their own root context", async () => {
    const host = await start({ rootId: "first" });
    expect(host.addRoot("second", CONFIG)).toBe(true);
    expect(host.rootContextId("first")).not.toBe(host.rootContextId("second"));
    const a = host.newHttpStream("second");
    a.sendRequestHeaders([[":path", "/"], ["x-scenario", "properties"]], true);
    expect(new Map(a.requestHeaders()).get("x-prop-root-id")).toBe("second");
  });
});

describe("headers", () => {
  test("add, replace, remove, count", async () => {
    const { action, h } = request(await start(), "headers", [["x-replaced", "old"], ["x-removed", "gone"]]);
    expect(action).toBe(Action.Continue);
    expect(h.get("x-added")).toBe("1");
    expect(h.get("x-replaced")).toBe("new");
    expect(h.has("x-removed")).toBe(false);
    expect(h.get("x-header-count")).toBe("6");
  });

  test("values are bytes: invalid UTF-8 is read without a trap", async () => {
    const bytes = Uint8Array.from([0x61, 0xff, 0xfe, 0x80, 0x62]);
    const { s, h } = request(await start(), "headers", [["x-bytes", bytes]]);
    expect(h.get("x-bytes-valid-utf8")).toBe("false");
    expect(h.get("x-bytes-length")).toBe("5");
    expect(s.requestHeadersBytes().find(([k]) => Buffer.from(k).toString() === "x-bytes")![1]).toEqual(bytes);
  });

  test("getAll and setAll replace the whole map", async () => {
    const { h } = request(await start(), "set-all", [["x-drop-me", "1"], ["x-keep", "2"]]);
    expect(h.has("x-drop-me")).toBe(false);
    expect(h.get("x-keep")).toBe("2");
    expect(h.get("x-set-all")).toBe("6");
  });

  test("response headers are set on the way back", async () => {
    const { s } = request(await start(), "none");
    s.sendResponseHeaders([[":status", "200"]], true);
    expect(new Map(s.responseHeaders()).get("x-conformance")).toBe("1");
  });
});

describe("bodies", () => {
  test.each([
    ["body-replace", "replaced"],
    ["body-append", "hello+tail"],
    ["body-prepend", "head+hello"],
  ])("%s rewrites the buffered request body", async (scenario, expected) => {
    const { s, action } = request(await start(), scenario, [], false);
    expect(action).toBe(Action.Continue);
    expect(s.sendRequestBody("hel", false)).toBe(Action.Pause);
    expect(s.sendRequestBody("lo", true)).toBe(Action.Continue);
    expect(s.requestBodyText()).toBe(expected);
    expect(Buffer.from(s.upstream.body).toString()).toBe(expected);
  });

  test("the response body is replaced once complete", async () => {
    const { s } = request(await start(), "response-body");
    s.sendResponseHeaders([[":status", "200"], ["content-length", "5"]], false);
    s.sendResponseBody("ab", false);
    s.sendResponseBody("cde", true);
    expect(s.responseBodyText()).toBe("rewritten response (5 bytes seen)\n");
  });
});

describe("local replies", () => {
  test("HTTP reply with status, body, headers and details", async () => {
    const { s, action } = request(await start(), "local-reply");
    expect(action).toBe(Action.Pause);
    expect(s.localResponse!.status).toBe(418);
    expect(s.localResponse!.details).toBe("conformance_teapot");
    expect(Buffer.from(s.localResponse!.body).toString()).toBe("short and stout\n");
    expect(s.localResponse!.headers).toContainEqual(["x-local", "yes"]);
  });

  test("gRPC error reply carries grpc-status", async () => {
    const { s } = request(await start(), "grpc-error");
    expect(s.localResponse!.status).toBe(200);
    expect(s.localResponse!.grpcStatus).toBe(GrpcStatus.PermissionDenied);
  });
});

describe("timers", () => {
  test("a paused request resumes from the root context's tick", async () => {
    const host = await start();
    const { s, action } = request(host, "delay");
    expect(action).toBe(Action.Pause);
    host.advanceTime(20);
    expect(s.continued(0)).toBe(0);
    host.advanceTime(20);
    expect(s.continued(0)).toBe(1);
    expect(new Map(s.upstream.headers!).get("x-resumed-by")).toBe("tick");
  });
});

describe("shared data and queues", () => {
  test("atomicUpdate counts exactly across two workers sharing one store", async () => {
    const store = new SharedData();
    const a = await start({ sharedData: store });
    const b = await start({ sharedData: store });
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) seen.push(request(i % 2 ? a : b, "counter").h.get("x-counter")!);
    expect(seen).toEqual(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
  });

  test("atomicUpdate loses no update when another worker creates the key between its read and its write", async () => {
    // Worker B creates the counter (value 1) exactly between worker A's read ("missing") and A's write.
    // The host ignores cas on a missing key, so a create with cas 0 would overwrite B; atomicUpdate's
    // create must fail with CasMismatch instead and retry on top of B's value.
    class RacingStore extends SharedData {
      raced = false;
      results: WasmResult[] = [];
      set(vmId: string, key: Uint8Array, value: Uint8Array, cas: number): WasmResult {
        if (!this.raced && Buffer.from(key).toString() === "conformance.counter") {
          this.raced = true;
          const one = Buffer.alloc(8);
          one.writeBigUInt64LE(1n);
          expect(super.set(vmId, key, one, 0)).toBe(WasmResult.Ok);
        }
        const r = super.set(vmId, key, value, cas);
        if (Buffer.from(key).toString() === "conformance.counter") this.results.push(r);
        return r;
      }
    }
    const store = new RacingStore();
    const a = await start({ sharedData: store, vmId: "race" });
    expect(request(a, "counter").h.get("x-counter")).toBe("2");
    expect(store.results).toEqual([WasmResult.CasMismatch, WasmResult.Ok]);
  });

  test("raw CAS: fresh cas accepted, stale refused, missing key NotFound", async () => {
    const { h } = request(await start(), "cas");
    expect(h.get("x-cas")).toBe(`${WasmResult.Ok},${WasmResult.CasMismatch},${WasmResult.NotFound}`);
  });

  test("a message enqueued by one request reaches the root context and the next request", async () => {
    const host = await start();
    expect(request(host, "queue-put", [["x-message", "hello queue"]]).h.get("x-enqueue")).toBe(String(WasmResult.Ok));
    const got = request(host, "queue-get").h;
    expect(got.get("x-queue-last")).toBe("hello queue");
    expect(got.get("x-dequeue-empty")).toBe(String(WasmResult.Empty));
  });
});

describe("callouts", () => {
  test("HTTP callout: the handler runs in the stream's context and resumes it", async () => {
    const host = await start();
    const { s, action } = request(host, "callout");
    expect(action).toBe(Action.Pause);
    const [call] = host.httpCalls();
    expect(call.upstream).toBe("echo");
    expect(new Map(call.headers).get(":path")).toBe("/callout");
    host.respondHttpCall(call.token, { headers: [[":status", "200"]], body: '{"method":"GET","path":"/callout"}' });
    const up = new Map(s.upstream.headers!);
    expect(up.get("x-callout-status")).toBe("200");
    expect(up.get("x-callout-body-bytes")).toBe("34");
    expect(up.get("x-callout-body")).toBe('{"method":"GET","path":"/callout"}');
  });

  test("a failed callout reaches the handler with no headers", async () => {
    const host = await start();
    const { s } = request(host, "callout");
    host.failHttpCall(host.httpCalls()[0].token);
    expect(s.localResponse!.status).toBe(503);
  });

  test("a callout without :authority is refused with BadArgument", async () => {
    const { h } = request(await start(), "callout-bad");
    expect(h.get("x-callout-result")).toBe(String(WasmResult.BadArgument));
  });

  test("unary gRPC: message and status reach the handler", async () => {
    const host = await start();
    const { s } = request(host, "grpc");
    const [call] = host.grpcCalls();
    expect([call.upstream, call.service, call.method]).toEqual(["grpc", "conformance.Echo", "Unary"]);
    expect(Buffer.from(call.message).toString()).toBe("ping");
    host.respondGrpcCall(call.token, { message: "pong:ping", status: 0 });
    const up = new Map(s.upstream.headers!);
    expect(up.get("x-grpc-status")).toBe("0");
    expect(up.get("x-grpc-message")).toBe("pong:ping");
  });

  test("gRPC stream: both messages sent, replies and close delivered", async () => {
    const host = await start();
    const { s } = request(host, "grpc-stream");
    const [st] = host.grpcStreams();
    host.grpcStreamReceive(st.token, { message: "r1" });
    host.grpcStreamReceive(st.token, { message: "r2" });
    host.closeGrpcStream(st.token, 0);
    const up = new Map(s.upstream.headers!);
    expect(up.get("x-grpc-replies")).toBe("r1,r2");
    expect(up.get("x-grpc-status")).toBe("0");
  });
});

describe("metrics, properties, foreign functions, logs", () => {
  test("counter, gauge and histogram", async () => {
    const host = await start();
    const { s } = request(host, "body-replace", [], false);
    s.sendRequestBody("12345", true);
    s.sendResponseHeaders([[":status", "200"]], true);
    s.complete();
    expect(host.metric("conformance.requests")!.value).toBe(1);
    expect(host.metric("conformance.in_flight")!.value).toBe(0);
    expect(host.metric("conformance.body_bytes")!.samples).toEqual([5]);
  });

  test("typed attributes and filter state", async () => {
    const { h } = request(await start(), "properties");
    expect(h.get("x-prop-path")).toBe("/p?q=1");
    expect(h.get("x-prop-method")).toBe("GET");
    expect(h.get("x-prop-host")).toBe("example.com");
    expect(h.get("x-prop-source-has-port")).toBe("true");
    expect(h.get("x-prop-plugin-name")).toBe("conformance");
    expect(h.get("x-prop-vm-id")).toBe("vm1");
    expect(h.get("x-prop-note")).toBe("set-by-filter");
    expect(h.get("x-prop-missing")).toBe("null");
  });

  test("clear_route_cache is a foreign function; unknown ones are NotFound", async () => {
    const host = await start();
    const { s, h } = request(host, "reroute");
    expect(h.get("x-route")).toBe("b");
    expect(h.get("x-clear-route-cache")).toBe(String(WasmResult.Ok));
    expect(s.routeCacheClears).toBe(1);
    expect(request(host, "foreign-missing").h.get("x-foreign")).toBe("null");
  });

  test("logs at every level, filtered by the host's level", async () => {
    const host = await start({ logLevel: LogLevel.Info });
    const { h } = request(host, "log");
    expect(h.get("x-log-level")).toBe(String(LogLevel.Info));
    expect(host.logMessages().filter((m) => m.startsWith("conformance ") && !m.includes("configured"))).toEqual(["conformance info", "conformance warn", "conformance error"]);
  });

  test("a trap is logged at critical and fails the VM; later requests get 503 (fail closed)", async () => {
    const host = await start();
    expect(() => request(host, "trap")).toThrow(WasmTrapError);
    expect(host.failed).toBe(true);
    expect(host.logMessages(LogLevel.Critical)[0]).toBe("AssemblyScript abort: conformance trap requested");
    expect(request(host, "headers").s.localResponse!.status).toBe(503);
  });
});

describe("TCP", () => {
  test("downstream and upstream data are rewritten", async () => {
    const host = await start();
    const t = host.newTcpStream();
    t.sendDownstreamData("ping", false);
    t.sendUpstreamData("pong", false);
    expect(Buffer.from(t.upstreamData).toString()).toBe("[wasm]ping");
    expect(Buffer.from(t.downstreamData).toString()).toBe("pong[/wasm]");
  });
});
