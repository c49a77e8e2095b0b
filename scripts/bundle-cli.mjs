// Bundles the pwas CLI into one file with esbuild. Runtime dependencies that carry binaries or load
// files by path (assemblyscript, jest, ts-jest) stay external and resolve from node_modules.
import { build } from "esbuild";

// The CLI, the demo tour, plus the libraries a filter project's tests import as "pwas/emulator", "pwas/envoy", "pwas/build".
await build({
  entryPoints: { pwas: "src/cli/main.ts", emulator: "src/emulator/index.ts", envoy: "src/envoy/index.ts", build: "src/build/index.ts", demo: "demo/tour.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  external: ["assemblyscript", "jest", "ts-jest", "testcontainers", "esbuild"],
  logLevel: "warning",
});
