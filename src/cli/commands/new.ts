import { relative } from "node:path";
import { newFilter, TEMPLATES } from "../../scaffold/new";
import type { Command } from "../command";

export const create: Command = {
  name: "new",
  summary: "Create a filter project from a template (builds and passes its tests as generated)",
  usage: "pwas new <name> [--template " + Object.keys(TEMPLATES).join("|") + "] [--dir <folder>] [--no-install]",
  optionHelp: [
    "--template <t>   " + Object.entries(TEMPLATES).map(([k, v]) => `${k}: ${v.summary}`).join("\n                   "),
    "--dir <folder>   where to create it (default ./<name>)",
    "--no-install     skip npm install (links proxy-wasm-as and pwas from this toolkit)",
  ],
  examples: ["pwas new add-header", "pwas new canary --template routing", "cd canary && pwas test ."],
  options: { template: { type: "string" }, dir: { type: "string" }, "no-install": { type: "boolean" } },
  async run(args, io) {
    const name = args.positionals[0];
    if (!name) {
      io.err("pwas new: E_USAGE a name is required, e.g. pwas new my-filter");
      return 2;
    }
    const dir = await newFilter({
      name,
      template: args.values.template as string | undefined,
      dir: args.values.dir as string | undefined,
      install: args.values["no-install"] !== true,
      progress: io.progress,
    });
    const rel = relative(process.cwd(), dir) || ".";
    io.out(`created ${rel}`);
    io.out(`next:  cd ${rel} && npx pwas test .     (or: pwas build ${rel}, pwas run ${rel})`);
    return 0;
  },
};
