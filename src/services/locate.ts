import { join, resolve } from "node:path";
import { findOnPath, findUp, isExecutable } from "../binaries";

/** Where scripts/setup-ratelimit.sh puts the envoyproxy/ratelimit service binary, relative to the project root. */
export const RATELIMIT_LOCAL_BIN = join(".tools", "bin", "ratelimit");
export const SETUP_COMMAND = "bash scripts/setup-ratelimit.sh";

/** A binary, or the sentence that says why there is none and how to get one. */
export type Located = { ok: true; path: string } | { ok: false; reason: string };

/**
 * redis-server: REDIS_SERVER_BIN when set (another build), else `redis-server` on PATH (the Debian
 * package the setup script installs), else /usr/bin/redis-server (PATH may be trimmed in CI shells).
 */
export function locateRedisServer(env: NodeJS.ProcessEnv = process.env): Located {
  if (env.REDIS_SERVER_BIN) {
    return isExecutable(env.REDIS_SERVER_BIN)
      ? { ok: true, path: env.REDIS_SERVER_BIN }
      : { ok: false, reason: `REDIS_SERVER_BIN points at ${env.REDIS_SERVER_BIN}, which is not an executable file` };
  }
  const found = findOnPath("redis-server", env.PATH ?? "") ?? (isExecutable("/usr/bin/redis-server") ? "/usr/bin/redis-server" : undefined);
  return found
    ? { ok: true, path: found }
    : { ok: false, reason: `redis-server not found on PATH; run \`${SETUP_COMMAND}\` (installs the Debian package) or set REDIS_SERVER_BIN` };
}

/**
 * The envoyproxy/ratelimit service: RATELIMIT_BIN when set, else the pinned build in .tools/bin (found
 * upwards from the current folder and from this module), else `ratelimit` on PATH.
 */
export function locateRatelimitService(env: NodeJS.ProcessEnv = process.env): Located {
  if (env.RATELIMIT_BIN) {
    return isExecutable(env.RATELIMIT_BIN)
      ? { ok: true, path: env.RATELIMIT_BIN }
      : { ok: false, reason: `RATELIMIT_BIN points at ${env.RATELIMIT_BIN}, which is not an executable file` };
  }
  for (const start of [process.cwd(), __dirname]) {
    const local = findUp(resolve(start), RATELIMIT_LOCAL_BIN);
    if (local) return { ok: true, path: local };
  }
  const onPath = findOnPath("ratelimit", env.PATH ?? "");
  return onPath
    ? { ok: true, path: onPath }
    : { ok: false, reason: `the envoyproxy/ratelimit service is not built; run \`${SETUP_COMMAND}\` (needs Go) or set RATELIMIT_BIN` };
}
