// Custom metrics as Envoy keeps them: the id's low two bits carry the type, and each define hands out a
// fresh id that refers to the one stat of that name and type (so values are shared across defines).
// Names are reported as the module gave them, without Envoy's `wasmcustom.` namespace.

import { MetricType, WasmResult } from "./abi";

export interface MetricValue {
  type: MetricType;
  value: bigint;
  /** Every value recorded into a histogram, in order. */
  samples?: bigint[];
}

const TYPE_MASK = 0x3;
const ID_STEP = 0x4;

export class Metrics {
  private readonly byName = new Map<string, MetricValue>();
  private readonly byId = new Map<number, MetricValue>();
  private readonly nextId = [MetricType.Counter, MetricType.Gauge, MetricType.Histogram] as number[];

  define(type: number, name: string): { result: WasmResult; id?: number } {
    if (type > MetricType.Histogram) return { result: WasmResult.BadArgument };
    const key = `${type}:${name}`;
    let m = this.byName.get(key);
    if (!m) {
      m = { type, value: 0n, ...(type === MetricType.Histogram ? { samples: [] } : {}) };
      this.byName.set(key, m);
    }
    this.nextId[type] = (this.nextId[type] + ID_STEP) >>> 0;
    const id = this.nextId[type];
    this.byId.set(id, m);
    return { result: WasmResult.Ok, id };
  }

  /** Counters only go up (offset must be > 0); gauges add or subtract; histograms refuse. */
  increment(id: number, offset: bigint): WasmResult {
    const type = id & TYPE_MASK;
    const m = this.byId.get(id);
    if (type === MetricType.Counter) {
      if (!m) return WasmResult.NotFound;
      if (offset <= 0n) return WasmResult.BadArgument;
      m.value = BigInt.asUintN(64, m.value + offset);
      return WasmResult.Ok;
    }
    if (type === MetricType.Gauge) {
      if (!m) return WasmResult.NotFound;
      m.value = BigInt.asUintN(64, m.value + offset);
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }

  /** Counters add the value (Envoy does), gauges set it, histograms record a sample. */
  record(id: number, value: bigint): WasmResult {
    const m = this.byId.get(id);
    if (!m || m.type !== (id & TYPE_MASK)) return WasmResult.NotFound;
    if (m.type === MetricType.Counter) m.value = BigInt.asUintN(64, m.value + value);
    else if (m.type === MetricType.Gauge) m.value = value;
    else {
      m.samples!.push(value);
      m.value = value;
    }
    return WasmResult.Ok;
  }

  get(id: number): { result: WasmResult; value?: bigint } {
    const type = id & TYPE_MASK;
    if (type === MetricType.Histogram || type === 3) return { result: WasmResult.BadArgument };
    const m = this.byId.get(id);
    return m ? { result: WasmResult.Ok, value: m.value } : { result: WasmResult.NotFound };
  }

  /** By name; when a name is defined with several types the counter wins, then the gauge. */
  byMetricName(name: string): MetricValue | undefined {
    for (const t of [MetricType.Counter, MetricType.Gauge, MetricType.Histogram]) {
      const m = this.byName.get(`${t}:${name}`);
      if (m) return snapshot(m);
    }
    return undefined;
  }

  all(): Record<string, MetricValue> {
    const out: Record<string, MetricValue> = {};
    for (const [key, m] of this.byName) out[key.slice(key.indexOf(":") + 1)] ??= snapshot(m);
    return out;
  }
}

function snapshot(m: MetricValue): MetricValue {
  return { type: m.type, value: m.value, ...(m.samples ? { samples: [...m.samples] } : {}) };
}
