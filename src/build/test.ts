import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PwasError } from "../errors";
import { loadFilterProject } from "./build";

function toolkitModulePattern(): string {
  const bundled = __filename.endsWith(join("dist", "pwas.js")) || __filename.endsWith(join("dist", "build.js"));
  return bundled ? join(__dirname, "$1.js") : join(__dirname, "..", "$1");
}

/** True when any file under <dir>/tests imports "pwas/envoy": those tests start a real Envoy. */
export function testsUseEnvoy(dir: string): boolean {
  const testsDir = join(loadFilterProject(dir).dir, "tests");
  if (!existsSync(testsDir)) return false;
  return (readdirSync(testsDir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .some((e) => e.isFile() && /\.[cm]?[jt]s$/.test(e.name) && /["']pwas\/envoy["']/.test(readFileSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name), "utf8")));
}

/**
 * Runs a filter's tests (tests/**\/*.test.ts, TypeScript through ts-jest) with jest. The tests build the
 * module themselves or read build/<name>.wasm; `pwas test` builds first so they always see fresh code.
 */
export async function testFilter(dir: string, extraJestArgs: string[] = [], signal?: AbortSignal): Promise<number> {
  const project = loadFilterProject(dir);
  const testsDir = join(project.dir, "tests");
  if (!existsSync(testsDir)) throw new PwasError("E_NOT_FOUND", `${dir} has no tests/ folder`);
  const jestBin = require.resolve("jest/bin/jest");
  const config = {
    rootDir: project.dir,
    testEnvironment: "node",
    testMatch: ["<rootDir>/tests/**/*.test.ts"],
    transform: { "^.+\\.ts$": [require.resolve("ts-jest"), { diagnostics: false, tsconfig: { isolatedModules: true, esModuleInterop: true, module: "commonjs", target: "ES2022" } }] },
    testTimeout: 60000,
    // Tests import the toolkit as "pwas/emulator" etc.: the bundles next to the CLI, or the sources when
    // this runs from the toolkit's own checkout without a bundle.
    moduleNameMapper: { "^pwas/(emulator|envoy|build)$": toolkitModulePattern() },
  };
  return await new Promise<number>((resolvePromise, reject) => {
    const child = spawn(process.execPath, [jestBin, "--config", JSON.stringify(config), ...extraJestArgs], {
      cwd: project.dir, stdio: "inherit", signal,
    });
    child.on("error", (e) => reject(new PwasError("E_TEST", `could not start jest: ${e.message}`)));
    child.on("exit", (code) => resolvePromise(code ?? 1));
  });
}
