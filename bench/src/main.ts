// `make bench`: one Envoy version, one machine, one pass over every case, each measured the same way.
// See BENCHMARKS.md for the method and the reading of the figures.
//
//   node bench/run.mjs [--quick] [--all] [--only=name,name] [--out=file] [--keep-others] [--rounds=N] [--alternate-rounds=N]
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { buildFilter } from "../../src/build";
import { httpListener, locateEnvoy, startEnvoy, ENVOY_VERSION, type StartedEnvoy } from "../../src/envoy";
import { allCases, AS_FOLDERS, filtersOf, type BenchCase } from "./cases";
import { renderChart } from "./chart";
import { fortioVersion, runLoad, type LoadResult } from "./load";
import { alternate } from "./alternate";
import { measureEnvoyMemory } from "./rss";
import { alternateUpstream, BODY_BYTES, startUpstream } from "./upstream";
import { countModule } from "./counts";
import { floorModule } from "./floor";
import { measureModule, round, type ModuleFigures } from "./modules";
import { deriveComparisons, type CaseResult, type Results } from "./results";
import { mintKeys } from "./tokens";

interface Settings {
  mode: "full" | "quick";
  /** Passes over all cases. Cases are interleaved (every case once per round) and each figure is the median
   *  over rounds, so a burst of load from elsewhere on the machine lands in one round of a few cases. */
  rounds: number;
  warmupSeconds: number;
  latencySeconds: number;
  maxSeconds: number;
  /** Fixed request rate of the latency run: low enough that every case keeps up with it. */
  qps: number;
  latencyConnections: number;
  maxConnections: number;
  soakRequests: number;
  vmStarts: number;
  /** Requests of the metered run (exact counts), after a warm-up of countWarmup. */
  countRequests: number;
  countWarmup: number;
  /** Alternated pairs (alternate.ts): rounds of floor, case, pair slices, each slice this long; and which
   *  cases get one (all with a pair, or these names). */
  alternateRounds: number;
  sliceSeconds: number;
  alternateOnly?: string[];
  /** Envoy memory (rss.ts): these cases at these worker counts, a soak on the first. */
  memory: { cases: string[]; concurrency: number[]; soakRequests: number; readings: number };
  /** Throughput in front of a real upstream (upstream.ts): these cases against their pairs. */
  upstream: { cases: string[]; rounds: number; sliceSeconds: number };
}

const FULL: Settings = { mode: "full", rounds: 2, warmupSeconds: 2, latencySeconds: 5, maxSeconds: 3, qps: 500, latencyConnections: 4, maxConnections: 8, soakRequests: 10_000, vmStarts: 5, countRequests: 1_000, countWarmup: 100, alternateRounds: 5, sliceSeconds: 2,
  memory: { cases: ["floor", "headers-as", "headers-rust", "headers-go", "headers-solo"], concurrency: [1, 2, 4], soakRequests: 100_000, readings: 3 },
  upstream: { cases: ["fault-as", "ratelimit-as", "routing-as"], rounds: 5, sliceSeconds: 2 } };
const QUICK: Settings = { mode: "quick", rounds: 1, warmupSeconds: 1, latencySeconds: 4, maxSeconds: 3, qps: 500, latencyConnections: 4, maxConnections: 8, soakRequests: 1_000, vmStarts: 3, countRequests: 200, countWarmup: 20, alternateRounds: 2, sliceSeconds: 1, alternateOnly: ["empty-as"],
  memory: { cases: ["floor", "headers-as"], concurrency: [1, 2], soakRequests: 2_000, readings: 3 },
  upstream: { cases: ["fault-as"], rounds: 2, sliceSeconds: 1 } };

/** Envoy (its worker and main thread) on one core, the load generator on the other. */
const ENVOY_CORE = 0;
const LOAD_CORE = 1;

function parseArgs(argv: string[]) {
  const quick = argv.includes("--quick") || process.env.QUICK === "1";
  const onlyArg = argv.find((a) => a.startsWith("--only="));
  // --all: every case, even with --quick (a fast check that every case still runs).
  const all = argv.includes("--all");
  const outArg = argv.find((a) => a.startsWith("--out="));
  // --keep-others (with --only): the cases not run now keep their figures from the results file being
  // replaced, each marked with the date of the run they come from.
  const keepOthers = argv.includes("--keep-others");
  // --rounds=N, --alternate-rounds=N: fewer (or more) passes than the mode's default.
  const num = (name: string) => {
    const a = argv.find((x) => x.startsWith(`--${name}=`));
    return a ? Math.max(1, Number(a.slice(name.length + 3)) || 1) : undefined;
  };
  const base = quick ? QUICK : FULL;
  return {
    keepOthers,
    settings: { ...base, rounds: num("rounds") ?? base.rounds, alternateRounds: num("alternate-rounds") ?? base.alternateRounds },
    all,
    only: onlyArg ? new Set(onlyArg.slice("--only=".length).split(",")) : undefined,
    out: outArg ? outArg.slice("--out=".length) : join("bench", "results", quick ? "quick.json" : "latest.json"),
  };
}

interface SdkStatus { wasm: string | null; version: string; reason: string | null }

function readSdkStatus(): Record<string, SdkStatus> {
  const file = join("bench", "build", "sdks.json");
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, SdkStatus>;
}

/** A launcher that runs Envoy on ENVOY_CORE: `startEnvoy` spawns it in place of the binary. */
function pinnedEnvoy(dir: string): string {
  const launcher = join(dir, "envoy-pinned");
  writeFileSync(launcher, `#!/bin/sh\nexec taskset -c ${ENVOY_CORE} ${JSON.stringify(locateEnvoy())} "$@"\n`);
  chmodSync(launcher, 0o755);
  return launcher;
}

/** User + system CPU seconds of a process so far, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat (utime, stime), counted after the command name: indexes 11 and 12 here.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

async function check(envoy: StartedEnvoy, c: BenchCase): Promise<void> {
  const res = await fetch(envoy.url("/bench"), { headers: c.headers });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`check request answered ${res.status}: ${body.slice(0, 200)}`);
  if (c.expectBody !== undefined && body !== c.expectBody) throw new Error(`check request: body ${JSON.stringify(body)}, expected ${JSON.stringify(c.expectBody)}`);
  if (c.expectHeader && res.headers.get(c.expectHeader[0]) !== c.expectHeader[1]) {
    throw new Error(`check request: ${c.expectHeader[0]} is ${JSON.stringify(res.headers.get(c.expectHeader[0]))}, expected ${JSON.stringify(c.expectHeader[1])}`);
  }
}

function onlyOk(run: LoadResult, what: string): void {
  const bad = Object.entries(run.codes).filter(([code]) => code !== "200");
  if (bad.length > 0) throw new Error(`${what}: answers other than 200: ${bad.map(([c, n]) => `${n} × ${c}`).join(", ")}`);
}

interface EnvoyFigures {
  p50_us: number;
  p90_us: number;
  p99_us: number;
  rps_at_fixed_rate: number;
  rps_max: number;
  cpu_us_per_req: number;
  load_average: number;
}

function median(values: number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : round((v[v.length / 2 - 1] + v[v.length / 2]) / 2, 2);
}

async function measureEnvoy(c: BenchCase, wasmFile: string | undefined, launcher: string, s: Settings): Promise<EnvoyFigures> {
  const envoy = await startEnvoy(
    {
      listeners: [httpListener("bench", { httpFilters: filtersOf(c, wasmFile), virtualHosts: [{ name: "bench", routes: c.routes }] })],
    },
    { binary: launcher, concurrency: 1, logLevel: "warning" },
  );
  try {
    await check(envoy, c);
    const url = envoy.url("/bench");
    const pid = (envoy as unknown as { pid?: number }).pid;
    await runLoad({ url, headers: c.headers, qps: 0, connections: s.maxConnections, seconds: s.warmupSeconds, core: LOAD_CORE });
    const latency = await runLoad({ url, headers: c.headers, qps: s.qps, connections: s.latencyConnections, seconds: s.latencySeconds, core: LOAD_CORE });
    onlyOk(latency, "latency run");
    const cpu0 = pid ? cpuSeconds(pid) : NaN;
    const max = await runLoad({ url, headers: c.headers, qps: 0, connections: s.maxConnections, seconds: s.maxSeconds, core: LOAD_CORE });
    const cpu1 = pid ? cpuSeconds(pid) : NaN;
    onlyOk(max, "max-throughput run");
    return {
      p50_us: round(latency.percentilesUs["50"]),
      p90_us: round(latency.percentilesUs["90"]),
      p99_us: round(latency.percentilesUs["99"]),
      rps_at_fixed_rate: round(latency.actualQps),
      rps_max: Math.round(max.actualQps),
      cpu_us_per_req: Number.isFinite(cpu1 - cpu0) ? round(((cpu1 - cpu0) * 1e6) / max.requests, 2) : NaN,
      load_average: round(loadavg()[0], 2),
    };
  } finally {
    await envoy.stop();
  }
}

function emptyResult(c: BenchCase): CaseResult {
  return {
    name: c.name, kind: c.kind, sdk: c.sdk, group: c.group, pair: c.pair ?? null,
    p50_us: null, p90_us: null, p99_us: null, rps_max: null, added_p50_us: null,
    module_bytes: null, module_gzip_bytes: null, memory_bytes: null, vm_start_ms: null,
    memory_start_bytes: null, cpu_us_per_req: null, added_cpu_us_per_req: null, rps_at_fixed_rate: null,
    added_p50_ratio: null, rps_ratio: null, cpu_ratio: null, load_average: null, error: null,
  };
}

async function main(): Promise<void> {
  const { settings: s, only, out, all, keepOthers } = parseArgs(process.argv.slice(2));
  const previous = keepOthers && existsSync(out) ? (JSON.parse(readFileSync(out, "utf8")) as Results) : null;
  const keys = mintKeys();
  const cases = allCases(keys).filter((c) => (only ? only.has(c.name) || c.kind === "none" : all || s.mode === "full" || c.quick));
  const sdks = readSdkStatus();
  const envoyBin = locateEnvoy();
  const envoyVersion = execFileSync(envoyBin, ["--version"], { encoding: "utf8" }).trim().replace(/^.*version:\s*/, "");
  const scratch = mkdtempSync(join(tmpdir(), "pwas-bench-run-"));
  const startLoad = loadavg();
  const results: CaseResult[] = [];

  try {
    const launcher = pinnedEnvoy(scratch);

    // This SDK's modules: built now, with the project's own build, so they match the working tree.
    // Two builds at a time (each compile is its own process), one per core.
    const built = new Map<string, string>();
    const folders = [...new Set(cases.flatMap((c) => (c.module && "build" in c.module ? [c.module.build] : [])))];
    const builder = async () => {
      for (let folder = folders.shift(); folder !== undefined; folder = folders.shift()) {
        const t0 = Date.now();
        const r = await buildFilter(AS_FOLDERS[folder]);
        built.set(folder, r.wasmPath);
        console.log(`built ${AS_FOLDERS[folder]} (${r.bytes} bytes, ${Date.now() - t0} ms)`);
      }
    };
    await Promise.all([builder(), builder()]);

    // Per case: the module's figures once, then one Envoy run per round.
    const runnable: Array<{ c: BenchCase; r: CaseResult; wasmFile?: string; rounds: EnvoyFigures[] }> = [];
    for (const c of cases) {
      const r = emptyResult(c);
      results.push(r);
      let wasmFile: string | undefined;
      if (c.module && "build" in c.module) wasmFile = built.get(c.module.build);
      if (c.module && "floor" in c.module) wasmFile = floorModule();
      if (c.module && "sdk" in c.module) {
        const st = sdks[c.module.sdk];
        if (!st) r.error = `not built: run scripts/setup-bench.sh (bench/build/sdks.json has no entry for ${c.module.sdk})`;
        else if (!st.wasm) r.error = `not built: ${st.reason}`;
        else wasmFile = resolve(st.wasm);
        if (st) r.sdk = `${c.sdk} ${st.version}`;
      }
      if (r.error) {
        console.log(`${c.name}: skipped: ${r.error}`);
        continue;
      }
      if (wasmFile) {
        const m: ModuleFigures = await measureModule(wasmFile, { pluginConfig: c.pluginConfig ?? "", headers: c.headers, soakRequests: s.soakRequests, starts: s.vmStarts });
        Object.assign(r, { module_bytes: m.module_bytes, module_gzip_bytes: m.module_gzip_bytes, memory_bytes: m.memory_bytes, memory_start_bytes: m.memory_start_bytes, vm_start_ms: m.vm_start_ms });
        if (m.emulator_error) r.emulator_error = m.emulator_error;
        try {
          r.counts = await countModule(wasmFile, { pluginConfig: c.pluginConfig ?? "", headers: c.headers, requests: s.countRequests, warmup: s.countWarmup });
          console.log(`${c.name}: ${r.counts.instructions_per_req} Wasm instructions and ${r.counts.host_calls_per_req} host calls per request (metered, emulator)`);
        } catch (err) {
          r.emulator_error = `metered run: ${(err as Error).message.split("\n")[0]}`;
        }
        console.log(`${c.name}: ${m.module_bytes} bytes (${m.module_gzip_bytes} gzip), memory ${m.memory_start_bytes} -> ${m.memory_bytes} bytes after ${s.soakRequests} requests, VM start ${m.vm_start_ms} ms${m.emulator_error ? ` (emulator: ${m.emulator_error})` : ""}`);
      }
      runnable.push({ c, r, wasmFile, rounds: [] });
    }

    for (let round = 1; round <= s.rounds; round++) {
      for (const x of runnable) {
        if (x.r.error) continue;
        process.stdout.write(`round ${round}/${s.rounds} ${x.c.name}: `);
        try {
          const f = await measureEnvoy(x.c, x.wasmFile, launcher, s);
          x.rounds.push(f);
          console.log(`p50 ${f.p50_us} µs, p99 ${f.p99_us} µs, max ${f.rps_max} rps, ${f.cpu_us_per_req} µs CPU/request, load ${f.load_average}`);
        } catch (err) {
          x.r.error = (err as Error).message.split("\n").slice(0, 3).join(" ");
          console.log(`failed: ${x.r.error}`);
        }
      }
    }
    const floorCase = runnable.find((x) => x.c.kind === "none");
    for (const x of runnable) {
      const p = runnable.find((y) => y.c.name === x.c.pair);
      if (!floorCase || !p || x.r.error || p.r.error || (s.alternateOnly && !s.alternateOnly.includes(x.c.name))) continue;
      process.stdout.write(`alternated ${x.c.name} / ${p.c.name}: `);
      try {
        const alt = await alternate(floorCase, x, p, { rounds: s.alternateRounds, sliceSeconds: s.sliceSeconds, connections: s.maxConnections, launcher, loadCore: LOAD_CORE, cpuSeconds });
        x.r.alternated = alt;
        console.log(`added CPU ratio ${alt.median} (IQR ${alt.q1}–${alt.q3}, range ${alt.min}–${alt.max})${alt.conclusive ? "" : ", within the spread"}`);
      } catch (err) {
        console.log(`failed: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    for (const x of runnable) {
      if (x.r.error || !s.memory.cases.includes(x.c.name)) continue;
      process.stdout.write(`Envoy memory ${x.c.name}: `);
      try {
        const m = await measureEnvoyMemory(x.c, x.wasmFile, { concurrency: s.memory.concurrency, soakRequests: s.memory.soakRequests, readings: s.memory.readings, burstRequests: 200, warmupSeconds: s.warmupSeconds, connections: s.maxConnections * 2, launcher, loadCore: LOAD_CORE });
        x.r.envoy_memory = m;
        const mib = (b: number) => round(b / 2 ** 20, 2);
        console.log(`RSS ${m.rss_bytes.map(mib).join(" / ")} MiB at --concurrency ${m.concurrency.join(" / ")}: ${mib(m.per_worker_bytes)} MiB per worker, intercept ${mib(m.intercept_bytes)} MiB; ${mib(m.soak.growth_bytes)} MiB growth over ${m.soak.requests} requests`);
      } catch (err) {
        x.r.envoy_memory_error = (err as Error).message.split("\n")[0];
        console.log(`failed: ${x.r.envoy_memory_error}`);
      }
    }
    const upstreamPairs = runnable.filter((x) => s.upstream.cases.includes(x.c.name) && !x.r.error);
    if (upstreamPairs.length > 0) {
      const upstream = await startUpstream(LOAD_CORE);
      try {
        for (const x of upstreamPairs) {
          const p = runnable.find((y) => y.c.name === x.c.pair);
          if (!p || p.r.error) continue;
          process.stdout.write(`upstream ${x.c.name} / ${p.c.name}: `);
          try {
            const u = await alternateUpstream(x, p, upstream, { rounds: s.upstream.rounds, sliceSeconds: s.upstream.sliceSeconds, connections: s.maxConnections * 2, launcher, otherCore: LOAD_CORE, cpuSeconds });
            x.r.upstream = u;
            console.log(`${u.rps_median} / ${u.pair_rps_median} rps, ratio ${u.median} (IQR ${u.q1}–${u.q3}, range ${u.min}–${u.max}), Envoy core ${u.envoy_core_use} / ${u.pair_envoy_core_use}`);
          } catch (err) {
            x.r.upstream_error = (err as Error).message.split("\n")[0];
            console.log(`failed: ${x.r.upstream_error}`);
          }
        }
      } finally {
        await upstream.stop();
      }
    }
    for (const x of runnable) {
      if (x.rounds.length === 0) continue;
      for (const key of ["p50_us", "p90_us", "p99_us", "rps_max", "cpu_us_per_req", "rps_at_fixed_rate", "load_average"] as const) {
        (x.r as unknown as Record<string, number | null>)[key] = median(x.rounds.map((f) => f[key]));
      }
      x.r.p50_us_rounds = x.rounds.map((f) => f.p50_us);
      x.r.rps_max_rounds = x.rounds.map((f) => f.rps_max);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  deriveComparisons(results);
  if (previous) {
    // In catalogue order: this run's cases, and the previous file's for the others.
    const order = allCases(keys).map((c) => c.name);
    for (const old of previous.cases) {
      if (results.some((r) => r.name === old.name)) continue;
      results.push({ ...old, previous_run: old.previous_run ?? previous.date });
    }
    results.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  }
  const cpu = cpus();
  const doc: Results = {
    machine: {
      cpu: cpu[0]?.model ?? "unknown",
      cores: cpu.length,
      memory_gib: round(totalmem() / 2 ** 30, 1),
      kernel: release(),
      node: process.version,
      fortio: await fortioVersion(),
      load_average_start: startLoad.map((v) => round(v, 2)),
      load_average_end: loadavg().map((v) => round(v, 2)),
      envoy_core: ENVOY_CORE,
      load_core: LOAD_CORE,
    },
    envoy: `${ENVOY_VERSION} (${envoyVersion})`,
    mode: s.mode,
    date: new Date().toISOString(),
    method: {
      rounds: `${s.rounds} interleaved round(s); each figure is the median over rounds`,
      latency: `fortio -qps ${s.qps} -c ${s.latencyConnections} -t ${s.latencySeconds}s -nocatchup -uniform, histogram resolution 1 µs`,
      max_throughput: `fortio -qps 0 -c ${s.maxConnections} -t ${s.maxSeconds}s`,
      warmup: `fortio -qps 0 -c ${s.maxConnections} -t ${s.warmupSeconds}s before each case`,
      envoy: "--concurrency 1, -l warning, pinned with taskset to core 0; fortio pinned to core 1; direct_response routes (no upstream)",
      memory: `emulator (src/emulator, V8 in Node ${process.version}): linear memory after ${s.soakRequests} requests`,
      vm_start: `emulator: median of ${s.vmStarts} Host.start runs (compile, instantiate, vm_start, configure)`,
      cpu: "Envoy process user+system CPU during the max-throughput run, divided by its requests",
      alternated: `floor, case and pair Envoys up at once; ${s.alternateRounds} rounds of -qps 0 -c ${s.maxConnections} slices of ${s.sliceSeconds}s on each in turn (after one warm-up slice each); per round (case - floor) / (pair - floor) CPU per request`,
      envoy_memory: `VmRSS of the Envoy process (/proc/<pid>/status) with ${s.memory.cases.join(", ")} at --concurrency ${s.memory.concurrency.join(", ")}, after a ${s.warmupSeconds}s warm-up over ${s.maxConnections * 2} connections; each figure the median of ${s.memory.readings} readings, each after a burst of 200 requests; per worker = least-squares slope; soak: ${s.memory.soakRequests} requests at full speed on the --concurrency ${s.memory.concurrency[0]} Envoy`,
      upstream: `${s.upstream.cases.join(", ")} and their pairs in front of a fortio HTTP server (${BODY_BYTES}-byte bodies) on core ${LOAD_CORE}, shared with the load generator; Envoy (--concurrency 1) on core ${ENVOY_CORE}; both Envoys up at once, ${s.upstream.rounds} rounds of -qps 0 slices of ${s.upstream.sliceSeconds}s (-c ${s.maxConnections * 2}) on each in turn (after one warm-up slice each); per round rps(case) / rps(pair)`,
      counts: `emulator, metered copy of each module: Wasm instructions and host calls over ${s.countRequests} requests after ${s.countWarmup} not counted, divided by ${s.countRequests}`,
    },
    sdks,
    cases: results,
  };
  mkdirSync(join(out, ".."), { recursive: true });
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  const svg = out.replace(/\.json$/, ".svg");
  writeFileSync(svg, renderChart(doc));
  console.log(`wrote ${out} and ${svg}${s.mode === "full" ? "; `node bench/run.mjs report` puts its tables into BENCHMARKS.md" : ""}`);
  if (results.some((r) => (r.error && !r.error.startsWith("not built")) || r.envoy_memory_error || r.upstream_error)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
