// Exact per-request counts of a Wasm case: its module metered (meter.ts) and run in the emulator over the
// case's requests. Unlike CPU time these do not move with the machine's load: the same module, config and
// requests give the same counts on any machine.
import { readFileSync } from "node:fs";
import { Host, LogLevel } from "../../src/emulator";
import { CALL_EXPORT_PREFIX, FUNCTION_EXPORT_PREFIX, functionNames, INSTRUCTIONS_EXPORT, meter } from "./meter";
import { requestHeaders } from "./modules";

export interface CountFigures {
  /** Wasm instructions the module executes per request (total over the stream's callbacks). */
  instructions_per_req: number;
  /** The same, split by phase: request (context create + request headers), response (headers + body),
   *  end (done, log, delete). */
  instructions_by_phase: { request: number; response: number; end: number };
  /** Calls into the host per request, all kinds together, and by import name (env.* and WASI). */
  host_calls_per_req: number;
  host_calls_by_kind: Record<string, number>;
  /** Requests measured (after `warmup` that were not). */
  requests: number;
  warmup: number;
  /** Per-function instructions per request, by function name (index when the module has no names), when
   *  asked for with `perFunction`. */
  by_function?: Record<string, number>;
}

export interface CountSpec {
  pluginConfig: string;
  headers: Record<string, string>;
  requests: number;
  warmup: number;
  /** Also count each function's own instructions (CountFigures.by_function). */
  perFunction?: boolean;
}

type Counters = Record<string, WebAssembly.Global>;

/** Instantiates through the public WebAssembly API while recording the instances made, to read the
 *  metered copy's exported counters without reaching into the emulator. */
async function loadRecording(bytes: Uint8Array, spec: CountSpec): Promise<{ host: Host; counters: Counters }> {
  const wa = WebAssembly as unknown as { Instance: typeof WebAssembly.Instance };
  const Original = wa.Instance;
  const made: WebAssembly.Instance[] = [];
  wa.Instance = class extends Original {
    constructor(m: WebAssembly.Module, i?: WebAssembly.Imports) {
      super(m, i);
      made.push(this);
    }
  } as typeof WebAssembly.Instance;
  let host: Host;
  try {
    host = await Host.load(bytes, { pluginConfig: spec.pluginConfig, logLevel: LogLevel.Info, startTimeNs: BigInt(Date.now()) * 1_000_000n });
  } finally {
    wa.Instance = Original;
  }
  const instance = made.find((i) => INSTRUCTIONS_EXPORT in i.exports);
  if (!instance) throw new Error("the emulator did not instantiate the metered module through WebAssembly.Instance");
  if (!host.startVm()) throw new Error("proxy_on_vm_start returned false");
  if (!host.configure()) throw new Error("proxy_on_configure returned false");
  const counters: Counters = {};
  for (const [name, v] of Object.entries(instance.exports)) if (v instanceof WebAssembly.Global && name.startsWith("__meter_")) counters[name] = v;
  return { host, counters };
}

const read = (g: WebAssembly.Global) => Number(g.value as bigint);

export async function countModule(file: string, spec: CountSpec): Promise<CountFigures> {
  const original = new Uint8Array(readFileSync(file));
  const { bytes } = meter(original, { perFunction: spec.perFunction });
  const { host, counters } = await loadRecording(bytes, spec);
  const instr = counters[INSTRUCTIONS_EXPORT];
  const headers = requestHeaders(spec.headers);
  const phase = { request: 0, response: 0, end: 0 };
  const oneRequest = (i: number) => {
    let t = read(instr);
    const s = host.newHttpStream();
    s.sendRequestHeaders(headers, true);
    if (s.localResponse) throw new Error(`request ${i} got a local reply ${s.localResponse.status}: the counts would not be those of the pass path`);
    phase.request += read(instr) - t;
    t = read(instr);
    s.sendResponseHeaders([[":status", "200"], ["content-length", "2"]], false);
    s.sendResponseBody("ok", true);
    phase.response += read(instr) - t;
    t = read(instr);
    s.complete();
    phase.end += read(instr) - t;
    if (host.failed) throw new Error(`the VM failed after ${i} requests: ${host.failure?.message}`);
  };
  for (let i = 0; i < spec.warmup; i++) oneRequest(i);
  for (const g of Object.values(counters)) g.value = 0n;
  phase.request = phase.response = phase.end = 0;
  for (let i = 0; i < spec.requests; i++) oneRequest(spec.warmup + i);

  const per = (n: number) => Math.round((n / spec.requests) * 100) / 100;
  const raw: Record<string, number> = {};
  let calls = 0;
  for (const [name, g] of Object.entries(counters)) {
    if (!name.startsWith(CALL_EXPORT_PREFIX)) continue;
    const n = read(g);
    if (n === 0) continue;
    calls += n;
    const kind = name.slice(CALL_EXPORT_PREFIX.length).replace(/^env\./, "").replace(/#\d+$/, "");
    raw[kind] = (raw[kind] ?? 0) + n;
  }
  const byKind: Record<string, number> = {};
  for (const [kind, n] of Object.entries(raw)) byKind[kind] = per(n);
  const figures: CountFigures = {
    instructions_per_req: per(read(instr)),
    instructions_by_phase: { request: per(phase.request), response: per(phase.response), end: per(phase.end) },
    host_calls_per_req: per(calls),
    host_calls_by_kind: byKind,
    requests: spec.requests,
    warmup: spec.warmup,
  };
  if (spec.perFunction) {
    const names = functionNames(original);
    const fns: Array<[string, number]> = [];
    for (const [name, g] of Object.entries(counters)) {
      if (!name.startsWith(FUNCTION_EXPORT_PREFIX) || read(g) === 0) continue;
      const idx = Number(name.slice(FUNCTION_EXPORT_PREFIX.length));
      fns.push([names.get(idx) ?? `#${idx}`, per(read(g))]);
    }
    figures.by_function = Object.fromEntries(fns.sort((a, b) => b[1] - a[1]));
  }
  host.shutdown();
  return figures;
}
