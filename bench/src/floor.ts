// The Wasm floor: a proxy-wasm module with no SDK at all, written here byte by byte. It exports the ABI
// 0.2.1 marker, memory, an allocator and every HTTP-stream callback Envoy calls on a request, each doing
// nothing but return the answer that lets the request pass. In Envoy it costs what a Wasm filter costs
// before any SDK code runs: the per-stream context, the calls into V8 and back.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const I32 = 0x7f;

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const str = (s: string) => [...leb(Buffer.byteLength(s)), ...Buffer.from(s)];
const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
const i32const = (n: number) => [0x41, ...leb(n)];

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
  const sigs: string[] = [];
  const typeOf = (f: Fn) => {
    const key = `${f.params}:${f.returns === null ? 0 : 1}`;
    if (!sigs.includes(key)) sigs.push(key);
    return sigs.indexOf(key);
  };
  const funcTypes = FUNCTIONS.map((f) => leb(typeOf(f)));
  const types = sigs.map((k) => {
    const [p, r] = k.split(":").map(Number);
    return [0x60, ...vec(Array.from({ length: p }, () => [I32])), ...vec(Array.from({ length: r }, () => [I32]))];
  });
  const exportsList = [[...str("memory"), 0x02, 0x00], ...FUNCTIONS.map((f, i) => [...str(f.name), 0x00, ...leb(i)])];
  const code = FUNCTIONS.map((f) => {
    const locals = f.body ? [0x01, 0x01, I32] : [0x00];
    const body = [...locals, ...(f.body ?? (f.returns === null ? [] : i32const(f.returns))), 0x0b];
    return [...leb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(funcTypes)),
    ...section(5, vec([[0x00, 0x01]])), // one page, no maximum
    ...section(7, vec(exportsList)),
    ...section(10, vec(code)),
  ]);
}

/** Writes the floor module to bench/build/floor.wasm and returns its absolute path. */
export function floorModule(): string {
  const dir = resolve("bench", "build");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "floor.wasm");
  writeFileSync(file, floorBytes());
  return file;
}
