import { buildFilter } from "../../build/build";
import { testFilter } from "../../build/test";
import type { Command } from "../command";

export const test: Command = {
  name: "test",
  summary: "Build a filter and run its tests against the real module in the host emulator",
  description:
    "Builds the filter, then runs <filter dir>/tests/**/*.test.ts with jest: emulator tests load the module\n" +
    "in the host emulator, e2e tests start a real Envoy (downloaded into the user cache on first use).\n" +
    "Arguments after -- go to jest as they are.",
  args: "[filter dir] [-- jest args]",
  options: {
    "no-build": { type: "boolean", description: "run the tests without building first" },
  },
  examples: ["pwas test filters/ratelimit", "pwas test . -- -t 'exactly N'", "pwas test . --no-build -- --runInBand"],
  async run(args, io, signal) {
    const dir = args.positionals[0] ?? ".";
    if (!args.flag("no-build")) {
      io.progress(`building ${dir}`);
      const r = await buildFilter(dir, { signal });
      io.progress(`built ${r.wasmPath} (${r.bytes} bytes)`);
    }
    io.progress("running tests");
    return await testFilter(dir, args.positionals.slice(1), signal);
  },
};
