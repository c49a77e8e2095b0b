import { startRatelimitService, type RatelimitServiceOptions, type StartedRatelimitService } from "./ratelimit";
import { startRedis, type RedisOptions, type StartedRedis } from "./redis";

export interface ServicesHarness {
  startRedis(opts?: RedisOptions): Promise<StartedRedis>;
  startRatelimitService(opts: RatelimitServiceOptions): Promise<StartedRatelimitService>;
  /** Stops everything started so far, newest first (the ratelimit service before its Redis). */
  cleanup(): Promise<void>;
}

/**
 * Test helper: tracks the services a test file starts and always stops them, in jest's afterEach (default)
 * or afterAll (`scope: "all"`, for services started in beforeAll).
 */
export function servicesHarness(opts: { scope?: "each" | "all" } = {}): ServicesHarness {
  const started: Array<{ stop(): Promise<void> }> = [];
  const h: ServicesHarness = {
    async startRedis(o) {
      const r = await startRedis(o);
      started.push(r);
      return r;
    },
    async startRatelimitService(o) {
      const s = await startRatelimitService(o);
      started.push(s);
      return s;
    },
    async cleanup() {
      const results = [];
      while (started.length) results.push(await started.pop()!.stop().then(() => null, (e: unknown) => e));
      const failed = results.find((r) => r !== null);
      if (failed) throw failed;
    },
  };
  const hook = opts.scope === "all" ? globalThis.afterAll : globalThis.afterEach;
  if (typeof hook === "function") hook(() => h.cleanup());
  return h;
}
