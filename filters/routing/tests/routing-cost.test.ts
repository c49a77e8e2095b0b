// What routing costs per request in V8 (the engine Envoy embeds), printed for the CI log. Nothing is
// asserted about time (machines differ); every measured run also checks where the request was routed, so
// a fast wrong answer cannot pass for a measurement.
//
// Two figures: the matching alone (tests/entries/bench.ts runs the filter's parser and matcher with no
// host: header view over a serialized map, first matching rule, sticky side), and the whole
// onRequestHeaders in the emulator, whose JavaScript host (stream set-up, header maps, host calls) costs
// far more than the matching and is not what Envoy's C++ host costs.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compile } from "../../../src/build/compile";
import { encodePairs } from "../../../src/emulator";
import { route, routingHost, routingWasm, type RequestSpec } from "./harness";

const ROOT = resolve(__dirname, "../../..");

interface Bench {
  memory: WebAssembly.Memory;
  _initialize(): void;
  scratch(size: number): number;
  configure(len: number): number;
  setRequest(len: number): void;
  run(iterations: number): number;
  collect(): void;
}

let bench: Bench;

beforeAll(async () => {
  await routingWasm();
  const dir = mkdtempSync(join(tmpdir(), "routing-bench-"));
  try {
    const out = await compile({ entry: join(__dirname, "entries/bench.ts"), outFile: join(dir, "bench.wasm"), projectDir: ROOT });
    const module = await WebAssembly.compile(readFileSync(out.wasmPath));
    // The matcher makes no host call for this configuration; any import that is called fails the test.
    const imports: Record<string, Record<string, () => number>> = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      (imports[imp.module] ??= {})[imp.name] = () => { throw new Error(`unexpected host call ${imp.module}.${imp.name}`); };
    }
    bench = (await WebAssembly.instantiate(module, imports)).exports as unknown as Bench;
    bench._initialize();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

/** A typical canary setup: one user pinned, one path + client rule with a regex, a sticky 75/25 default. */
const THREE_RULES = {
  http: [
    { name: "jason", match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
    {
      name: "api-curl",
      match: [{ uri: { prefix: "/api/" }, headers: { "user-agent": { regex: "(curl|Wget)/[0-9.]+" } } }, { queryParams: { canary: { exact: "1" } } }],
      route: [{ destination: { host: "reviews", subset: "v1" } }],
    },
    {
      name: "default",
      route: [{ destination: { host: "reviews", subset: "v1" }, weight: 75 }, { destination: { host: "reviews", subset: "v3" }, weight: 25 }],
    },
  ],
  sticky_key: { header: "end-user" },
};

/** A browser request with the usual dozen headers; it reaches the last rule, so every rule is evaluated. */
const REQUEST: RequestSpec = {
  path: "/api/productpage?ref=home&lang=en",
  headers: [
    ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"],
    ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
    ["accept-language", "en-US,en;q=0.5"],
    ["accept-encoding", "gzip, deflate, br"],
    ["cookie", "session=5f2c1a; theme=dark; consent=yes"],
    ["end-user", "user-4821"],
    ["x-request-id", "0b9c7a52-4e1f-4d3b-9a5e-0f6c2d1e8b77"],
    ["x-forwarded-for", "203.0.113.7"],
    ["x-forwarded-proto", "https"],
  ],
};

function put(bytes: Uint8Array): number {
  const ptr = bench.scratch(bytes.length);
  new Uint8Array(bench.memory.buffer, ptr, bytes.length).set(bytes);
  return bytes.length;
}

/** Best and median batch (about 20 ms each, after a warm-up) in µs per call of `once`. */
function time(once: () => void, perCall: number): { best: number; median: number } {
  const now = () => process.hrtime.bigint();
  const warm = now();
  while (now() - warm < 300_000_000n) once();
  const batches: number[] = [];
  const start = now();
  while (now() - start < 600_000_000n) {
    const t0 = now();
    let n = 0;
    do { once(); n += perCall; } while (now() - t0 < 20_000_000n);
    batches.push(Number(now() - t0) / 1000 / n);
  }
  batches.sort((a, b) => a - b);
  return { best: batches[0], median: batches[batches.length >> 1] };
}

const fmt = (x: { best: number; median: number }) => `best ${x.best.toFixed(2)} µs, median ${x.median.toFixed(2)} µs`;

test("routing: per-request matching cost of a typical 3-rule config", async () => {
  const host = await routingHost(THREE_RULES);
  const side = route(host, REQUEST).subset!;
  expect(["v1", "v3"]).toContain(side);

  expect(bench.configure(put(Buffer.from(JSON.stringify(THREE_RULES))))).toBe(1);
  const headers: Array<[string, string]> = [[":method", "GET"], [":path", REQUEST.path!], [":authority", "reviews.example.com"], [":scheme", "http"], ...REQUEST.headers!];
  bench.setRequest(put(encodePairs(headers)));
  const BATCH = 1000;
  const matching = time(() => {
    if (bench.run(BATCH) !== side.charCodeAt(0)) throw new Error("the bench routed elsewhere than the filter");
    bench.collect();
  }, BATCH);

  const whole = time(() => {
    const r = route(host, REQUEST);
    if (r.subset !== side) throw new Error(`routed to ${r.subset}, expected ${side}`);
    r.stream.complete();
  }, 1);

  console.log(
    `routing cost per request, 3 rules (exact header; prefix + regex OR query param; sticky 75/25), 13 headers, all rules evaluated:\n` +
      `  matching + sticky split inside the module: ${fmt(matching)}\n` +
      `  whole onRequestHeaders in the emulator:    ${fmt(whole)} (JavaScript host included)`,
  );
});
