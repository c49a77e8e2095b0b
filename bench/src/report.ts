// The tables in BENCHMARKS.md, written from a results file between the `results:begin` / `results:end`
// markers, so the document always shows the figures of the committed run and nothing typed by hand.
import type { CaseResult, Results } from "./results";
import { renderTargets } from "./targets";

export const BEGIN = "<!-- results:begin (written by `node bench/run.mjs report`; do not edit) -->";
export const END = "<!-- results:end -->";

const n = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? "–" : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : String(Math.round(v * 10 ** digits) / 10 ** digits);
const kib = (v: number | null) => (v === null ? "–" : `${Math.round(v / 1024).toLocaleString("en-US")} KiB`);
const ratio = (v: number | null) => (v === null ? "–" : `${v.toFixed(2)}×`);

function vs(c: CaseResult): string {
  const from = c.previous_run ? ` (from the run of ${c.previous_run.slice(0, 16).replace("T", " ")} UTC)` : "";
  if (!c.pair) return from.trim();
  return `vs ${c.pair}: CPU ${ratio(c.cpu_ratio)}, rps ${ratio(c.rps_ratio)}${from}`;
}

export function renderTables(doc: Results): string {
  const m = doc.machine as Record<string, unknown>;
  const lines: string[] = [];
  lines.push(`Run of ${doc.date.slice(0, 16).replace("T", " ")} UTC (${doc.mode}): Envoy ${doc.envoy}; ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, Linux ${m.kernel}; fortio ${m.fortio}; Node ${m.node}. ` +
    `Load average (1/5/15 min) ${(m.load_average_start as number[]).join(" / ")} at the start, ${(m.load_average_end as number[]).join(" / ")} at the end. ${doc.method.rounds}.`);
  lines.push("");
  lines.push("Request path (latency at the fixed rate; CPU and throughput at max load):");
  lines.push("");
  lines.push("| case | p50 µs | p90 µs | p99 µs | added p50 µs | Envoy CPU µs/req | added CPU µs/req | max rps | compared with |");
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const c of doc.cases) {
    if (c.p50_us === null) {
      lines.push(`| ${c.name} | – | – | – | – | – | – | – | ${c.error ?? ""} |`);
      continue;
    }
    lines.push(`| ${c.name} | ${n(c.p50_us)} | ${n(c.p90_us)} | ${n(c.p99_us)} | ${c.kind === "none" ? "(floor)" : n(c.added_p50_us)} | ${n(c.cpu_us_per_req, 2)} | ${c.kind === "none" ? "(floor)" : n(c.added_cpu_us_per_req, 2)} | ${n(c.rps_max)} | ${vs(c)} |`);
  }
  lines.push("");
  lines.push(`Wasm modules (memory and VM start measured in the emulator, see Method):`);
  lines.push("");
  lines.push("| case | SDK | module | gzip | linear memory at start | after the soak | VM start ms |");
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const c of doc.cases) {
    if (c.kind !== "wasm" || c.module_bytes === null) continue;
    lines.push(`| ${c.name} | ${c.sdk} | ${c.module_bytes.toLocaleString("en-US")} B | ${(c.module_gzip_bytes ?? 0).toLocaleString("en-US")} B | ${kib(c.memory_start_bytes)} | ${kib(c.memory_bytes)} | ${n(c.vm_start_ms, 2)} |`);
  }
  const counted = doc.cases.filter((c) => c.counts);
  if (counted.length > 0) {
    lines.push("");
    lines.push("Exact counts per request (a metered copy of each module in the emulator, see Method; they do not depend on the machine's load):");
    lines.push("");
    lines.push("| case | Wasm instructions | of which request / response / end | host calls | host calls by kind |");
    lines.push("| --- | ---: | ---: | ---: | --- |");
    for (const c of counted) {
      const k = c.counts!;
      const kinds = Object.entries(k.host_calls_by_kind).sort((a, b) => b[1] - a[1]).map(([name, v]) => `${name.replace(/^proxy_/, "")} ${n(v, 2)}`).join(", ");
      const p = k.instructions_by_phase;
      lines.push(`| ${c.name} | ${n(k.instructions_per_req)} | ${n(p.request)} / ${n(p.response)} / ${n(p.end)} | ${n(k.host_calls_per_req, 2)} | ${kinds || "none"} |`);
    }
  }
  const alternated = doc.cases.filter((c) => c.alternated);
  if (alternated.length > 0) {
    lines.push("");
    lines.push("Added CPU ratios from alternated slices (floor, case, pair Envoys up at once, load switched between them; see Method):");
    lines.push("");
    lines.push("| case | vs | added CPU µs/req (case / pair) | ratio, median | IQR | range | rounds | reading |");
    lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for (const c of alternated) {
      const a = c.alternated!;
      const reading = a.conclusive ? (a.median < 1 ? "case cheaper" : "case dearer") : "within the spread: not told apart";
      lines.push(`| ${c.name} | ${a.pair} | ${n(a.added_cpu_us, 2)} / ${n(a.pair_added_cpu_us, 2)} | ${a.median.toFixed(2)}× | ${a.q1.toFixed(2)}–${a.q3.toFixed(2)} | ${a.min.toFixed(2)}–${a.max.toFixed(2)} | ${a.rounds} × ${a.slice_seconds} s | ${reading} |`);
    }
  }
  const memory = doc.cases.filter((c) => c.envoy_memory || c.envoy_memory_error);
  if (memory.length > 0) {
    const floor = doc.cases.find((c) => c.kind === "none")?.envoy_memory;
    const first = memory.find((c) => c.envoy_memory)?.envoy_memory;
    const mib = (b: number | null | undefined) => (b === null || b === undefined ? "–" : (b / 2 ** 20).toFixed(2));
    lines.push("");
    lines.push(`Envoy memory (resident set of the Envoy process; see Method), MiB:`);
    lines.push("");
    const cols = first ? first.concurrency.map((k) => `RSS, ${k} worker${k > 1 ? "s" : ""}`) : [];
    const soakHead = first ? `after ${first.soak.requests.toLocaleString("en-US")} requests (${first.soak.concurrency} worker${first.soak.concurrency > 1 ? "s" : ""})` : "after the soak";
    lines.push(`| case | ${cols.join(" | ")} | per worker (slope) | per worker over the floor | intercept | ${soakHead} | growth |`);
    lines.push(`| --- | ${cols.map(() => "---:").join(" | ")} | ---: | ---: | ---: | ---: | ---: |`);
    for (const c of memory) {
      const m = c.envoy_memory;
      if (!m) {
        lines.push(`| ${c.name} | ${cols.map(() => "–").join(" | ")} | – | – | – | – | – |`);
        continue;
      }
      const over = c.kind === "none" ? "(floor)" : floor ? mib(m.per_worker_bytes - floor.per_worker_bytes) : "–";
      lines.push(`| ${c.name} | ${m.rss_bytes.map(mib).join(" | ")} | ${mib(m.per_worker_bytes)} | ${over} | ${mib(m.intercept_bytes)} | ${mib(m.soak.after_bytes)} | ${mib(m.soak.growth_bytes)} |`);
    }
  }
  const upstream = doc.cases.filter((c) => c.upstream || c.upstream_error);
  if (upstream.length > 0) {
    lines.push("");
    lines.push("Throughput in front of a real upstream (case and pair up at once, load switched between them; see Method):");
    lines.push("");
    lines.push("| case | vs | max rps (case / pair) | ratio, median | IQR | range | rounds | Envoy core busy (case / pair) |");
    lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const c of upstream) {
      const u = c.upstream;
      if (!u) {
        lines.push(`| ${c.name} | ${c.pair ?? ""} | – | – | – | – | – | – |`);
        continue;
      }
      const pct = (v: number) => `${Math.round(v * 100)} %`;
      lines.push(`| ${c.name} | ${u.pair} | ${n(u.rps_median)} / ${n(u.pair_rps_median)} | ${u.median.toFixed(2)}× | ${u.q1.toFixed(2)}–${u.q3.toFixed(2)} | ${u.min.toFixed(2)}–${u.max.toFixed(2)} | ${u.rounds} × ${u.slice_seconds} s | ${pct(u.envoy_core_use)} / ${pct(u.pair_envoy_core_use)} |`);
    }
  }
  lines.push(...renderTargets(doc));
  const missing = doc.cases.filter((c) => c.error || c.envoy_memory_error || c.upstream_error);
  if (missing.length > 0) {
    lines.push("");
    for (const c of missing) {
      if (c.error) lines.push(`- ${c.name}: ${c.error}`);
      if (c.envoy_memory_error) lines.push(`- ${c.name}, Envoy memory: ${c.envoy_memory_error}`);
      if (c.upstream_error) lines.push(`- ${c.name}, real upstream: ${c.upstream_error}`);
    }
  }
  return lines.join("\n");
}

/** Replaces the marked section of `markdown` with the tables of `doc`. */
export function spliceTables(markdown: string, doc: Results): string {
  const a = markdown.indexOf(BEGIN);
  const b = markdown.indexOf(END);
  if (a < 0 || b < a) throw new Error("BENCHMARKS.md has no results markers; add the begin and end comments where the tables go");
  return `${markdown.slice(0, a + BEGIN.length)}\n${renderTables(doc)}\n${markdown.slice(b)}`;
}
