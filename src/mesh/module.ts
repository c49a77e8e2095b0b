/**
 * Getting a WasmPlugin's module onto local disk, as istio-agent does before Envoy sees the config:
 * file:// is read in place, http(s):// is downloaded, oci:// is pulled through src/oci. Downloads are
 * kept in a cache keyed by the module's sha256 (`.cache/wasm/sha256/<hex>.wasm`) and purged when unused for
 * 24 hours, istio-agent's default module expiry.
 *
 * Checks: the bytes start with the Wasm magic number; `spec.sha256`, when set, is the module's sha256 for
 * file and http(s) urls, and the image manifest digest for oci:// urls (istio-agent compares it with the
 * manifest digest). Istio ignores sha256 for file:// urls; this checks it anyway, so a stale local build is
 * caught before it reaches a cluster.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { PwasError } from "../errors";
import { parseReference, pullModule, resolveCredentials } from "../oci";
import { fileUrlPath } from "./translate";
import { normalizedUrl, urlPullPolicy, type PullPolicy } from "./wasmplugin";

export const DEFAULT_CACHE_DIR = ".cache/wasm";
/** istio-agent's default: a module nobody used for this long is removed from the cache. */
export const MODULE_EXPIRY_MS = 24 * 60 * 60 * 1000;

export interface ModuleRequest {
  /** The plugin's `<namespace>.<name>`, for messages. */
  plugin: string;
  url: string;
  /** spec.sha256 */
  sha256?: string;
  /** The module's own sha256, when known independently (the `pwas deploy` annotation). */
  moduleSha256?: string;
  pullPolicy?: PullPolicy;
}

export interface LocalModule {
  path: string;
  /** sha256 of the module bytes. */
  sha256: string;
  /** For oci://: the image manifest digest (hex). */
  manifestDigest?: string;
  /** "file", "cache" or "download". */
  origin: "file" | "cache" | "download";
}

/** What an OCI client returns for a pulled module. */
export interface OciPullResult {
  /** The module bytes. */
  wasm: Uint8Array;
  /** The manifest digest, hex without the "sha256:" prefix. */
  manifestDigest: string;
}

/** Pulls the module of an oci:// reference (given without the scheme). The one place oci:// plugs in. */
export type OciPuller = (reference: string, opts: { pullPolicy: PullPolicy; cacheDir: string; insecure?: boolean }) => Promise<OciPullResult>;

export interface FetchOptions {
  /** Default `.cache/wasm` under the current directory. */
  cacheDir?: string;
  /** For oci:// urls; default: `pullOciModule`. */
  pullOci?: OciPuller;
  /** For http(s) urls; default: global fetch. */
  fetch?: typeof fetch;
  /** Clock, for the expiry; default Date.now. */
  now?: () => number;
  /** oci:// over plain http, for a registry on this machine (the OCI client refuses it for other hosts). */
  insecure?: boolean;
}

/**
 * The default OCI puller: src/oci's pullModule (istio-agent's three image formats), with credentials from
 * PWAS_REGISTRY_* variables or the docker config, as `pwas pull` finds them.
 */
export const pullOciModule: OciPuller = async (reference, opts) => {
  const ref = parseReference(reference);
  const pulled = await pullModule(ref, { insecure: opts.insecure, credentials: resolveCredentials(ref.registry) });
  return { wasm: pulled.module, manifestDigest: pulled.manifestDigest.replace(/^sha256:/, "") };
};

const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function checkMagic(bytes: Uint8Array, req: ModuleRequest, where: string): void {
  if (bytes.length < 8 || !Buffer.from(bytes.subarray(0, 4)).equals(WASM_MAGIC)) {
    throw new PwasError("E_VALIDATION", `${req.plugin}: ${where} is not a WebAssembly module (it does not start with \\0asm)`);
  }
}

function checkDigest(req: ModuleRequest, field: string, expected: string | undefined, actual: string, what: string): void {
  if (expected && expected !== actual) {
    throw new PwasError("E_VALIDATION", `${req.plugin}: ${field} is ${expected} but the ${what} from ${req.url} has sha256 ${actual}; rebuild and update ${field}, or point url at the right module`);
  }
}

/** Removes cached modules not used for `MODULE_EXPIRY_MS`; returns the removed paths. */
export function purgeExpired(cacheDir: string, now = Date.now()): string[] {
  const dir = join(cacheDir, "sha256");
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (now - statSync(p).mtimeMs > MODULE_EXPIRY_MS) {
      unlinkSync(p);
      removed.push(p);
    }
  }
  return removed;
}

function cachePath(cacheDir: string, sha256: string): string {
  return join(cacheDir, "sha256", `${sha256}.wasm`);
}

/** A cached module by sha256, marked as used now; undefined when absent. */
function fromCache(cacheDir: string, sha256: string, now: number): string | undefined {
  const p = cachePath(cacheDir, sha256);
  if (!existsSync(p)) return undefined;
  utimesSync(p, new Date(now), new Date(now));
  return p;
}

function store(cacheDir: string, bytes: Uint8Array, now: number): { path: string; sha256: string } {
  const sha256 = sha256Hex(bytes);
  const p = cachePath(cacheDir, sha256);
  mkdirSync(join(cacheDir, "sha256"), { recursive: true });
  // Write then rename, so a concurrent reader never sees half a module.
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, p);
  utimesSync(p, new Date(now), new Date(now));
  return { path: p, sha256 };
}

/** Puts a plugin's module on local disk (see the file comment for the rules). */
export async function fetchModule(req: ModuleRequest, opts: FetchOptions = {}): Promise<LocalModule> {
  const cacheDir = resolve(opts.cacheDir ?? DEFAULT_CACHE_DIR);
  const now = (opts.now ?? Date.now)();
  const url = normalizedUrl(req.url);

  if (url.startsWith("file://")) {
    const path = resolve(fileUrlPath(url));
    if (!existsSync(path)) throw new PwasError("E_NOT_FOUND", `${req.plugin}: ${url}: no such file${isAbsolute(fileUrlPath(url)) ? "" : ` (relative paths are read from ${process.cwd()})`}`);
    const bytes = readFileSync(path);
    checkMagic(bytes, req, path);
    const sha256 = sha256Hex(bytes);
    checkDigest(req, "spec.sha256", req.sha256, sha256, "module");
    checkDigest(req, "the module-sha256 annotation", req.moduleSha256, sha256, "module");
    return { path, sha256, origin: "file" };
  }

  purgeExpired(cacheDir, now);

  if (url.startsWith("http://") || url.startsWith("https://")) {
    // Like istio-agent: with a sha256 a cached copy is used; without one, http(s) is always downloaded.
    const cached = req.sha256 ? fromCache(cacheDir, req.sha256, now) : undefined;
    if (cached) return { path: cached, sha256: req.sha256!, origin: "cache" };
    const res = await (opts.fetch ?? fetch)(url).catch((e: Error) => {
      throw new PwasError("E_NOT_FOUND", `${req.plugin}: GET ${url} failed: ${e.message}`);
    });
    if (!res.ok) throw new PwasError("E_NOT_FOUND", `${req.plugin}: GET ${url} answered ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    checkMagic(bytes, req, url);
    const sha256 = sha256Hex(bytes);
    checkDigest(req, "spec.sha256", req.sha256, sha256, "module");
    checkDigest(req, "the module-sha256 annotation", req.moduleSha256, sha256, "module");
    return { ...store(cacheDir, bytes, now), origin: "download" };
  }

  if (url.startsWith("oci://")) {
    const reference = url.slice("oci://".length);
    const pullPolicy = req.pullPolicy && req.pullPolicy !== "UNSPECIFIED_POLICY" ? req.pullPolicy : urlPullPolicy(url);
    // With IfNotPresent and a known module digest, a cached module is enough.
    if (pullPolicy === "IfNotPresent" && req.moduleSha256) {
      const cached = fromCache(cacheDir, req.moduleSha256, now);
      if (cached) return { path: cached, sha256: req.moduleSha256, origin: "cache" };
    }
    const pulled = await (opts.pullOci ?? pullOciModule)(reference, { pullPolicy, cacheDir, insecure: opts.insecure });
    checkDigest(req, "spec.sha256", req.sha256, pulled.manifestDigest, "image manifest");
    checkMagic(pulled.wasm, req, url);
    const sha256 = sha256Hex(pulled.wasm);
    checkDigest(req, "the module-sha256 annotation", req.moduleSha256, sha256, "module");
    return { ...store(cacheDir, pulled.wasm, now), manifestDigest: pulled.manifestDigest, origin: "download" };
  }

  throw new PwasError("E_VALIDATION", `${req.plugin}: ${url}: unsupported scheme (Istio fetches oci://, http://, https:// and file://)`);
}
