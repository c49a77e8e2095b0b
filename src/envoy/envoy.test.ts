import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cluster, httpListener, nativeFilter, tcpListener, wasmFilter, type Bootstrap, type HttpFilter } from "./bootstrap";
import type { EchoReply } from "./echo";
import { EnvoyStartError } from "./instance";
import { ProcessEnvoy } from "./process";
import { passthroughWasm } from "./testdata/passthrough-wasm";
import { envoyHarness } from "./testing";

const harness = envoyHarness();

/** One HTTP listener routing everything to the echo upstream on `port`, with optional filters before the router. */
function proxyTo(port: number, filters: HttpFilter[] = []): Bootstrap {
  return {
    listeners: [httpListener("ingress", { httpFilters: filters, virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }] })],
    clusters: [cluster("echo", port)],
  };
}

describe("envoy: real binary with the echo upstream", () => {
  test("a request through the listener returns the echo JSON", async () => {
    const echo = await harness.startEcho({ name: "v1" });
    const envoy = await harness.startEnvoy(proxyTo(echo.port));

    const res = await fetch(envoy.url("/hello?x=1"), { method: "POST", body: "ping", headers: { "x-test": "yes" } });
    expect(res.status).toBe(200);
    const reply = (await res.json()) as EchoReply;
    expect(reply).toMatchObject({ upstream: "v1", method: "POST", path: "/hello?x=1", body: "ping" });
    expect(reply.headers["x-test"]).toBe("yes");
    // Proof the request went through Envoy, not straight to the upstream.
    expect(reply.headers["x-request-id"]).toBeDefined();
    expect(await envoy.counter("http.ingress.downstream_rq_completed")).toBe(1);
  });

  test("native fault filter aborting 100% answers 503 and counts aborts_injected", async () => {
    const echo = await harness.startEcho();
    const fault = nativeFilter("envoy.filters.http.fault", { abort: { http_status: 503, percentage: { numerator: 100, denominator: "HUNDRED" } } });
    const envoy = await harness.startEnvoy(proxyTo(echo.port, [fault]));

    for (let i = 0; i < 3; i++) {
      const res = await fetch(envoy.url("/"));
      expect(res.status).toBe(503);
      await res.arrayBuffer();
    }
    await envoy.waitForStat("http.ingress.fault.aborts_injected", (v) => v === 3, 5000);
    expect(echo.requests).toBe(0);
  });

  test("two Envoys run side by side on distinct ports and base ids", async () => {
    const v1 = await harness.startEcho({ name: "one" });
    const v2 = await harness.startEcho({ name: "two" });
    const [a, b] = await Promise.all([harness.startEnvoy(proxyTo(v1.port)), harness.startEnvoy(proxyTo(v2.port), { concurrency: 2 })]);

    expect(a.port()).not.toBe(b.port());
    expect(a.adminUrl).not.toBe(b.adminUrl);
    const args = (e: unknown) => (e as { child: { spawnargs: string[] } }).child.spawnargs;
    const baseId = (e: unknown) => args(e)[args(e).indexOf("--base-id") + 1];
    expect(baseId(a)).not.toBe(baseId(b));
    expect(((await (await fetch(a.url())).json()) as EchoReply).upstream).toBe("one");
    expect(((await (await fetch(b.url())).json()) as EchoReply).upstream).toBe("two");
    expect(await b.counter("server.concurrency")).toBe(2);
  });

  test("an invalid config fails start-up with Envoy's own error message", async () => {
    const bad: Bootstrap = {
      listeners: [httpListener("ingress", { httpFilters: [nativeFilter("envoy.filters.http.fault", { abort: { http_status: 42 } })], virtualHosts: [] })],
    };
    const started = harness.startEnvoy(bad, { readyTimeoutMs: 10_000 });
    await expect(started).rejects.toThrow(EnvoyStartError);
    const err = (await started.catch((e: unknown) => e)) as EnvoyStartError;
    expect(err.message).toMatch(/^Envoy did not start: Envoy exited with code 1\n/);
    // Envoy's own validation message, not a generic timeout.
    expect(err.message).toContain("FaultAbortValidationError.HttpStatus: value must be inside range [200, 600)");
    // Only the error entries are quoted; the whole log stays available.
    expect(err.message).not.toContain("[info]");
    expect(err.envoyLog).toContain("[info]");
  });

  test("stop() ends the process, removes its temp files, and is idempotent", async () => {
    const echo = await harness.startEcho();
    const envoy = (await harness.startEnvoy(proxyTo(echo.port))) as ProcessEnvoy;
    const dir = (envoy as unknown as { dir: string }).dir;
    expect(existsSync(dir)).toBe(true);

    await Promise.all([envoy.stop(), envoy.stop()]);
    await envoy.stop();
    expect(envoy.stopped).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(() => process.kill(envoy.pid!, 0)).toThrow();
    await expect(fetch(envoy.url())).rejects.toThrow();
    expect(envoy.log()).toMatch(/caught ENVOY_SIGTERM|exiting/);
  });

  test("waitForLog sees Envoy's start-up lines and times out with a clear message", async () => {
    const echo = await harness.startEcho();
    const envoy = await harness.startEnvoy(proxyTo(echo.port));
    await expect(envoy.waitForLog(/starting main dispatch loop/, 5000)).resolves.toBeTruthy();
    await expect(envoy.waitForLog(/this line never appears/, 200)).rejects.toThrow(/timed out after 200 ms waiting for Envoy to log/);
  });
});

describe("envoy: Wasm filters from the bootstrap model", () => {
  let dir: string;
  let wasmFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pwas-wasm-"));
    wasmFile = join(dir, "passthrough.wasm");
    writeFileSync(wasmFile, passthroughWasm("passthrough configured"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("an HTTP and a network Wasm filter load, configure, and let traffic through", async () => {
    const echo = await harness.startEcho({ name: "behind-wasm" });
    const plugin = {
      wasmFile,
      vmId: "passthrough",
      configuration: { mode: "test" },
      env: { PWAS_MODE: "test" },
      failurePolicy: "FAIL_RELOAD" as const,
      allowOnHeadersStopIteration: true,
    };
    const envoy = await harness.startEnvoy({
      listeners: [
        httpListener("ingress", { httpFilters: [wasmFilter({ name: "pass_http", ...plugin })], virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }] }),
        tcpListener("raw", { networkFilters: [{ name: "pass_tcp", ...plugin }], cluster: "echo" }),
      ],
      clusters: [cluster("echo", echo.port)],
    });

    await envoy.waitForLog(/\[wasm\].*wasm log[^:]*: passthrough configured/, 5000);
    const reply = (await (await fetch(envoy.url("/through-wasm"))).json()) as EchoReply;
    expect(reply).toMatchObject({ upstream: "behind-wasm", path: "/through-wasm" });

    // The TCP listener proxies bytes: an HTTP/1.1 request written by hand reaches the echo upstream.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(envoy.port("raw"), "127.0.0.1", () => socket.end("GET /over-tcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
      const parts: Buffer[] = [];
      socket.on("data", (c: Buffer) => parts.push(c));
      socket.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
      socket.on("error", reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 200/);
    expect(raw).toContain('"path":"/over-tcp"');
    expect(await envoy.counter("wasm.envoy.wasm.runtime.v8.active")).toBeGreaterThanOrEqual(1);
    await envoy.waitForStat("tcp.raw.downstream_cx_total", (v) => v === 1, 5000);
  });
});
