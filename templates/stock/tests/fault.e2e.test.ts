// The fault filter's documented example in a real Envoy (the emulator's view is fault.test.ts).
import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { envoyHarness, httpListener, wasmFilter, cluster } from "pwas/envoy";

const CONFIG = '{"abort":{"http_status":503,"percentage":{"numerator":100}}}';
const harness = envoyHarness();
let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});

test("aborts every request with 503 in Envoy", async () => {
  const echo = await harness.startEcho();
  const envoy = await harness.startEnvoy({
    listeners: [httpListener("main", {
      httpFilters: [wasmFilter({ name: "fault", wasmFile: wasm, configuration: CONFIG })],
      virtualHosts: [{ name: "all", routes: [{ match: { prefix: "/" }, cluster: "echo" }] }],
    })],
    clusters: [cluster("echo", echo.port)],
  });
  expect((await fetch(envoy.url("/"))).status).toBe(503);
  expect(echo.requests).toBe(0);
});
