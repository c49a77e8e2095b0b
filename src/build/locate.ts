import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PwasError } from "../errors";

/**
 * Finds the AssemblyScript compiler (asc). One place decides, in this order:
 *  1. PWAS_ASC: an explicit path to asc.js wins, for users pinning another 0.28.x build.
 *  2. The nearest node_modules/assemblyscript above `fromDir`: a filter project's own pinned compiler.
 *  3. The compiler this toolkit was installed with (resolved from this module).
 */
export function locateAsc(fromDir: string = process.cwd()): string {
  const override = process.env.PWAS_ASC;
  if (override) {
    if (!existsSync(override)) throw new PwasError("E_NOT_FOUND", `PWAS_ASC points at ${override}, which does not exist (unset it to use the project's own compiler)`);
    return override;
  }
  let dir = resolve(fromDir);
  for (;;) {
    const candidate = join(dir, "node_modules", "assemblyscript", "bin", "asc.js");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  try {
    return require.resolve("assemblyscript/bin/asc.js");
  } catch {
    throw new PwasError("E_NOT_FOUND", "AssemblyScript compiler not found: run `npm install --save-dev assemblyscript@0.28` in your filter project (or set PWAS_ASC to its bin/asc.js)");
  }
}
