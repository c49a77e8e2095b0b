import { buildFilter } from "../../build/build";
import { testFilter, testsUseEnvoy } from "../../build/test";
import { provideEnvoy } from "../../envoy/locate";
import { probeDockerEngine } from "../../envoy/docker";
import { ENVOY_IMAGE } from "../../envoy/version";
import { PwasError } from "../../errors";
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
    docker: { type: "boolean", description: `e2e tests run Envoy in containers: PWAS_ENVOY_IMAGE, default ${ENVOY_IMAGE}` },
  },
  examples: ["pwas test filters/ratelimit", "pwas test . -- -t 'exactly N'", "pwas test . --no-build -- --runInBand", "pwas test . --docker"],
  async run(args, io, signal) {
    const dir = args.positionals[0] ?? ".";
    if (args.flag("docker")) {
      // Fail before building when no engine answers, rather than in every e2e test.
      const engine = await probeDockerEngine();
      if (!engine.ok) throw new PwasError("E_ENVOY", `--docker needs a Docker engine: ${engine.reason}`);
      // The test run is a child process: it inherits the backend choice, and envoyHarness() reads it.
      process.env.PWAS_ENVOY_BACKEND = "container";
    }
    if (!args.flag("no-build")) {
      io.progress(`building ${dir}`);
      const r = await buildFilter(dir, { signal });
      io.progress(`built ${r.wasmPath} (${r.bytes} bytes)`);
    }
    if (!args.flag("docker") && process.env.PWAS_ENVOY_BACKEND !== "container" && testsUseEnvoy(dir)) {
      // Provision Envoy here, once and with a progress bar on a terminal, rather than inside the first e2e
      // test (where a download would count against its timeout and its output would be captured by jest).
      io.progress(`Envoy: ${await provideEnvoy({ signal })}`);
    }
    io.progress("running tests");
    return await testFilter(dir, args.positionals.slice(1), signal);
  },
};
