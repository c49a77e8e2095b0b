// AST -> instruction array (Thompson construction, laid out so consuming instructions fall through).
import { Node, NodeKind } from "./ast";
import {
  INST_SLOTS, OP_ANY, OP_ANY_NOT_NL, OP_ASSERT, OP_CHAR, OP_CLASS, OP_FOLD, OP_JMP, OP_MATCH, OP_SPLIT, Program,
} from "./program";

/**
 * Most instructions a compiled pattern may have. Matching costs O(input length x program length) and
 * each instruction holds about 32 bytes of per-Regex state, so this caps a Regex near 320 KiB.
 */
// @ts-ignore: decorator
@inline export const MAX_PROGRAM: i32 = 10000;

/** Instructions `n` compiles to (MATCH not included). Computed in f64 so nested counts cannot overflow. */
export function programSize(n: Node): f64 {
  switch (n.kind) {
    case NodeKind.Empty: return 0;
    case NodeKind.Literal: case NodeKind.Class: case NodeKind.Any: case NodeKind.Assert: return 1;
    case NodeKind.Concat: {
      const c = n.children!;
      let s: f64 = 0;
      for (let i = 0; i < c.length; i++) s += programSize(c[i]);
      return s;
    }
    case NodeKind.Alternate: {
      const c = n.children!;
      let s: f64 = 2 * (c.length - 1); // a SPLIT and a JMP per alternative but the last
      for (let i = 0; i < c.length; i++) s += programSize(c[i]);
      return s;
    }
    case NodeKind.Repeat: {
      const s = programSize(n.sub!);
      if (n.max < 0) return n.min == 0 ? s + 2 : f64(n.min) * s + 1;
      return f64(n.min) * s + f64(n.max - n.min) * (s + 1);
    }
  }
  return 0;
}

/** Compiles `root`; the caller has checked programSize(root) + 1 <= MAX_PROGRAM. */
export function compileProgram(root: Node): Program {
  const c = new Compiler();
  c.emit(root);
  c.inst(OP_MATCH, 0, 0);
  const n = c.code.length;
  const code = new StaticArray<i32>(n);
  for (let i = 0; i < n; i++) code[i] = c.code[i];
  const nClasses = c.classes.length;
  const ascii = new StaticArray<u32>(nClasses * 4);
  const span = new StaticArray<i32>(nClasses * 2);
  const upper = new Array<i32>();
  for (let k = 0; k < nClasses; k++) {
    const r = c.classes[k];
    span[2 * k] = upper.length;
    for (let i = 0; i < r.length; i += 2) {
      const lo = r[i];
      const hi = r[i + 1];
      for (let ch = lo; ch <= min(hi, 127); ch++) ascii[4 * k + (ch >> 5)] |= u32(1) << u32(ch & 31);
      if (hi >= 128) {
        upper.push(max(lo, 128));
        upper.push(hi);
      }
    }
    span[2 * k + 1] = upper.length;
  }
  const ranges = new StaticArray<i32>(upper.length);
  for (let i = 0; i < upper.length; i++) ranges[i] = upper[i];
  return new Program(code, n / INST_SLOTS, ascii, span, ranges, c.hasAssertions);
}

class Compiler {
  code: Array<i32> = new Array<i32>();
  classes: Array<Array<i32>> = new Array<Array<i32>>();
  hasAssertions: bool = false;

  /** Index of the next instruction. */
  get pc(): i32 {
    return this.code.length / INST_SLOTS;
  }

  inst(op: i32, x: i32, y: i32): i32 {
    const pc = this.pc;
    this.code.push(op);
    this.code.push(x);
    this.code.push(y);
    return pc;
  }

  setX(pc: i32, x: i32): void {
    this.code[pc * INST_SLOTS + 1] = x;
  }

  setY(pc: i32, y: i32): void {
    this.code[pc * INST_SLOTS + 2] = y;
  }

  /** A SPLIT whose preferred branch is `body` (greedy) or `skip` (lazy); returns its pc. */
  split(greedy: bool, body: i32, skip: i32): i32 {
    return greedy ? this.inst(OP_SPLIT, body, skip) : this.inst(OP_SPLIT, skip, body);
  }

  /** Patches the not-yet-known skip target of a SPLIT made by split(). */
  patchSkip(pc: i32, greedy: bool, skip: i32): void {
    if (greedy) this.setY(pc, skip);
    else this.setX(pc, skip);
  }

  emit(n: Node): void {
    switch (n.kind) {
      case NodeKind.Empty: return;
      case NodeKind.Literal:
        this.inst(n.fold ? OP_FOLD : OP_CHAR, n.cp, 0);
        return;
      case NodeKind.Class:
        if (n.classIndex < 0) {
          n.classIndex = this.classes.length;
          this.classes.push(n.ranges!);
        }
        this.inst(OP_CLASS, n.classIndex, 0);
        return;
      case NodeKind.Any:
        this.inst(n.dotNewline ? OP_ANY : OP_ANY_NOT_NL, 0, 0);
        return;
      case NodeKind.Assert:
        this.hasAssertions = true;
        this.inst(OP_ASSERT, n.assertion, 0);
        return;
      case NodeKind.Concat: {
        const c = n.children!;
        for (let i = 0; i < c.length; i++) this.emit(c[i]);
        return;
      }
      case NodeKind.Alternate: {
        //   SPLIT L1, next; L1: a; JMP end; next: SPLIT L2, next'; L2: b; JMP end; ... last; end:
        const c = n.children!;
        const jumps = new Array<i32>();
        for (let i = 0; i < c.length - 1; i++) {
          const s = this.inst(OP_SPLIT, this.pc + 1, 0);
          this.emit(c[i]);
          jumps.push(this.inst(OP_JMP, 0, 0));
          this.setY(s, this.pc);
        }
        this.emit(c[c.length - 1]);
        for (let i = 0; i < jumps.length; i++) this.setX(jumps[i], this.pc);
        return;
      }
      case NodeKind.Repeat:
        this.emitRepeat(n);
        return;
    }
  }

  emitRepeat(n: Node): void {
    const sub = n.sub!;
    const greedy = n.greedy;
    if (n.max < 0) {
      if (n.min == 0) {
        //   loop: SPLIT body, end; body: sub; JMP loop; end:
        const loop = this.split(greedy, this.pc + 1, 0);
        this.emit(sub);
        this.inst(OP_JMP, loop, 0);
        this.patchSkip(loop, greedy, this.pc);
        return;
      }
      //   sub x (min - 1); body: sub; SPLIT body, end; end:
      for (let i = 0; i < n.min - 1; i++) this.emit(sub);
      const body = this.pc;
      this.emit(sub);
      this.split(greedy, body, this.pc + 1);
      return;
    }
    for (let i = 0; i < n.min; i++) this.emit(sub);
    // Optional copies nest, (sub(sub(sub)?)?)?, so giving up on one skips the rest: fewer live threads.
    const splits = new Array<i32>();
    for (let i = n.min; i < n.max; i++) {
      splits.push(this.split(greedy, this.pc + 1, 0));
      this.emit(sub);
    }
    const end = this.pc;
    for (let i = 0; i < splits.length; i++) this.patchSkip(splits[i], greedy, end);
  }
}
