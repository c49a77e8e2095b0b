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
  stop(): Promise<void>;
}

/** Starts redis-server and waits until it answers PING. Retries once on a port taken in between. */
export async function startRedis(opts: RedisOptions = {}): Promise<StartedRedis> {
  const binary = opts.binary ?? requireRedis();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "pwas-redis-"));
    const proc = new ServiceProcess("redis-server", binary, [
      "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--dir", dir, "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
    ]);
    const address = `127.0.0.1:${port}`;
    const command = (...args: string[]) => redisCommand(port, args);
    try {
      await proc.waitUntil(async () => ((await command("PING")).startsWith("+PONG") ? true : undefined), `redis-server on ${address} to answer PING`, opts.readyTimeoutMs ?? 10_000);
    } catch (err) {
      lastError = err;
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
      if (/Address already in use/i.test(proc.log)) continue;
      throw err;
    }
    return {
      port,
      address,
      command,
      async stop() {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw lastError;
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
