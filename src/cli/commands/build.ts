import { relative } from "node:path";
import { buildFilter } from "../../build/build";
import type { Command } from "../command";

export const build: Command = {
  name: "build",
  summary: "Compile a filter to a proxy-wasm module and check that Envoy will load it",
  usage: "pwas build [filter dir] [--debug] [--out file.wasm]",
  optionHelp: [
    "--debug        no optimisation, with debug info and a .wat next to the module",
    "--out <file>   output path (default <dir>/build/<name>.wasm)",
  ],
  examples: ["pwas build filters/fault", "pwas build . --debug"],
  options: { debug: { type: "boolean" }, out: { type: "string" } },
  async run(args, io) {
    const dir = args.positionals[0] ?? ".";
    io.progress(`building ${dir}${args.values.debug ? " (debug)" : ""}`);
    const r = await buildFilter(dir, { debug: args.values.debug === true, outFile: args.values.out as string | undefined });
    io.out(`${relative(process.cwd(), r.wasmPath)}  ${r.bytes} bytes  (${r.imports.length} imports, all provided by Envoy)`);
    return 0;
  },
};
