import { MetricType, WasmResult } from "./abi";
import { Metrics } from "./metrics";

describe("metrics (Envoy ids and rules)", () => {
  test("each define gets a fresh id of its type that refers to the one stat of that name", () => {
    const m = new Metrics();
    const a = m.define(MetricType.Counter, "reqs").id!;
    const b = m.define(MetricType.Counter, "reqs").id!;
    expect(a & 3).toBe(MetricType.Counter);
    expect(b).not.toBe(a);
    m.increment(a, 2n);
    m.increment(b, 3n);
    expect(m.byMetricName("reqs")!.value).toBe(5n);
    expect(m.define(MetricType.Gauge, "g").id! & 3).toBe(MetricType.Gauge);
    expect(m.define(MetricType.Histogram, "h").id! & 3).toBe(MetricType.Histogram);
    expect(m.define(3, "bad").result).toBe(WasmResult.BadArgument);
  });

  test("counters only go up; gauges go both ways and record sets; histograms only record", () => {
    const m = new Metrics();
    const c = m.define(MetricType.Counter, "c").id!;
    const g = m.define(MetricType.Gauge, "g").id!;
    const h = m.define(MetricType.Histogram, "h").id!;
    expect(m.increment(c, 0n)).toBe(WasmResult.BadArgument);
    expect(m.increment(c, -1n)).toBe(WasmResult.BadArgument);
    expect(m.record(c, 4n)).toBe(WasmResult.Ok); // Envoy adds on record for counters
    expect(m.get(c)).toEqual({ result: WasmResult.Ok, value: 4n });
    m.increment(g, 5n);
    m.increment(g, -2n);
    expect(m.get(g).value).toBe(3n);
    m.record(g, 10n);
    expect(m.get(g).value).toBe(10n);
    expect(m.increment(h, 1n)).toBe(WasmResult.BadArgument);
    m.record(h, 7n);
    m.record(h, 9n);
    expect(m.get(h).result).toBe(WasmResult.BadArgument);
    expect(m.byMetricName("h")!.samples).toEqual([7n, 9n]);
    expect(m.increment(c + 4 * 100, 1n)).toBe(WasmResult.NotFound);
  });
});
