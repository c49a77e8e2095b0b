// create-proxy-wasm-as: what `npm create proxy-wasm-as@latest <folder> [-- --template <t>]` runs. The
// package bundles this file with the scaffold and ships the templates beside it (scripts/pack.mjs).
import { basename, relative, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { DEFAULT_TEMPLATE, invalidNameReason, newFilter, TEMPLATES, templateSource } from "./new";

const USAGE = `usage: npm create proxy-wasm-as@latest <folder> [-- --template <t>] [--no-install]

  --template <t>   ${Object.entries(TEMPLATES).map(([k, v]) => `${k}: ${v.summary}`).join("\n                   ")}
  --no-install     skip npm install (no node_modules, no lockfile yet)

On a terminal, a missing folder or template is asked for; otherwise the template defaults to ${DEFAULT_TEMPLATE}.`;

export interface CreateIo {
  out(line: string): void;
  err(line: string): void;
  /** Asks one question on a terminal; undefined when not on one. */
  ask?: (question: string) => Promise<string>;
}

/** Runs create-proxy-wasm-as with `argv` (no node and script path); returns the exit status. */
export async function create(argv: string[], io: CreateIo): Promise<number> {
  let args;
  try {
    args = parseArgs({ args: argv, allowPositionals: true, options: { template: { type: "string", short: "t" }, "no-install": { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  } catch (e) {
    io.err(`create-proxy-wasm-as: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.values.help) {
    io.out(USAGE);
    return 0;
  }
  if (args.positionals.length > 1) {
    io.err(`create-proxy-wasm-as: one folder, please (got ${args.positionals.join(" ")})\n\n${USAGE}`);
    return 2;
  }

  let folder = args.positionals[0];
  if (folder === undefined) {
    if (!io.ask) {
      io.err(`create-proxy-wasm-as: give the folder to create, e.g. npm create proxy-wasm-as@latest my-filter\n\n${USAGE}`);
      return 2;
    }
    folder = (await io.ask("Project folder (my-filter): ")).trim() || "my-filter";
  }
  const name = basename(resolve(folder));
  const badName = invalidNameReason(name);
  if (badName) {
    io.err(`create-proxy-wasm-as: ${badName}`);
    return 1;
  }

  let template = args.values.template;
  if (template === undefined) {
    if (io.ask) {
      template = await askTemplate(io.ask, io.out);
    } else {
      template = DEFAULT_TEMPLATE;
      io.out(`template: ${DEFAULT_TEMPLATE} (the default; --template chooses another)`);
    }
  }

  try {
    const dir = await newFilter({ name, dir: folder, template, install: args.values["no-install"] !== true, source: templateSource(), progress: (s) => io.out(`• ${s}`) });
    const rel = relative(process.cwd(), dir) || ".";
    io.out(`\ncreated ${rel} from the ${template} template. Next:\n\n  cd ${rel}\n${args.values["no-install"] ? "  npm install\n" : ""}  npm test      # emulator tests, then a real Envoy\n  npm start     # the filter in Envoy, until Ctrl-C\n`);
    return 0;
  } catch (e) {
    io.err(`create-proxy-wasm-as: ${(e as Error).message}`);
    return 1;
  }
}

/** The numbered template list; asks until the answer is a number or a template name. */
async function askTemplate(ask: (q: string) => Promise<string>, out: (line: string) => void): Promise<string> {
  const names = Object.keys(TEMPLATES);
  out("Templates:");
  names.forEach((n, i) => out(`  ${i + 1}) ${n.padEnd(13)} ${TEMPLATES[n].summary}`));
  for (;;) {
    const answer = (await ask(`Template [1-${names.length}, default 1 (${names[0]})]: `)).trim();
    if (answer === "") return names[0];
    const byNumber = names[Number(answer) - 1];
    if (/^\d+$/.test(answer) && byNumber) return byNumber;
    if (TEMPLATES[answer]) return answer;
    out(`"${answer}" is not one of the templates; give its number or its name`);
  }
}

/** The bin: terminal questions only when both stdin and stdout are terminals. */
export async function main(): Promise<void> {
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const rl = tty ? createInterface({ input: process.stdin, output: process.stdout }) : undefined;
  try {
    process.exitCode = await create(process.argv.slice(2), {
      out: (line) => process.stdout.write(line + "\n"),
      err: (line) => process.stderr.write(line + "\n"),
      ask: rl ? (q) => rl.question(q) : undefined,
    });
  } finally {
    rl?.close();
  }
}
