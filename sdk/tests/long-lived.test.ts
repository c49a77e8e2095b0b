// Long-lived traffic: one stream, connection, gRPC stream or ticking root that never ends must not keep
// its garbage (docs/memory.md). Each soak runs the soak filter in the emulator, takes the linear memory
// page count after a warm-up and at the end, and asserts they are equal; its control runs the same soak
// with allocation-triggered collection turned off (a budget beyond what the soak allocates) and shows
// memory growing, so the assertion can fail.
import { join } from "node:path";
import { buildFilter } from "../../src/build/build";
import { Host } from "../../src/emulator";

const FILTER = join(__dirname, "soak");
const CHUNKS = 20_000;
const CHUNK = new Uint8Array(4096).fill(0x61);
const TICKS = 100_000;
/** A budget no soak here reaches (4 GiB): allocation never triggers a collection. */
const OFF = { gc_bytes: 4_294_967_295 };
const PAGE = 65536;

let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(FILTER)).wasmPath;
}, 120_000);

interface Soak {
  /** Pages after the warm-up (a tenth of the iterations) and at the end. */
  warm: number;
  end: number;
  host: Host;
}

/** Runs `step` n times, sampling linear memory after the first tenth and at the end. */
function soak(host: Host, n: number, step: (i: number) => void): Soak {
  let warm = 0;
  for (let i = 1; i <= n; i++) {
    step(i);
    if (i === n / 10) warm = host.memoryBytes() / PAGE;
  }
  return { warm, end: host.memoryBytes() / PAGE, host };
}

function report(name: string, s: Soak, control: Soak): void {
  console.log(`soak ${name}: linear memory ${s.warm * 64} KiB after warm-up, ${s.end * 64} KiB at the end; ` +
    `control (no allocation-triggered collection): ${control.warm * 64} KiB -> ${control.end * 64} KiB`);
}

async function httpUpload(config: object): Promise<Soak> {
  const host = await Host.start(wasm, { pluginConfig: JSON.stringify(config) });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":method", "POST"], [":path", "/upload"], [":authority", "soak"]], false);
  return soak(host, CHUNKS, () => { s.sendRequestBody(CHUNK, false); });
}

test(`one HTTP stream, ${CHUNKS} body chunks of 4 KiB read by the filter: linear memory flat after warm-up`, async () => {
  const on = await httpUpload({});
  const off = await httpUpload(OFF);
  report("http body chunks", on, off);
  expect(on.host.failed).toBe(false);
  expect(on.host.metric("soak.body_bytes")?.value).toBe(CHUNKS * CHUNK.length);
  expect(on.end).toBe(on.warm);
  expect(off.host.metric("soak.body_bytes")?.value).toBe(CHUNKS * CHUNK.length);
  expect(off.end).toBeGreaterThan(off.warm);
});

test("the allocation budget follows the heap: a filter holding 1 MiB of live data collects a fraction as often, memory flat", async () => {
  const small = await httpUpload({});
  const large = await httpUpload({ retain_kib: 1024 });
  const fixed = await httpUpload({ retain_kib: 1024, gc_bytes: 65536 });
  const collections = (s: Soak) => s.host.metric("soak.collections")!.value;
  console.log(`soak http body chunks, collections per ${CHUNKS} chunks: ${collections(small)} with a small live set ` +
    `(${small.end * 64} KiB), ${collections(large)} holding 1 MiB (${large.warm * 64} -> ${large.end * 64} KiB), ` +
    `${collections(fixed)} holding 1 MiB with a fixed 64 KiB budget (${fixed.end * 64} KiB)`);
  // 128 KiB of memory: the budget is its 64 KiB minimum, and each chunk read is the callback's one allocation.
  expect(collections(small)).toBe((CHUNKS * CHUNK.length) / 65536);
  expect(collections(fixed)).toBe(collections(small));
  expect(large.end).toBe(large.warm);
  expect(collections(large) * 4).toBeLessThan(collections(small));
});

async function tcpConnection(config: object): Promise<Soak> {
  const host = await Host.start(wasm, { pluginConfig: JSON.stringify(config) });
  const c = host.newTcpStream();
  return soak(host, CHUNKS, () => { c.sendDownstreamData(CHUNK, false); });
}

test(`one TCP connection, ${CHUNKS} data callbacks of 4 KiB: linear memory flat after warm-up`, async () => {
  const on = await tcpConnection({});
  const off = await tcpConnection(OFF);
  report("tcp data", on, off);
  expect(on.host.failed).toBe(false);
  expect(on.host.metric("soak.tcp_bytes")?.value).toBe(CHUNKS * CHUNK.length);
  expect(on.end).toBe(on.warm);
  expect(off.end).toBeGreaterThan(off.warm);
});

async function grpcFeed(config: object): Promise<Soak> {
  const host = await Host.start(wasm, { pluginConfig: JSON.stringify({ ...config, grpc_cluster: "feed" }) });
  const [stream] = host.grpcStreams();
  host.grpcStreamReceive(stream.token, { initialMetadata: [["x-feed", "1"]] });
  return soak(host, CHUNKS, () => { host.grpcStreamReceive(stream.token, { message: CHUNK }); });
}

test(`one gRPC stream from the root context, ${CHUNKS} messages of 4 KiB: linear memory flat after warm-up`, async () => {
  const on = await grpcFeed({});
  const off = await grpcFeed(OFF);
  report("grpc stream messages", on, off);
  expect(on.host.failed).toBe(false);
  expect(on.host.grpcStreams()[0].upstream).toBe("feed");
  expect(on.host.metric("soak.grpc_messages")?.value).toBe(CHUNKS);
  expect(on.end).toBe(on.warm);
  expect(off.end).toBeGreaterThan(off.warm);
});

async function tickingRoot(config: object, ticks: number): Promise<Soak> {
  const host = await Host.start(wasm, { pluginConfig: JSON.stringify({ ...config, tick_ms: 1 }) });
  const body = "ok ".repeat(100);
  return soak(host, ticks, () => {
    host.advanceTime(1);
    const [call] = host.httpCalls();
    host.respondHttpCall(call.token, { headers: [[":status", "200"], ["content-type", "text/plain"]], body });
  });
}

test(`an idle root ticking ${TICKS} times, an HTTP callout per tick and its response handled: linear memory flat after warm-up`, async () => {
  const on = await tickingRoot({}, TICKS);
  // A fifth of the ticks is enough to show growth (and keeps the control's memory and time small).
  const off = await tickingRoot(OFF, TICKS / 5);
  report("ticks with callouts", on, off);
  expect(on.host.failed).toBe(false);
  expect(on.host.metric("soak.callout_responses")?.value).toBe(TICKS);
  expect(on.host.httpCalls()).toHaveLength(0);
  expect(on.end).toBe(on.warm);
  expect(off.end).toBeGreaterThan(off.warm);
}, 120_000);
