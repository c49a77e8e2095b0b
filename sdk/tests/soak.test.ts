// The memory bar: over a 100k-request soak, Wasm linear memory stops growing (docs/memory.md).
// Runs the http-headers example and the conformance filter's allocating scenarios in the emulator.
import { join } from "node:path";
import { buildFilter } from "../../src/build/build";
import { Host } from "../../src/emulator";

const ROOT = join(__dirname, "..", "..");
const REQUESTS = 100_000;

function soak(host: Host, n: number, scenario: (i: number) => string, samples: Map<number, number>) {
  for (let i = 1; i <= n; i++) {
    const s = host.newHttpStream();
    const sc = scenario(i);
    s.sendRequestHeaders([[":method", "POST"], [":path", `/soak/${i}`], [":authority", "soak"], ["x-scenario", sc], ["user-agent", "x".repeat(i % 200)]], sc === "none");
    if (sc !== "none") s.sendRequestBody(`body-${i}`.repeat(1 + (i % 50)), true);
    s.sendResponseHeaders([[":status", "200"], ["content-type", "text/plain"]], true);
    s.complete();
    if (i % 10_000 === 0) samples.set(i, host.memoryBytes());
  }
}

test(`http-headers: linear memory stops growing over ${REQUESTS} requests`, async () => {
  const wasm = (await buildFilter(join(ROOT, "templates/http-headers"))).wasmPath;
  const host = await Host.start(wasm, { pluginConfig: '{"response_headers":{"x-a":"1","x-b":"2"},"log_requests":false}' });
  const samples = new Map<number, number>();
  const t0 = process.hrtime.bigint();
  soak(host, REQUESTS, () => "none", samples);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`soak http-headers: ${REQUESTS} requests in ${seconds.toFixed(2)} s (${Math.round(REQUESTS / seconds)} req/s in the emulator), linear memory ${[...samples].map(([n, b]) => `${n / 1000}k:${b / 1024}KiB`).join(" ")}`);
  expect(host.failed).toBe(false);
  expect(samples.get(REQUESTS)).toBe(samples.get(20_000));
});

test(`conformance filter (bodies, shared data, headers): memory stops growing over ${REQUESTS} requests`, async () => {
  const wasm = (await buildFilter(join(ROOT, "sdk/tests/conformance"))).wasmPath;
  const host = await Host.start(wasm, { pluginConfig: "{}" });
  const scenarios = ["headers", "body-append", "counter", "properties", "set-all"];
  const samples = new Map<number, number>();
  soak(host, REQUESTS, (i) => scenarios[i % scenarios.length], samples);
  console.log(`soak conformance: linear memory ${[...samples].map(([n, b]) => `${n / 1000}k:${b / 1024}KiB`).join(" ")}`);
  expect(host.failed).toBe(false);
  expect(samples.get(REQUESTS)).toBe(samples.get(20_000));
});

test("control: with collection effectively off, the same soak grows memory (so the bar above can fail)", async () => {
  const wasm = (await buildFilter(join(ROOT, "sdk/tests/conformance"))).wasmPath;
  // Neither rule fires: no collection per finished streams, and an allocation budget beyond the soak's.
  const host = await Host.start(wasm, { pluginConfig: JSON.stringify({ gc_every: 2_000_000_000, gc_bytes: 4_294_967_295 }) });
  const samples = new Map<number, number>();
  soak(host, 20_000, (i) => (i % 2 ? "headers" : "body-append"), samples);
  expect(samples.get(20_000)!).toBeGreaterThan(samples.get(10_000)!);
});
