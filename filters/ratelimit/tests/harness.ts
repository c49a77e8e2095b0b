// Builds the ratelimit filter and its codec test entry for the tests, and drives requests through the
// emulator. Each test process builds into its own temporary folder, so parallel test files never write
// the same output file.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildFilter } from "../../../src/build/build";
import { compile } from "../../../src/build/compile";
import { Host, HostOptions, HttpStream, SharedData } from "../../../src/emulator";

export const FILTER_DIR = resolve(__dirname, "..");

let built: Promise<string> | undefined;
let buildDir: string | undefined;

/** The optimised filter module, built once per test process. */
export function ratelimitWasm(): Promise<string> {
  if (!built) {
    buildDir = mkdtempSync(join(tmpdir(), "pwas-ratelimit-"));
    built = buildFilter(FILTER_DIR, { outFile: join(buildDir, "ratelimit.wasm") }).then((r) => r.wasmPath);
    process.once("exit", () => buildDir && rmSync(buildDir, { recursive: true, force: true }));
  }
  return built;
}

/** Starts one emulated worker with a plugin configuration. */
export async function startFilter(config: unknown, opts: HostOptions = {}): Promise<Host> {
  return Host.start(await ratelimitWasm(), {
    pluginConfig: typeof config === "string" ? config : JSON.stringify(config),
    pluginName: "rl",
    vmId: "rl-vm",
    ...opts,
  });
}

/** Several emulated workers of one Envoy: one shared-data store, clocks started at the same instant. */
export async function startWorkers(n: number, config: unknown): Promise<Host[]> {
  const sharedData = new SharedData();
  const hosts: Host[] = [];
  for (let i = 0; i < n; i++) hosts.push(await startFilter(config, { sharedData, seed: 1000 + i }));
  return hosts;
}

/** Advances every worker's clock by the same amount. */
export function advance(hosts: Host[], ms: number): void {
  for (const h of hosts) h.advanceTime(ms);
}

export interface Outcome {
  status: number;
  /** Response headers as the client sees them. */
  headers: Record<string, string>;
  body: string;
  stream: HttpStream;
}

export interface RequestOptions {
  path?: string;
  method?: string;
  headers?: Array<[string, string]>;
  /** Downstream peer "ip:port". */
  source?: string;
  /** The route Envoy selected (xds.route_name). */
  route?: string;
}

/** Sends one GET through the filter; an upstream 200 answers unless the filter replied itself. */
export function request(host: Host, opts: RequestOptions = {}): Outcome {
  const properties: Record<string, string> = {};
  if (opts.source) properties["source.address"] = opts.source;
  if (opts.route) properties["xds.route_name"] = opts.route;
  const s = host.newHttpStream(undefined, { properties });
  s.sendRequestHeaders(
    [[":method", opts.method ?? "GET"], [":path", opts.path ?? "/"], [":authority", "example.com"], ...(opts.headers ?? [])],
    true,
  );
  return finish(s);
}

/** Completes a stream: the upstream answers 200 if the request reached it. */
export function finish(s: HttpStream): Outcome {
  if (!s.localResponse && s.upstream.headers) s.sendResponseHeaders([[":status", "200"]], true);
  const headers: Record<string, string> = {};
  for (const [k, v] of s.responseHeaders()) headers[k] = headers[k] === undefined ? v : `${headers[k]},${v}`;
  const status = Number(headers[":status"] ?? 0);
  const body = s.responseBodyText();
  s.complete();
  return { status, headers, body, stream: s };
}

/** Counts statuses of many requests. */
export function tally(outcomes: Outcome[]): Record<number, number> {
  const t: Record<number, number> = {};
  for (const o of outcomes) t[o.status] = (t[o.status] ?? 0) + 1;
  return t;
}

// ---- the codec entry

interface CodecExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  __new(size: number, id: number): number;
  __collect(): void;
  testEncodeRequest(spec: number): number;
  testDecodeResponse(buf: number): number;
  testWalk(buf: number): number;
  testSipHash(key: number, data: number): bigint;
  testMulDivFloor(a: bigint, b: bigint, c: bigint): bigint;
  testMulDivCeil(a: bigint, b: bigint, c: bigint): bigint;
}

const ARRAY_BUFFER_ID = 1;

export class Codec {
  constructor(private readonly x: CodecExports) {}

  private bytes(b: Uint8Array): number {
    const ptr = this.x.__new(b.length, ARRAY_BUFFER_ID);
    new Uint8Array(this.x.memory.buffer, ptr, b.length).set(b);
    return ptr;
  }

  private buffer(ptr: number): Uint8Array {
    const len = new Uint32Array(this.x.memory.buffer, ptr - 4, 1)[0];
    return new Uint8Array(this.x.memory.buffer, ptr, len).slice();
  }

  private string(ptr: number): string {
    const bytes = new Uint32Array(this.x.memory.buffer, ptr - 4, 1)[0];
    return Buffer.from(new Uint8Array(this.x.memory.buffer, ptr, bytes)).toString("utf16le");
  }

  encodeRequest(domain: string, descriptors: Array<Array<[string, Uint8Array]>>, hits = 0): Uint8Array {
    const parts: Buffer[] = [];
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      parts.push(b);
    };
    const blob = (b: Uint8Array) => {
      u32(b.length);
      parts.push(Buffer.from(b));
    };
    u32(hits);
    blob(Buffer.from(domain, "utf8"));
    u32(descriptors.length);
    for (const d of descriptors) {
      u32(d.length);
      for (const [k, v] of d) {
        blob(Buffer.from(k, "utf8"));
        blob(v);
      }
    }
    const out = this.buffer(this.x.testEncodeRequest(this.bytes(Buffer.concat(parts))));
    this.x.__collect();
    return out;
  }

  /** The decoded response as the filter sees it, or null when the filter refuses it as malformed. */
  decodeResponse(b: Uint8Array): DecodedResponse | null {
    const text = this.string(this.x.testDecodeResponse(this.bytes(b)));
    this.x.__collect();
    return JSON.parse(text) as DecodedResponse | null;
  }

  walk(b: Uint8Array): number {
    const n = this.x.testWalk(this.bytes(b));
    this.x.__collect();
    return n;
  }

  /** The bucket arithmetic: floor / ceil of a * b / c for u64 operands (u64 max when it does not fit). */
  mulDiv(a: bigint, b: bigint, c: bigint, ceil = false): bigint {
    const s = (v: bigint) => BigInt.asIntN(64, v);
    return BigInt.asUintN(64, ceil ? this.x.testMulDivCeil(s(a), s(b), s(c)) : this.x.testMulDivFloor(s(a), s(b), s(c)));
  }

  sipHash(key: Uint8Array, data: Uint8Array): bigint {
    const h = this.x.testSipHash(this.bytes(key), this.bytes(data));
    this.x.__collect();
    return BigInt.asUintN(64, h);
  }
}

export interface DecodedResponse {
  overallCode: number;
  statuses: Array<{
    code: number;
    hasLimit: boolean;
    requestsPerUnit: number;
    unit: number;
    name: string;
    limitRemaining: number;
    hasReset: boolean;
    resetSeconds: number;
    resetNanos: number;
    resetCeil: number;
  }>;
  responseHeaders: Array<[string, string]>;
  requestHeaders: Array<[string, string]>;
  rawBody: string | null;
}

/** Compiles codec-entry.ts (optimised, like the filter) and instantiates it with stub host imports. */
export async function loadCodec(): Promise<Codec> {
  const dir = mkdtempSync(join(tmpdir(), "pwas-rl-codec-"));
  try {
    const { wasmPath } = await compile({
      entry: resolve(__dirname, "codec-entry.ts"),
      outFile: join(dir, "codec.wasm"),
      projectDir: resolve(__dirname, "../../.."),
      extraArgs: ["--exportRuntime"],
    });
    const module = new WebAssembly.Module(readFileSync(wasmPath));
    let memory: WebAssembly.Memory | undefined;
    const imports: Record<string, Record<string, (...a: number[]) => number>> = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.kind !== "function") continue;
      imports[imp.module] ??= {};
      imports[imp.module][imp.name] =
        imp.name === "proxy_log"
          ? (_l: number, ptr: number, len: number) => {
              throw new Error(`wasm: ${Buffer.from(memory!.buffer, ptr, len).toString()}`);
            }
          : () => {
              throw new Error(`codec entry called host function ${imp.module}.${imp.name}`);
            };
    }
    const instance = new WebAssembly.Instance(module, imports);
    const x = instance.exports as unknown as CodecExports;
    memory = x.memory;
    x._initialize();
    return new Codec(x);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
