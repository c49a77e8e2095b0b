// The project's benchmark targets, each read from a results file as met, missed or not shown, with the
// figure it rests on. Written into BENCHMARKS.md with the tables, so a verdict never outlives its run.
// Only figures that hold on a busy machine decide: exact counts, alternated ratios with their spread,
// memory readings.
import type { CaseResult, Results } from "./results";

/** The fewest host calls each stock filter's job needs per request (see BENCHMARKS.md, Reading). */
const MIN_HOST_CALLS: Record<string, number> = { "fault-as": 1, "ratelimit-as": 3, "routing-as": 3 };

const f = (v: number, digits = 2) => (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : v.toFixed(digits));
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

export function renderTargets(doc: Results): string[] {
  const by = new Map(doc.cases.map((c) => [c.name, c]));
  const get = (name: string): CaseResult | undefined => by.get(name);
  const rows: Array<[string, string]> = [];

  const as = get("headers-as");
  const rust = get("headers-rust");
  const go = get("headers-go");
  if (as?.counts && rust?.counts) {
    const a = as.counts.instructions_per_req;
    const r = rust.counts.instructions_per_req;
    rows.push(["anchor: fewer Wasm instructions per request than Rust's module", `${a < r ? "met" : "missed"}: ${f(a, 0)} against ${f(r, 0)} (${(a / r).toFixed(2)}×)`]);
  }
  const alt = rust?.alternated;
  if (alt) {
    // The ratio is Rust's added CPU over the anchor's: above 1 means the anchor is cheaper.
    const verdict = alt.conclusive ? (alt.median > 1 ? "met" : "missed") : alt.q1 >= 1 ? "met at the median, within the spread" : "not shown";
    rows.push(["anchor: added CPU ≤ Rust's", `${verdict}: Rust / anchor ratio ${alt.median.toFixed(2)}, IQR ${alt.q1.toFixed(2)}–${alt.q3.toFixed(2)}`]);
  }
  const galt = go?.alternated;
  if (galt && galt.median > 0) {
    const inv = (v: number) => (v > 0 ? 1 / v : Infinity);
    const med = inv(galt.median);
    const verdict = galt.conclusive && inv(galt.q1) <= 0.6 ? "met" : med <= 0.6 ? "met at the median, not across the IQR" : galt.conclusive ? "missed" : "not shown (within the spread)";
    rows.push(["anchor: added CPU ≤ 0.6× Go's", `${verdict}: ${med.toFixed(2)}× (IQR ${inv(galt.q3).toFixed(2)}–${galt.q1 > 0 ? inv(galt.q1).toFixed(2) : "∞"})`]);
  }
  const empty = get("empty-as");
  if (empty?.alternated) {
    const a = empty.alternated;
    const verdict = a.q3 <= 1.1 && a.q1 > 0 ? "met" : a.conclusive && a.q1 > 1.1 ? "missed" : "not shown (within the spread)";
    const counts = empty.counts && get("floor-wasm")?.counts ? `; ${f(empty.counts.instructions_per_req, 0)} against ${f(get("floor-wasm")!.counts!.instructions_per_req, 0)} instructions per request` : "";
    rows.push(["`empty-as` within 10 % of `floor-wasm`", `${verdict}: ratio ${a.median.toFixed(2)}, IQR ${a.q1.toFixed(2)}–${a.q3.toFixed(2)}${counts}`]);
  }
  const own = Object.keys(MIN_HOST_CALLS)
    .filter((n) => get(n)?.counts && empty?.counts)
    .map((n) => `${n.replace(/-as$/, "")} ${f(get(n)!.counts!.instructions_per_req - empty!.counts!.instructions_per_req, 0)}`);
  if (own.length > 0) rows.push(["fault, ratelimit, routing each ≤ 3 µs over `empty-as`", `not measurable as a difference of two noisy CPU figures; their own work over \`empty-as\`, in instructions per request: ${own.join(", ")}`]);
  const calls = Object.entries(MIN_HOST_CALLS).filter(([n]) => get(n)?.counts).map(([n, min]) => ({ n, min, calls: get(n)!.counts!.host_calls_per_req }));
  if (calls.length > 0) {
    const ok = calls.every((c) => c.calls <= 2 * c.min);
    rows.push(["stock filters ≤ 2× the minimum host calls", `${ok ? "met" : "missed"}: ${calls.map((c) => `${c.n.replace(/-as$/, "")} ${f(c.calls, 0)} (minimum ${c.min})`).join(", ")}`]);
  }

  const floorMem = get("floor")?.envoy_memory;
  if (floorMem && as?.envoy_memory) {
    const over = (c: CaseResult | undefined) => (c?.envoy_memory ? c.envoy_memory.per_worker_bytes - floorMem.per_worker_bytes : null);
    const a = over(as)!;
    const r = over(rust);
    const g = over(go);
    if (r !== null) rows.push(["Envoy memory per worker: anchor ≤ Rust's", `${a <= r ? "met" : "missed"}: ${mib(a)} against ${mib(r)} per worker over the floor's slope`]);
    if (g !== null) rows.push(["Envoy memory per worker: anchor ≤ ¼ of Go's", `${a <= g / 4 ? "met" : "missed"}: ${mib(a)} against ${mib(g)} (¼: ${mib(g / 4)})`]);
    const soak = as.envoy_memory.soak;
    rows.push([`Envoy memory after the soak`, `anchor: ${mib(soak.growth_bytes)} growth over ${soak.requests.toLocaleString("en-US")} requests (${mib(soak.before_bytes)} → ${mib(soak.after_bytes)})`]);
  }

  const up = ["fault-as", "ratelimit-as", "routing-as"].map(get).filter((c): c is CaseResult => !!c?.upstream);
  if (up.length > 0) {
    const text = up.map((c) => {
      const u = c.upstream!;
      const verdict = u.q1 >= 0.9 ? "met" : u.median >= 0.9 ? "met at the median" : "missed";
      return `${c.name.replace(/-as$/, "")} ${verdict} (${u.median.toFixed(2)}×, IQR ${u.q1.toFixed(2)}–${u.q3.toFixed(2)})`;
    });
    rows.push(["real upstream: fault, ratelimit, routing each ≥ 0.9× native throughput", text.join("; ")]);
  }

  if (rows.length === 0) return [];
  return ["", "Targets, met or missed (read from the figures above):", "", "| target | result |", "| --- | --- |", ...rows.map(([t, r]) => `| ${t} | ${r} |`)];
}
