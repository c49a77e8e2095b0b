#!/usr/bin/env node
// The pwas entry point: parses arguments, runs one command, maps errors to exit statuses.
// The only place that calls process.exit.
import { parseArgs } from "node:util";
import { commands } from "./commands";
import { Command, processIo, Io } from "./command";
import { PwasError } from "../errors";

function helpFor(c: Command): string {
  return [
    `${c.summary}`, "", `Usage: ${c.usage}`,
    ...(c.optionHelp.length ? ["", "Options:", ...c.optionHelp.map((l) => "  " + l)] : []),
    "", "Examples:", ...c.examples.map((e) => "  " + e),
  ].join("\n");
}

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "pwas: build, test, run and ship Envoy/Istio Wasm filters written in AssemblyScript", "",
    "Usage: pwas <command> [options]", "", "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "", "Run `pwas <command> --help` for a command's options and examples.",
  ].join("\n");
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(overview());
    return 0;
  }
  if (name === "--version") {
    io.out(require("../../package.json").version as string);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`pwas: E_USAGE unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(helpFor(command));
    return 0;
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    return await command.run({ positionals: parsed.positionals, values: parsed.values as never }, io, controller.signal);
  } catch (err) {
    if (err instanceof PwasError) {
      io.err(`pwas ${name}: ${err.code} ${err.message}`);
      return 1;
    }
    const e = err as { code?: string; message: string };
    if (e.code && String(e.code).startsWith("ERR_PARSE_ARGS")) {
      io.err(`pwas ${name}: E_USAGE ${e.message}\n\n${helpFor(command)}`);
      return 2;
    }
    io.err(`pwas ${name}: unexpected error: ${(err as Error).stack ?? e.message}`);
    return 1;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
