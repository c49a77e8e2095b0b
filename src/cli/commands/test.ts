import { buildFilter } from "../../build/build";
import { testFilter } from "../../build/test";
import type { Command } from "../command";

export const test: Command = {
  name: "test",
  summary: "Build a filter and run its tests against the real module in the host emulator",
  usage: "pwas test [filter dir] [-- jest args]",
  optionHelp: ["--no-build     run the tests without building first"],
  examples: ["pwas test filters/ratelimit", "pwas test . -- -t 'exactly N'"],
  options: { "no-build": { type: "boolean" } },
  async run(args, io, signal) {
    const dir = args.positionals[0] ?? ".";
    if (args.values["no-build"] !== true) {
      io.progress(`building ${dir}`);
      const r = await buildFilter(dir);
      io.progress(`built ${r.wasmPath} (${r.bytes} bytes)`);
    }
    io.progress("running tests");
    return await testFilter(dir, args.positionals.slice(1), signal);
  },
};
