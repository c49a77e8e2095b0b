// Bundles the pwas CLI into one file with esbuild. Runtime dependencies that carry binaries or load
// files by path (assemblyscript, jest, ts-jest) stay external and resolve from node_modules.
// `--types` also writes the libraries' declarations into dist/types (what the package's exports point at).
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createRequire } from "node:module";
import { build } from "esbuild";

// The CLI, the demo tour, plus the libraries a filter project's tests import as "pwas/emulator", "pwas/envoy", "pwas/build", "pwas/oci".
const result = await build({
  entryPoints: { pwas: "src/cli/main.ts", emulator: "src/emulator/index.ts", envoy: "src/envoy/index.ts", build: "src/build/index.ts", oci: "src/oci/index.ts", demo: "demo/tour.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  external: ["assemblyscript", "jest", "ts-jest", "testcontainers", "esbuild"],
  logLevel: "warning",
  write: false,
});
// Each file is replaced in one rename: tests running from dist/ while another bundles never read half a file.
for (const file of result.outputFiles) {
  mkdirSync(dirname(file.path), { recursive: true });
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents, { mode: file.path.endsWith("pwas.js") ? 0o755 : 0o644 });
  renameSync(tmp, file.path);
}

if (process.argv.includes("--types")) {
  rmSync("dist/types", { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "scripts/tsconfig.types.json"], { stdio: "inherit" });
}
