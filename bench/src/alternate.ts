// Envoy CPU ratios that hold on a busy machine: the no-filter floor, a case and its pair run at the same time
// (three Envoys up at once, on the same core), and the load is switched between them in short slices,
// floor, case, pair, floor, case, pair, … Each round of three slices gives one ratio of added CPU per
// request, (case − floor) / (pair − floor), from figures taken seconds apart, so a change in the machine's
// load between rounds moves all three. The result is the median of the rounds' ratios with its spread; a
// ratio whose interquartile range reaches across 1, or is wider than the ratio's distance from 1, does not
// tell the two apart, and says so.
import { httpListener, startEnvoy, type StartedEnvoy } from "../../src/envoy";
import { filtersOf, type BenchCase } from "./cases";
import { runLoad } from "./load";

export interface AlternatedRatio {
  /** The case compared with (the case's pair). */
  pair: string;
  rounds: number;
  slice_seconds: number;
  /** Added CPU per request of the case over its pair's, per round, and their median, quartiles and range. */
  ratios: number[];
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  /** True only when the interquartile range excludes 1, is narrower than the difference from 1 the median
   *  claims, and has no ratio at or below 0 in it (a slice whose added CPU came out below the floor's). */
  conclusive: boolean;
  /** Added CPU µs per request of the case and of its pair (median over rounds). */
  added_cpu_us: number;
  pair_added_cpu_us: number;
}

export interface AlternateSettings {
  rounds: number;
  sliceSeconds: number;
  connections: number;
  launcher: string;
  loadCore: number;
  cpuSeconds: (pid: number) => number;
}

/** The q-quantile of an ascending list, interpolated between neighbours. */
export function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const r3 = (n: number) => Math.round(n * 1000) / 1000;

async function start(c: BenchCase, wasmFile: string | undefined, launcher: string): Promise<StartedEnvoy> {
  return startEnvoy(
    { listeners: [httpListener("bench", { httpFilters: filtersOf(c, wasmFile), virtualHosts: [{ name: "bench", routes: c.routes }] })] },
    { binary: launcher, concurrency: 1, logLevel: "warning" },
  );
}

/** One slice of load on one Envoy: its CPU µs per request. */
async function slice(envoy: StartedEnvoy, c: BenchCase, s: AlternateSettings): Promise<number> {
  const pid = (envoy as unknown as { pid?: number }).pid;
  if (!pid) throw new Error("no Envoy pid to read CPU time from");
  const cpu0 = s.cpuSeconds(pid);
  const run = await runLoad({ url: envoy.url("/bench"), headers: c.headers, qps: 0, connections: s.connections, seconds: s.sliceSeconds, core: s.loadCore });
  const cpu1 = s.cpuSeconds(pid);
  const bad = Object.keys(run.codes).filter((code) => code !== "200");
  if (bad.length > 0) throw new Error(`${c.name}: answers other than 200 (${bad.join(", ")}) in an alternated slice`);
  return ((cpu1 - cpu0) * 1e6) / run.requests;
}

/** Alternates floor, `a` and `b` (a's pair) and returns the ratio of a's added CPU to b's. */
export async function alternate(
  floor: { c: BenchCase },
  a: { c: BenchCase; wasmFile?: string },
  b: { c: BenchCase; wasmFile?: string },
  s: AlternateSettings,
): Promise<AlternatedRatio> {
  const envoys: StartedEnvoy[] = [];
  try {
    const ef = await start(floor.c, undefined, s.launcher);
    envoys.push(ef);
    const ea = await start(a.c, a.wasmFile, s.launcher);
    envoys.push(ea);
    const eb = await start(b.c, b.wasmFile, s.launcher);
    envoys.push(eb);
    // Warm-up: one slice each (V8 tiers the modules up), not counted.
    for (const [e, c] of [[ef, floor.c], [ea, a.c], [eb, b.c]] as const) await slice(e, c, s);
    const ratios: number[] = [];
    const addedA: number[] = [];
    const addedB: number[] = [];
    for (let i = 0; i < s.rounds; i++) {
      const f = await slice(ef, floor.c, s);
      const x = await slice(ea, a.c, s);
      const y = await slice(eb, b.c, s);
      addedA.push(x - f);
      addedB.push(y - f);
      ratios.push(r3((x - f) / (y - f)));
    }
    const sorted = [...ratios].sort((p, q) => p - q);
    const med = (v: number[]) => quantile([...v].sort((p, q) => p - q), 0.5);
    const q1 = r3(quantile(sorted, 0.25));
    const q3 = r3(quantile(sorted, 0.75));
    return {
      pair: b.c.name,
      rounds: s.rounds,
      slice_seconds: s.sliceSeconds,
      ratios,
      median: r3(quantile(sorted, 0.5)),
      q1,
      q3,
      min: sorted[0],
      max: sorted[sorted.length - 1],
      conclusive: (q3 < 1 || q1 > 1) && q3 - q1 < Math.abs(quantile(sorted, 0.5) - 1) && q1 > 0,
      added_cpu_us: Math.round(med(addedA) * 100) / 100,
      pair_added_cpu_us: Math.round(med(addedB) * 100) / 100,
    };
  } finally {
    for (const e of envoys) await e.stop();
  }
}
