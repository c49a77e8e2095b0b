// The module's linear memory as host functions use it: bounds-checked reads and writes, and results copied into
// memory the module allocates (Envoy's order: `malloc`, then `proxy_on_memory_allocate`).

export class GuestMemory {
  constructor(
    private readonly memory: () => WebAssembly.Memory,
    /** Allocates `size` bytes in the module; 0 when it could not. */
    readonly alloc: (size: number) => number,
  ) {}

  u8(): Uint8Array {
    return new Uint8Array(this.memory().buffer);
  }

  inBounds(ptr: number, len: number): boolean {
    return ptr + len <= this.memory().buffer.byteLength;
  }

  /** A copy of [ptr, ptr+len), or null when it is outside memory. */
  read(ptr: number, len: number): Uint8Array | null {
    if (len === 0) return new Uint8Array(0);
    if (!this.inBounds(ptr, len)) return null;
    return this.u8().slice(ptr, ptr + len);
  }

  setU32(ptr: number, v: number): boolean {
    if (!this.inBounds(ptr, 4)) return false;
    new DataView(this.memory().buffer).setUint32(ptr, v >>> 0, true);
    return true;
  }

  setU64(ptr: number, v: bigint): boolean {
    if (!this.inBounds(ptr, 8)) return false;
    new DataView(this.memory().buffer).setBigUint64(ptr, BigInt.asUintN(64, v), true);
    return true;
  }

  /** Copies bytes into module memory it allocated and writes (pointer, size); empty data is (0, 0). */
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): boolean {
    let p = 0;
    if (data.length > 0) {
      p = this.alloc(data.length);
      if (p === 0 || !this.inBounds(p, data.length)) return false;
      this.u8().set(data, p);
    }
    return this.setU32(ptrPtr, p) && this.setU32(sizePtr, data.length);
  }
}
