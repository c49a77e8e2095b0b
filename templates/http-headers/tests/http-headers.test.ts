// Unit tests: the compiled module in the emulator. A real Envoy run is in http-headers.e2e.test.ts.
import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { Host, LogLevel } from "pwas/emulator";

let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});

const CONFIG = JSON.stringify({ response_headers: { "X-Powered-By": "proxy-wasm-as", "x-team": "platform" }, log_requests: true });

test("adds the configured response headers (names lower-cased)", async () => {
  const host = await Host.start(wasm, { pluginConfig: CONFIG });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":method", "GET"], [":path", "/hello"], [":authority", "example.com"]], true);
  s.sendResponseHeaders([[":status", "200"]], true);
  const headers = new Map(s.downstream.headers!);
  expect(headers.get("x-powered-by")).toBe("proxy-wasm-as");
  expect(headers.get("x-team")).toBe("platform");
});

test("replaces a header the upstream already set instead of duplicating it", async () => {
  const host = await Host.start(wasm, { pluginConfig: CONFIG });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":path", "/"]], true);
  s.sendResponseHeaders([[":status", "200"], ["x-team", "upstream"]], true);
  expect(s.downstream.headers!.filter(([k]) => k === "x-team")).toEqual([["x-team", "platform"]]);
});

test("counts requests and logs their paths", async () => {
  const host = await Host.start(wasm, { pluginConfig: CONFIG });
  for (const path of ["/a", "/b", "/c"]) {
    const s = host.newHttpStream();
    s.sendRequestHeaders([[":path", path]], true);
    s.complete();
  }
  expect(host.metric("http_headers.requests")!.value).toBe(3);
  expect(host.logMessages(LogLevel.Info)).toEqual(["request /a", "request /b", "request /c"]);
});

test("an empty configuration is valid and adds nothing", async () => {
  const host = await Host.start(wasm, { pluginConfig: "" });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":path", "/"]], true);
  s.sendResponseHeaders([[":status", "200"]], true);
  expect(s.downstream.headers).toEqual([[":status", "200"]]);
});

test.each([
  ['{"response_headers": {"x-a": 1}}', "response_headers.x-a: must be a string, got a number"],
  ['{"response_header": {}}', "response_header: unknown field (expected one of: response_headers, log_requests)"],
  ['{"log_requests": "yes"}', "log_requests: must be a boolean, got a string"],
  ["[1, 2]", "the configuration must be a JSON object, got an array"],
])("rejects %s at configure time", async (config, message) => {
  const host = await Host.load(wasm, { pluginConfig: config });
  expect(host.startVm()).toBe(true);
  expect(host.configure()).toBe(false);
  expect(host.logMessages(LogLevel.Error)).toEqual([`http-headers: invalid configuration: ${message}`]);
});
