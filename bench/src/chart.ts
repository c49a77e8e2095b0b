// The chart in BENCHMARKS.md, drawn from a results file and nothing else: one row per case; panels for the
// added Envoy CPU per request, max throughput, and the exact counts per request of the Wasm cases (Wasm
// instructions on a log scale, host calls). Deterministic: same JSON, same SVG.
import type { CaseResult, Results } from "./results";

const ROW = 22;
const TOP = 58;
const LABEL_W = 190;
const PANEL_W = 220;
const GAP = 70;
const PANELS = 4;
const WIDTH = LABEL_W + PANEL_W * PANELS + GAP * (PANELS - 1) + 30;

const COLOURS: Record<string, string> = {
  none: "#9e9e9e",
  native: "#5f6b7a",
  "proxy-wasm-as": "#2f6fdf",
  other: "#e08a2c",
};

function colour(c: CaseResult): string {
  if (c.kind === "none") return COLOURS.none;
  if (c.kind === "native") return COLOURS.native;
  return c.sdk === "proxy-wasm-as" ? COLOURS["proxy-wasm-as"] : COLOURS.other;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(n: number): string {
  return Math.abs(n) >= 1000 ? Math.round(n).toLocaleString("en-US") : String(Math.round(n * 10) / 10);
}

export function renderChart(doc: Results): string {
  const rows = doc.cases;
  const height = TOP + rows.length * ROW + 46;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="10" y="20" font-size="14" font-weight="bold">Envoy ${esc(doc.envoy.split(" ")[0])}, --concurrency 1, ${esc(String(doc.machine.cpu ?? ""))}, ${doc.mode} run of ${esc(doc.date.slice(0, 10))}; medians over ${esc(doc.method.rounds?.match(/^\d+/)?.[0] ?? "1")} round(s)</text>`);
  type Panel = { title: string; value: (c: CaseResult) => number | null; floorLabel?: (c: CaseResult) => string; log?: boolean; counts?: boolean };
  const panels: Panel[] = [
    { title: "added Envoy CPU per request (µs)", value: (c) => c.added_cpu_us_per_req, floorLabel: (c) => `${fmt(c.cpu_us_per_req ?? 0)} per request` },
    { title: "max throughput (requests/s)", value: (c) => c.rps_max },
    { title: "Wasm instructions per request (log)", value: (c) => c.counts?.instructions_per_req ?? null, log: true, counts: true },
    { title: "host calls per request", value: (c) => c.counts?.host_calls_per_req ?? null, counts: true },
  ];
  panels.forEach((panel, p) => {
    const x = LABEL_W + p * (PANEL_W + GAP);
    const top = Math.max(0, ...rows.map((c) => panel.value(c) ?? 0));
    // Log panels: decades from 1 to the first power of ten at or above the largest value.
    const decades = Math.max(1, Math.ceil(Math.log10(Math.max(10, top))));
    const max = panel.log ? 10 ** decades : niceMax(top);
    const scale = (v: number) => (panel.log ? (v <= 1 ? 0 : Math.log10(v) / decades) : Math.max(0, v) / max);
    out.push(`<text x="${x}" y="${TOP - 12}" font-weight="bold">${esc(panel.title)}</text>`);
    const ticks = panel.log ? decades : 4;
    for (let i = 0; i <= ticks; i++) {
      const gx = x + (PANEL_W * i) / ticks;
      const tick = panel.log ? (i % 2 === 0 || decades <= 4 ? `1e${i}` : "") : fmt((max * i) / 4);
      out.push(`<line x1="${gx}" y1="${TOP - 4}" x2="${gx}" y2="${TOP + rows.length * ROW}" stroke="#e3e3e3"/>`);
      if (tick) out.push(`<text x="${gx}" y="${TOP + rows.length * ROW + 14}" text-anchor="middle" fill="#666">${tick}</text>`);
    }
    rows.forEach((c, i) => {
      const y = TOP + i * ROW;
      if (panel.counts ? !c.counts : c.p50_us === null) return;
      const v = panel.value(c);
      const w = scale(v ?? 0) * PANEL_W;
      out.push(`<rect x="${x}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW - 8}" fill="${colour(c)}"/>`);
      const label = c.kind === "none" && panel.floorLabel ? panel.floorLabel(c) : v === null ? "n/a" : fmt(v);
      out.push(`<text x="${x + w + 4}" y="${y + 15}" fill="#333">${esc(label)}</text>`);
    });
  });
  rows.forEach((c, i) => {
    const y = TOP + i * ROW;
    if (i > 0 && rows[i - 1].group !== c.group) out.push(`<line x1="10" y1="${y}" x2="${WIDTH - 10}" y2="${y}" stroke="#bbbbbb"/>`);
    out.push(`<text x="${LABEL_W - 8}" y="${y + 15}" text-anchor="end">${esc(c.name)}</text>`);
    if (c.p50_us === null && c.error) {
      out.push(`<text x="${LABEL_W + 4}" y="${y + 15}" fill="#a33">${esc(c.error.length > 110 ? `${c.error.slice(0, 107)}...` : c.error)}</text>`);
    }
  });
  const ly = TOP + rows.length * ROW + 34;
  const legend: Array<[string, string]> = [[COLOURS.none, "no filter"], [COLOURS.native, "native Envoy filter"], [COLOURS["proxy-wasm-as"], "proxy-wasm-as (this SDK)"], [COLOURS.other, "other proxy-wasm SDKs"]];
  let lx = 10;
  for (const [fill, label] of legend) {
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${fill}"/><text x="${lx + 16}" y="${ly}">${esc(label)}</text>`);
    lx += 28 + label.length * 6.5;
  }
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
