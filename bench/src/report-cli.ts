// node bench/run.mjs report [results.json]: rewrites the tables of BENCHMARKS.md (and the chart) from a
// results file, by default the committed bench/results/latest.json.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderChart } from "./chart";
import { spliceTables } from "./report";
import type { Results } from "./results";

const file = process.argv[2] ?? join("bench", "results", "latest.json");
const doc = JSON.parse(readFileSync(file, "utf8")) as Results;
writeFileSync(file.replace(/\.json$/, ".svg"), renderChart(doc));
writeFileSync("BENCHMARKS.md", spliceTables(readFileSync("BENCHMARKS.md", "utf8"), doc));
console.log(`wrote BENCHMARKS.md tables and ${file.replace(/\.json$/, ".svg")} from ${file}`);
