import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadModule } from "./module";
import { testsUseEnvoy } from "./test";

const ROOT = resolve(__dirname, "..", "..");
const WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pwas-module-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A filter folder; with `prebuilt`, its build/<name>.wasm exists already. */
function folder(name: string, opts: { pkgName?: string; prebuilt?: boolean } = {}): string {
  const d = join(dir, name);
  mkdirSync(join(d, "assembly"), { recursive: true });
  writeFileSync(join(d, "assembly", "index.ts"), "");
  if (opts.pkgName) writeFileSync(join(d, "package.json"), JSON.stringify({ name: opts.pkgName }));
  if (opts.prebuilt) {
    mkdirSync(join(d, "build"));
    writeFileSync(join(d, "build", `${opts.pkgName?.replace(/^@[^/]+\//, "") ?? name}.wasm`), WASM);
  }
  return d;
}

describe("loadModule: a filter folder or a .wasm → the module every command uses", () => {
  test("a .wasm file is taken as it is, named after the file (without .debug)", async () => {
    const f = join(dir, "canary.debug.wasm");
    writeFileSync(f, WASM);
    const progress: string[] = [];
    const m = await loadModule(f, { progress: (l) => progress.push(l) });
    expect(m).toEqual({ wasmPath: f, wasm: WASM, name: "canary", built: false });
    expect(progress).toEqual([]);
  });

  test("a folder with --no-build uses its build/<name>.wasm, named from package.json without the scope", async () => {
    const d = folder("x", { pkgName: "@acme/limiter", prebuilt: true });
    const m = await loadModule(d, { noBuild: true });
    expect(m).toMatchObject({ wasmPath: join(d, "build", "limiter.wasm"), name: "limiter", built: false, project: { dir: d, name: "limiter" } });
    expect(m.wasm.equals(WASM)).toBe(true);
  });

  test("--no-build without a built module says to build it first", async () => {
    const d = folder("fresh");
    await expect(loadModule(d, { noBuild: true })).rejects.toMatchObject({ code: "E_NOT_FOUND", message: expect.stringContaining("does not exist: build it first (pwas build") });
  });

  test("a folder that is not a filter, a missing path and a file that is not Wasm are refused with what is expected", async () => {
    mkdirSync(join(dir, "docs"));
    await expect(loadModule(join(dir, "docs"))).rejects.toMatchObject({ code: "E_NOT_FOUND", message: expect.stringContaining("is not a filter folder") });
    await expect(loadModule(join(dir, "missing"))).rejects.toMatchObject({ code: "E_NOT_FOUND", message: `${join(dir, "missing")}: no such filter folder or .wasm file` });
    writeFileSync(join(dir, "config.json"), "{}");
    await expect(loadModule(join(dir, "config.json"))).rejects.toMatchObject({ code: "E_USAGE", message: `${join(dir, "config.json")} is not a WebAssembly module (give a filter folder or a .wasm file)` });
  });

  test("a filter folder is built (and checked) every time, with a progress line", async () => {
    // A copy of the smallest template outside the repo, resolving the SDK and compiler through a node_modules link.
    const d = join(dir, "hh");
    cpSync(join(ROOT, "templates", "http-headers"), d, { recursive: true, filter: (src) => !/[\\/](build|node_modules)$/.test(src) });
    symlinkSync(join(ROOT, "node_modules"), join(d, "node_modules"));
    const progress: string[] = [];
    const m = await loadModule(d, { progress: (l) => progress.push(l) });
    expect(m).toMatchObject({ wasmPath: join(d, "build", "http-headers.wasm"), name: "http-headers", built: true });
    expect(m.wasm.subarray(0, 4).equals(WASM.subarray(0, 4))).toBe(true);
    expect(m.wasm.length).toBeGreaterThan(1000);
    expect(progress).toEqual([`building ${d}`]);
  }, 120_000);

  test("an aborted build rejects with an AbortError", async () => {
    const d = join(dir, "hh2");
    cpSync(join(ROOT, "templates", "http-headers"), d, { recursive: true, filter: (src) => !/[\\/](build|node_modules)$/.test(src) });
    symlinkSync(join(ROOT, "node_modules"), join(d, "node_modules"));
    const controller = new AbortController();
    controller.abort();
    await expect(loadModule(d, { signal: controller.signal })).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("testsUseEnvoy: whether pwas test provisions Envoy before running a project's tests", () => {
  test("true for a project whose tests import pwas/envoy, false for emulator-only tests or none", () => {
    expect(testsUseEnvoy(join(ROOT, "templates", "http-headers"))).toBe(true);
    expect(testsUseEnvoy(join(ROOT, "filters", "fault"))).toBe(false);
    const d = folder("bare");
    expect(testsUseEnvoy(d)).toBe(false);
    mkdirSync(join(d, "tests", "e2e"), { recursive: true });
    writeFileSync(join(d, "tests", "e2e", "x.test.ts"), 'import { envoyHarness } from "pwas/envoy";\n');
    expect(testsUseEnvoy(d)).toBe(true);
  });
});
