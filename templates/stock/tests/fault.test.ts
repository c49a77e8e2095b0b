// The fault filter's documented example in the emulator (the same in a real Envoy is fault.e2e.test.ts).
import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { Host } from "pwas/emulator";

const CONFIG = '{"abort":{"http_status":503,"percentage":{"numerator":100}}}';
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
