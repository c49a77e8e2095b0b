// The rate limiter's documented example shape: a bucket of 2 lets 2 requests through, then 429.
import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { Host } from "pwas/emulator";

const CONFIG = '{"token_bucket":{"max_tokens":2,"tokens_per_fill":2,"fill_interval":"60s"}}';
let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});

test("2 requests pass, the third is limited with 429 and x-envoy-ratelimited", async () => {
  const host = await Host.start(wasm, { pluginConfig: CONFIG });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = host.newHttpStream();
    s.sendRequestHeaders([[":method", "GET"], [":path", "/"], [":authority", "x"]], true);
    statuses.push(s.localResponse?.status ?? 200);
    if (s.localResponse) expect(new Map(s.localResponse.headers).has("x-envoy-ratelimited")).toBe(true);
    s.complete();
  }
  expect(statuses).toEqual([200, 200, 429]);
  host.advanceTime(60_000);
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":method", "GET"], [":path", "/"], [":authority", "x"]], true);
  expect(s.localResponse).toBeNull();
});
