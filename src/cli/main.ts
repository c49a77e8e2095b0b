#!/usr/bin/env node
// The pwas entry point: parses arguments against each command's declaration, runs one command, maps errors
// to exit statuses (0 ok, 1 failure, 2 usage, 130 interrupted). The only place that calls process.exit.
import { parseArgs } from "node:util";
import { commands } from "./commands";
import {
  checkValues, formatOptions, GLOBAL_OPTIONS, helpFor, parseArgsOptions, parsedArgs, processIo, suggestion, synopsis,
  type Command, type Io, type OptionSpecs,
} from "./command";
import { PwasError } from "../errors";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

function version(): string {
  return require("../../package.json").version as string;
}

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "pwas: build, test, run and ship Envoy/Istio Wasm filters written in AssemblyScript", "",
    "Usage: pwas <command> [options]", "", "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "", "Options:",
    ...formatOptions({ ...GLOBAL_OPTIONS, version: { type: "boolean", description: "print the version of pwas" } }),
    "", "Run `pwas help <command>` (or `pwas <command> --help`) for its options and examples.",
  ].join("\n");
}

function findCommand(name: string): Command | undefined {
  return commands.find((c) => c.name === name);
}

function unknownCommand(name: string): PwasError {
  return new PwasError("E_USAGE", `unknown command "${name}"${suggestion(name, commands.map((c) => c.name))}; run \`pwas --help\` for the list`);
}

/** Unknown options are caught here, before parseArgs, so the message can suggest the closest declared one. */
function checkOptionNames(args: string[], specs: OptionSpecs): void {
  const longs = Object.keys(specs);
  const shorts = Object.values(specs).flatMap((s) => (s.short ? [s.short] : []));
  for (const a of args) {
    if (a === "--") return;
    if (a.startsWith("--")) {
      const name = a.slice(2).split("=")[0];
      if (!longs.includes(name)) throw new PwasError("E_USAGE", `unknown option --${name}${suggestion(name, longs, "--")}`);
    } else if (/^-[^-\d]/.test(a)) {
      for (const ch of a.slice(1)) {
        if (!shorts.includes(ch)) throw new PwasError("E_USAGE", `unknown option -${ch}${suggestion(ch, shorts, "-")}`);
        const spec = Object.values(specs).find((s) => s.short === ch);
        if (spec && spec.type !== "boolean") break; // the rest of the token is its value
      }
    }
  }
}

/**
 * After Ctrl-C every failure counts as the interruption: an AbortError from code that honours the signal, or
 * whatever a child process that got the terminal's SIGINT too (npm, jest, kubectl) made its caller throw.
 */
function isAbort(_err: unknown, signal: AbortSignal): boolean {
  return signal.aborted;
}

export interface MainOptions {
  /** Aborted on Ctrl-C/SIGTERM; main() installs the handlers when not given (tests pass their own). */
  signal?: AbortSignal;
}

export async function main(argv: string[], io: Io = processIo, opts: MainOptions = {}): Promise<number> {
  // --verbose is global: taken from anywhere before a "--" (after it, arguments belong to the command's tool).
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  const verbose = argv.slice(0, end).includes("--verbose");
  const args = [...argv.slice(0, end).filter((a) => a !== "--verbose"), ...argv.slice(end)];
  const [name, ...rest] = args;
  let command: Command | undefined;
  let signal = opts.signal;
  let release = () => undefined as void;
  if (!signal) {
    const controller = new AbortController();
    let signals = 0;
    const onSignal = () => {
      // The first Ctrl-C asks the command to stop and clean up; a second one does not wait for it.
      signals += 1;
      if (signals > 1) process.exit(EXIT_INTERRUPTED);
      controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    release = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
    signal = controller.signal;
  }
  try {
    if (!name || name === "--help" || name === "-h") {
      io.out(overview());
      return EXIT_OK;
    }
    if (name === "--version" || name === "-V") {
      io.out(version());
      return EXIT_OK;
    }
    if (name === "help") {
      if (rest.length === 0) {
        io.out(overview());
        return EXIT_OK;
      }
      const target = findCommand(rest[0]);
      if (!target || rest.length > 1) throw unknownCommand(rest.join(" "));
      io.out(helpFor(target));
      return EXIT_OK;
    }
    if (name.startsWith("-")) throw new PwasError("E_USAGE", `unknown option ${name}${suggestion(name.replace(/^-+/, ""), ["help", "version", "verbose"], "--")}; a command comes first: pwas <command> [options]`);
    command = findCommand(name);
    if (!command) throw unknownCommand(name);
    const specs = { ...command.options, ...GLOBAL_OPTIONS };
    checkOptionNames(rest, specs);
    const parsed = parseArgs({ args: rest, options: parseArgsOptions(specs), allowPositionals: true, strict: true });
    if (parsed.values.help === true) {
      io.out(helpFor(command));
      return EXIT_OK;
    }
    const values = checkValues(command.options, parsed.values);
    return await command.run(parsedArgs(parsed.positionals, values), io, signal);
  } catch (err) {
    const who = command ? `pwas ${command.name}` : "pwas";
    if (isAbort(err, signal)) {
      io.err(`${who}: interrupted`);
      return EXIT_INTERRUPTED;
    }
    const parseError = String((err as { code?: string }).code ?? "").startsWith("ERR_PARSE_ARGS");
    if ((err instanceof PwasError && err.code === "E_USAGE") || parseError) {
      io.err(`${who}: E_USAGE ${(err as Error).message}`);
      if (command) io.err(`\nUsage: ${synopsis(command)}\nRun \`pwas help ${command.name}\` for its options and examples.`);
      if (verbose) io.err((err as Error).stack ?? "");
      return EXIT_USAGE;
    }
    if (err instanceof PwasError) {
      io.err(`${who}: ${err.code} ${err.message}`);
      if (verbose) io.err(err.stack ?? "");
      return EXIT_FAILURE;
    }
    const e = err as Error & { code?: unknown; syscall?: unknown };
    if (typeof e?.code === "string" && typeof e.syscall === "string") {
      // A system call failed on the user's files or network (EACCES, ENOTDIR, ENOSPC, ...): its message names both.
      io.err(`${who}: E_IO ${e.message}`);
      if (verbose) io.err(e.stack ?? "");
      return EXIT_FAILURE;
    }
    io.err(`${who}: unexpected error: ${e?.message ?? String(err)}`);
    io.err(verbose ? (e?.stack ?? "") : "(run again with --verbose for the stack trace)");
    return EXIT_FAILURE;
  } finally {
    release();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
