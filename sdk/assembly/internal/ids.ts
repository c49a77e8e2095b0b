// A table from host context ids to objects, for the streams the dispatcher keeps (internal/dispatch.ts).
//
// The host numbers contexts with one increasing u32 counter, so the ids of the streams alive at one time
// are close together and their low bits tell them apart: a slot array indexed by `id & mask`, probed
// linearly on a collision, finds a stream in a comparison or two, where Map<u32, T> hashes the key and
// allocates an entry per insertion. The table doubles while more than half full and never shrinks: its
// size follows the most streams ever alive at once, not their number.

export class IdTable<T> {
  private ids: StaticArray<u32> = new StaticArray<u32>(16);
  private values: StaticArray<T | null> = new StaticArray<T | null>(16);
  private mask: u32 = 15;
  size: i32 = 0;

  /** The object stored for `id`, or null. Id 0 is never stored (the host does not hand it out). */
  get(id: u32): T | null {
    const ids = this.ids;
    let i = id & this.mask;
    while (true) {
      const k = unchecked(ids[i]);
      if (k == id) return unchecked(this.values[i]);
      if (k == 0) return null;
      i = (i + 1) & this.mask;
    }
  }

  has(id: u32): bool {
    return this.get(id) !== null;
  }

  /** Stores `value` for `id` (non-zero), replacing what it held. */
  set(id: u32, value: T): void {
    if (id == 0) return;
    if (<u32>(this.size + 1) << 1 > this.mask + 1) this.grow();
    this.place(id, value);
  }

  /** Removes `id`; the entries after it in its probe run move back, so no marker is left behind. */
  delete(id: u32): void {
    const ids = this.ids;
    const values = this.values;
    const mask = this.mask;
    let i = id & mask;
    while (true) {
      const k = unchecked(ids[i]);
      if (k == 0) return;
      if (k == id) break;
      i = (i + 1) & mask;
    }
    this.size--;
    // Backward-shift deletion: move a later entry of the run into the hole when its home slot does not lie
    // (cyclically) after the hole, so every entry stays reachable from its home slot.
    let hole = i;
    let j = (i + 1) & mask;
    while (true) {
      const k = unchecked(ids[j]);
      if (k == 0) break;
      const home = k & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        unchecked(ids[hole] = k);
        unchecked(values[hole] = unchecked(values[j]));
        hole = j;
      }
      j = (j + 1) & mask;
    }
    unchecked(ids[hole] = 0);
    unchecked(values[hole] = null);
  }

  private place(id: u32, value: T): void {
    const ids = this.ids;
    let i = id & this.mask;
    while (true) {
      const k = unchecked(ids[i]);
      if (k == id || k == 0) break;
      i = (i + 1) & this.mask;
    }
    if (unchecked(ids[i]) == 0) this.size++;
    unchecked(ids[i] = id);
    unchecked(this.values[i] = value);
  }

  private grow(): void {
    const oldIds = this.ids;
    const oldValues = this.values;
    const n = (this.mask + 1) << 1;
    this.ids = new StaticArray<u32>(<i32>n);
    this.values = new StaticArray<T | null>(<i32>n);
    this.mask = n - 1;
    this.size = 0;
    for (let i = 0; i < oldIds.length; i++) {
      const k = unchecked(oldIds[i]);
      if (k != 0) this.place(k, changetype<T>(unchecked(oldValues[i])));
    }
  }
}
