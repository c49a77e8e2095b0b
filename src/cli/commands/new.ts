import { relative } from "node:path";
import { newFilter, TEMPLATES } from "../../scaffold/new";
import { PwasError } from "../../errors";
import type { Command } from "../command";

export const create: Command = {
  name: "new",
  summary: "Create a filter project from a template (builds and passes its tests as generated)",
  description:
    "Writes a filter project from a template: assembly/index.ts, tests for the emulator and for Envoy, package.json\n" +
    "and asconfig.json; then runs npm install. The project builds and passes its tests as generated.",
  args: "<name>",
  options: {
    template: {
      type: "string", value: "template", defaultText: "http-headers",
      description: Object.entries(TEMPLATES).map(([k, v]) => `${k}: ${v.summary}`).join("\n"),
    },
    dir: { type: "string", value: "folder", description: "where to create it", defaultText: "./<name>" },
    "no-install": { type: "boolean", description: "skip npm install (no node_modules, no lockfile yet)" },
    link: { type: "boolean", description: "depend on this checkout (file: links) instead of the released proxy-wasm-as and pwas" },
  },
  examples: ["pwas new add-header", "pwas new canary --template routing", "cd canary && pwas test ."],
  async run(args, io, signal) {
    const name = args.positionals[0];
    if (!name) throw new PwasError("E_USAGE", "a name is required, e.g. pwas new my-filter");
    if (args.positionals.length > 1) throw new PwasError("E_USAGE", `one name at a time: got ${args.positionals.join(", ")}`);
    const dir = await newFilter({
      name,
      template: args.string("template"),
      dir: args.string("dir"),
      install: !args.flag("no-install"),
      link: args.flag("link"),
      progress: io.progress,
      signal,
    });
    const rel = relative(process.cwd(), dir) || ".";
    io.out(`created ${rel}`);
    io.out(`next:  cd ${rel} && npx pwas test .     (or: pwas build ${rel}, pwas run ${rel})`);
    return 0;
  },
};
