import { accessSync, constants, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";

// Small helpers for locating executables: each tool's locate function (Envoy, redis-server, the
// ratelimit service, the registry) decides the order and explains each fallback; these only look.

/** True when `file` is a regular file this process may execute. */
export function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `relative` below `dir` or below any folder above it, when executable. */
export function findUp(dir: string, relative: string): string | undefined {
  for (;;) {
    const candidate = join(dir, relative);
    if (isExecutable(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `name` in the first PATH folder that has it executable. */
export function findOnPath(name: string, path: string = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}
