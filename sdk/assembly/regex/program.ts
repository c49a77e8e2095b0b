// The compiled form: a flat instruction array for the NFA simulation in pike.ts.
//
// Each instruction is three i32 slots [op, x, y]. Instructions that consume a unit continue at pc + 1.

// @ts-ignore: decorator
@inline export const INST_SLOTS: i32 = 3;

/** Accept. */
// @ts-ignore: decorator
@inline export const OP_MATCH: i32 = 0;
/** Consume the code point x. */
// @ts-ignore: decorator
@inline export const OP_CHAR: i32 = 1;
/** Consume the ASCII letter x (lower case) in either case. */
// @ts-ignore: decorator
@inline export const OP_FOLD: i32 = 2;
/** Consume a unit in class x of the class table. */
// @ts-ignore: decorator
@inline export const OP_CLASS: i32 = 3;
/** Consume any unit. */
// @ts-ignore: decorator
@inline export const OP_ANY: i32 = 4;
/** Consume any unit except `\n`. */
// @ts-ignore: decorator
@inline export const OP_ANY_NOT_NL: i32 = 5;
/** Continue at x and at y (x preferred). */
// @ts-ignore: decorator
@inline export const OP_SPLIT: i32 = 6;
/** Continue at x. */
// @ts-ignore: decorator
@inline export const OP_JMP: i32 = 7;
/** Continue at pc + 1 if the position has the context bit x. */
// @ts-ignore: decorator
@inline export const OP_ASSERT: i32 = 8;

// Context bits of a position between two units, tested by OP_ASSERT.
// @ts-ignore: decorator
@inline export const AT_BEGIN_TEXT: i32 = 1;
// @ts-ignore: decorator
@inline export const AT_END_TEXT: i32 = 2;
// @ts-ignore: decorator
@inline export const AT_BEGIN_LINE: i32 = 4;
// @ts-ignore: decorator
@inline export const AT_END_LINE: i32 = 8;
// @ts-ignore: decorator
@inline export const AT_WORD_BOUNDARY: i32 = 16;
// @ts-ignore: decorator
@inline export const AT_NOT_WORD_BOUNDARY: i32 = 32;

export class Program {
  constructor(
    /** `length` instructions of INST_SLOTS slots each. */
    readonly code: StaticArray<i32>,
    readonly length: i32,
    /** Per class: a 128-bit ASCII bitmap as 4 words. */
    readonly classAscii: StaticArray<u32>,
    /** Per class: [start, end) into classRanges of its ranges above ASCII. */
    readonly classSpan: StaticArray<i32>,
    /** Flat [lo, hi] pairs, each class's slice sorted. */
    readonly classRanges: StaticArray<i32>,
    /** Whether any OP_ASSERT occurs, so the VM computes position context only when needed. */
    readonly hasAssertions: bool,
  ) {}

  /** Whether class `k` contains unit `c` (c >= 0). */
  // @ts-ignore: decorator
  @inline classHas(k: i32, c: i32): bool {
    if (c < 128) {
      return ((unchecked(this.classAscii[(k << 2) + (c >> 5)]) >>> u32(c & 31)) & 1) != 0;
    }
    const ranges = this.classRanges;
    let i = unchecked(this.classSpan[k << 1]);
    const end = unchecked(this.classSpan[(k << 1) + 1]);
    // Above ASCII, classes are usually a handful of ranges (or one, for negations); scan in order.
    while (i < end) {
      if (c < unchecked(ranges[i])) return false;
      if (c <= unchecked(ranges[i + 1])) return true;
      i += 2;
    }
    return false;
  }
}
