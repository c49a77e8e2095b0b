// Memory shared with the host.
//
// The host returns data by calling the module's `malloc` and writing into what it gets. We hand it the
// payload of a fresh, pinned ArrayBuffer, so the SDK can take ownership of the bytes without copying:
// `takeBuffer` unpins it and the garbage collector owns it from then on.

// Slots the host writes return values into: one pointer/length pair and a few scalars.
// Static data, so no allocation per host call.
// @ts-ignore: decorator
@lazy export const RET_PTR: usize = memory.data(8);
// @ts-ignore: decorator
@lazy export const RET_LEN: usize = memory.data(8);
// @ts-ignore: decorator
@lazy export const RET_U32: usize = memory.data(8);
// @ts-ignore: decorator
@lazy export const RET_U64: usize = memory.data(8);

/** Allocates `size` bytes the host may write into (an ArrayBuffer payload, pinned until taken). */
export function allocateForHost(size: usize): usize {
  const ptr = __new(size, idof<ArrayBuffer>());
  __pin(ptr);
  return ptr;
}

/**
 * Takes ownership of a buffer the host filled through `allocateForHost`.
 * A zero length may come with a null pointer: that is an empty buffer, not an error.
 */
export function takeBuffer(ptr: usize, len: usize): ArrayBuffer {
  if (ptr == 0) return new ArrayBuffer(0);
  __unpin(ptr);
  const buf = changetype<ArrayBuffer>(ptr);
  // The host may report fewer bytes than it asked us to allocate; never expose bytes it did not write.
  if (<usize>buf.byteLength != len) return buf.slice(0, <i32>len);
  return buf;
}

/** Reads the pointer/length pair the host just returned and takes the buffer. */
// @ts-ignore: decorator
@inline export function takeReturnedBuffer(): ArrayBuffer {
  return takeBuffer(load<usize>(RET_PTR), load<usize>(RET_LEN));
}

/** Clears the return slots before a host call, so a host that writes nothing is read as empty. */
// @ts-ignore: decorator
@inline export function clearReturnSlots(): void {
  store<usize>(RET_PTR, 0);
  store<usize>(RET_LEN, 0);
}

// ---- Allocation accounting (see docs/memory.md) ----
// Bytes of heap allocated for managed objects since the last collection, counted by the runtime hooks in
// runtime.ts. Stays 0 in a module built without those hooks; then only the dispatcher's stream rule collects.

export let allocatedSinceCollect: usize = 0;

/**
 * Counts an object of `size` bytes as the heap block it takes: the payload, the 16-byte object header and
 * the allocator's 4-byte block header, rounded to 16 bytes (a 12-byte object takes 48). Small objects are
 * mostly header, so counting payloads alone would let their garbage grow to several budgets.
 */
// @ts-ignore: decorator
@inline export function countAllocation(size: usize): void {
  allocatedSinceCollect += (size + 35) & ~15;
}

/** The smallest allocation budget between collections: one Wasm page. */
// @ts-ignore: decorator
@inline export const MIN_ALLOCATION_BUDGET: usize = 64 << 10;

/** A fixed budget set with setAllocationBudget; 0 for the automatic one. */
let fixedBudget: usize = 0;

/** Fixes the allocation budget between collections at `bytes`; 0 restores the automatic budget. */
export function setAllocationBudget(bytes: usize): void {
  fixedBudget = bytes;
}

/**
 * True once the bytes allocated since the last collection reach the budget: a quarter of the heap linear
 * memory already holds (at least MIN_ALLOCATION_BUDGET). Garbage then fits in memory the VM already has,
 * and the cost of collecting, which follows the live set, stays proportional to what was allocated.
 */
// @ts-ignore: decorator
@inline export function allocationBudgetSpent(): bool {
  const n = allocatedSinceCollect;
  if (fixedBudget != 0) return n >= fixedBudget;
  return n >= MIN_ALLOCATION_BUDGET && n >= (((<usize>memory.size() << 16) - __heap_base) >> 2);
}

/** What a finished stream may leave allocated before the dispatcher collects at its end, with the automatic budget. */
// @ts-ignore: decorator
@inline export const STREAM_END_BUDGET: usize = 12 << 10;

/**
 * True at a stream's end once STREAM_END_BUDGET bytes were allocated since the last collection, so the
 * garbage of short requests stays well inside the VM's first pages. A fixed budget replaces this rule too.
 */
// @ts-ignore: decorator
@inline export function streamEndBudgetSpent(): bool {
  return fixedBudget == 0 && allocatedSinceCollect >= STREAM_END_BUDGET;
}

/** Collections so far (read by the memory soaks). */
export let collections: u32 = 0;

/** Collects garbage now and restarts the count. Safe only when no managed reference lives on the Wasm stack alone. */
export function collectGarbage(): void {
  allocatedSinceCollect = 0;
  collections++;
  __collect();
}
