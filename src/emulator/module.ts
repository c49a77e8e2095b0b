// Just enough of the Wasm binary format to check imports the way Envoy's linker does: which
// functions a module imports and with what signature, and the limits of an imported memory.
// (WebAssembly.Module.imports does not report types.)
import { WasmReader as Reader } from "./wasm-binary";

export interface ParsedImport {
  module: string;
  name: string;
  kind: "function" | "table" | "memory" | "global" | "tag";
  /** For functions: "params:results" with i = i32, I = i64, f = f32, F = f64, v = v128, r = reference. */
  signature?: string;
  memory?: { initial: number; maximum?: number; shared: boolean };
}

const VALTYPES: Record<number, string> = { 0x7f: "i", 0x7e: "I", 0x7d: "f", 0x7c: "F", 0x7b: "v", 0x70: "r", 0x6f: "r" };

/** Returns undefined when the module uses encodings this reader does not know (the check is then skipped). */
export function parseImports(bytes: Uint8Array): ParsedImport[] | undefined {
  try {
    const r = new Reader(bytes, 8); // after magic + version
    const types: string[] = [];
    const imports: ParsedImport[] = [];
    while (r.o < bytes.length) {
      const id = r.byte();
      const size = r.u32();
      const end = r.o + size;
      if (id === 1) {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          if (r.byte() !== 0x60) return undefined; // GC rec/sub types: not ours to check
          const vec = () => {
            let s = "";
            const k = r.u32();
            for (let j = 0; j < k; j++) {
              const t = VALTYPES[r.byte()];
              if (t === undefined) throw new Error("unknown value type");
              s += t;
            }
            return s;
          };
          const params = vec();
          types.push(`${params}:${vec()}`);
        }
      } else if (id === 2) {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const module = r.name();
          const name = r.name();
          const kind = r.byte();
          if (kind === 0x00) imports.push({ module, name, kind: "function", signature: types[r.u32()] });
          else if (kind === 0x01) {
            r.byte();
            limits(r);
            imports.push({ module, name, kind: "table" });
          } else if (kind === 0x02) imports.push({ module, name, kind: "memory", memory: limits(r) });
          else if (kind === 0x03) {
            r.byte();
            r.byte();
            imports.push({ module, name, kind: "global" });
          } else if (kind === 0x04) {
            r.byte();
            r.u32();
            imports.push({ module, name, kind: "tag" });
          } else return undefined;
        }
        return imports;
      }
      r.o = end;
    }
    return imports;
  } catch {
    return undefined;
  }
}

function limits(r: Reader): { initial: number; maximum?: number; shared: boolean } {
  const flags = r.byte();
  const initial = r.u32();
  const maximum = flags & 1 ? r.u32() : undefined;
  return { initial, maximum, shared: (flags & 2) !== 0 };
}
