// Behaviours measured in Envoy 1.40 with the conformance filter (e2e/conformance.test.ts pins each one against a
// real Envoy), checked here with minimal modules so a regression shows without Envoy.
import { Action, Host, MapType, StreamType, WasmResult } from "./index";
import { decodePairs } from "./pairs";
import { buildModule, BUMP_MALLOC, HEAP_SEED, i32const, MARKER_0_2_1, returns } from "./wasm-builder.testutil";

type Env = Record<string, (...a: number[]) => number>;
const SLOT = 64; // where the modules below record what they saw
const text = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/** store(SLOT, local 1): records a callback's second argument (a body callback's size). */
const RECORD_ARG1 = [...i32const(SLOT), 0x20, 1, 0x36, 2, 0];
/** store(SLOT, load(SLOT) + 1): counts calls. */
const COUNT = [...i32const(SLOT), ...i32const(SLOT), 0x28, 2, 0, ...i32const(1), 0x6a, 0x36, 2, 0];

function slot(host: Host, contextId: number): number {
  return host.runInContext(contextId, (_env, mem) => new DataView(mem().buffer).getUint32(SLOT, true));
}

function put(mem: () => Uint8Array, at: number, s: string): [number, number] {
  const b = Buffer.from(s, "latin1");
  mem().set(b, at);
  return [at, b.length];
}

describe("emulator: Envoy 1.40 behaviours measured with the conformance filter", () => {
  test("replace removes every value of a repeated header and adds one, at the end", async () => {
    const pausing = buildModule({ funcs: [MARKER_0_2_1, BUMP_MALLOC, returns("proxy_on_request_headers", 3, 1)], data: [HEAP_SEED] });
    const host = await Host.start(pausing);
    const s = host.newHttpStream();
    s.sendRequestHeaders([[":path", "/"], ["x-multi", "first"], ["x-multi", "second"], ["x-other", "1"]]);
    host.runInContext(s.id, (env: Env, mem) => {
      expect(env.proxy_replace_header_map_value(MapType.HttpRequestHeaders, ...put(mem, 100, "X-Multi"), ...put(mem, 120, "one"))).toBe(
        WasmResult.Ok,
      );
      expect(env.proxy_get_header_map_pairs(MapType.HttpRequestHeaders, 200, 204)).toBe(WasmResult.Ok);
      const dv = new DataView(mem().buffer);
      const p = dv.getUint32(200, true);
      const pairs = decodePairs(mem().slice(p, p + dv.getUint32(204, true)));
      expect(pairs.map(([k, v]) => [text(k), text(v)])).toEqual([
        [":path", "/"],
        ["x-other", "1"],
        ["x-multi", "one"],
      ]);
    });
  });

  test.each([
    // StopIterationAndBuffer: each callback is told of, and sees, the whole body so far.
    { status: 1, name: "StopIterationAndBuffer", sizes: [6, 18, 18] },
    // StopIterationAndWatermark: only the bytes that just arrived (Envoy still holds and forwards them all).
    { status: 2, name: "StopIterationAndWatermark", sizes: [6, 12, 0] },
  ])("a body held with $name: the next callbacks report $sizes bytes", async ({ status, sizes }) => {
    const holding = buildModule({
      funcs: [
        MARKER_0_2_1,
        BUMP_MALLOC,
        returns("proxy_on_request_headers", 3, 0),
        { name: "proxy_on_request_body", params: 3, results: 1, body: [...RECORD_ARG1, ...i32const(status)] },
      ],
      data: [HEAP_SEED],
    });
    const host = await Host.start(holding);
    const s = host.newHttpStream();
    s.sendRequestHeaders([[":path", "/"], [":method", "POST"]]);
    const seen: number[] = [];
    for (const [chunk, eos] of [["first-", false], ["second-chunk", false], ["", true]] as const) {
      expect(s.sendRequestBody(chunk, eos)).toBe(Action.Pause);
      seen.push(slot(host, s.id));
    }
    expect(seen).toEqual(sizes);
    host.runInContext(s.id, (env: Env) => expect(env.proxy_continue_stream(StreamType.HttpRequest)).toBe(WasmResult.Ok));
    expect(Buffer.from(s.upstream.body).toString()).toBe("first-second-chunk");
    expect(s.upstream.endOfStream).toBe(true);
  });

  test("changing a running tick period re-arms the timer a whole new period from now", async () => {
    const ticking = buildModule({
      funcs: [MARKER_0_2_1, BUMP_MALLOC, { name: "proxy_on_tick", params: 1, results: 0, body: COUNT }],
      data: [HEAP_SEED],
    });
    const host = await Host.start(ticking);
    const root = host.rootContextId();
    const setPeriod = (ms: number) =>
      host.runInContext(root, (env: Env) => expect(env.proxy_set_tick_period_milliseconds(ms)).toBe(WasmResult.Ok));
    setPeriod(10);
    host.advanceTime(25);
    expect(slot(host, root)).toBe(2); // at 10 and 20 ms
    setPeriod(100); // at 25 ms: the next tick is at 125 ms, not at 30 ms on the old schedule
    host.advanceTime(99);
    expect(slot(host, root)).toBe(2);
    host.advanceTime(1);
    expect(slot(host, root)).toBe(3);
    host.advanceTime(100);
    expect(slot(host, root)).toBe(4);
  });
});
