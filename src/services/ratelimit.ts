import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpGet } from "../envoy/instance";
import { freePort, ServiceProcess } from "./child";
import { locateRatelimitService } from "./locate";

/**
 * One domain of the service's configuration (its YAML file format: a domain and a tree of descriptors,
 * each with an optional rate_limit {unit, requests_per_unit}). JSON is valid YAML, so it is written as JSON.
 */
export interface RatelimitDomainConfig {
  domain: string;
  descriptors: RatelimitDescriptorConfig[];
}

export interface RatelimitDescriptorConfig {
  key: string;
  value?: string;
  rate_limit?: { unit: "second" | "minute" | "hour" | "day"; requests_per_unit: number };
  shadow_mode?: boolean;
  descriptors?: RatelimitDescriptorConfig[];
}

export interface RatelimitServiceOptions {
  /** Where Redis listens, "127.0.0.1:<port>". */
  redisAddress: string;
  domains: RatelimitDomainConfig[];
  /** The service binary; defaults to locateRatelimitService(). */
  binary?: string;
  /** The service's LOG_LEVEL; default "warn". */
  logLevel?: string;
  readyTimeoutMs?: number;
}

/** envoyproxy/ratelimit on free loopback ports. */
export interface StartedRatelimitService {
  /** The gRPC port serving envoy.service.ratelimit.v3.RateLimitService (HTTP/2, plaintext). */
  readonly grpcPort: number;
  /** The HTTP port (`/healthcheck`, `/json`). */
  readonly httpPort: number;
  /** The last lines of the service's output. */
  output(lines?: number): string;
  /** True while the service process runs (between kill()/halt() and start() it does not). */
  readonly running: boolean;
  /** Ends the service with SIGKILL, as a crash would; the handle keeps its ports and configuration for start(). */
  kill(): Promise<void>;
  /** Ends the service with SIGTERM (a clean shutdown); the handle keeps its ports and configuration for start(). */
  halt(): Promise<void>;
  /** Starts the service again on the same ports and waits until it is ready, as startRatelimitService does. */
  start(): Promise<void>;
  /** halt(), then start(). */
  restart(): Promise<void>;
  /** Ends the service for good and removes its configuration folder. */
  stop(): Promise<void>;
}

interface ServicePorts { httpPort: number; grpcPort: number; debugPort: number }

/**
 * Starts the ratelimit service against a running Redis with the given domains, and waits until its
 * health check answers and its gRPC port accepts connections. Retries on a port taken in between.
 */
export async function startRatelimitService(opts: RatelimitServiceOptions): Promise<StartedRatelimitService> {
  const binary = opts.binary ?? requireService();
  const root = mkdtempSync(join(tmpdir(), "pwas-ratelimit-svc-"));
  // The service reads every file in <RUNTIME_ROOT>/<RUNTIME_SUBDIRECTORY>/config/.
  const configDir = join(root, "ratelimit", "config");
  mkdirSync(configDir, { recursive: true });
  opts.domains.forEach((d, i) => writeFileSync(join(configDir, `domain-${i}.yaml`), JSON.stringify(d, null, 2)));

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const ports = { httpPort: await freePort(), grpcPort: await freePort(), debugPort: await freePort() };
    try {
      const handle = new RatelimitServiceHandle(binary, root, ports, opts);
      await handle.start();
      return handle;
    } catch (err) {
      lastError = err;
      if (/address already in use/i.test((err as Error).message)) continue;
      rmSync(root, { recursive: true, force: true });
      throw err;
    }
  }
  rmSync(root, { recursive: true, force: true });
  throw lastError;
}

class RatelimitServiceHandle implements StartedRatelimitService {
  readonly httpPort: number;
  readonly grpcPort: number;
  private proc: ServiceProcess | undefined;
  /** Output of earlier runs of this handle, so output() still explains a failure after a restart. */
  private earlier = "";

  constructor(
    private readonly binary: string,
    private readonly root: string,
    private readonly ports: ServicePorts,
    private readonly opts: RatelimitServiceOptions,
  ) {
    this.httpPort = ports.httpPort;
    this.grpcPort = ports.grpcPort;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitReason() === undefined;
  }

  output(lines = 20): string {
    const current = this.proc?.output(lines) ?? "";
    return `${this.earlier}\n${current}`.trim().split("\n").slice(-lines).join("\n");
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`the ratelimit service on gRPC port ${this.grpcPort} is already running`);
    const { httpPort, grpcPort, debugPort } = this.ports;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: String(httpPort),
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      DEBUG_HOST: "127.0.0.1",
      DEBUG_PORT: String(debugPort),
      USE_STATSD: "false",
      LOG_LEVEL: this.opts.logLevel ?? "warn",
      REDIS_SOCKET_TYPE: "tcp",
      REDIS_URL: this.opts.redisAddress,
      RUNTIME_ROOT: this.root,
      RUNTIME_SUBDIRECTORY: "ratelimit",
      RUNTIME_WATCH_ROOT: "false",
      RUNTIME_IGNOREDOTFILES: "true",
    };
    const proc = new ServiceProcess("ratelimit service", this.binary, [], env);
    this.proc = proc;
    try {
      await proc.waitUntil(
        async () => {
          const res = await httpGet(`http://127.0.0.1:${httpPort}/healthcheck`, 1000);
          return res.status === 200 && (await canConnect(grpcPort)) ? true : undefined;
        },
        `the ratelimit service's /healthcheck on port ${httpPort} and its gRPC port ${grpcPort}`,
        this.opts.readyTimeoutMs ?? 20_000,
      );
    } catch (err) {
      await this.end((p) => p.stop());
      throw err;
    }
  }

  kill(): Promise<void> {
    return this.end((p) => p.kill());
  }

  halt(): Promise<void> {
    return this.end((p) => p.stop());
  }

  async restart(): Promise<void> {
    await this.halt();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.root, { recursive: true, force: true });
  }

  private async end(how: (p: ServiceProcess) => Promise<void>): Promise<void> {
    const p = this.proc;
    if (!p) return;
    await how(p);
    this.earlier = `${this.earlier}\n${p.output(20)}`.slice(-16_384);
    this.proc = undefined;
  }
}

function requireService(): string {
  const r = locateRatelimitService();
  if (!r.ok) throw new Error(r.reason);
  return r.path;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: "127.0.0.1", port });
    s.on("connect", () => {
      s.end();
      res(true);
    });
    s.on("error", () => res(false));
  });
}
