// `node bench/run.mjs counts [--only=a,b] [--into=results.json] [--profile]`: the exact per-request counts of every Wasm
// case (instructions and host calls, see counts.ts), without Envoy. Prints them; with --into, writes them
// into that results file's cases (the other figures are left as they are) and redraws its chart.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildFilter, compile, loadFilterProject } from "../../src/build";
import { allCases, AS_FOLDERS } from "./cases";
import { renderChart } from "./chart";
import { countModule } from "./counts";
import { floorModule } from "./floor";
import type { Results } from "./results";
import { mintKeys } from "./tokens";

export const COUNT_REQUESTS = 1_000;
export const COUNT_WARMUP = 100;

/** The release build with a name section (asc --debug keeps -O3 when the optimisation flags are given). */
async function namedBuild(folder: string): Promise<string> {
  const project = loadFilterProject(folder);
  const outFile = join(tmpdir(), `pwas-profile-${project.name}.wasm`);
  await compile({ entry: project.entry, outFile, projectDir: project.dir, extraArgs: ["--debug"] });
  return outFile;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const onlyArg = argv.find((a) => a.startsWith("--only="));
  const only = onlyArg ? new Set(onlyArg.slice("--only=".length).split(",")) : undefined;
  const intoArg = argv.find((a) => a.startsWith("--into="));
  const into = intoArg?.slice("--into=".length);
  // --profile: this SDK's modules built with the release flags plus a name section, and each case's
  // instructions per request by function (its own instructions, not its callees').
  const profile = argv.includes("--profile");
  const doc = into ? (JSON.parse(readFileSync(into, "utf8")) as Results) : undefined;
  const sdks = existsSync("bench/build/sdks.json") ? (JSON.parse(readFileSync("bench/build/sdks.json", "utf8")) as Record<string, { wasm: string | null }>) : {};
  const cases = allCases(mintKeys()).filter((c) => c.kind === "wasm" && (!only || only.has(c.name)));
  const built = new Map<string, string>();
  for (const c of cases) {
    let file: string | undefined;
    if (c.module && "build" in c.module) {
      const folder = c.module.build;
      if (!built.has(folder)) built.set(folder, profile ? await namedBuild(AS_FOLDERS[folder]) : (await buildFilter(AS_FOLDERS[folder])).wasmPath);
      file = built.get(folder);
    } else if (c.module && "sdk" in c.module) {
      const w = sdks[c.module.sdk]?.wasm;
      if (w) file = resolve(w);
    } else if (c.module && "floor" in c.module) file = floorModule();
    if (!file) {
      console.log(`${c.name}: no module (scripts/setup-bench.sh)`);
      continue;
    }
    let f;
    try {
      f = await countModule(file, { pluginConfig: c.pluginConfig ?? "", headers: c.headers, requests: COUNT_REQUESTS, warmup: COUNT_WARMUP, perFunction: profile });
    } catch (err) {
      console.log(`${c.name}: ${(err as Error).message.split("\n")[0]}`);
      process.exitCode = 1;
      continue;
    }
    const kinds = Object.entries(f.host_calls_by_kind).map(([k, n]) => `${k} ${n}`).join(", ");
    console.log(`${c.name}: ${f.instructions_per_req} instructions/request (request ${f.instructions_by_phase.request}, response ${f.instructions_by_phase.response}, end ${f.instructions_by_phase.end}); ${f.host_calls_per_req} host calls/request: ${kinds}`);
    if (f.by_function) {
      for (const [name, v] of Object.entries(f.by_function).slice(0, 30)) console.log(`  ${String(v).padStart(10)}  ${name}`);
      delete f.by_function;
    }
    const r = doc?.cases.find((x) => x.name === c.name);
    if (r) r.counts = f;
  }
  if (doc && into) {
    writeFileSync(into, `${JSON.stringify(doc, null, 2)}\n`);
    writeFileSync(into.replace(/\.json$/, ".svg"), renderChart(doc));
    console.log(`wrote the counts into ${into}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
