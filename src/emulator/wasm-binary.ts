// The Wasm binary format, as little of it as this project reads and writes: LEB128 numbers, names, the
// section list, and a builder for small i32-only modules. The emulator reads import signatures with it
// (module.ts); the benchmark reads and rewrites modules with it (bench/src/meter.ts) and builds its raw-ABI
// floor module (bench/src/floor.ts); tests hand-assemble modules with the builder.

export const WASM_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
export const I32 = 0x7f;

/** A cursor over a module's bytes; every read past the end throws. */
export class WasmReader {
  constructor(readonly b: Uint8Array, public o = 0) {}
  byte(): number {
    if (this.o >= this.b.length) throw new Error("unexpected end of module");
    return this.b[this.o++];
  }
  /** An unsigned LEB128 of at most 32 bits. */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error("bad LEB128");
    }
  }
  /** Skips a signed or unsigned LEB128 of any width. */
  skipLeb(): void {
    while (this.byte() & 0x80);
  }
  skip(n: number): void {
    this.o += n;
  }
  /** A length-prefixed UTF-8 name. */
  name(): string {
    const n = this.u32();
    if (this.o + n > this.b.length) throw new Error("unexpected end of module");
    const s = Buffer.from(this.b.subarray(this.o, this.o + n)).toString("utf8");
    this.o += n;
    return s;
  }
}

export interface SectionSpan {
  id: number;
  /** Offsets of the section's content (after its id and size). */
  start: number;
  end: number;
}

/** The module's sections in order, without reading their contents. */
export function sectionsOf(wasm: Uint8Array): SectionSpan[] {
  const r = new WasmReader(wasm, 8);
  const out: SectionSpan[] = [];
  while (r.o < wasm.length) {
    const id = r.byte();
    const size = r.u32();
    if (r.o + size > wasm.length) throw new Error("unexpected end of module");
    out.push({ id, start: r.o, end: r.o + size });
    r.o += size;
  }
  return out;
}

/** Unsigned LEB128 (any non-negative safe integer). */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** Signed LEB128 of a 64-bit integer (i64.const immediates). */
export function sleb64(n: number | bigint): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export const str = (s: string): number[] => [...leb(Buffer.byteLength(s)), ...Buffer.from(s)];
export const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
export const section = (id: number, content: number[]): number[] => [id, ...leb(content.length), ...content];
/** i32.const n (a signed LEB128 immediate). */
export const i32const = (n: number): number[] => [0x41, ...sleb64(n)];

export interface ModuleSpec {
  imports?: Array<{ module: string; name: string; params: number; results: number }>;
  /** Defined functions, all exported: param/result counts (all i32), i32 locals, body instructions (without
   *  the final `end`). */
  funcs: Array<{ name: string; params: number; results: number; locals?: number; body: number[] }>;
  data?: Array<{ offset: number; bytes: Uint8Array | number[] }>;
}

/** Builds an i32-only module with one page of memory, exported as "memory" before the functions. */
export function buildModule(spec: ModuleSpec): Uint8Array {
  const sigs: string[] = [];
  const typeOf = (p: number, r: number) => {
    const key = `${p}:${r}`;
    if (!sigs.includes(key)) sigs.push(key);
    return sigs.indexOf(key);
  };
  const imports = (spec.imports ?? []).map((i) => [...str(i.module), ...str(i.name), 0x00, ...leb(typeOf(i.params, i.results))]);
  const funcTypes = spec.funcs.map((f) => leb(typeOf(f.params, f.results)));
  const types = sigs.map((k) => {
    const [p, r] = k.split(":").map(Number);
    return [0x60, ...vec(Array.from({ length: p }, () => [I32])), ...vec(Array.from({ length: r }, () => [I32]))];
  });
  const exportEntries = [
    [...str("memory"), 0x02, 0x00],
    ...spec.funcs.map((f, i) => [...str(f.name), 0x00, ...leb(imports.length + i)]),
  ];
  const code = spec.funcs.map((f) => {
    const locals = f.locals ? [0x01, ...leb(f.locals), I32] : [0x00];
    const body = [...locals, ...f.body, 0x0b];
    return [...leb(body.length), ...body];
  });
  const data = (spec.data ?? []).map((d) => [0x00, ...i32const(d.offset), 0x0b, ...leb(d.bytes.length), ...d.bytes]);
  return new Uint8Array([
    ...WASM_HEADER,
    ...section(1, vec(types)),
    ...(imports.length ? section(2, vec(imports)) : []),
    ...section(3, vec(funcTypes)),
    ...section(5, vec([[0x00, 0x01]])), // one page, no maximum
    ...section(7, vec(exportEntries)),
    ...section(10, vec(code)),
    ...(data.length ? section(11, vec(data)) : []),
  ]);
}
