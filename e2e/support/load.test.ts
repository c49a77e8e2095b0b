import { countBy, latencies, startLoad } from "./load";

/** A send that answers after `ms` and tracks how many calls are in flight at once. */
function slowSend(ms: number) {
  const state = { inFlight: 0, most: 0 };
  const send = async (i: number) => {
    state.inFlight++;
    state.most = Math.max(state.most, state.inFlight);
    await new Promise((r) => setTimeout(r, ms));
    state.inFlight--;
    if (i % 5 === 4) throw new Error("refused");
    return i;
  };
  return { state, send };
}

describe("load generator", () => {
  test("sends exactly maxRequests with at most `concurrency` in flight, recording answers and errors", async () => {
    const { state, send } = slowSend(2);
    const samples = await startLoad({ concurrency: 4, maxRequests: 50, maxDurationMs: 20_000, send }).finished;
    expect(samples.length).toBe(50);
    expect(new Set(samples.map((s) => s.i)).size).toBe(50);
    expect(state.most).toBe(4);
    expect(countBy(samples, (s) => (s.error ? s.error : "ok"))).toEqual({ ok: 40, refused: 10 });
    expect(samples.every((s) => s.endedAt >= s.startedAt)).toBe(true);
  });

  test("starts no request after maxDurationMs", async () => {
    const { send } = slowSend(20);
    const load = startLoad({ concurrency: 2, maxRequests: 10_000, maxDurationMs: 200, send });
    const samples = await load.finished;
    expect(samples.length).toBeLessThan(10_000);
    expect(Math.max(...samples.map((s) => s.startedAt))).toBeLessThan(200);
  });

  test("mark() labels the requests started after it; advance() waits for answers and gives up once the load has ended", async () => {
    const { send } = slowSend(1);
    const load = startLoad({ concurrency: 2, maxRequests: 10_000, maxDurationMs: 20_000, send });
    await load.advance(10);
    const at = load.mark("second");
    const later = await load.waitForSample((s) => s.phase === "second", at);
    expect(later.startedAt).toBeGreaterThanOrEqual(at);
    await load.stop();
    expect(load.phases).toEqual(["start", "second"]);
    expect(load.samples.filter((s) => s.phase === "second").every((s) => s.startedAt >= at)).toBe(true);
    await expect(load.advance(1, 1000)).rejects.toThrow("the load ended");
  });

  test("stop() lets requests in flight finish and starts no more", async () => {
    const { send } = slowSend(5);
    const load = startLoad({ concurrency: 3, maxRequests: 10_000, maxDurationMs: 20_000, send });
    await load.advance(6);
    const before = load.samples.length;
    const samples = await load.stop();
    // Only the (at most 3) requests in flight at stop() were still answered.
    expect(samples.length - before).toBeLessThanOrEqual(3);
    expect(samples.length).toBeGreaterThan(0);
    expect(latencies(samples).max).toBeGreaterThanOrEqual(5);
  });
});
