// Hand-assembles tiny i32-only modules for tests that need exact control over what a module does.

const I32 = 0x7f;
export const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s: string) => [...leb(Buffer.byteLength(s)), ...Buffer.from(s)];
const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];

export interface ModuleSpec {
  imports?: Array<{ module: string; name: string; params: number; results: number }>;
  /** Defined functions, all exported: param/result counts (all i32), body instructions (no locals). */
  funcs: Array<{ name: string; params: number; results: number; body: number[] }>;
  data?: Array<{ offset: number; bytes: Uint8Array | number[] }>;
}

/** Builds a module with one exported page of memory. */
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
    const body = [0x00, ...f.body, 0x0b];
    return [...leb(body.length), ...body];
  });
  const data = (spec.data ?? []).map((d) => [0x00, 0x41, ...leb(d.offset), 0x0b, ...leb(d.bytes.length), ...d.bytes]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...(imports.length ? section(2, vec(imports)) : []),
    ...section(3, vec(funcTypes)),
    ...section(5, vec([[0x00, 0x01]])),
    ...section(7, vec(exportEntries)),
    ...section(10, vec(code)),
    ...(data.length ? section(11, vec(data)) : []),
  ]);
}

export const i32const = (n: number) => [0x41, ...leb(n)];
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
