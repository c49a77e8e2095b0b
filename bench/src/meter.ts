// A metered copy of a Wasm module: the same code with counters added, so a run in the emulator gives exact
// per-request counts that do not depend on the machine's load. The module as built is never changed.
//
// - Instructions: the code of every function is cut into straight-line segments at each control instruction
//   (block, loop, if, else, end, br, br_if, br_table, return, return_call*, unreachable, try/catch/throw).
//   At the start of each segment the copy adds the number of instructions in it to one i64 global,
//   exported as `__meter_instructions`. Every instruction of the original code counts as one, except the
//   structural markers block, loop, else and end, which execute nothing.
// - Host calls: before each direct `call` of an imported function, the copy adds one to an i64 global of
//   that import, exported as `__meter_call_<module>.<name>` (`#1`, `#2` appended to an import named twice). Calls through a table are not counted (none of
//   the measured modules puts an import in its table).
//
// The counters are globals, not linear memory, so the module's memory and allocation are those of the
// original. A segment is counted when it starts: a trap in the middle of one counts its whole length.

import { leb, sectionsOf, sleb64, str, WasmReader as Reader } from "../../src/emulator/wasm-binary";

export const INSTRUCTIONS_EXPORT = "__meter_instructions";
export const CALL_EXPORT_PREFIX = "__meter_call_";
export const FUNCTION_EXPORT_PREFIX = "__meter_fn_";

/** Appends without spreading, which would overflow the stack for a large function or section. */
function append(to: number[], items: ArrayLike<number>): void {
  for (let i = 0; i < items.length; i++) to.push(items[i]);
}

/** Opcodes that end a straight-line segment (and the structural ones among them, which are not counted). */
const ENDS_SEGMENT = new Set([0x00, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x12, 0x13, 0x18, 0x19]);
const NOT_COUNTED = new Set([0x02, 0x03, 0x05, 0x0b, 0x06, 0x07, 0x18, 0x19]);

/** Skips one instruction's immediates; `op` has been read. Throws on encodings it does not know. */
function skipImmediates(r: Reader, op: number): void {
  if (op === 0x02 || op === 0x03 || op === 0x04 || op === 0x06) return r.skipLeb(); // blocktype (s33)
  if (op === 0x07 || op === 0x08 || op === 0x09 || op === 0x18) return r.skipLeb();
  if (op === 0x0c || op === 0x0d) return r.skipLeb();
  if (op === 0x0e) {
    const n = r.u32();
    for (let i = 0; i <= n; i++) r.skipLeb();
    return;
  }
  if (op === 0x10 || op === 0x12) return r.skipLeb();
  if (op === 0x11 || op === 0x13) {
    r.skipLeb();
    r.skipLeb();
    return;
  }
  if (op === 0x1c) {
    const n = r.u32();
    r.skip(n);
    return;
  }
  if (op >= 0x20 && op <= 0x26) return r.skipLeb();
  if (op >= 0x28 && op <= 0x3e) {
    const align = r.u32();
    if (align & 0x40) r.skipLeb(); // memory index (multi-memory)
    r.skipLeb();
    return;
  }
  if (op === 0x3f || op === 0x40) return r.skipLeb();
  if (op === 0x41 || op === 0x42) return r.skipLeb();
  if (op === 0x43) return r.skip(4);
  if (op === 0x44) return r.skip(8);
  if (op === 0xd0) return r.skipLeb();
  if (op === 0xd2) return r.skipLeb();
  if (op === 0xfc) {
    const sub = r.u32();
    if (sub <= 7) return;
    const immediates: Record<number, number> = { 8: 2, 9: 1, 10: 2, 11: 1, 12: 2, 13: 1, 14: 2, 15: 1, 16: 1, 17: 1 };
    const n = immediates[sub];
    if (n === undefined) throw new Error(`unknown instruction 0xfc ${sub}`);
    for (let i = 0; i < n; i++) r.skipLeb();
    return;
  }
  if ((op >= 0x00 && op <= 0x01) || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x19 || op === 0x1a || op === 0x1b || op === 0xd1) return;
  if (op >= 0x45 && op <= 0xc4) return;
  throw new Error(`unknown instruction 0x${op.toString(16)}`);
}

/** Function names from the module's name section, by function index (empty when it has none). */
export function functionNames(wasm: Uint8Array): Map<number, string> {
  const names = new Map<number, string>();
  for (const { id, start, end } of sectionsOf(wasm)) {
    const r = new Reader(wasm, start);
    if (id === 0 && r.name() === "name") {
      while (r.o < end) {
        const sub = r.byte();
        const subSize = r.u32();
        const subEnd = r.o + subSize;
        if (sub === 1) {
          const n = r.u32();
          for (let i = 0; i < n; i++) {
            const idx = r.u32();
            names.set(idx, r.name());
          }
        }
        r.o = subEnd;
      }
    }
  }
  return names;
}

export interface MeteredModule {
  bytes: Uint8Array;
  /** "module.name" of every imported function, in import order. */
  imports: string[];
}

/** Returns the metered copy of `wasm`; with `perFunction`, each defined function also gets an instruction
 *  counter of its own (its own instructions only, not its callees'), exported as `__meter_fn_<index>`. */
export function meter(wasm: Uint8Array, opts: { perFunction?: boolean } = {}): MeteredModule {
  const sections = sectionsOf(wasm);
  const imports: string[] = [];
  let importedGlobals = 0;
  let definedGlobals = 0;
  let definedFunctions = 0;
  for (const s of sections) {
    if (s.id === 2) {
      const q = new Reader(wasm, s.start);
      const n = q.u32();
      for (let i = 0; i < n; i++) {
        const name = `${q.name()}.${q.name()}`;
        const kind = q.byte();
        if (kind === 0x00) {
          q.u32();
          imports.push(name);
        } else if (kind === 0x01) {
          q.byte();
          if (q.byte() & 1) q.u32();
          q.u32();
        } else if (kind === 0x02) {
          if (q.byte() & 1) q.u32();
          q.u32();
        } else if (kind === 0x03) {
          q.byte();
          q.byte();
          importedGlobals++;
        } else if (kind === 0x04) {
          q.byte();
          q.u32();
        } else throw new Error(`unknown import kind ${kind}`);
      }
    } else if (s.id === 6) definedGlobals = new Reader(wasm, s.start).u32();
    else if (s.id === 3) definedFunctions = new Reader(wasm, s.start).u32();
  }
  const instrGlobal = importedGlobals + definedGlobals;
  const callGlobal = (fn: number) => instrGlobal + 1 + fn;
  const fnGlobal = (defined: number) => instrGlobal + 1 + imports.length + defined;
  const add = (global: number, n: number) => [0x23, ...leb(global), 0x42, ...sleb64(n), 0x7c, 0x24, ...leb(global)];

  const meterBody = (start: number, end: number, defined: number): number[] => {
    const q = new Reader(wasm, start);
    const localGroups = q.u32();
    for (let i = 0; i < localGroups; i++) {
      q.u32();
      q.byte();
    }
    const out: number[] = Array.from(wasm.subarray(start, q.o));
    // Each segment: its instructions' bytes, with host-call counters in front of import calls.
    let segment: number[] = [];
    let count = 0;
    const flush = () => {
      if (count > 0) append(out, add(instrGlobal, count));
      if (count > 0 && opts.perFunction) append(out, add(fnGlobal(defined), count));
      append(out, segment);
      segment = [];
      count = 0;
    };
    while (q.o < end) {
      const at = q.o;
      const op = q.byte();
      let callee = -1;
      if (op === 0x10) {
        const save = q.o;
        callee = q.u32();
        q.o = save;
      }
      skipImmediates(q, op);
      if (callee >= 0 && callee < imports.length) append(segment, add(callGlobal(callee), 1));
      append(segment, wasm.subarray(at, q.o));
      if (!NOT_COUNTED.has(op)) count++;
      if (ENDS_SEGMENT.has(op)) flush();
    }
    flush();
    return out;
  };

  const out: number[] = Array.from(wasm.subarray(0, 8));
  const section = (id: number, content: ArrayLike<number>) => {
    out.push(id);
    append(out, leb(content.length));
    append(out, content);
  };
  const newGlobals = imports.length + 1 + (opts.perFunction ? definedFunctions : 0);
  const globalEntries: number[] = [];
  for (let i = 0; i < newGlobals; i++) globalEntries.push(0x7e, 0x01, 0x42, 0x00, 0x0b);
  const newExports: number[][] = [[...str(INSTRUCTIONS_EXPORT), 0x03, ...leb(instrGlobal)]];
  // A name imported twice (the Go toolchain does this) gets "#n" on its second counter; readers sum them.
  const seen = new Map<string, number>();
  imports.forEach((name, i) => {
    const k = seen.get(name) ?? 0;
    seen.set(name, k + 1);
    newExports.push([...str(`${CALL_EXPORT_PREFIX}${name}${k ? `#${k}` : ""}`), 0x03, ...leb(callGlobal(i))]);
  });
  if (opts.perFunction) {
    for (let i = 0; i < definedFunctions; i++) newExports.push([...str(`${FUNCTION_EXPORT_PREFIX}${imports.length + i}`), 0x03, ...leb(fnGlobal(i))]);
  }
  let wroteGlobals = false;
  // Section order: the global section (6) comes after memory (5) and before export (7).
  const writeGlobalsIfMissing = (nextId: number) => {
    if (wroteGlobals || definedGlobals > 0 || nextId === 0 || nextId < 6 || nextId === 13) return;
    section(6, [...leb(newGlobals), ...globalEntries]);
    wroteGlobals = true;
  };
  for (const s of sections) {
    writeGlobalsIfMissing(s.id);
    const body = wasm.subarray(s.start, s.end);
    if (s.id === 6) {
      const q = new Reader(wasm, s.start);
      q.u32();
      const content = leb(definedGlobals + newGlobals);
      append(content, wasm.subarray(q.o, s.end));
      append(content, globalEntries);
      section(6, content);
      wroteGlobals = true;
    } else if (s.id === 7) {
      const q = new Reader(wasm, s.start);
      const n = q.u32();
      const content = leb(n + newExports.length);
      append(content, wasm.subarray(q.o, s.end));
      append(content, newExports.flat());
      section(7, content);
    } else if (s.id === 10) {
      const q = new Reader(wasm, s.start);
      const n = q.u32();
      const bodies: number[] = [...leb(n)];
      for (let i = 0; i < n; i++) {
        const size = q.u32();
        const metered = meterBody(q.o, q.o + size, i);
        append(bodies, leb(metered.length));
        append(bodies, metered);
        q.o += size;
      }
      section(10, bodies);
    } else {
      section(s.id, body);
    }
  }
  if (!sections.some((s) => s.id === 7)) throw new Error("module has no export section");
  return { bytes: new Uint8Array(out), imports };
}
