// End to end: the same module in a real Envoy in front of the echo upstream.
import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { envoyHarness, httpListener, wasmFilter, cluster } from "pwas/envoy";

const harness = envoyHarness();
let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});

test("Envoy loads the module and the response carries the configured header", async () => {
  const echo = await harness.startEcho();
  const envoy = await harness.startEnvoy({
    listeners: [httpListener("main", {
      httpFilters: [wasmFilter({ name: "http-headers", wasmFile: wasm, configuration: '{"response_headers":{"x-powered-by":"proxy-wasm-as"}}' })],
      virtualHosts: [{ name: "all", routes: [{ match: { prefix: "/" }, cluster: "echo" }] }],
    })],
    clusters: [cluster("echo", echo.port)],
  });
  const res = await fetch(envoy.url("/hello"));
  expect(res.status).toBe(200);
  expect(res.headers.get("x-powered-by")).toBe("proxy-wasm-as");
  expect((await res.json()).path).toBe("/hello");
  expect(await envoy.waitForStat("wasmcustom.http_headers.requests", (v) => v === 1)).toBe(1);
});

test("Envoy refuses an invalid configuration with the filter's message", async () => {
  await expect(harness.startEnvoy({
    listeners: [httpListener("main", {
      httpFilters: [wasmFilter({ name: "http-headers", wasmFile: wasm, configuration: '{"response_headers": 7}' })],
      virtualHosts: [{ name: "all", routes: [{ match: { prefix: "/" }, directResponse: { status: 200 } }] }],
    })],
  })).rejects.toThrow(/http-headers: invalid configuration: response_headers: must be an object, got a number/);
});
