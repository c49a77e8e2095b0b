import { resolve } from "node:path";
import { findOnPath, findUp, isExecutable } from "../binaries";
import { ENVOY_INSTALL_COMMAND, ENVOY_LOCAL_BIN, ENVOY_VERSION } from "./version";

export interface LocateEnvoyOptions {
  /**
   * Folders to search upwards from for the project-local install; defaults to the current directory and
   * this module's folder.
   */
  searchDirs?: string[];
  /** Environment to read ENVOY_BIN and PATH from; defaults to process.env (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Finds the Envoy binary. One place decides, in this order; throws with the ways to get one when none is found.
 */
export function locateEnvoy(opts: LocateEnvoyOptions = {}): string {
  const env = opts.env ?? process.env;

  // 1. ENVOY_BIN: an explicit path wins, for another build (a debug build, a distro package, a CI cache).
  const override = env.ENVOY_BIN;
  if (override) {
    if (!isExecutable(override)) throw new Error(`ENVOY_BIN points at ${override}, which is not an executable file`);
    return override;
  }

  // 2. The pinned project-local install (`make setup`), found from the caller's folder or from this module,
  //    so a bundled CLI run from elsewhere still finds the install of the checkout it came from.
  for (const start of opts.searchDirs ?? [process.cwd(), __dirname]) {
    const local = findUp(resolve(start), ENVOY_LOCAL_BIN);
    if (local) return local;
  }

  // 3. `envoy` on PATH: whatever the user installed themselves (version not checked here).
  const onPath = findOnPath("envoy", env.PATH ?? "");
  if (onPath) return onPath;

  throw new Error(
    `Envoy binary not found. Run \`make setup\` (or \`${ENVOY_INSTALL_COMMAND}\` in the project root) ` +
      `to install Envoy ${ENVOY_VERSION}, put \`envoy\` on PATH, or set ENVOY_BIN to an Envoy binary.`,
  );
}
