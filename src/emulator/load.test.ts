// Tiny hand-assembled modules: what Envoy refuses to load, and how a trap surfaces.
import { Host, LogLevel, ModuleLoadError, WasmTrapError } from "./index";
import { buildModule, i32const } from "./wasm-builder.testutil";

const build = (spec: Parameters<typeof buildModule>[0] & { data?: unknown }) => buildModule(spec as Parameters<typeof buildModule>[0]);

const marker = { name: "proxy_abi_version_0_2_1", params: 0, results: 0, body: [] };
const malloc = { name: "malloc", params: 1, results: 1, body: i32const(4096) };
const log = { module: "env", name: "proxy_log", params: 3, results: 1 };

describe("emulator: loading like Envoy", () => {
  test("a module without an ABI marker is refused", async () => {
    await expect(Host.load(build({ funcs: [malloc] }))).rejects.toThrow(/Missing or unknown Proxy-Wasm ABI version/);
  });

  test("an import the host does not provide is refused, naming it", async () => {
    const wasm = build({ imports: [{ module: "env", name: "abort", params: 0, results: 0 }], funcs: [marker, malloc] });
    const load = Host.load(wasm);
    await expect(load).rejects.toBeInstanceOf(ModuleLoadError);
    await expect(load).rejects.toThrow("Failed to load Wasm module due to a missing import: env.abort");
  });

  test("an import with another signature than Envoy's is refused", async () => {
    const wasm = build({ imports: [{ ...log, params: 2 }], funcs: [marker, malloc] });
    await expect(Host.load(wasm)).rejects.toThrow(/import type mismatch: env.proxy_log/);
  });

  test("proxy_get_log_level is not provided to ABI 0.2.0 modules", async () => {
    const imports = [{ module: "env", name: "proxy_get_log_level", params: 1, results: 1 }];
    const old = { ...marker, name: "proxy_abi_version_0_2_0" };
    await expect(Host.load(build({ imports, funcs: [old, malloc] }))).rejects.toThrow(/missing import: env.proxy_get_log_level/);
    await expect(Host.load(build({ imports, funcs: [marker, malloc] }))).resolves.toBeInstanceOf(Host);
  });

  test("a module with no allocator is refused", async () => {
    await expect(Host.load(build({ funcs: [marker] }))).rejects.toThrow(/missing malloc/);
  });

  test("a trap surfaces as WasmTrapError carrying the last CRITICAL log line, and fails the VM", async () => {
    const onHeaders = {
      name: "proxy_on_request_headers",
      params: 3,
      results: 1,
      // proxy_log(Critical, 0, 4) ; drop ; unreachable
      body: [...i32const(5), ...i32const(0), ...i32const(4), 0x10, 0x00, 0x1a, 0x00],
    };
    const host = await Host.start(build({ imports: [log], funcs: [marker, malloc, onHeaders], data: [{ offset: 0, bytes: Buffer.from("boom") }] }));
    const s = host.newHttpStream();
    let err: unknown;
    try {
      s.sendRequestHeaders([[":path", "/"]]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WasmTrapError);
    expect((err as WasmTrapError).lastCritical).toBe("boom");
    expect((err as WasmTrapError).message).toMatch(/proxy_on_request_headers.*boom/);
    expect(host.logs(LogLevel.Critical)).toEqual([{ level: LogLevel.Critical, message: "boom", contextId: s.id }]);
    expect(host.failed).toBe(true);
    expect(host.memoryBytes()).toBe(65536);
  });
});
