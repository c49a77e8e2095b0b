// Hand-assembled tiny i32-only modules for tests that need exact control over what a module does. The
// builder itself is wasm-binary.ts's; this file keeps the pieces tests compose with it.
import { i32const } from "./wasm-binary";

export { buildModule, i32const, leb, type ModuleSpec } from "./wasm-binary";

export const MARKER_0_2_1 = { name: "proxy_abi_version_0_2_1", params: 0, results: 0, body: [] as number[] };

/** malloc as a bump allocator whose heap pointer lives at address 0 (seed it with HEAP_SEED). */
export const BUMP_MALLOC = {
  name: "malloc",
  params: 1,
  results: 1,
  // store(0, load(0) + size); return load(0) - size
  body: [0x41, 0, 0x41, 0, 0x28, 2, 0, 0x20, 0, 0x6a, 0x36, 2, 0, 0x41, 0, 0x28, 2, 0, 0x20, 0, 0x6b],
};
export const HEAP_SEED = { offset: 0, bytes: [0x00, 0x20, 0x00, 0x00] }; // heap starts at 8192

/** An export that returns a constant. */
export const returns = (name: string, params: number, value: number) => ({ name, params, results: 1, body: i32const(value) });
