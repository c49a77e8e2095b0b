import { resolve } from "node:path";
import { findOnPath, findUp, isExecutable } from "../binaries";
import { PwasError } from "../errors";
import { cachedEnvoy, cachedEnvoyPath, installEnvoy, terminalReporter } from "./provision";
import { ENVOY_LOCAL_BIN, ENVOY_VERSION } from "./version";
import type { DownloadReporter } from "./wheel";

export interface LocateEnvoyOptions {
  /**
   * Folders to search upwards from for this checkout's install (.tools/); defaults to the current directory
   * and this module's folder.
   */
  searchDirs?: string[];
  /** Environment to read ENVOY_BIN, PATH and XDG_CACHE_HOME from; defaults to process.env (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

export type EnvoySource = "ENVOY_BIN" | "PATH" | "checkout" | "cache";

export interface LocatedEnvoy {
  path: string;
  source: EnvoySource;
  /** Why this one: what was looked at before it, in order, ending with the reason it was taken. */
  reasons: string[];
}

/**
 * Which Envoy binary, in this order (the first found wins; `pwas envoy which` prints the reasons):
 *  1. ENVOY_BIN: an explicit path wins, for another build (a debug build, a distro package, a CI cache).
 *  2. `envoy` on PATH: whatever the user installed themselves (func-e, a package; version not checked).
 *  3. This checkout's pinned install (`make setup` → .tools/), found from the caller's folder or this module's,
 *     so a bundled CLI run from elsewhere still finds the install of the checkout it came from.
 *  4. The per-user cache (`pwas envoy install`, or the first `pwas run`/`pwas test`).
 * Returns undefined when none is there (then `provideEnvoy` downloads); a bad ENVOY_BIN is an error, not a fallback.
 */
export function findEnvoy(opts: LocateEnvoyOptions = {}): LocatedEnvoy | undefined {
  const env = opts.env ?? process.env;
  const reasons: string[] = [];

  const override = env.ENVOY_BIN;
  if (override) {
    if (!isExecutable(override)) {
      throw new PwasError("E_NOT_FOUND", `ENVOY_BIN points at ${override}, which is not an executable file (unset it to let pwas find or download Envoy ${ENVOY_VERSION})`);
    }
    return { path: override, source: "ENVOY_BIN", reasons: ["ENVOY_BIN is set: it wins over everything else"] };
  }
  reasons.push("ENVOY_BIN is not set");

  const onPath = findOnPath("envoy", env.PATH ?? "");
  if (onPath) return { path: onPath, source: "PATH", reasons: [...reasons, "`envoy` is on PATH: a binary you installed wins over pwas's own (its version is not checked)"] };
  reasons.push("no `envoy` on PATH");

  const dirs = opts.searchDirs ?? [process.cwd(), __dirname];
  for (const start of dirs) {
    const local = findUp(resolve(start), ENVOY_LOCAL_BIN);
    if (local) return { path: local, source: "checkout", reasons: [...reasons, `this checkout's install (make setup) at ${ENVOY_LOCAL_BIN}`] };
  }
  reasons.push(`no ${ENVOY_LOCAL_BIN} above ${dirs.join(" or ")}`);

  const cached = cachedEnvoy(ENVOY_VERSION, env);
  if (cached) return { path: cached, source: "cache", reasons: [...reasons, `the user cache has Envoy ${ENVOY_VERSION} (pwas envoy install)`] };
  return undefined;
}

/** Why nothing was found, and what to do; for the synchronous callers that cannot download. */
function notFound(env: NodeJS.ProcessEnv): PwasError {
  return new PwasError(
    "E_NOT_FOUND",
    `Envoy binary not found: run \`pwas envoy install\` to download Envoy ${ENVOY_VERSION} into ${cachedEnvoyPath(ENVOY_VERSION, env)} ` +
      "(`pwas run` and `pwas test` do it on first use), put `envoy` on PATH, or set ENVOY_BIN to an Envoy binary.",
  );
}

/** The Envoy binary's path, without downloading; throws with the ways to get one when none is there. */
export function locateEnvoy(opts: LocateEnvoyOptions = {}): string {
  const found = findEnvoy(opts);
  if (!found) throw notFound(opts.env ?? process.env);
  return found.path;
}

export interface ProvideEnvoyOptions extends LocateEnvoyOptions {
  report?: DownloadReporter;
  signal?: AbortSignal;
}

/** The Envoy binary's path, downloading the pinned release into the user cache the first time. */
export async function provideEnvoy(opts: ProvideEnvoyOptions = {}): Promise<string> {
  const found = findEnvoy(opts);
  if (found) return found.path;
  const installed = await installEnvoy({ env: opts.env, report: opts.report ?? terminalReporter(), signal: opts.signal });
  return installed.path;
}
