import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../envoy/wait";
import { passthroughWasm } from "../envoy/testdata/passthrough-wasm";
import { ENVOY_LOCAL_BIN } from "../envoy/version";
import { commands } from "./commands";
import type { Command, Io } from "./command";
import { main } from "./main";

interface Captured extends Io {
  stdout(): string;
  stderr(): string;
}

function captureIo(): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (l) => void out.push(l),
    err: (l) => void err.push(l),
    progress: (l) => void err.push(`• ${l}`),
    stdout: () => out.join("\n"),
    stderr: () => err.join("\n"),
  };
}

async function pwas(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

/** A stack trace line, as Node prints them. */
const STACK = /^\s+at /m;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "pwas-cli-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("pwas help", () => {
  test("no arguments, --help and help list every command and exit 0", async () => {
    for (const args of [[], ["--help"], ["-h"], ["help"]]) {
      const r = await pwas(...args);
      expect(r.code).toBe(0);
      for (const c of commands) expect(r.out).toMatch(new RegExp(`^  ${c.name}\\s+${c.summary.replace(/[()|.]/g, "\\$&")}$`, "m"));
      expect(r.out).toContain("pwas help <command>");
    }
  });

  test.each(commands.map((c) => [c.name, c]))("pwas help %s is generated from the declaration: description, every option, examples", async (name, c) => {
    const command = c as Command;
    expect(command.description.length).toBeGreaterThan(40);
    expect(command.examples.length).toBeGreaterThan(0);
    const r = await pwas("help", name as string);
    expect(r.code).toBe(0);
    expect(r.out).toContain(command.description);
    for (const [option, spec] of Object.entries(command.options)) {
      expect(spec.description.length).toBeGreaterThan(5);
      expect(r.out).toMatch(new RegExp(`^  --${option}\\b`, "m"));
    }
    expect(r.out).toMatch(/^  --verbose\s/m);
    for (const e of command.examples) expect(r.out).toContain(`  ${e}`);
    // The same text through --help, anywhere among the arguments.
    expect((await pwas(name as string, "x", "--help")).out).toBe(r.out);
  });

  test("defaults, value names and repeatable options come from the declaration", async () => {
    const r = await pwas("help", "run");
    expect(r.out).toMatch(/^  --port <n>\s+listener port \(default: a free port\)$/m);
    expect(r.out).toMatch(/^  --concurrency <n>\s+Envoy worker threads \(default: 1\)$/m);
    expect(r.out).toMatch(/^  --failure-policy <closed\|open\|reload>\s+/m);
    expect(r.out).toMatch(/^  --cluster <name=url>\s+an extra cluster for callouts \(repeatable\)$/m);
  });

  test("--version prints the package version", async () => {
    const r = await pwas("--version");
    expect(r).toEqual({ code: 0, out: require("../../package.json").version, err: "" });
  });

  test("help for an unknown command is a usage error with a suggestion", async () => {
    const r = await pwas("help", "deplyo");
    expect(r.code).toBe(2);
    expect(r.err).toContain('pwas: E_USAGE unknown command "deplyo" (did you mean deploy?)');
  });
});

describe("pwas usage errors exit 2 with a sentence and no stack trace", () => {
  test.each([
    [["biuld"], 'pwas: E_USAGE unknown command "biuld" (did you mean build?)'],
    [["--frobnicate"], "pwas: E_USAGE unknown option --frobnicate"],
    [["run", "x.wasm", "--prot", "8080"], "pwas run: E_USAGE unknown option --prot (did you mean --port?)"],
    [["run", "x.wasm", "--port", "abc"], 'pwas run: E_USAGE --port must be a whole number from 0 to 65535, got "abc"'],
    [["run", "x.wasm", "--port", "70000"], 'pwas run: E_USAGE --port must be a whole number from 0 to 65535, got "70000"'],
    [["run", "x.wasm", "--concurrency", "0"], 'pwas run: E_USAGE --concurrency must be a whole number of at least 1, got "0"'],
    [["run", "x.wasm", "--failure-policy", "opne"], 'pwas run: E_USAGE --failure-policy must be one of closed, open, reload, got "opne" (did you mean open?)'],
    [["run"], "pwas run: E_USAGE a filter folder or .wasm file is required"],
    [["run", "x.wasm", "--port"], "pwas run: E_USAGE Option '--port <value>' argument missing"],
    [["deploy", "x"], "pwas deploy: E_USAGE a filter folder (or .wasm file) and --image <url> are required"],
    [["deploy", "x", "--image", "oci://r/x:1", "--priority", "high"], 'pwas deploy: E_USAGE --priority must be a whole number'],
    [["preview"], "pwas preview: E_USAGE give one or more WasmPlugin YAML files"],
    [["preview", "a.yaml", "--admin-port=-1"], 'pwas preview: E_USAGE --admin-port must be a whole number from 0 to 65535, got "-1"'],
    [["new"], "pwas new: E_USAGE a name is required"],
    [["push", "x"], "pwas push: E_USAGE give what to push and where"],
    [["pull"], "pwas pull: E_USAGE give one image"],
    [["package", "--format", "docker", "x"], 'pwas package: E_USAGE --format must be one of compat, oci, got "docker"'],
    [["build", "--debug=yes"], "pwas build: E_USAGE Option '--debug' does not take an argument"],
    [["envoy"], "pwas envoy: E_USAGE say what to do"],
    [["envoy", "instal"], 'pwas envoy: E_USAGE unknown subcommand "instal" (did you mean install?)'],
  ])("pwas %j", async (args, message) => {
    const r = await pwas(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toContain(message as string);
    expect(r.out).toBe("");
    expect(r.err).not.toMatch(STACK);
  });

  test("a usage error after a command points at its usage line and help", async () => {
    const r = await pwas("run", "x.wasm", "--port", "abc");
    expect(r.err).toContain("Usage: pwas run <filter dir | module.wasm> [options]\nRun `pwas help run` for its options and examples.");
  });
});

describe("pwas failures exit 1 with a sentence; --verbose adds the stack trace", () => {
  test("a missing filter folder is E_NOT_FOUND", async () => {
    const r = await pwas("build", join(work, "nope"));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`pwas build: E_NOT_FOUND ${join(work, "nope")} is not a filter folder`);
    expect(r.err).not.toMatch(STACK);
    const verbose = await pwas("build", join(work, "nope"), "--verbose");
    expect(verbose.code).toBe(1);
    expect(verbose.err).toMatch(STACK);
  });

  test("a file that is not a module is refused by every command that takes one, with the same sentence", async () => {
    const file = join(work, "notes.txt");
    writeFileSync(file, "hello");
    for (const args of [["run", file], ["package", file], ["push", file, "localhost:5000/x:1", "--insecure"], ["deploy", file, "--image", "oci://r/x:1"]]) {
      const r = await pwas(...args);
      expect([args[0], r.code, r.err]).toEqual([args[0], 2, expect.stringContaining(`E_USAGE ${file} is not a WebAssembly module (give a filter folder or a .wasm file)`)]);
    }
  });

  test("two WasmPlugins with one name are refused with a sentence", async () => {
    const wasm = join(work, "tiny.wasm");
    writeFileSync(wasm, Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    const yaml = (file: string, phase: string) => {
      const path = join(work, file);
      writeFileSync(path, ["apiVersion: extensions.istio.io/v1alpha1", "kind: WasmPlugin", "metadata:", "  name: headers", "  namespace: shop",
        "spec:", `  url: file://${wasm}`, `  phase: ${phase}`, ""].join("\n"));
      return path;
    };
    const r = await pwas("preview", yaml("a.yaml", "AUTHN"), yaml("b.yaml", "STATS"), "--dry-run", "--cache-dir", join(work, "wasm-cache"));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`pwas preview: E_VALIDATION ${join(work, "b.yaml")}: WasmPlugin shop.headers is also defined in ${join(work, "a.yaml")}; a namespace holds one resource of a kind per name`);
    expect(r.err).not.toMatch(STACK);
  });

  test("ENVOY_BIN pointing nowhere is a sentence, not a stack", async () => {
    const saved = process.env.ENVOY_BIN;
    process.env.ENVOY_BIN = join(work, "no-envoy");
    try {
      const r = await pwas("envoy", "which");
      expect(r.code).toBe(1);
      expect(r.err).toContain(`pwas envoy: E_NOT_FOUND ENVOY_BIN points at ${join(work, "no-envoy")}, which is not an executable file`);
      expect(r.err).not.toMatch(STACK);
    } finally {
      if (saved === undefined) delete process.env.ENVOY_BIN;
      else process.env.ENVOY_BIN = saved;
    }
  });

  test("a file system refusal is E_IO with the system's sentence (the path and the reason)", async () => {
    const wasm = join(work, "io.wasm");
    writeFileSync(wasm, passthroughWasm());
    const r = await pwas("package", wasm, "--output", join(wasm, "inside-a-file.tar")); // a file where a folder must be
    expect(r.code).toBe(1);
    expect(r.err).toBe(`pwas package: E_IO EEXIST: file already exists, mkdir '${wasm}'`);
    // The same refusal, foreseen, is a sentence of its own.
    const config = await pwas("deploy", wasm, "--image", "oci://r/x:1", "--config", work);
    expect(config).toMatchObject({ code: 2, err: expect.stringContaining(`pwas deploy: E_USAGE --config ${work} is a folder`) });
    expect(r.err).not.toMatch(STACK);
  });

  test("an unexpected error says so, without a stack trace unless --verbose", async () => {
    const boom: Command = {
      name: "boom", summary: "fails", description: "fails on purpose", args: "", options: {}, examples: ["pwas boom"],
      run: async () => {
        throw new TypeError("cannot read properties of undefined");
      },
    };
    commands.push(boom);
    try {
      const r = await pwas("boom");
      expect(r.code).toBe(1);
      expect(r.err).toBe("pwas boom: unexpected error: cannot read properties of undefined\n(run again with --verbose for the stack trace)");
      const v = await pwas("--verbose", "boom");
      expect(v.code).toBe(1);
      expect(v.err).toMatch(/^TypeError: cannot read properties of undefined\n\s+at /m);
    } finally {
      commands.splice(commands.indexOf(boom), 1);
    }
  });
});

describe("pwas envoy which", () => {
  test("ENVOY_BIN wins and says so", async () => {
    const bin = join(work, "custom-envoy");
    writeFileSync(bin, "#!/bin/sh\n");
    chmodSync(bin, 0o755);
    const saved = process.env.ENVOY_BIN;
    process.env.ENVOY_BIN = bin;
    try {
      const r = await pwas("envoy", "which");
      expect(r).toEqual({ code: 0, out: bin, err: "  ENVOY_BIN is set: it wins over everything else" });
    } finally {
      if (saved === undefined) delete process.env.ENVOY_BIN;
      else process.env.ENVOY_BIN = saved;
    }
  });

  test("without ENVOY_BIN or an envoy on PATH, this checkout's install is chosen, with each step's reason", async () => {
    const saved = { ENVOY_BIN: process.env.ENVOY_BIN, PATH: process.env.PATH };
    delete process.env.ENVOY_BIN;
    process.env.PATH = join(work, "empty-path");
    try {
      const r = await pwas("envoy", "which");
      expect(r.code).toBe(0);
      expect(r.out.endsWith(ENVOY_LOCAL_BIN)).toBe(true);
      expect(r.err.split("\n")).toEqual([
        "  ENVOY_BIN is not set", "  no `envoy` on PATH", `  this checkout's install (make setup) at ${ENVOY_LOCAL_BIN}`,
      ]);
    } finally {
      Object.assign(process.env, saved);
      if (saved.ENVOY_BIN === undefined) delete process.env.ENVOY_BIN;
    }
  });
});

describe("Ctrl-C stops every command", () => {
  test("a build stops at once and exits 130", async () => {
    const controller = new AbortController();
    const io = captureIo();
    io.progress = (l) => {
      if (l.startsWith("building")) controller.abort();
    };
    const code = await main(["build", "templates/http-headers", "--out", join(work, "hh.wasm")], io, { signal: controller.signal });
    expect(code).toBe(130);
    expect(io.stderr()).toBe("pwas build: interrupted");
  });

  test("after Ctrl-C, a failure caused by it (a child process killed by the same SIGINT) is reported as the interruption", async () => {
    const controller = new AbortController();
    const killed: Command = {
      name: "killed", summary: "a child dies", description: "its child process dies of the terminal's SIGINT", args: "", options: {}, examples: ["pwas killed"],
      run: async () => {
        controller.abort();
        throw new Error("Command failed: npm install (SIGINT)");
      },
    };
    commands.push(killed);
    try {
      const io = captureIo();
      expect(await main(["killed"], io, { signal: controller.signal })).toBe(130);
      expect(io.stderr()).toBe("pwas killed: interrupted");
    } finally {
      commands.splice(commands.indexOf(killed), 1);
    }
  });

  test("SIGINT during an Envoy download (an index that never answers) stops it and exits 130", async () => {
    let asked = false;
    const hanging = createServer(() => void (asked = true));
    const listenersBefore = process.listenerCount("SIGINT");
    await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", r));
    const saved = { ...process.env };
    Object.assign(process.env, {
      XDG_CACHE_HOME: join(work, "cache"), PWAS_PYPI_URL: `http://127.0.0.1:${(hanging.address() as { port: number }).port}`,
      PWAS_ENVOY_DOWNLOAD: "https",
    });
    try {
      const io = captureIo();
      const done = main(["envoy", "install", "--force"], io);
      let settled = false;
      void done.then(() => (settled = true));
      // main() installed its SIGINT handler; deliver the signal to it once the request is in flight.
      await waitFor(() => (asked ? true : undefined), { timeoutMs: 10_000, what: "the download request" });
      expect(settled).toBe(false);
      process.emit("SIGINT", "SIGINT");
      expect(await done).toBe(130);
      expect(io.stderr()).toMatch(/pwas envoy: interrupted$/);
      expect(process.listenerCount("SIGINT")).toBe(listenersBefore);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      hanging.closeAllConnections();
      await new Promise<void>((r) => hanging.close(() => r()));
    }
  });
});
