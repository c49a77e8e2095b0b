// Memory in Envoy itself, not in the emulator: the resident set (VmRSS) of the Envoy process with one case's
// filter, at several `--concurrency` values. Envoy runs one Wasm VM per worker thread (and one on the main
// thread), so the slope of RSS over the worker count is what each worker costs; the intercept is the rest.
// Then, on the one-worker Envoy, RSS after a soak of many requests, and the growth over the reading before.
//
// Memory does not move with the machine's CPU load the way time does, but the allocator returns pages at
// its own pace: each figure is the median of a few readings, each taken after a short burst of requests.
import { readFileSync } from "node:fs";
import { httpListener, startEnvoy, type StartedEnvoy } from "../../src/envoy";
import { filtersOf, type BenchCase } from "./cases";
import { runLoad } from "./load";

export interface EnvoyMemory {
  /** Worker counts (`--concurrency`) measured, and the median RSS at each, in bytes. */
  concurrency: number[];
  rss_bytes: number[];
  /** Every reading behind each median. */
  readings: number[][];
  /** Least-squares line through (concurrency, rss): bytes per worker and the intercept (no workers). */
  per_worker_bytes: number;
  intercept_bytes: number;
  /** The soak, on the Envoy of the first concurrency: RSS before and after `requests` requests. */
  soak: { concurrency: number; requests: number; before_bytes: number; after_bytes: number; growth_bytes: number };
}

export interface MemorySettings {
  concurrency: number[];
  soakRequests: number;
  /** Readings per figure, each after a burst of `burstRequests`. */
  readings: number;
  burstRequests: number;
  warmupSeconds: number;
  connections: number;
  launcher: string;
  loadCore: number;
}

/** The Envoy process's resident set in bytes (/proc/<pid>/status VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
};

/** Slope and intercept of the least-squares line through the points. */
export function fitLine(xs: number[], ys: number[]): { slope: number; intercept: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;
  return { slope, intercept: my - slope * mx };
}

async function readRss(envoy: StartedEnvoy, pid: number, c: BenchCase, s: MemorySettings): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < s.readings; i++) {
    await burst(envoy, c, s, s.burstRequests);
    out.push(rssBytes(pid));
  }
  return out;
}

async function burst(envoy: StartedEnvoy, c: BenchCase, s: MemorySettings, requests: number): Promise<void> {
  const run = await runLoad({ url: envoy.url("/bench"), headers: c.headers, qps: 0, connections: s.connections, seconds: 0, requests, core: s.loadCore });
  const bad = Object.keys(run.codes).filter((code) => code !== "200");
  if (bad.length > 0) throw new Error(`${c.name}: answers other than 200 (${bad.join(", ")}) in the memory run`);
}

/** Measures one case's Envoy memory at each concurrency, and the soak on the first. */
export async function measureEnvoyMemory(c: BenchCase, wasmFile: string | undefined, s: MemorySettings): Promise<EnvoyMemory> {
  const readings: number[][] = [];
  let soak: EnvoyMemory["soak"] | undefined;
  for (const [i, concurrency] of s.concurrency.entries()) {
    const envoy = await startEnvoy(
      { listeners: [httpListener("bench", { httpFilters: filtersOf(c, wasmFile), virtualHosts: [{ name: "bench", routes: c.routes }] })] },
      { binary: s.launcher, concurrency, logLevel: "warning" },
    );
    try {
      const pid = (envoy as unknown as { pid?: number }).pid;
      if (!pid) throw new Error("no Envoy pid to read memory from");
      // Warm-up at full speed over more connections than workers, so every worker's VM has served requests.
      await runLoad({ url: envoy.url("/bench"), headers: c.headers, qps: 0, connections: s.connections, seconds: s.warmupSeconds, core: s.loadCore });
      const r = await readRss(envoy, pid, c, s);
      readings.push(r);
      if (i === 0) {
        await burst(envoy, c, s, s.soakRequests);
        const after = median(await readRss(envoy, pid, c, s));
        const before = median(r);
        soak = { concurrency, requests: s.soakRequests, before_bytes: before, after_bytes: after, growth_bytes: after - before };
      }
    } finally {
      await envoy.stop();
    }
  }
  const rss = readings.map(median);
  const line = fitLine(s.concurrency, rss);
  return {
    concurrency: s.concurrency,
    rss_bytes: rss,
    readings,
    per_worker_bytes: Math.round(line.slope),
    intercept_bytes: Math.round(line.intercept),
    soak: soak!,
  };
}
