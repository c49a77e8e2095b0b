// The load generator: fortio, pinned to its own core, with JSON output read back. Envoy runs on the other
// core (see main.ts), so the two never compete for one.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const FORTIO = join(process.cwd(), ".tools", "bin", "fortio");

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  /** Requests per second; 0 means as fast as the connections allow (max throughput). */
  qps: number;
  connections: number;
  seconds: number;
  /** Exactly this many requests instead of a duration (`-n`), when given. */
  requests?: number;
  /** The core fortio runs on (taskset -c). */
  core: number;
}

export interface LoadResult {
  requests: number;
  actualQps: number;
  /** Percentiles in microseconds, by percentile ("50", "90", "99"). */
  percentilesUs: Record<string, number>;
  avgUs: number;
  /** Requests by status code; anything but 200 makes the case fail its check. */
  codes: Record<string, number>;
}

interface FortioJson {
  ActualQPS: number;
  RetCodes: Record<string, number>;
  DurationHistogram: { Count: number; Avg: number; Percentiles: Array<{ Percentile: number; Value: number }> | null };
}

/**
 * One fortio run. Fixed-rate runs use -nocatchup (a late request is not made up for by a burst) and
 * -uniform (connections start spread over the interval); the histogram resolution is 1 µs.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "pwas-fortio-"));
  try {
    const out = join(dir, "result.json");
    const args = [
      "-c", String(spec.core), FORTIO, "load",
      "-qps", String(spec.qps),
      "-c", String(spec.connections),
      ...(spec.requests ? ["-n", String(spec.requests)] : ["-t", `${spec.seconds}s`]),
      "-r", "0.000001",
      "-p", "50,90,99",
      "-json", out,
      "-quiet",
      ...(spec.qps > 0 ? ["-nocatchup", "-uniform"] : []),
      ...Object.entries(spec.headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
      spec.url,
    ];
    await new Promise<void>((resolve, reject) => {
      execFile("taskset", args, { maxBuffer: 16 << 20, timeout: (spec.seconds + (spec.requests ?? 0) / 500 + 60) * 1000 }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`fortio failed: ${err.message}\n${stderr.slice(-2000)}`));
        else resolve();
      });
    });
    const json = JSON.parse(readFileSync(out, "utf8")) as FortioJson;
    const percentilesUs: Record<string, number> = {};
    for (const p of json.DurationHistogram.Percentiles ?? []) percentilesUs[String(p.Percentile)] = p.Value * 1e6;
    return {
      requests: json.DurationHistogram.Count,
      actualQps: json.ActualQPS,
      percentilesUs,
      avgUs: json.DurationHistogram.Avg * 1e6,
      codes: json.RetCodes ?? {},
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** fortio's version, for the results file. */
export function fortioVersion(): Promise<string> {
  return new Promise((resolve) => {
    execFile(FORTIO, ["version"], (err, stdout) => resolve(err ? "unknown" : stdout.trim()));
  });
}
