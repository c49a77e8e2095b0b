import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { locateEnvoy } from "./locate";
import { ENVOY_INSTALL_COMMAND, ENVOY_LOCAL_BIN } from "./version";

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
    expect(locateEnvoy({ env: { PATH: "" }, searchDirs: [nested] })).toBe(bin);
  });

  test("envoy on PATH is the last resort", () => {
    const bin = fakeBinary(join(dir, "bin", "envoy"));
    expect(locateEnvoy({ env: { PATH: join(dir, "bin") }, searchDirs: [join(dir, "empty")] })).toBe(bin);
  });

  test("with none, the error says how to get one", () => {
    let message = "";
    try {
      locateEnvoy({ env: { PATH: "" }, searchDirs: [dir] });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("make setup");
    expect(message).toContain(ENVOY_INSTALL_COMMAND);
  });
});
