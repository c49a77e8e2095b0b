import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { renderBootstrap, type Bootstrap, type JsonObject } from "./bootstrap";
import { EnvoyBase, httpGet, LogBuffer, parseListenerPorts, startFailure } from "./instance";
import { provideEnvoy } from "./locate";
import { delay, waitFor } from "./wait";

export type EnvoyLogLevel = "trace" | "debug" | "info" | "warning" | "error" | "critical" | "off";

/** Options shared by every backend. */
export interface EnvoyOptions {
  /** Worker threads (`--concurrency`); defaults to 1 so tests are deterministic. */
  concurrency?: number;
  /** `-l`; defaults to "info", the level at which Wasm plugins' info logs appear. */
  logLevel?: EnvoyLogLevel;
  /** `--component-log-level`, e.g. "wasm:debug,http:debug". */
  componentLogLevel?: string;
  /** How long to wait for admin `GET /ready` to answer LIVE; defaults to 20 s. */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL; defaults to 5 s. */
  stopTimeoutMs?: number;
  /** Also append Envoy's output to this file (kept after stop, e.g. as a CI artifact). */
  logFile?: string;
  /** Extra Envoy command-line arguments, appended last. */
  extraArgs?: string[];
}

export interface ProcessEnvoyOptions extends EnvoyOptions {
  /** The Envoy binary; defaults to provideEnvoy() (found, or downloaded into the user cache on first use). */
  binary?: string;
  /** Extra environment variables for the Envoy process (e.g. for a plugin's host_env_keys). */
  env?: NodeJS.ProcessEnv;
}

let started = 0;

/**
 * A `--base-id` unique per Envoy started from this Node process: pid-derived, plus a counter. Hot restart is
 * disabled anyway, so the id only keeps shared-memory names apart should someone re-enable it.
 */
export function nextBaseId(): number {
  started += 1;
  return (process.pid % 1_000_000) * 100 + (started % 100);
}

/** Live process-backed Envoys, so the exit hook can kill what a crashed test run left behind. */
const live = new Set<ProcessEnvoy>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous by necessity: 'exit' handlers cannot await. SIGKILL, since there is no time for a drain.
  process.on("exit", () => {
    for (const e of live) e.killNow();
  });
}

/** Starts Envoy as a local child process and waits until it is ready. */
/** Envoy's command line, the same for every backend: config and admin-address files, a unique base id. */
export function envoyArgs(configPath: string, adminPath: string, opts: EnvoyOptions): string[] {
  const args = [
    "-c", configPath,
    "--admin-address-path", adminPath,
    "--base-id", String(nextBaseId()),
    "--disable-hot-restart",
    "--concurrency", String(opts.concurrency ?? 1),
    "-l", opts.logLevel ?? "info",
  ];
  if (opts.componentLogLevel) args.push("--component-log-level", opts.componentLogLevel);
  return args.concat(opts.extraArgs ?? []);
}

export async function startProcessEnvoy(spec: Bootstrap, opts: ProcessEnvoyOptions = {}): Promise<ProcessEnvoy> {
  const binary = opts.binary ?? (await provideEnvoy());
  const config = renderBootstrap(spec, { resolvePath: (p) => resolve(p) });
  const dir = mkdtempSync(join(tmpdir(), "pwas-envoy-"));
  const configPath = join(dir, "envoy.json");
  const adminPath = join(dir, "admin-address");
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const args = envoyArgs(configPath, adminPath, opts);

  const logBuffer = new LogBuffer();
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } });
  const exit: ExitState = {};
  child.on("error", (err) => {
    exit.error = err;
  });
  child.on("exit", (code, signal) => {
    exit.code = code;
    exit.signal = signal;
  });
  const onData = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    logBuffer.append(text);
    if (opts.logFile) appendFileSync(opts.logFile, text);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);

  const cleanupAfterFailure = async () => {
    if (exit.code === undefined && exit.signal === undefined && !exit.error) child.kill("SIGKILL");
    await waitFor(() => (exited(exit) ? true : undefined), { timeoutMs: 5000, what: "Envoy to exit" }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };

  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  let adminUrl: string;
  try {
    adminUrl = await waitFor(
      async () => {
        let address: string;
        try {
          address = readFileSync(adminPath, "utf8").trim();
        } catch {
          return undefined; // not written yet: Envoy writes it once the admin listener is bound
        }
        if (!address) return undefined;
        const url = `http://${address}`;
        const res = await httpGet(`${url}/ready`, 1000);
        return res.status === 200 && res.body.trim() === "LIVE" ? url : undefined;
      },
      { timeoutMs: readyTimeoutMs, what: "Envoy's admin /ready to answer LIVE", abort: () => describeExit(exit) },
    );
  } catch (err) {
    // Let the last output arrive before quoting it: the pipes drain shortly after the process exits.
    await flushPipes(child);
    await cleanupAfterFailure();
    // Name the exit itself when there was one; the wait's own message is only the timeout case.
    const reason = exit.error ? `could not run ${binary}: ${exit.error.message}` : (describeExit(exit) ?? (err as Error).message);
    throw startFailure(reason, logBuffer);
  }

  const listeners = await httpGet(`${adminUrl}/listeners?format=json`);
  const ports = parseListenerPorts(listeners.body);
  const envoy = new ProcessEnvoy(adminUrl, ports, config, spec.listeners.map((l) => l.name), child, exit, dir, logBuffer, opts.stopTimeoutMs ?? 5000);
  live.add(envoy);
  installExitHook();
  return envoy;
}

interface ExitState {
  code?: number | null;
  signal?: NodeJS.Signals | null;
  error?: Error;
}

function exited(exit: ExitState): boolean {
  return exit.code !== undefined || exit.signal !== undefined || exit.error !== undefined;
}

function describeExit(exit: ExitState): string | undefined {
  if (exit.error) return `could not run Envoy: ${exit.error.message}`;
  if (exit.signal) return `Envoy was killed by ${exit.signal}`;
  if (exit.code !== undefined) return `Envoy exited with code ${exit.code}`;
  return undefined;
}

/** Resolves once both output pipes have closed (or after a short bound if they never do). */
async function flushPipes(child: ChildProcess): Promise<void> {
  const closed = (s: NodeJS.ReadableStream | null) =>
    new Promise<void>((res) => (s === null || (s as unknown as { closed?: boolean }).closed ? res() : s.once("close", () => res())));
  await Promise.race([Promise.all([closed(child.stdout), closed(child.stderr)]), delay(1000)]);
}

export class ProcessEnvoy extends EnvoyBase {
  readonly backend = "process" as const;
  private stopping?: Promise<void>;
  private done = false;

  constructor(
    adminUrl: string,
    ports: Record<string, number>,
    config: JsonObject,
    listenerOrder: string[],
    private readonly child: ChildProcess,
    private readonly exit: ExitState,
    private readonly dir: string,
    protected readonly logBuffer: LogBuffer,
    private readonly stopTimeoutMs: number,
  ) {
    super(adminUrl, ports, config, listenerOrder);
  }

  /** The Envoy process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get stopped(): boolean {
    return this.done || exited(this.exit);
  }

  protected exitReason(): string | undefined {
    return describeExit(this.exit);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    try {
      if (!exited(this.exit)) {
        this.child.kill("SIGTERM");
        const gone = await waitFor(() => (exited(this.exit) ? true : undefined), {
          timeoutMs: this.stopTimeoutMs,
          what: "Envoy to exit after SIGTERM",
        }).catch(() => false);
        if (!gone) {
          this.child.kill("SIGKILL");
          await waitFor(() => (exited(this.exit) ? true : undefined), { timeoutMs: 5000, what: "Envoy to exit after SIGKILL" });
        }
      }
      await flushPipes(this.child);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
      live.delete(this);
      this.done = true;
    }
  }

  /** For the process exit hook only: kill at once and remove the temp folder, synchronously. */
  killNow(): void {
    if (!exited(this.exit)) this.child.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
