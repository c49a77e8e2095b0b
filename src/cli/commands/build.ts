import { relative } from "node:path";
import { buildFilter } from "../../build/build";
import type { Command } from "../command";

export const build: Command = {
  name: "build",
  summary: "Compile a filter to a proxy-wasm module and check that Envoy will load it",
  description:
    "Compiles <filter dir>/assembly/index.ts with the AssemblyScript compiler (the project's own, else the one\n" +
    "pwas was installed with) and refuses the module if it imports anything Envoy does not provide or lacks an\n" +
    "export Envoy calls.",
  args: "[filter dir]",
  options: {
    debug: { type: "boolean", description: "no optimisation, with debug info and a .wat next to the module" },
    out: { type: "string", value: "file", description: "output path", defaultText: "<dir>/build/<name>.wasm" },
  },
  examples: ["pwas build filters/fault", "pwas build . --debug", "pwas build . --out dist/filter.wasm"],
  async run(args, io, signal) {
    const dir = args.positionals[0] ?? ".";
    io.progress(`building ${dir}${args.flag("debug") ? " (debug)" : ""}`);
    const r = await buildFilter(dir, { debug: args.flag("debug"), outFile: args.string("out"), signal });
    io.out(`${relative(process.cwd(), r.wasmPath)}  ${r.bytes} bytes  (${r.imports.length} imports, all provided by Envoy)`);
    return 0;
  },
};
