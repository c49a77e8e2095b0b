import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The toolkit's own folder (where package.json says "pwas"), found from this module: it works from the
 * sources (src/…) and from the bundles (dist/…), in this repository or installed in node_modules.
 */
export function toolkitRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "pwas") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the pwas toolkit folder above ${__dirname}`);
    dir = parent;
  }
}
