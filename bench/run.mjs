// Runs the benchmark (or one of its tools) from its TypeScript sources: bundles bench/src/<command>.ts with
// esbuild into a temporary file, runs it with this Node, and removes the bundle.
//
//   node bench/run.mjs [--quick] [--all] [--only=a,b]  measure; writes bench/results/latest.json (quick.json)
//   node bench/run.mjs chart [results.json]          regenerates the SVG chart from a results file
//   node bench/run.mjs report [results.json]         rewrites the tables in BENCHMARKS.md (and the chart)
//   node bench/run.mjs counts [--only=a,b] [--into=f] exact instructions and host calls per request (no Envoy)
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const commands = { chart: "chart-cli.ts", report: "report-cli.ts", counts: "counts-cli.ts" };
const args = process.argv.slice(2);
const entry = commands[args[0]] ? commands[args.shift()] : "main.ts";

// The measuring run's options (bench/src/main.ts parseArgs); anything else is refused before a long run starts.
const USAGE = `usage: node bench/run.mjs [--quick] [--all] [--only=a,b] [--out=file] [--keep-others] [--rounds=N] [--alternate-rounds=N]
       node bench/run.mjs chart [results.json] | report [results.json] | counts [--only=a,b] [--into=f] [--profile]`;
if (args.includes("--help") || args.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}
if (entry === "main.ts") {
  const known = /^--(quick|all|keep-others|only=.+|out=.+|rounds=\d+|alternate-rounds=\d+)$/;
  const unknown = args.filter((a) => !known.test(a));
  if (unknown.length > 0) {
    console.error(`bench: unknown argument${unknown.length > 1 ? "s" : ""} ${unknown.join(" ")}\n${USAGE}`);
    process.exit(2);
  }
}

const dir = mkdtempSync(join(tmpdir(), "pwas-bench-"));
try {
  const outfile = join(dir, "bench.cjs");
  await build({
    entryPoints: [join(here, "src", entry)],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    sourcemap: "inline",
    // Resolved at run time from the project's node_modules, as the CLI bundle does.
    external: ["assemblyscript", "esbuild", "testcontainers", "jest", "ts-jest"],
    logLevel: "warning",
  });
  const env = { ...process.env, NODE_PATH: join(here, "..", "node_modules") };
  const res = spawnSync(process.execPath, ["--enable-source-maps", outfile, ...args], { stdio: "inherit", cwd: join(here, ".."), env });
  process.exitCode = res.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
