// Metrics. Define them once (in onConfigure or a root context's constructor) and keep the object:
// defining is a host call with a string, recording is a host call with two integers.
// Envoy 1.40 lists them in /stats as `wasmcustom.<name>` (Prometheus output strips the prefix).

import * as abi from "./abi/imports";
import { MetricType, WasmResult } from "./abi/enums";
import { RET_U32, RET_U64 } from "./internal/memory";
import { encodeUtf8 } from "./utf8";

function defineMetric(type: MetricType, name: string): u32 {
  const n = encodeUtf8(name);
  store<u32>(RET_U32, 0);
  const r = abi.proxy_define_metric(type, changetype<usize>(n), <usize>n.byteLength, RET_U32);
  return r == WasmResult.Ok ? load<u32>(RET_U32) : u32.MAX_VALUE;
}

function readMetric(id: u32): u64 {
  store<u64>(RET_U64, 0);
  abi.proxy_get_metric(id, RET_U64);
  return load<u64>(RET_U64);
}

/** A monotonically increasing count. */
export class Counter {
  readonly id: u32;
  constructor(public readonly name: string) { this.id = defineMetric(MetricType.Counter, name); }
  increment(by: u64 = 1): WasmResult { return <WasmResult>abi.proxy_increment_metric(this.id, <i64>by); }
  value(): u64 { return readMetric(this.id); }
}

/** A value that goes up and down. */
export class Gauge {
  readonly id: u32;
  constructor(public readonly name: string) { this.id = defineMetric(MetricType.Gauge, name); }
  set(value: u64): WasmResult { return <WasmResult>abi.proxy_record_metric(this.id, value); }
  add(delta: i64): WasmResult { return <WasmResult>abi.proxy_increment_metric(this.id, delta); }
  value(): u64 { return readMetric(this.id); }
}

/** A distribution (Envoy keeps percentiles in /stats). */
export class Histogram {
  readonly id: u32;
  constructor(public readonly name: string) { this.id = defineMetric(MetricType.Histogram, name); }
  record(value: u64): WasmResult { return <WasmResult>abi.proxy_record_metric(this.id, value); }
}
