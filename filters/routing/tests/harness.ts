// Builds filters/routing once per test process and drives it through the emulator.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildFilter } from "../../../src/build/build";
import { Host, HttpStream, LogLevel, PluginStartError, type HostOptions } from "../../../src/emulator";
import type { PropertyOverrides } from "../../../src/emulator";

export const FILTER_DIR = resolve(__dirname, "..");

let built: Promise<Uint8Array> | undefined;

/** The release build of the filter (built into a temporary folder, so parallel builds never collide). */
export function routingWasm(): Promise<Uint8Array> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "routing-"));
    try {
      const r = await buildFilter(FILTER_DIR, { outFile: join(dir, "routing.wasm") });
      return new Uint8Array(readFileSync(r.wasmPath));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return built;
}

/** A started host configured with `config` (an object is JSON-encoded). */
export async function routingHost(config: unknown, opts: HostOptions = {}): Promise<Host> {
  const pluginConfig = typeof config === "string" ? config : JSON.stringify(config);
  return Host.start(await routingWasm(), { logLevel: LogLevel.Info, ...opts, pluginConfig });
}

/** The error message the filter logged for a rejected configuration. */
export async function configError(config: unknown): Promise<string> {
  try {
    await routingHost(config);
  } catch (e) {
    if (!(e instanceof PluginStartError)) throw e;
    const line = e.logs.find((l) => l.level === LogLevel.Error && l.message.startsWith("routing: invalid configuration: "));
    if (!line) throw new Error(`rejected without the expected log line:\n${e.message}`);
    return line.message.slice("routing: invalid configuration: ".length);
  }
  throw new Error("the configuration was accepted");
}

export interface RequestSpec {
  path?: string;
  method?: string;
  authority?: string;
  scheme?: string;
  headers?: Array<[string, string]>;
  properties?: PropertyOverrides;
}

export interface Routed {
  stream: HttpStream;
  /** The routing header the upstream receives, or null when the filter removed or did not write it. */
  subset: string | null;
  header(name: string): string | null;
  headers(name: string): string[];
}

/** Sends one request's headers (end of stream) and reports what the upstream would receive. */
export function route(host: Host, spec: RequestSpec = {}, subsetHeader = "x-route-subset"): Routed {
  const stream = host.newHttpStream(undefined, { properties: spec.properties });
  stream.sendRequestHeaders(
    [
      [":method", spec.method ?? "GET"],
      [":path", spec.path ?? "/"],
      [":authority", spec.authority ?? "reviews.example.com"],
      [":scheme", spec.scheme ?? "http"],
      ...(spec.headers ?? []),
    ],
    true,
  );
  const sent = stream.upstream.headers ?? [];
  const headers = (name: string) => sent.filter(([k]) => k === name).map(([, v]) => v);
  const header = (name: string) => headers(name)[0] ?? null;
  return { stream, subset: header(subsetHeader), header, headers };
}

/** The subset the filter writes for this request, completing the stream. */
export function subsetOf(host: Host, spec: RequestSpec = {}): string | null {
  const r = route(host, spec);
  r.stream.sendResponseHeaders([[":status", "200"]], true);
  r.stream.complete();
  return r.subset;
}
