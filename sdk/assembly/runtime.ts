// Routes AssemblyScript's built-in imports to what a proxy-wasm host provides, so a module imports
// only `env.proxy_*` and WASI, and counts what the garbage collector's allocations cost. The build passes
// `--use abort=… --use seed=… --use __new=… --use __renew=… --use __alloc=… --use __free=…` pointing here
// (src/build/compile.ts).
import { proxy_log, wasi_random_get } from "./abi/imports";
import { LogLevel } from "./abi/enums";
import { __new as gcNew, __renew as gcRenew } from "~lib/rt/tcms";
import { __alloc as tlsfAlloc, __free as tlsfFree } from "~lib/rt/tlsf";
import { countAllocation } from "./internal/memory";

/** Replaces `env.abort`: a failed assertion or throw is logged at CRITICAL, then the VM traps (Envoy applies failure_policy). */
export function pwasAbort(message: string | null = null, fileName: string | null = null, line: u32 = 0, column: u32 = 0): void {
  let text = "AssemblyScript abort: " + (message !== null ? message : "(no message)");
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  const bytes = String.UTF8.encode(text);
  proxy_log(LogLevel.Critical, changetype<usize>(bytes), <usize>bytes.byteLength);
  unreachable();
}

/** Replaces `env.seed` (used by Math.random): 8 bytes from WASI random_get. */
export function pwasSeed(): f64 {
  const buf = memory.data(8);
  wasi_random_get(buf, 8);
  return <f64>load<u64>(buf);
}

// Every managed allocation (objects, strings, arrays, buffers) goes through `__new`, and every growth of
// an array or string builder through `__renew`. Aliasing both here lets the dispatcher collect garbage
// after a callback once enough was allocated (docs/memory.md), at the cost of one add per allocation.

/** Replaces the runtime's `__new`: allocates as before and counts the bytes. */
export function pwasNew(size: usize, id: i32): usize {
  countAllocation(size);
  return gcNew(size, id);
}

/** Replaces the runtime's `__renew`: the new size is counted whole (the block may move). */
export function pwasRenew(oldPtr: usize, size: usize): usize {
  countAllocation(size);
  return gcRenew(oldPtr, size);
}

// ---- Small blocks kept for reuse (docs/memory.md) ----
// A request allocates the same few small objects every time (its context, the buffers the host fills, a
// result object), and the collector frees them again a few hundred requests later. Through the TLSF
// allocator each allocation and each free costs a search, a split or a merge and a list update: a few
// hundred instructions. The runtime's `__alloc` and `__free` are routed here instead: a freed block of up to
// SMALL_BLOCK_MAX bytes goes onto a list for its exact size (while the lists hold less than
// SMALL_BLOCKS_LIMIT bytes), and the next allocation of that size takes it back, a load and a store each
// way. To TLSF a kept block stays in use; anything larger, and anything past the limit, is TLSF's as before.

// TLSF's block layout (std/assembly/rt/tlsf.ts): a 4-byte header whose upper bits hold the payload size,
// payloads of 12, 28, 44 ... bytes (16-byte aligned blocks), so `size >> 4` names a size exactly.
// @ts-ignore: decorator
@inline const BLOCK_HEADER: usize = 4;
// @ts-ignore: decorator
@inline const SMALL_BLOCK_MAX: usize = 252;
// @ts-ignore: decorator
@inline const SMALL_CLASSES: usize = (SMALL_BLOCK_MAX >> 4) + 1;
// @ts-ignore: decorator
@inline const SMALL_BLOCKS_LIMIT: usize = 16 << 10;
// @ts-ignore: decorator
@inline const SMALL_CHUNK: usize = 1024;

/** Heads of the kept blocks' lists, one per payload size; each kept block's first word links the next. */
// @ts-ignore: decorator
@lazy const smallBlocks: usize = memory.data(<i32>(SMALL_CLASSES * sizeof<usize>()));
/** Bytes (headers included) the lists hold. */
let smallBlockBytes: usize = 0;

/** Replaces the runtime's `__alloc`: a kept block of the size TLSF would hand out, or TLSF's. */
export function pwasAlloc(size: usize): usize {
  if (size <= SMALL_BLOCK_MAX) {
    // TLSF's computeSize: at least 12, else rounded so the next block starts 16-byte aligned.
    const payload = size <= 12 ? 12 : ((size + BLOCK_HEADER + 15) & ~15) - BLOCK_HEADER;
    const head = smallBlocks + ((payload >> 4) << alignof<usize>());
    const ptr = load<usize>(head);
    if (ptr != 0) {
      store<usize>(head, load<usize>(ptr));
      smallBlockBytes -= payload + BLOCK_HEADER;
      return ptr;
    }
    return carveSmallBlocks(payload);
  }
  return tlsfAlloc(size);
}

/**
 * With no kept block of this size (a VM's first requests, before any collection), one TLSF allocation of
 * about SMALL_CHUNK bytes is cut into blocks of the size: the first is returned, the others kept. Each piece
 * gets a TLSF header of its own, used, so TLSF can later free, grow or merge any of them as its own block.
 */
function carveSmallBlocks(payload: usize): usize {
  const step = payload + BLOCK_HEADER;
  const n = SMALL_CHUNK / step;
  const ptr = tlsfAlloc(n * step - BLOCK_HEADER);
  const header = ptr - BLOCK_HEADER;
  const whole = load<usize>(header);
  // The first piece keeps the block's LEFTFREE flag (bit 1); the others have a used block on their left.
  store<usize>(header, (whole & 2) | payload);
  let last = (whole & ~3) - (n - 1) * step; // TLSF may hand out a few bytes more: the last piece takes them
  for (let i: usize = n - 1; i > 0; i--) {
    const piece = ptr + i * step;
    store<usize>(piece - BLOCK_HEADER, i == n - 1 ? last : payload);
    pwasFree(piece);
  }
  return ptr;
}

/** Replaces the runtime's `__free`: keeps a small block for the next allocation of its size, or gives it to TLSF. */
export function pwasFree(ptr: usize): void {
  if (ptr < __heap_base) return; // static data is never freed (as in TLSF's __free)
  const payload = load<usize>(ptr - BLOCK_HEADER) & ~3;
  if (payload <= SMALL_BLOCK_MAX && smallBlockBytes + payload + BLOCK_HEADER <= SMALL_BLOCKS_LIMIT) {
    const head = smallBlocks + ((payload >> 4) << alignof<usize>());
    store<usize>(ptr, load<usize>(head));
    store<usize>(head, ptr);
    smallBlockBytes += payload + BLOCK_HEADER;
    return;
  }
  tlsfFree(ptr);
}
