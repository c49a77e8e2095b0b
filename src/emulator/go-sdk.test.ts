// End to end against a module this emulator did not shape: a filter written with the proxy-wasm Go SDK,
// built by the Go toolchain (wasip1, c-shared) when the test runs.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Action, Host, LogLevel, MetricType, PluginStartError } from "./index";

const goAvailable = spawnSync("go", ["version"], { encoding: "utf8" }).status === 0;
const describeGo = goAvailable ? describe : describe.skip;
if (!goAvailable) console.log("go-sdk tests skipped: `go` is not on PATH");

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
