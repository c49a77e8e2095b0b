import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { findOnPath, isExecutable } from "../binaries";
import { freePort, ServiceProcess } from "./child";
import type { Located } from "./locate";

/**
 * A local OCI registry for tests: Debian's docker-registry (the CNCF distribution server) on a free
 * loopback port, storing into a temporary folder, optionally behind htpasswd basic auth. Plus locating
 * skopeo, the independent client the tests inspect and copy pushed images with.
 * `bash scripts/setup-registry.sh` installs all three Debian packages.
 */
export const REGISTRY_SETUP_COMMAND = "bash scripts/setup-registry.sh";

/** docker-registry: DOCKER_REGISTRY_BIN, else on PATH, else /usr/bin (where the Debian package puts it). */
export function locateDockerRegistry(env: NodeJS.ProcessEnv = process.env): Located {
  return locateTool("docker-registry", "DOCKER_REGISTRY_BIN", env);
}

/** skopeo: SKOPEO_BIN, else on PATH, else /usr/bin. */
export function locateSkopeo(env: NodeJS.ProcessEnv = process.env): Located {
  return locateTool("skopeo", "SKOPEO_BIN", env);
}

/** htpasswd (apache2-utils), which writes the bcrypt password file docker-registry reads: HTPASSWD_BIN, else PATH, else /usr/bin. */
export function locateHtpasswd(env: NodeJS.ProcessEnv = process.env): Located {
  return locateTool("htpasswd", "HTPASSWD_BIN", env);
}

function locateTool(name: string, override: string, env: NodeJS.ProcessEnv): Located {
  const given = env[override];
  if (given) {
    return isExecutable(given) ? { ok: true, path: given } : { ok: false, reason: `${override} points at ${given}, which is not an executable file` };
  }
  const found = findOnPath(name, [env.PATH ?? "", "/usr/bin", "/usr/sbin"].join(delimiter));
  if (found) return { ok: true, path: found };
  return { ok: false, reason: `${name} not found on PATH or in /usr/bin; run \`${REGISTRY_SETUP_COMMAND}\` (installs the Debian packages) or set ${override}` };
}

export interface RegistryOptions {
  /** Require these basic credentials (htpasswd, bcrypt): the registry answers 401 with a Basic challenge. */
  auth?: { username: string; password: string };
  /** docker-registry binary; defaults to locateDockerRegistry(). */
  binary?: string;
  readyTimeoutMs?: number;
}

/** A running registry. */
export interface StartedRegistry {
  readonly port: number;
  /** "127.0.0.1:<port>": the registry part of image references. */
  readonly host: string;
  /** "http://127.0.0.1:<port>". */
  readonly url: string;
  /** The last lines of the registry's log. */
  output(lines?: number): string;
  stop(): Promise<void>;
}

/**
 * Starts docker-registry with a generated config and waits until GET /v2/ answers (200, or 401 with auth).
 * Retries on a port taken in between. Always stop() it: that also deletes its storage.
 */
export async function startRegistry(opts: RegistryOptions = {}): Promise<StartedRegistry> {
  const binary = opts.binary ?? required(locateDockerRegistry());
  const root = mkdtempSync(join(tmpdir(), "pwas-registry-"));
  let auth: object | undefined;
  if (opts.auth) {
    const htpasswd = required(locateHtpasswd());
    // -B bcrypt (the only hash docker-registry accepts), -b password from argv, -n print instead of writing a file.
    const line = execFileSync(htpasswd, ["-Bbn", opts.auth.username, opts.auth.password], { encoding: "utf8" }).trim();
    writeFileSync(join(root, "htpasswd"), line + "\n");
    auth = { htpasswd: { realm: "pwas-test", path: join(root, "htpasswd") } };
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const configPath = join(root, "config.yml");
    // JSON is YAML: the registry's config file, with storage in the temporary folder and no health checks.
    writeFileSync(configPath, JSON.stringify({
      version: 0.1,
      log: { level: "warn", accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(root, "data") }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${port}` },
      ...(auth ? { auth } : {}),
    }, null, 2));
    const proc = new ServiceProcess("docker-registry", binary, ["serve", configPath], { PATH: process.env.PATH, HOME: root });
    const url = `http://127.0.0.1:${port}`;
    try {
      await proc.waitUntil(async () => {
        const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.status === 200 || (opts.auth && res.status === 401) ? true : undefined;
      }, `docker-registry on ${url} to answer GET /v2/`, opts.readyTimeoutMs ?? 15_000);
    } catch (err) {
      lastError = err;
      await proc.stop();
      if (/address already in use/i.test(proc.log)) continue;
      rmSync(root, { recursive: true, force: true });
      throw err;
    }
    return {
      port,
      host: `127.0.0.1:${port}`,
      url,
      output: (lines) => proc.output(lines),
      async stop() {
        await proc.stop();
        rmSync(root, { recursive: true, force: true });
      },
    };
  }
  rmSync(root, { recursive: true, force: true });
  throw lastError;
}

function required(r: Located): string {
  if (!r.ok) throw new Error(r.reason);
  return r.path;
}
