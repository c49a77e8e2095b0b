import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { waitFor } from "../envoy/wait";

/** A free TCP port on 127.0.0.1, as the kernel hands it out now (the caller binds it soon after). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolvePort(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** The last lines of a process's output, kept for error messages. */
class Tail {
  private text = "";
  append(chunk: string): void {
    this.text = (this.text + chunk).slice(-16_384);
  }
  lines(n = 20): string {
    return this.text.trimEnd().split("\n").slice(-n).join("\n");
  }
  get all(): string {
    return this.text;
  }
}

const live = new Set<ServiceProcess>();
let hookInstalled = false;

/**
 * A child process of a test service (redis-server, the ratelimit service): output kept, exit tracked,
 * stopped with SIGTERM then SIGKILL, and killed by an exit hook if a crashed test run leaves it behind.
 */
export class ServiceProcess {
  private readonly child: ChildProcess;
  private readonly tail = new Tail();
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private spawnError: Error | null = null;
  private stopping?: Promise<void>;

  constructor(readonly name: string, binary: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string) {
    this.child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], env, cwd });
    this.child.on("error", (e) => (this.spawnError = e));
    this.child.on("exit", (code, signal) => {
      this.exitInfo = { code, signal };
      live.delete(this);
    });
    const onData = (c: Buffer) => this.tail.append(c.toString("utf8"));
    this.child.stdout?.on("data", onData);
    this.child.stderr?.on("data", onData);
    live.add(this);
    if (!hookInstalled) {
      hookInstalled = true;
      process.on("exit", () => {
        for (const p of live) p.child.kill("SIGKILL");
      });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Why the process is gone, or undefined while it runs. */
  exitReason(): string | undefined {
    if (this.spawnError) return `${this.name} could not start: ${this.spawnError.message}`;
    if (!this.exitInfo) return undefined;
    return `${this.name} exited (${this.exitInfo.signal ?? `code ${this.exitInfo.code}`})`;
  }

  /** The last lines of its output. */
  output(lines = 20): string {
    return this.tail.lines(lines);
  }

  get log(): string {
    return this.tail.all;
  }

  /** Waits for `probe` to succeed, giving up at once if the process exits. */
  async waitUntil<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
    try {
      return await waitFor(probe, { timeoutMs, what, abort: () => this.exitReason() });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${this.name} output ---\n${this.output()}`);
    }
  }

  /** SIGKILL at once, as a crash would end it; resolves once the process has exited. */
  kill(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.exitInfo || this.spawnError) return;
      this.child.kill("SIGKILL");
      await waitFor(() => (this.exitInfo || this.spawnError ? true : undefined), { timeoutMs: 5000, what: `${this.name} to exit after SIGKILL` });
    })();
    return this.stopping;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. Safe to call twice. */
  stop(graceMs = 5000): Promise<void> {
    this.stopping ??= (async () => {
      if (this.exitInfo || this.spawnError) return;
      this.child.kill("SIGTERM");
      const exited = () => (this.exitInfo || this.spawnError ? true : undefined);
      try {
        await waitFor(exited, { timeoutMs: graceMs, what: `${this.name} to exit after SIGTERM` });
      } catch {
        this.child.kill("SIGKILL");
        await waitFor(exited, { timeoutMs: 5000, what: `${this.name} to exit after SIGKILL` });
      }
    })();
    return this.stopping;
  }
}

