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

/**
 * For commands that serve until Ctrl-C or SIGTERM (run, preview): prints the stop hint, waits for the
 * signal, then always stops what `stop` stops.
 */
export async function serveUntilStopped(io: Io, signal: AbortSignal, stop: () => Promise<void>): Promise<void> {
  io.out("Ctrl-C to stop");
  try {
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    io.progress("stopping Envoy");
    await stop();
  }
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
