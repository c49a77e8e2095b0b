// Bundles the pwas CLI into one file with esbuild. Runtime dependencies that carry binaries or load
// files by path (assemblyscript, jest, ts-jest) stay external and resolve from node_modules.
import { build } from "esbuild";

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/pwas.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  external: ["assemblyscript", "jest", "ts-jest", "testcontainers", "esbuild"],
  logLevel: "warning",
});
