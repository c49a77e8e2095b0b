import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, ServiceProcess } from "./child";
import { locateRedisServer } from "./locate";

export interface RedisOptions {
  /** redis-server binary; defaults to locateRedisServer(). */
  binary?: string;
  readyTimeoutMs?: number;
}

/** A redis-server on a free loopback port, with nothing persisted. */
export interface StartedRedis {
  readonly port: number;
  /** "127.0.0.1:<port>", the form the ratelimit service's REDIS_URL takes. */
  readonly address: string;
  /** Sends one command (inline form) and returns the raw RESP reply. */
  command(...args: string[]): Promise<string>;
  /** True while the server process runs (between kill()/halt() and start() it does not). */
  readonly running: boolean;
  /** Ends the server with SIGKILL, as a crash would; the handle keeps its port for start(). */
  kill(): Promise<void>;
  /** Ends the server with SIGTERM (a clean shutdown); the handle keeps its port for start(). */
  halt(): Promise<void>;
  /** Starts the server again on the same port, empty (nothing is persisted), and waits until it answers PING. */
  start(): Promise<void>;
  /** halt(), then start(). */
  restart(): Promise<void>;
  /** Ends the server for good and removes its folder. */
  stop(): Promise<void>;
}

/** Starts redis-server and waits until it answers PING. Retries once on a port taken in between. */
export async function startRedis(opts: RedisOptions = {}): Promise<StartedRedis> {
  const binary = opts.binary ?? requireRedis();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "pwas-redis-"));
    try {
      return new RedisHandle(binary, port, dir, await spawnRedis(binary, port, dir, readyTimeoutMs), readyTimeoutMs);
    } catch (err) {
      lastError = err;
      rmSync(dir, { recursive: true, force: true });
      if (/Address already in use/i.test((err as Error).message)) continue;
      throw err;
    }
  }
  throw lastError;
}

/** One redis-server process on `port`, once it answers PING; stopped again if it does not. */
async function spawnRedis(binary: string, port: number, dir: string, readyTimeoutMs: number): Promise<ServiceProcess> {
  const proc = new ServiceProcess("redis-server", binary, [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--dir", dir, "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
  ]);
  try {
    await proc.waitUntil(async () => ((await redisCommand(port, ["PING"])).startsWith("+PONG") ? true : undefined), `redis-server on 127.0.0.1:${port} to answer PING`, readyTimeoutMs);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

class RedisHandle implements StartedRedis {
  readonly address: string;

  constructor(
    private readonly binary: string,
    readonly port: number,
    private readonly dir: string,
    private proc: ServiceProcess | undefined,
    private readonly readyTimeoutMs: number,
  ) {
    this.address = `127.0.0.1:${port}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitReason() === undefined;
  }

  command(...args: string[]): Promise<string> {
    return redisCommand(this.port, args);
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
    this.proc = undefined;
  }

  async halt(): Promise<void> {
    await this.proc?.stop();
    this.proc = undefined;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`redis-server on ${this.address} is already running`);
    this.proc = await spawnRedis(this.binary, this.port, this.dir, this.readyTimeoutMs);
  }

  async restart(): Promise<void> {
    await this.halt();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function requireRedis(): string {
  const r = locateRedisServer();
  if (!r.ok) throw new Error(r.reason);
  return r.path;
}

/** One inline command over a fresh connection; resolves with the first reply line(s) received. */
function redisCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolveReply, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    let data = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply from redis on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("connect", () => sock.write(args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(" ") + "\r\n"));
    sock.on("data", (c) => {
      data += c.toString("utf8");
      if (data.endsWith("\r\n")) {
        clearTimeout(timer);
        sock.end();
        resolveReply(data);
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
