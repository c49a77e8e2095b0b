// What users see: the stock filters in front of a real upstream, where the figure compared is throughput,
// not CPU. The upstream is a fortio HTTP server answering every request with a small body; Envoy proxies to
// it over a connection pool. On this 2-core machine Envoy is pinned to one core and the upstream and the
// load generator share the other (taskset), so the run also records how busy Envoy's core was: a ratio
// near 1 with Envoy's core not saturated says the upstream side, not the filter, set the pace.
//
// The case and its pair are up at once and max-throughput load goes to each in turn (A B A B …) in short
// slices; each round of two slices gives one ratio, rps(case) / rps(pair), from figures taken seconds apart.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { cluster, httpListener, startEnvoy, waitFor, type Route, type StartedEnvoy } from "../../src/envoy";
import { quantile, r3 } from "./alternate";
import { filtersOf, type BenchCase } from "./cases";
import { FORTIO, runLoad } from "./load";

export const UPSTREAM_CLUSTER = "upstream";
/** Response body size the upstream sends (fortio's echo server honours `?size=`). */
export const BODY_BYTES = 64;
export const UPSTREAM_PATH = `/bench?size=${BODY_BYTES}`;

export interface UpstreamRatio {
  pair: string;
  rounds: number;
  slice_seconds: number;
  body_bytes: number;
  /** Requests per second of the case and of its pair in each round, and rps(case) / rps(pair). */
  rps: number[];
  pair_rps: number[];
  ratios: number[];
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  rps_median: number;
  pair_rps_median: number;
  /** Share of one core Envoy used during the slices (median), the case's and the pair's. */
  envoy_core_use: number;
  pair_envoy_core_use: number;
}

export interface UpstreamSettings {
  rounds: number;
  sliceSeconds: number;
  connections: number;
  launcher: string;
  /** The core the upstream and the load generator share. */
  otherCore: number;
  cpuSeconds: (pid: number) => number;
}

export interface Upstream {
  port: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** fortio's HTTP echo server on `core`, every other fortio listener off. */
export async function startUpstream(core: number): Promise<Upstream> {
  const port = await freePort();
  const child: ChildProcess = spawn("taskset", ["-c", String(core), FORTIO, "server", "-http-port", `127.0.0.1:${port}`,
    "-grpc-port", "disabled", "-redirect-port", "disabled", "-tcp-port", "disabled", "-udp-port", "disabled", "-ui-path", "", "-quiet"], { stdio: "ignore" });
  let exited: string | undefined;
  child.once("exit", (code, signal) => { exited = `fortio server exited (${signal ?? code})`; });
  const stop = () => new Promise<void>((resolve) => {
    if (exited) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
  try {
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}${UPSTREAM_PATH}`)).status === 200 ? true : undefined), { timeoutMs: 10_000, what: "the fortio upstream to answer", abort: () => exited });
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, stop };
}

/** The case's routes with every direct 200 answered by the upstream instead (other answers kept). */
export function upstreamRoutes(routes: Route[]): Route[] {
  return routes.map((r) => ("directResponse" in r && r.directResponse.status === 200 ? { match: r.match, cluster: UPSTREAM_CLUSTER } : r));
}

async function start(c: BenchCase, wasmFile: string | undefined, port: number, launcher: string): Promise<StartedEnvoy> {
  const envoy = await startEnvoy(
    {
      listeners: [httpListener("bench", { httpFilters: filtersOf(c, wasmFile), virtualHosts: [{ name: "bench", routes: upstreamRoutes(c.routes) }] })],
      clusters: [cluster(UPSTREAM_CLUSTER, port)],
    },
    { binary: launcher, concurrency: 1, logLevel: "warning" },
  );
  // The check: the answer comes from the upstream (its body size), so the filter let it through the route.
  const res = await fetch(envoy.url(UPSTREAM_PATH), { headers: c.headers });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200 || body.length !== BODY_BYTES) {
    await envoy.stop();
    throw new Error(`${c.name}: check through the upstream answered ${res.status} with ${body.length} bytes, expected 200 with ${BODY_BYTES}`);
  }
  return envoy;
}

async function slice(envoy: StartedEnvoy, c: BenchCase, s: UpstreamSettings): Promise<{ rps: number; coreUse: number }> {
  const pid = (envoy as unknown as { pid?: number }).pid;
  if (!pid) throw new Error("no Envoy pid to read CPU time from");
  const cpu0 = s.cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  const run = await runLoad({ url: envoy.url(UPSTREAM_PATH), headers: c.headers, qps: 0, connections: s.connections, seconds: s.sliceSeconds, core: s.otherCore });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = s.cpuSeconds(pid);
  const bad = Object.keys(run.codes).filter((code) => code !== "200");
  if (bad.length > 0) throw new Error(`${c.name}: answers other than 200 (${bad.join(", ")}) through the upstream`);
  // fortio's own start and exit are inside `wall`, so the share is a little low; it is the same for both.
  return { rps: run.actualQps, coreUse: (cpu1 - cpu0) / wall };
}

const med = (v: number[]) => quantile([...v].sort((p, q) => p - q), 0.5);

/** Alternates the case `a` and its pair `b`, both proxying to `upstream`, and returns the throughput ratio. */
export async function alternateUpstream(
  a: { c: BenchCase; wasmFile?: string },
  b: { c: BenchCase; wasmFile?: string },
  upstream: Upstream,
  s: UpstreamSettings,
): Promise<UpstreamRatio> {
  const envoys: StartedEnvoy[] = [];
  try {
    const ea = await start(a.c, a.wasmFile, upstream.port, s.launcher);
    envoys.push(ea);
    const eb = await start(b.c, b.wasmFile, upstream.port, s.launcher);
    envoys.push(eb);
    await slice(ea, a.c, s);
    await slice(eb, b.c, s);
    const rps: number[] = [];
    const pairRps: number[] = [];
    const use: number[] = [];
    const pairUse: number[] = [];
    for (let i = 0; i < s.rounds; i++) {
      const x = await slice(ea, a.c, s);
      const y = await slice(eb, b.c, s);
      rps.push(Math.round(x.rps));
      pairRps.push(Math.round(y.rps));
      use.push(x.coreUse);
      pairUse.push(y.coreUse);
    }
    const ratios = rps.map((v, i) => r3(v / pairRps[i]));
    const sorted = [...ratios].sort((p, q) => p - q);
    return {
      pair: b.c.name,
      rounds: s.rounds,
      slice_seconds: s.sliceSeconds,
      body_bytes: BODY_BYTES,
      rps,
      pair_rps: pairRps,
      ratios,
      median: r3(quantile(sorted, 0.5)),
      q1: r3(quantile(sorted, 0.25)),
      q3: r3(quantile(sorted, 0.75)),
      min: sorted[0],
      max: sorted[sorted.length - 1],
      rps_median: Math.round(med(rps)),
      pair_rps_median: Math.round(med(pairRps)),
      envoy_core_use: Math.round(med(use) * 100) / 100,
      pair_envoy_core_use: Math.round(med(pairUse) * 100) / 100,
    };
  } finally {
    for (const e of envoys) await e.stop();
  }
}
