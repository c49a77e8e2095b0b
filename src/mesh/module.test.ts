import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchModule, MODULE_EXPIRY_MS, purgeExpired, sha256Hex, type OciPuller } from "./module";

// The smallest valid module: magic + version.
const WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
const WASM_SHA = sha256Hex(WASM);
const OTHER = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00]);

let dir: string;
let server: Server;
let base: string;
let hits: string[];
beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url === "/m.wasm") res.end(WASM);
    else if (req.url === "/text") res.end("hello, not wasm");
    else { res.statusCode = 404; res.end(); }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pwas-module-"));
  hits = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const cacheDir = () => join(dir, "cache");

describe("module sources", () => {
  test("file:// is read in place and its sha256 checked when spec.sha256 is set", async () => {
    const f = join(dir, "f.wasm");
    writeFileSync(f, WASM);
    const m = await fetchModule({ plugin: "demo.f", url: `file://${f}`, sha256: WASM_SHA }, { cacheDir: cacheDir() });
    expect(m).toEqual({ path: f, sha256: WASM_SHA, origin: "file" });
    await expect(fetchModule({ plugin: "demo.f", url: `file://${f}`, sha256: "0".repeat(64) })).rejects.toThrow(
      `demo.f: spec.sha256 is ${"0".repeat(64)} but the module from file://${f} has sha256 ${WASM_SHA}`,
    );
    await expect(fetchModule({ plugin: "demo.f", url: `file://${join(dir, "nope.wasm")}` })).rejects.toThrow(/demo.f: file:\/\/.*nope.wasm: no such file/);
  });

  test("a file that is not Wasm is refused", async () => {
    const f = join(dir, "f.txt");
    writeFileSync(f, "not a module at all");
    await expect(fetchModule({ plugin: "demo.f", url: `file://${f}` })).rejects.toThrow(/is not a WebAssembly module/);
  });

  test("http:// is downloaded into the cache keyed by sha256; with spec.sha256 a cached copy is reused", async () => {
    const first = await fetchModule({ plugin: "demo.h", url: `${base}/m.wasm`, sha256: WASM_SHA }, { cacheDir: cacheDir() });
    expect(first.origin).toBe("download");
    expect(first.path).toBe(join(cacheDir(), "sha256", `${WASM_SHA}.wasm`));
    const second = await fetchModule({ plugin: "demo.h", url: `${base}/m.wasm`, sha256: WASM_SHA }, { cacheDir: cacheDir() });
    expect(second).toEqual({ path: first.path, sha256: WASM_SHA, origin: "cache" });
    expect(hits).toEqual(["/m.wasm"]);
    // Without a sha256 http(s) is always fetched, as istio-agent does.
    await fetchModule({ plugin: "demo.h", url: `${base}/m.wasm` }, { cacheDir: cacheDir() });
    expect(hits).toEqual(["/m.wasm", "/m.wasm"]);
  });

  test("http:// errors name the plugin: bad status, not Wasm, checksum mismatch", async () => {
    await expect(fetchModule({ plugin: "demo.h", url: `${base}/missing` }, { cacheDir: cacheDir() })).rejects.toThrow(/demo.h: GET .*\/missing answered 404/);
    await expect(fetchModule({ plugin: "demo.h", url: `${base}/text` }, { cacheDir: cacheDir() })).rejects.toThrow(/not a WebAssembly module/);
    await expect(fetchModule({ plugin: "demo.h", url: `${base}/m.wasm`, sha256: "f".repeat(64) }, { cacheDir: cacheDir() }))
      .rejects.toThrow(`demo.h: spec.sha256 is ${"f".repeat(64)} but the module from ${base}/m.wasm has sha256 ${WASM_SHA}`);
    expect(existsSync(join(cacheDir(), "sha256", `${WASM_SHA}.wasm`))).toBe(false);
  });

  test("cached modules unused for 24 hours are purged; using one keeps it", async () => {
    const m = await fetchModule({ plugin: "demo.h", url: `${base}/m.wasm`, sha256: WASM_SHA }, { cacheDir: cacheDir() });
    const now = Date.now();
    const staleTime = new Date(now - MODULE_EXPIRY_MS - 1000);
    utimesSync(m.path, staleTime, staleTime);
    expect(purgeExpired(cacheDir(), now - 2000)).toEqual([]); // not yet 24 h at that clock
    expect(purgeExpired(cacheDir(), now)).toEqual([m.path]);
    expect(existsSync(m.path)).toBe(false);
    // A hit refreshes the entry's last use.
    const again = await fetchModule({ plugin: "demo.h", url: `${base}/m.wasm`, sha256: WASM_SHA }, { cacheDir: cacheDir(), now: () => now });
    const later = now + MODULE_EXPIRY_MS - 1;
    await fetchModule({ plugin: "demo.h", url: `${base}/m.wasm`, sha256: WASM_SHA }, { cacheDir: cacheDir(), now: () => later });
    expect(Math.round(statSync(again.path).mtimeMs)).toBe(later);
    expect(purgeExpired(cacheDir(), later + MODULE_EXPIRY_MS - 1)).toEqual([]);
  });

  test("oci:// goes through the puller; spec.sha256 is the manifest digest, the annotation the module's", async () => {
    const manifestDigest = "c".repeat(64);
    const calls: string[] = [];
    const pullOci: OciPuller = async (ref, o) => {
      calls.push(`${ref} ${o.pullPolicy}`);
      return { wasm: WASM, manifestDigest };
    };
    const m = await fetchModule({ plugin: "demo.o", url: "registry.local/f:1", sha256: manifestDigest, moduleSha256: WASM_SHA }, { cacheDir: cacheDir(), pullOci });
    expect(m).toMatchObject({ sha256: WASM_SHA, manifestDigest, origin: "download" });
    expect(calls).toEqual(["registry.local/f:1 IfNotPresent"]);
    // IfNotPresent with a known module digest: the cache answers.
    const again = await fetchModule({ plugin: "demo.o", url: "oci://registry.local/f:1", moduleSha256: WASM_SHA }, { cacheDir: cacheDir(), pullOci });
    expect(again.origin).toBe("cache");
    // :latest means Always.
    await fetchModule({ plugin: "demo.o", url: "oci://registry.local/f:latest", moduleSha256: WASM_SHA }, { cacheDir: cacheDir(), pullOci });
    expect(calls).toEqual(["registry.local/f:1 IfNotPresent", "registry.local/f:latest Always"]);
    await expect(fetchModule({ plugin: "demo.o", url: "oci://r/f:2", sha256: WASM_SHA }, { cacheDir: cacheDir(), pullOci }))
      .rejects.toThrow(`demo.o: spec.sha256 is ${WASM_SHA} but the image manifest from oci://r/f:2 has sha256 ${manifestDigest}`);
    await expect(fetchModule({ plugin: "demo.o", url: "oci://r/f:2", moduleSha256: sha256Hex(OTHER) }, { cacheDir: cacheDir(), pullOci }))
      .rejects.toThrow(/the module-sha256 annotation is .* but the module from oci:\/\/r\/f:2 has sha256/);
  });

  test("unsupported schemes are refused", async () => {
    await expect(fetchModule({ plugin: "demo.x", url: "ftp://h/f.wasm" }, { cacheDir: cacheDir() })).rejects.toThrow(/unsupported scheme/);
  });
});
