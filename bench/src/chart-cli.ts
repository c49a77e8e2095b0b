// node bench/run.mjs chart [results.json]: redraws the SVG next to a results file (latest.json -> latest.svg).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderChart } from "./chart";
import type { Results } from "./results";

const file = process.argv[2] ?? join("bench", "results", "latest.json");
const svg = file.replace(/\.json$/, ".svg");
writeFileSync(svg, renderChart(JSON.parse(readFileSync(file, "utf8")) as Results));
console.log(`wrote ${svg}`);
