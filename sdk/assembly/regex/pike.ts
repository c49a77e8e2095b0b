// Thompson NFA simulation over a Program: one pass over the input, carrying the set of instructions
// that are alive at the current position. Every instruction enters a set at most once per position,
// so a match costs O(input units x program length) whatever the pattern, with no backtracking.
// Only yes/no is computed (no submatch positions), so no capture slots are carried per thread.
import { INVALID_UNIT, isWordUnit } from "./charclass";
import {
  AT_BEGIN_LINE, AT_BEGIN_TEXT, AT_END_LINE, AT_END_TEXT, AT_NOT_WORD_BOUNDARY, AT_WORD_BOUNDARY, INST_SLOTS,
  OP_ANY, OP_ANY_NOT_NL, OP_ASSERT, OP_CHAR, OP_CLASS, OP_FOLD, OP_JMP, OP_MATCH, OP_SPLIT, Program,
} from "./program";

/** The unit before the start or after the end of the input. */
// @ts-ignore: decorator
@inline const NO_UNIT: i32 = -1;

/**
 * Decodes the unit at byte offset `pos` of UTF-8 bytes [ptr, ptr+len): (width << 32) | unit.
 * Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF); a byte that does not start a
 * valid sequence is one unit of its own, INVALID_UNIT. Past the end: NO_UNIT, width 0.
 */
// @ts-ignore: decorator
@inline function decodeUtf8(ptr: usize, pos: usize, len: usize): u64 {
  if (pos >= len) return u64(u32(NO_UNIT));
  const p = ptr + pos;
  const b0 = u32(load<u8>(p));
  if (b0 < 0x80) return (u64(1) << 32) | b0;
  const left = len - pos;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    if (left >= 2) {
      const b1 = u32(load<u8>(p, 1));
      if ((b1 & 0xc0) == 0x80) return (u64(2) << 32) | (((b0 & 0x1f) << 6) | (b1 & 0x3f));
    }
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    if (left >= 3) {
      const b1 = u32(load<u8>(p, 1));
      const b2 = u32(load<u8>(p, 2));
      // E0 needs A0..BF (no overlongs); ED needs 80..9F (no surrogates).
      const lo: u32 = b0 == 0xe0 ? 0xa0 : 0x80;
      const hi: u32 = b0 == 0xed ? 0x9f : 0xbf;
      if (b1 >= lo && b1 <= hi && (b2 & 0xc0) == 0x80) {
        return (u64(3) << 32) | (((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f));
      }
    }
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (left >= 4) {
      const b1 = u32(load<u8>(p, 1));
      const b2 = u32(load<u8>(p, 2));
      const b3 = u32(load<u8>(p, 3));
      // F0 needs 90..BF (no overlongs); F4 needs 80..8F (nothing above U+10FFFF).
      const lo: u32 = b0 == 0xf0 ? 0x90 : 0x80;
      const hi: u32 = b0 == 0xf4 ? 0x8f : 0xbf;
      if (b1 >= lo && b1 <= hi && (b2 & 0xc0) == 0x80 && (b3 & 0xc0) == 0x80) {
        return (u64(4) << 32) | (((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f));
      }
    }
  }
  return (u64(1) << 32) | u32(INVALID_UNIT);
}

/** Like decodeUtf8 for UTF-16 code units at byte offset `pos` (a lone surrogate is one INVALID_UNIT). */
// @ts-ignore: decorator
@inline function decodeUtf16(ptr: usize, pos: usize, len: usize): u64 {
  if (pos >= len) return u64(u32(NO_UNIT));
  const u = u32(load<u16>(ptr + pos));
  if (u - 0xd800 >= 0x800) return (u64(2) << 32) | u;
  if (u < 0xdc00 && pos + 2 < len) {
    const v = u32(load<u16>(ptr + pos, 2));
    if (v - 0xdc00 < 0x400) return (u64(4) << 32) | (0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00));
  }
  return (u64(2) << 32) | u32(INVALID_UNIT);
}

/** Whether `op` consumes a unit (the ops numbered OP_CHAR..OP_ANY_NOT_NL). */
// @ts-ignore: decorator
@inline function isConsuming(op: i32): bool {
  return u32(op - OP_CHAR) <= u32(OP_ANY_NOT_NL - OP_CHAR);
}

/** Context bits of the position between units `prev` and `next` (NO_UNIT at the ends of the input). */
// @ts-ignore: decorator
@inline function context(prev: i32, next: i32): i32 {
  let flags = 0;
  if (prev == NO_UNIT) flags |= AT_BEGIN_TEXT | AT_BEGIN_LINE;
  else if (prev == 0x0a) flags |= AT_BEGIN_LINE;
  if (next == NO_UNIT) flags |= AT_END_TEXT | AT_END_LINE;
  else if (next == 0x0a) flags |= AT_END_LINE;
  flags |= isWordUnit(prev) != isWordUnit(next) ? AT_WORD_BOUNDARY : AT_NOT_WORD_BOUNDARY;
  return flags;
}

/**
 * A Program plus the working memory to run it, allocated once. Not reentrant: one match at a time
 * (a proxy-wasm VM runs on a single thread, so a Regex may be shared by all of a VM's contexts).
 */
export class Machine {
  readonly prog: Program;
  /** Consuming instructions alive at the current position, in priority order. */
  private current: StaticArray<i32>;
  /** Those alive at the next position, being built. */
  private next: StaticArray<i32>;
  /** mark[pc] == generation: pc was already added to the set being built. */
  private mark: StaticArray<i32>;
  private generation: i32 = 0;
  /** Pending pcs while following SPLIT/JMP/ASSERT: each pc is expanded once and pushes at most 2. */
  private stack: StaticArray<i32>;
  /** Whether MATCH was reached in the set being built. */
  private matched: bool = false;
  /** Instructions visited during the last match: the work done, for tests and capacity planning. */
  steps: i64 = 0;

  constructor(prog: Program) {
    this.prog = prog;
    const n = prog.length;
    this.current = new StaticArray<i32>(n);
    this.next = new StaticArray<i32>(n);
    this.mark = new StaticArray<i32>(n);
    this.stack = new StaticArray<i32>(2 * n + 2);
  }

  /**
   * Whether the program matches bytes [ptr, ptr+len): all of them (anchored) or some substring.
   * `utf16`: the bytes are UTF-16LE code units (an AssemblyScript string) instead of UTF-8.
   */
  run(ptr: usize, len: usize, utf16: bool, anchored: bool): bool {
    const prog = this.prog;
    const code = prog.code;
    const mark = this.mark;
    const asserts = prog.hasAssertions;
    this.steps = 0;
    this.newGeneration();
    let pos: usize = 0;
    let d = utf16 ? decodeUtf16(ptr, 0, len) : decodeUtf8(ptr, 0, len);
    let cur = i32(d);
    let width = usize(d >> 32);
    let count = this.add(this.current, 0, 0, asserts ? context(NO_UNIT, cur) : 0);
    for (;;) {
      if (this.matched && !anchored) break;
      if (cur == NO_UNIT) break;
      if (count == 0 && anchored) break;
      const nextPos = pos + width;
      d = utf16 ? decodeUtf16(ptr, nextPos, len) : decodeUtf8(ptr, nextPos, len);
      const after = i32(d);
      const flags = asserts ? context(cur, after) : 0;
      this.newGeneration();
      const gen = this.generation;
      const clist = this.current;
      const nlist = this.next;
      let ncount = 0;
      let direct = 0;
      for (let i = 0; i < count; i++) {
        const pc = unchecked(clist[i]);
        const at = pc * INST_SLOTS;
        const op = unchecked(code[at]);
        const x = unchecked(code[at + 1]);
        let ok: bool;
        if (op == OP_CHAR) ok = cur == x;
        else if (op == OP_CLASS) ok = prog.classHas(x, cur);
        else if (op == OP_ANY_NOT_NL) ok = cur != 0x0a;
        else if (op == OP_FOLD) ok = (cur | 0x20) == x;
        else ok = true; // OP_ANY
        if (!ok) continue;
        const to = pc + 1;
        if (isConsuming(unchecked(code[to * INST_SLOTS]))) {
          // Common case (a literal run, a class then a literal): no closure to follow.
          if (unchecked(mark[to]) != gen) {
            unchecked(mark[to] = gen);
            unchecked(nlist[ncount++] = to);
            direct++;
          }
        } else {
          ncount = this.add(nlist, ncount, to, flags);
        }
      }
      this.steps += count + direct;
      if (!anchored) ncount = this.add(nlist, ncount, 0, flags);
      this.current = nlist;
      this.next = clist;
      count = ncount;
      cur = after;
      pos = nextPos;
      width = usize(d >> 32);
    }
    return this.matched && (!anchored || cur == NO_UNIT);
  }

  private newGeneration(): void {
    this.matched = false;
    if (++this.generation == i32.MAX_VALUE) {
      this.mark.fill(0);
      this.generation = 1;
    }
  }

  /**
   * Adds `pc0` and everything reachable from it without consuming input to `list` (which holds
   * `count` entries); returns the new count. `flags` is the context of the position. Adds the
   * instructions visited to this.steps.
   */
  private add(list: StaticArray<i32>, count: i32, pc0: i32, flags: i32): i32 {
    const code = this.prog.code;
    const mark = this.mark;
    const stack = this.stack;
    const gen = this.generation;
    let visited = 0;
    let sp = 0;
    unchecked(stack[sp++] = pc0);
    while (sp > 0) {
      const pc = unchecked(stack[--sp]);
      if (unchecked(mark[pc]) == gen) continue;
      unchecked(mark[pc] = gen);
      visited++;
      const at = pc * INST_SLOTS;
      const op = unchecked(code[at]);
      if (op == OP_SPLIT) {
        unchecked(stack[sp++] = code[at + 2]);
        unchecked(stack[sp++] = code[at + 1]); // popped first: preferred
      } else if (op == OP_JMP) {
        unchecked(stack[sp++] = code[at + 1]);
      } else if (op == OP_ASSERT) {
        if ((flags & unchecked(code[at + 1])) != 0) unchecked(stack[sp++] = pc + 1);
      } else if (op == OP_MATCH) {
        this.matched = true;
      } else {
        unchecked(list[count++] = pc);
      }
    }
    this.steps += visited;
    return count;
  }
}
