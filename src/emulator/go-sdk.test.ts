// End to end against a module this emulator did not shape: a filter written with the proxy-wasm Go SDK,
// built by the Go toolchain (wasip1, c-shared) when the test runs.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeRequiring } from "../requirements";
import { Action, Host, LogLevel, MetricType, PluginStartError, SharedData, StreamType, WasmTrapError } from "./index";

const goAvailable = spawnSync("go", ["version"], { encoding: "utf8" }).status === 0;
const describeGo = describeRequiring(goAvailable ? undefined : "go-sdk tests need `go` on PATH");

describeGo("emulator: a Go SDK filter (go-headers)", () => {
  let dir: string;
  let wasm: Uint8Array;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "go-headers-"));
    const out = join(dir, "go-headers.wasm");
    execFileSync("go", ["build", "-buildmode=c-shared", "-buildvcs=false", "-o", out, "."], {
      cwd: join(__dirname, "testdata", "go-headers"),
      env: { ...process.env, GOOS: "wasip1", GOARCH: "wasm" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    wasm = new Uint8Array(readFileSync(out));
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("imports only what Envoy provides and declares ABI 0.2.0", async () => {
    const host = await Host.load(wasm);
    expect(host.abiVersion).toBe("0.2.0");
    const modules = new Set(host.imports().map((i) => i.module));
    expect([...modules].sort()).toEqual(["env", "wasi_snapshot_preview1"]);
  });

  test("reads the plugin config, logs request headers, adds response headers", async () => {
    const host = await Host.start(wasm, { pluginConfig: "x-added = yes" });
    expect(host.logMessages(LogLevel.Info)).toContain("configured header x-added=yes");

    const s = host.newHttpStream();
    const action = s.sendRequestHeaders([
      [":method", "GET"],
      [":path", "/hello?x=1"],
      [":authority", "example.com"],
      ["X-Trace", "abc"],
    ]);
    expect(action).toBe(Action.Continue);
    expect(s.upstream.headers).not.toBeNull();
    const logs = host.logMessages(LogLevel.Info);
    expect(logs).toContain("request header :path: /hello?x=1");
    // Envoy lower-cases header names, and so does the emulator before the filter sees them.
    expect(logs).toContain("request header x-trace: abc");
    // The filter checked that a missing header reads as NotFound; it logs an error otherwise.
    expect(host.logs(LogLevel.Error)).toEqual([]);

    expect(s.sendResponseHeaders([[":status", "200"], ["content-type", "text/plain"]])).toBe(Action.Continue);
    expect(s.responseHeaders()).toEqual([
      [":status", "200"],
      ["content-type", "text/plain"],
      ["x-go-headers", "1"],
      ["x-added", "yes"],
    ]);
    expect(s.downstream.headers).toEqual(s.responseHeaders());

    s.complete();
    expect(host.logMessages(LogLevel.Info)).toContain(`stream ${s.id} done`);
    expect(host.metric("go_headers_requests")).toEqual({ type: MetricType.Counter, value: 1 });
  });

  test("counts requests across streams and accepts an empty config", async () => {
    const host = await Host.start(wasm);
    expect(host.logMessages()).toContain("no configured header");
    for (let i = 0; i < 3; i++) {
      const s = host.newHttpStream();
      s.sendRequestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"]], true);
      s.sendResponseHeaders([[":status", "204"]], true);
      expect(s.responseHeaders()).toEqual([[":status", "204"], ["x-go-headers", "1"]]);
      s.complete();
    }
    expect(host.metric("go_headers_requests")?.value).toBe(3);
  });

  test("a bad config is rejected at configure time with the filter's message", async () => {
    const start = Host.start(wasm, { pluginConfig: "no-equals-sign" });
    await expect(start).rejects.toBeInstanceOf(PluginStartError);
    await expect(start).rejects.toThrow(/bad configuration "no-equals-sign": want name=value/);
  });
});

describeGo("emulator: Envoy semantics seen through the Go SDK filter", () => {
  let dir: string;
  let wasm: Uint8Array;
  const get = (path: string): Array<[string, string]> => [
    [":method", "GET"],
    [":path", path],
    [":authority", "example.com"],
  ];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "go-headers-"));
    const out = join(dir, "go-headers.wasm");
    execFileSync("go", ["build", "-buildmode=c-shared", "-buildvcs=false", "-o", out, "."], {
      cwd: join(__dirname, "testdata", "go-headers"),
      env: { ...process.env, GOOS: "wasip1", GOARCH: "wasm" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    wasm = new Uint8Array(readFileSync(out));
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("HTTP callout: the stream pauses, the answer arrives on the root, the SDK resumes the stream", async () => {
    const host = await Host.start(wasm);
    const s = host.newHttpStream();
    expect(s.sendRequestHeaders(get("/callout"))).toBe(Action.Pause);
    expect(s.upstream.headers).toBeNull();
    const [call] = host.httpCalls();
    expect(call).toMatchObject({
      upstream: "auth",
      timeoutMs: 5000,
      contextId: host.rootContextId(),
      callerContextId: s.id,
    });
    expect(call.headers).toEqual([[":method", "GET"], [":path", "/check"], [":authority", "auth"]]);
    expect(call.token & 3).toBe(0);

    host.respondHttpCall(call.token, { headers: [[":status", "200"]], body: "ok" });
    expect(host.logMessages()).toContain('auth answered "200" with 1 headers, body "ok"');
    expect(s.continued(StreamType.HttpRequest)).toBe(1);
    expect(s.upstream.headers).toContainEqual(["x-auth", "ok"]);
    expect(s.upstream.endOfStream).toBe(false);
    expect(host.httpCalls()).toEqual([]);
    expect(host.logs(LogLevel.Error)).toEqual([]);
  });

  test("HTTP callout refused: the local reply from the callback goes through the response callbacks", async () => {
    const host = await Host.start(wasm);
    const s = host.newHttpStream();
    s.sendRequestHeaders(get("/callout"), true);
    host.respondHttpCall(host.httpCalls()[0].token, { headers: [[":status", "500"]] });
    expect(s.localResponse).toMatchObject({ status: 403, body: new TextEncoder().encode("forbidden"), grpcStatus: null });
    expect(s.upstream.headers).toBeNull();
    expect(s.downstream.headers).toEqual([
      [":status", "403"],
      ["content-length", "9"],
      ["content-type", "text/plain"],
      ["x-go-headers", "1"],
    ]);
    expect(s.downstream.endOfStream).toBe(true);
    expect(s.responseBodyText()).toBe("forbidden");
  });

  test("HTTP callout timeout on the virtual clock answers 504; a reset answers with no headers", async () => {
    const host = await Host.start(wasm);
    const a = host.newHttpStream();
    a.sendRequestHeaders(get("/callout"), true);
    host.advanceTime(4999);
    expect(host.httpCalls()).toHaveLength(1);
    host.advanceTime(1);
    expect(host.logMessages()).toContain('auth answered "504" with 3 headers, body "upstream request timeout"');
    expect(a.localResponse?.status).toBe(403);

    const b = host.newHttpStream();
    b.sendRequestHeaders(get("/callout"), true);
    host.failHttpCall(host.httpCalls()[0].token);
    expect(host.logMessages()).toContain('auth answered "" with 0 headers, body ""');
    expect(b.localResponse?.status).toBe(403);
  });

  test("a local reply in request headers ends the request; later request data is not delivered", async () => {
    const host = await Host.start(wasm);
    const s = host.newHttpStream();
    expect(s.sendRequestHeaders(get("/deny"))).toBe(Action.Pause);
    expect(s.localResponse).toEqual({
      status: 401,
      details: "",
      body: new TextEncoder().encode("denied"),
      headers: [["www-authenticate", "Bearer"]],
      grpcStatus: null,
    });
    expect(s.upstream).toEqual({ headers: null, body: new Uint8Array(0), trailers: null, endOfStream: false });
    expect(s.downstream.headers).toEqual([
      [":status", "401"],
      ["content-length", "6"],
      ["content-type", "text/plain"],
      ["www-authenticate", "Bearer"],
      ["x-go-headers", "1"],
    ]);
    expect(s.sendRequestBody("ignored", true)).toBe(Action.Pause);
    expect(s.upstream.body).toEqual(new Uint8Array(0));
  });

  test("body paused before end of stream is buffered: the filter sees and rewrites the whole body", async () => {
    const host = await Host.start(wasm);
    const s = host.newHttpStream();
    expect(s.sendRequestHeaders([[":method", "POST"], [":path", "/upper"], [":authority", "a"]])).toBe(Action.Continue);
    expect(s.sendRequestBody("hello ")).toBe(Action.Pause);
    expect(s.upstream.body).toEqual(new Uint8Array(0));
    expect(s.sendRequestBody("world", true)).toBe(Action.Continue);
    expect(new TextDecoder().decode(s.upstream.body)).toBe("HELLO WORLD");
    expect(s.upstream.endOfStream).toBe(true);
    expect(s.requestBodyText()).toBe("HELLO WORLD");
  });

  test("ticks fire once per elapsed period on each worker; CAS updates from two workers are not lost", async () => {
    const sharedData = new SharedData();
    const a = await Host.start(wasm, { vmId: "vm1", sharedData });
    const b = await Host.start(wasm, { vmId: "vm1", sharedData });
    expect(a.tickPeriodMs()).toBe(1000);
    a.advanceTime(999);
    expect(sharedData.getText("vm1", "ticks")).toBeUndefined();
    a.advanceTime(2600);
    b.advanceTime(3000);
    expect(sharedData.getText("vm1", "ticks")).toBe("6");
    expect(sharedData.getText("other", "ticks")).toBeUndefined();
  });

  test("shared queue: an enqueue from outside wakes the registering root context", async () => {
    const host = await Host.start(wasm, { vmId: "vm1" });
    const q = host.queues.resolve("vm1", "jobs");
    expect(q).toBeGreaterThan(0);
    host.queues.enqueue(q, new TextEncoder().encode("build"));
    host.queues.enqueue(q, new TextEncoder().encode("test"));
    expect(host.logMessages().filter((m) => m.startsWith("job: "))).toEqual(["job: build", "job: test"]);
  });

  test("properties: connection defaults and overrides", async () => {
    const host = await Host.start(wasm);
    host.newHttpStream().sendRequestHeaders(get("/"));
    expect(host.logMessages()).toContain("source 10.0.0.1:54321");
    const other = await Host.start(wasm, { properties: { "source.address": "192.0.2.7:4000" } });
    other.newHttpStream().sendRequestHeaders(get("/"));
    expect(other.logMessages()).toContain("source 192.0.2.7:4000");
  });

  test("a panic traps: WasmTrapError, the VM is failed, later streams fail closed with 503", async () => {
    const host = await Host.start(wasm);
    const s = host.newHttpStream();
    expect(() => s.sendRequestHeaders(get("/panic"))).toThrow(WasmTrapError);
    expect(host.failed).toBe(true);
    expect(host.failure?.callback).toBe("proxy_on_request_headers");
    expect(host.logMessages(LogLevel.Error).join("")).toContain("panic: boom");
    expect(s.localResponse).toMatchObject({ status: 503, details: "wasm_fail_stream" });

    const next = host.newHttpStream();
    expect(next.sendRequestHeaders(get("/"))).toBe(Action.Pause);
    expect(next.downstream.headers).toEqual([[":status", "503"]]);
  });

  test("fail open lets traffic bypass a failed VM", async () => {
    const host = await Host.start(wasm, { failOpen: true });
    expect(() => host.newHttpStream().sendRequestHeaders(get("/panic"))).toThrow(WasmTrapError);
    const next = host.newHttpStream();
    expect(next.sendRequestHeaders(get("/"), true)).toBe(Action.Continue);
    expect(next.upstream.endOfStream).toBe(true);
  });
});
