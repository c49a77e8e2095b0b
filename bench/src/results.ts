// The shape of bench/results/*.json and the figures derived from the measured ones.
import type { AlternatedRatio } from "./alternate";
import type { CountFigures } from "./counts";
import type { EnvoyMemory } from "./rss";
import type { UpstreamRatio } from "./upstream";

export interface CaseResult {
  name: string;
  kind: "none" | "native" | "wasm";
  sdk: string | null;
  group: string;
  /** The case this one is compared with (see cases.ts), or null. */
  pair: string | null;
  p50_us: number | null;
  p90_us: number | null;
  p99_us: number | null;
  rps_max: number | null;
  /** p50 minus the floor's p50. */
  added_p50_us: number | null;
  module_bytes: number | null;
  module_gzip_bytes: number | null;
  memory_bytes: number | null;
  vm_start_ms: number | null;
  memory_start_bytes: number | null;
  /** Envoy CPU per request at max throughput, and the same minus the floor's. */
  cpu_us_per_req: number | null;
  added_cpu_us_per_req: number | null;
  rps_at_fixed_rate: number | null;
  /** added_p50_us / the pair's, rps_max / the pair's, added_cpu_us_per_req / the pair's. */
  added_p50_ratio: number | null;
  rps_ratio: number | null;
  cpu_ratio: number | null;
  /** The per-round figures behind the medians. */
  p50_us_rounds?: number[];
  rps_max_rounds?: number[];
  /** One-minute load average when the case finished (median over rounds). */
  load_average: number | null;
  /** Why the case has no figures (or only some). */
  error: string | null;
  emulator_error?: string;
  /** Exact per-request counts from the metered module in the emulator (counts.ts). */
  counts?: CountFigures;
  /** Added CPU ratio to the pair from tightly alternated slices (alternate.ts). */
  alternated?: AlternatedRatio;
  /** Envoy's RSS with this case at several worker counts, and after a soak (rss.ts). */
  envoy_memory?: EnvoyMemory;
  envoy_memory_error?: string;
  /** Throughput ratio to the pair in front of a real upstream (upstream.ts). */
  upstream?: UpstreamRatio;
  upstream_error?: string;
  /** Set when the Envoy figures are carried over from an earlier run (main.ts --keep-others): its date. */
  previous_run?: string;
}

export interface Results {
  machine: Record<string, unknown>;
  envoy: string;
  mode: "full" | "quick";
  date: string;
  method: Record<string, string>;
  sdks: Record<string, { wasm: string | null; version: string; reason: string | null }>;
  cases: CaseResult[];
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

function ratio(a: number | null, b: number | null): number | null {
  if (a === null || b === null || b === 0) return null;
  return round(a / b, 2);
}

/** Fills the added_* figures (against the floor) and the ratios (against each case's pair), in place. */
export function deriveComparisons(cases: CaseResult[]): void {
  const floor = cases.find((c) => c.kind === "none");
  const byName = new Map(cases.map((c) => [c.name, c]));
  for (const c of cases) {
    if (floor && c.p50_us !== null && floor.p50_us !== null) c.added_p50_us = round(c.p50_us - floor.p50_us, 1);
    if (floor && c.cpu_us_per_req !== null && floor.cpu_us_per_req !== null) c.added_cpu_us_per_req = round(c.cpu_us_per_req - floor.cpu_us_per_req, 2);
  }
  for (const c of cases) {
    const p = c.pair ? byName.get(c.pair) : undefined;
    if (!p) continue;
    c.added_p50_ratio = ratio(c.added_p50_us, p.added_p50_us);
    c.rps_ratio = ratio(c.rps_max, p.rps_max);
    c.cpu_ratio = ratio(c.added_cpu_us_per_req, p.added_cpu_us_per_req);
  }
}
