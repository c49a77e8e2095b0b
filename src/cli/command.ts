import type { ParseArgsConfig } from "node:util";

/** Where a command writes; tests pass their own. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Progress for long steps (setup, build, Envoy start, push); goes to stderr so stdout stays parseable. */
  progress(step: string): void;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
  progress: (step) => process.stderr.write(`• ${step}\n`),
};

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
}

/** One CLI command: its help text and a `run` that calls core functions and returns an exit status. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Option help lines, e.g. "--debug   build without optimisation, with debug info". */
  optionHelp: string[];
  examples: string[];
  options: Options;
  run(args: ParsedArgs, io: Io, signal: AbortSignal): Promise<number>;
}
