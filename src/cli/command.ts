import type { ParseArgsConfig } from "node:util";
import { PwasError } from "../errors";

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

/**
 * One command-line option, declared once: parseArgs' configuration, the value checks and the help line all
 * come from this.
 */
export interface OptionSpec {
  /** "integer" is parsed as a string and checked (whole number within min..max), then given as a number. */
  type: "string" | "boolean" | "integer";
  /** Help text, a short phrase. */
  description: string;
  /** The value when the option is absent (given to the command, and shown in help). */
  default?: string | number | boolean;
  /** How help describes a default the command computes itself, e.g. "a free port". */
  defaultText?: string;
  /** Placeholder for the value in help, e.g. "n" → `--port <n>`; defaults to "value". */
  value?: string;
  /** Repeatable: the command gets an array. */
  multiple?: boolean;
  short?: string;
  /** The accepted values; anything else is a usage error that lists them. */
  choices?: readonly string[];
  min?: number;
  max?: number;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** What a command's `run` gets: positionals and the checked option values, read through typed getters. */
export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | number | boolean | string[] | undefined>;
  string(name: string): string | undefined;
  number(name: string): number | undefined;
  flag(name: string): boolean;
  list(name: string): string[] | undefined;
}

/** One CLI command: its declaration (help is generated from it) and a `run` that calls core functions. */
export interface Command {
  name: string;
  /** One line, for the command list. */
  summary: string;
  /** A paragraph or two for `pwas help <command>`: what it does and what it needs. */
  description: string;
  /** The positional part of the synopsis, e.g. "<filter dir | module.wasm>"; "" for none. */
  args: string;
  options: OptionSpecs;
  examples: string[];
  /** Extra help lines printed after the options (environment variables, credentials). */
  notes?: string[];
  /** Returns the exit status; throws PwasError for anything the user should read (E_USAGE exits 2). */
  run(args: ParsedArgs, io: Io, signal: AbortSignal): Promise<number>;
}

/** Options every command takes; main() handles them before the command runs. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  verbose: { type: "boolean", description: "on failure, print the stack trace too" },
  help: { type: "boolean", short: "h", description: "this help" },
};

/** parseArgs' configuration for a command's declared options (integers are read as strings, then checked). */
export function parseArgsOptions(specs: OptionSpecs): NonNullable<ParseArgsConfig["options"]> {
  const out: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, s] of Object.entries(specs)) {
    out[name] = {
      type: s.type === "boolean" ? "boolean" : "string",
      ...(s.multiple ? { multiple: true } : {}),
      ...(s.short ? { short: s.short } : {}),
    };
  }
  return out;
}

/** Checks parsed values against their declarations and applies defaults. Throws E_USAGE with a sentence. */
export function checkValues(specs: OptionSpecs, raw: Record<string, unknown>): ParsedArgs["values"] {
  const values: ParsedArgs["values"] = {};
  for (const [name, s] of Object.entries(specs)) {
    const v = raw[name];
    if (v === undefined) {
      if (s.default !== undefined) values[name] = s.default;
      continue;
    }
    const each = (x: string): string | number => {
      if (s.choices && !s.choices.includes(x)) {
        throw new PwasError("E_USAGE", `--${name} must be one of ${s.choices.join(", ")}, got "${x}"${suggestion(x, s.choices, "")}`);
      }
      if (s.type !== "integer") return x;
      const n = /^-?\d+$/.test(x.trim()) ? Number(x) : NaN;
      const min = s.min ?? 0;
      if (!Number.isSafeInteger(n) || n < min || (s.max !== undefined && n > s.max)) {
        const range = s.max !== undefined ? ` from ${min} to ${s.max}` : min === 0 ? " (0 or more)" : ` of at least ${min}`;
        throw new PwasError("E_USAGE", `--${name} must be a whole number${range}, got "${x}"`);
      }
      return n;
    };
    if (s.type === "boolean") values[name] = v as boolean;
    else if (Array.isArray(v)) values[name] = (v as string[]).map(each) as string[];
    else values[name] = each(v as string);
  }
  return values;
}

export function parsedArgs(positionals: string[], values: ParsedArgs["values"]): ParsedArgs {
  return {
    positionals,
    values,
    string: (n) => values[n] as string | undefined,
    number: (n) => values[n] as number | undefined,
    flag: (n) => values[n] === true,
    list: (n) => values[n] as string[] | undefined,
  };
}

/** The help line's left column: `-h, --help`, `--port <n>`. */
function optionLabel(name: string, s: OptionSpec): string {
  const flag = `${s.short ? `-${s.short}, ` : ""}--${name}`;
  return s.type === "boolean" ? flag : `${flag} <${s.value ?? (s.choices ? s.choices.join("|") : "value")}>`;
}

function optionText(s: OptionSpec): string {
  const extras: string[] = [];
  if (s.defaultText !== undefined) extras.push(`default: ${s.defaultText}`);
  else if (s.default !== undefined && s.type !== "boolean") extras.push(`default: ${s.default}`);
  if (s.multiple) extras.push("repeatable");
  return extras.length ? `${s.description} (${extras.join("; ")})` : s.description;
}

/** Option lines aligned in two columns, continuation lines of a description indented under it. */
export function formatOptions(specs: OptionSpecs): string[] {
  const entries = Object.entries(specs);
  const width = Math.max(...entries.map(([n, s]) => optionLabel(n, s).length));
  return entries.flatMap(([n, s]) => {
    const [first, ...rest] = optionText(s).split("\n");
    return [`  ${optionLabel(n, s).padEnd(width)}  ${first}`, ...rest.map((l) => `  ${" ".repeat(width)}  ${l}`)];
  });
}

export function synopsis(c: Command): string {
  return `pwas ${c.name}${c.args ? ` ${c.args}` : ""}${Object.keys(c.options).length ? " [options]" : ""}`;
}

/** The full help of one command, generated from its declaration. */
export function helpFor(c: Command): string {
  return [
    `pwas ${c.name}: ${c.summary}`, "", c.description, "", `Usage: ${synopsis(c)}`, "",
    "Options:", ...formatOptions({ ...c.options, ...GLOBAL_OPTIONS }),
    ...(c.notes?.length ? ["", ...c.notes] : []),
    "", "Examples:", ...c.examples.map((e) => `  ${e}`),
  ].join("\n");
}

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment), for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** ` (did you mean X?)` for the closest candidate within a small edit distance or sharing a prefix, else "". */
export function suggestion(input: string, candidates: readonly string[], prefix = ""): string {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = distance(input.toLowerCase(), c.toLowerCase());
    const score = c.startsWith(input) && input.length >= 2 ? 0.5 : d;
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  const limit = input.length <= 3 ? 1 : input.length <= 7 ? 2 : 3;
  return best !== undefined && bestScore <= limit ? ` (did you mean ${prefix}${best}?)` : "";
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
