// ratelimit (local mode) in a real Envoy: the per-client table never holds more than its slots, whatever the
// number of clients (exact, from the filter's counters), and what one slot costs in Envoy's memory (printed
// for the filter's README; process memory is a figure, not an assertion: it moves with the allocator).

import { Agent } from "node:http";
import { ratelimitWasm } from "../filters/ratelimit/tests/harness";
import { cluster, envoyHarness, httpListener, wasmFilter, type StartedEnvoy } from "../src/envoy";
import { httpRequest } from "./support/client";

const harness = envoyHarness();
let wasmFile: string;

beforeAll(async () => {
  wasmFile = await ratelimitWasm();
}, 180_000);

jest.setTimeout(300_000);

const SLOTS = 4096;

/** Sends one request per key, `parallel` at a time over keep-alive connections; returns the 200 count. */
async function sendKeys(envoy: StartedEnvoy, agent: Agent, from: number, to: number, withKey = true, parallel = 32): Promise<number> {
  const url = envoy.url("/", "rl");
  let next = from;
  let ok = 0;
  const worker = async () => {
    while (next < to) {
      const k = next++;
      const r = await httpRequest(url, { agent, headers: withKey ? { "x-key": `client-${k}` } : {}, timeoutMs: 30_000 });
      if (r.status === 200) ok++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return ok;
}

async function allocated(envoy: StartedEnvoy): Promise<number> {
  return envoy.counter("server.memory_allocated");
}

test("ratelimit memory: a per-client table holds at most its slots however many clients come (bytes per slot printed)", async () => {
  const echo = await harness.startEcho();
  const envoy = await harness.startEnvoy({
    listeners: [httpListener("rl", {
      httpFilters: [wasmFilter({
        name: "ratelimit", wasmFile, vmId: "ratelimit",
        configuration: {
          rate_limits: [{ actions: [{ request_headers: { header_name: "x-key", descriptor_key: "k" } }] }],
          // Buckets that stay far from full, so no slot is ever taken over: slots in use = keys - overflow.
          descriptors: [{ entries: [{ key: "k" }], token_bucket: { max_tokens: 1_000_000, tokens_per_fill: 1, fill_interval: "3600s" } }],
          max_dynamic_descriptors: SLOTS,
        },
      })],
      virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }],
    })],
    clusters: [cluster("echo", echo.port)],
  }, { concurrency: 2 });
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  try {
    // Warm up connections, the VMs and the stats before the first reading, with as many requests as the
    // first wave but no key (no descriptor, so no slot): what the first wave adds is then the slots.
    expect(await sendKeys(envoy, agent, 0, 2 * SLOTS, false)).toBe(2 * SLOTS);
    const overflow0 = await envoy.counter("wasmcustom.ratelimit.overflow");
    const m0 = await allocated(envoy);
    const first = 2 * SLOTS;
    expect(await sendKeys(envoy, agent, 0, first)).toBe(first);
    const m1 = await allocated(envoy);
    const overflow1 = await envoy.counter("wasmcustom.ratelimit.overflow");
    const slotsFilled = first - (overflow1 - overflow0);
    const perSlot = (m1 - m0) / slotsFilled;
    const more = 4 * SLOTS;
    expect(await sendKeys(envoy, agent, first, first + more)).toBe(more);
    const m2 = await allocated(envoy);
    const overflow2 = await envoy.counter("wasmcustom.ratelimit.overflow");
    const laterSlots = more - (overflow2 - overflow1);
    console.log(
      `ratelimit memory e2e: ${slotsFilled} of ${SLOTS} slots filled by ${first} keys: +${m1 - m0} bytes of ` +
        `server.memory_allocated, ${perSlot.toFixed(0)} bytes per slot; ${more} more keys (${laterSlots} of them found ` +
        `a free slot): ${m2 - m1 >= 0 ? "+" : ""}${m2 - m1} bytes`,
    );
    // The table is bounded: the first wave fills at most its slots, and later clients can only take the
    // slots still free; every other key is charged to the overflow bucket, not given a new entry.
    expect(slotsFilled).toBeLessThanOrEqual(SLOTS);
    expect(slotsFilled).toBeGreaterThan(SLOTS / 2);
    expect(laterSlots).toBeLessThanOrEqual(SLOTS - slotsFilled);
    expect(await envoy.counter("wasmcustom.ratelimit.errors")).toBe(0);
    expect(await envoy.counter("wasmcustom.ratelimit.evictions")).toBe(0);
  } finally {
    agent.destroy();
  }
});
