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
  stop(): Promise<void>;
}

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
    const [httpPort, grpcPort, debugPort] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: String(httpPort),
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      DEBUG_HOST: "127.0.0.1",
      DEBUG_PORT: String(debugPort),
      USE_STATSD: "false",
      LOG_LEVEL: opts.logLevel ?? "warn",
      REDIS_SOCKET_TYPE: "tcp",
      REDIS_URL: opts.redisAddress,
      RUNTIME_ROOT: root,
      RUNTIME_SUBDIRECTORY: "ratelimit",
      RUNTIME_WATCH_ROOT: "false",
      RUNTIME_IGNOREDOTFILES: "true",
    };
    const proc = new ServiceProcess("ratelimit service", binary, [], env);
    try {
      await proc.waitUntil(
        async () => {
          const res = await httpGet(`http://127.0.0.1:${httpPort}/healthcheck`, 1000);
          return res.status === 200 && (await canConnect(grpcPort)) ? true : undefined;
        },
        `the ratelimit service's /healthcheck on port ${httpPort} and its gRPC port ${grpcPort}`,
        opts.readyTimeoutMs ?? 20_000,
      );
    } catch (err) {
      lastError = err;
      await proc.stop();
      if (/address already in use/i.test(proc.log)) continue;
      rmSync(root, { recursive: true, force: true });
      throw err;
    }
    return {
      grpcPort,
      httpPort,
      output: (lines) => proc.output(lines),
      async stop() {
        await proc.stop();
        rmSync(root, { recursive: true, force: true });
      },
    };
  }
  rmSync(root, { recursive: true, force: true });
  throw lastError;
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
