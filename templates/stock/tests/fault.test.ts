// The fault filter's documented example, in the emulator and in Envoy.
import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { Host } from "pwas/emulator";
import { envoyHarness, httpListener, wasmFilter, cluster } from "pwas/envoy";

const CONFIG = '{"abort":{"http_status":503,"percentage":{"numerator":100}}}';
const harness = envoyHarness();
let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});

test("aborts every request with 503 in the emulator", async () => {
  const host = await Host.start(wasm, { pluginConfig: CONFIG });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":method", "GET"], [":path", "/"], [":authority", "x"]], true);
  expect(s.localResponse?.status).toBe(503);
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
