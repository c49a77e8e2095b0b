// The Wasm floor: a proxy-wasm module with no SDK at all, written here byte by byte. It exports the ABI
// 0.2.1 marker, memory, an allocator and every HTTP-stream callback Envoy calls on a request, each doing
// nothing but return the answer that lets the request pass. In Envoy it costs what a Wasm filter costs
// before any SDK code runs: the per-stream context, the calls into V8 and back.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildModule, i32const } from "../../src/emulator/wasm-binary";

interface Fn {
  name: string;
  params: number;
  /** The i32 it returns, or null for none. */
  returns: number | null;
  /** A body other than "return `returns`". */
  body?: number[];
}

// Action 0 = Continue; vm_start / configure / done answer true (1).
const FUNCTIONS: Fn[] = [
  { name: "proxy_abi_version_0_2_1", params: 0, returns: null },
  // A bump allocator over the memory past 1 KiB (the floor's callbacks never make the host call it).
  // heap = load(0) or 1024; store(0, heap + size); return heap
  { name: "proxy_on_memory_allocate", params: 1, returns: 0, body: [
    0x41, 0x00, 0x28, 0x02, 0x00, 0x22, 0x01, // local1 = load(0)
    0x45, 0x04, 0x40, ...i32const(1024), 0x21, 0x01, 0x0b, // if !local1: local1 = 1024
    0x41, 0x00, 0x20, 0x01, 0x20, 0x00, 0x6a, 0x36, 0x02, 0x00, // store(0, local1 + size)
    0x20, 0x01, // local1
  ] },
  { name: "proxy_on_context_create", params: 2, returns: null },
  { name: "proxy_on_vm_start", params: 2, returns: 1 },
  { name: "proxy_on_configure", params: 2, returns: 1 },
  { name: "proxy_on_request_headers", params: 3, returns: 0 },
  { name: "proxy_on_request_body", params: 3, returns: 0 },
  { name: "proxy_on_request_trailers", params: 2, returns: 0 },
  { name: "proxy_on_response_headers", params: 3, returns: 0 },
  { name: "proxy_on_response_body", params: 3, returns: 0 },
  { name: "proxy_on_response_trailers", params: 2, returns: 0 },
  { name: "proxy_on_done", params: 1, returns: 1 },
  { name: "proxy_on_log", params: 1, returns: null },
  { name: "proxy_on_delete", params: 1, returns: null },
];

/** The floor module's bytes. */
export function floorBytes(): Uint8Array {
  return buildModule({
    funcs: FUNCTIONS.map((f) => ({
      name: f.name,
      params: f.params,
      results: f.returns === null ? 0 : 1,
      locals: f.body ? 1 : 0,
      body: f.body ?? (f.returns === null ? [] : i32const(f.returns)),
    })),
  });
}

/** Writes the floor module to bench/build/floor.wasm and returns its absolute path. */
export function floorModule(): string {
  const dir = resolve("bench", "build");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "floor.wasm");
  writeFileSync(file, floorBytes());
  return file;
}
