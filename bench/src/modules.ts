// What a Wasm module costs outside the request path: its size on disk (raw and gzip), the VM's linear
// memory after a soak of requests, and the time to start a VM. The last two are measured in this project's
// host emulator (src/emulator, V8 in Node), because Envoy exposes neither per-VM memory nor a start time.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { Host, LogLevel } from "../../src/emulator";

export interface ModuleFigures {
  module_bytes: number;
  module_gzip_bytes: number;
  /** Linear memory (memory.buffer.byteLength) after `soakRequests` requests. */
  memory_bytes: number | null;
  /** Linear memory right after proxy_on_configure, before any request. */
  memory_start_bytes: number | null;
  /** Median of `starts` runs of Host.start: compile, instantiate, _initialize/_start, vm_start, configure. */
  vm_start_ms: number | null;
  /** Why the emulator figures are missing, when they are. */
  emulator_error?: string;
}

export interface SoakSpec {
  pluginConfig: string;
  /** Request headers of one request (the case's own, on top of a GET /bench). */
  headers: Record<string, string>;
  soakRequests: number;
  starts: number;
}

/** The headers of one bench request: a GET /bench with the case's own headers. */
export function requestHeaders(extra: Record<string, string>): Array<[string, string]> {
  return [[":method", "GET"], [":path", "/bench"], [":authority", "bench"], [":scheme", "http"], ...Object.entries(extra)];
}

function startOptions(spec: SoakSpec) {
  // Envoy's default Wasm log level is info: debug logs are dropped by the host, as there.
  return { pluginConfig: spec.pluginConfig, logLevel: LogLevel.Info, startTimeNs: BigInt(Date.now()) * 1_000_000n };
}

export async function measureModule(file: string, spec: SoakSpec): Promise<ModuleFigures> {
  const bytes = new Uint8Array(readFileSync(file));
  const figures: ModuleFigures = {
    module_bytes: bytes.byteLength,
    module_gzip_bytes: gzipSync(bytes, { level: 9 }).byteLength,
    memory_bytes: null,
    memory_start_bytes: null,
    vm_start_ms: null,
  };
  try {
    const times: number[] = [];
    for (let i = 0; i < spec.starts; i++) {
      const t0 = process.hrtime.bigint();
      const host = await Host.start(bytes, startOptions(spec));
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      host.shutdown();
    }
    times.sort((a, b) => a - b);
    figures.vm_start_ms = round(times[Math.floor(times.length / 2)], 2);

    const host = await Host.start(bytes, startOptions(spec));
    figures.memory_start_bytes = host.memoryBytes();
    const headers = requestHeaders(spec.headers);
    for (let i = 0; i < spec.soakRequests; i++) {
      const s = host.newHttpStream();
      s.sendRequestHeaders(headers, true);
      if (s.localResponse) throw new Error(`request ${i} got a local reply ${s.localResponse.status}: the soak would not measure the pass path`);
      s.sendResponseHeaders([[":status", "200"], ["content-length", "2"]], false);
      s.sendResponseBody("ok", true);
      s.complete();
      if (host.failed) throw new Error(`the VM failed after ${i} requests: ${host.failure?.message}`);
    }
    figures.memory_bytes = host.memoryBytes();
    host.shutdown();
  } catch (err) {
    figures.emulator_error = (err as Error).message.split("\n")[0];
  }
  return figures;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
