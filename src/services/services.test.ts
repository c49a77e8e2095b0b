import { describeRequiring } from "../requirements";
import { httpGet } from "../envoy/instance";
import { locateRatelimitService, locateRedisServer } from "./locate";
import { servicesHarness } from "./testing";

const redis = locateRedisServer();
const service = locateRatelimitService();
const describeRedis = describeRequiring(redis.ok ? undefined : `services tests: ${redis.reason}`);
if (redis.ok && !service.ok && !process.env.CI) console.log(`skipped: ratelimit service test: ${service.reason}`);
const testService = redis.ok && service.ok ? test : process.env.CI ? (name: string) => test(name, () => { throw new Error(service.ok ? "" : service.reason); }) : test.skip;

describeRedis("services: redis-server and the ratelimit service on free loopback ports", () => {
  const h = servicesHarness();

  test("redis-server starts on a free port, answers commands and is gone after cleanup", async () => {
    const r = await h.startRedis();
    expect(await r.command("SET", "k", "v")).toBe("+OK\r\n");
    expect(await r.command("GET", "k")).toBe("$1\r\nv\r\n");
    await h.cleanup();
    await expect(r.command("PING")).rejects.toThrow();
  });

  test("two Redis instances get distinct ports", async () => {
    const [a, b] = await Promise.all([h.startRedis(), h.startRedis()]);
    expect(a.port).not.toBe(b.port);
  });

  test("redis-server killed, then started again on the same port, answers again (empty: nothing persisted)", async () => {
    const r = await h.startRedis();
    expect(await r.command("SET", "k", "v")).toBe("+OK\r\n");
    await r.kill();
    expect(r.running).toBe(false);
    await expect(r.command("PING")).rejects.toThrow();
    await r.start();
    expect(r.running).toBe(true);
    expect(await r.command("GET", "k")).toBe("$-1\r\n");
    await r.restart();
    expect(await r.command("PING")).toBe("+PONG\r\n");
  });

  testService("the ratelimit service killed, then started again, serves on the same ports", async () => {
    const r = await h.startRedis();
    const s = await h.startRatelimitService({
      redisAddress: r.address,
      domains: [{ domain: "svc-test", descriptors: [{ key: "k", value: "v", rate_limit: { unit: "minute", requests_per_unit: 3 } }] }],
    });
    const ports = [s.httpPort, s.grpcPort];
    await s.kill();
    expect(s.running).toBe(false);
    await expect(httpGet(`http://127.0.0.1:${s.httpPort}/healthcheck`, 500)).rejects.toThrow();
    await s.start();
    expect([s.httpPort, s.grpcPort]).toEqual(ports);
    expect((await httpGet(`http://127.0.0.1:${s.httpPort}/healthcheck`)).status).toBe(200);
  });

  testService("the ratelimit service starts against Redis, answers its health check and serves gRPC, and is gone after cleanup", async () => {
    const r = await h.startRedis();
    const s = await h.startRatelimitService({
      redisAddress: r.address,
      domains: [{ domain: "svc-test", descriptors: [{ key: "k", value: "v", rate_limit: { unit: "minute", requests_per_unit: 3 } }] }],
    });
    expect((await httpGet(`http://127.0.0.1:${s.httpPort}/healthcheck`)).status).toBe(200);
    // Decisions are checked through Envoy in e2e/ratelimit-global.test.ts.
    await h.cleanup();
    await expect(httpGet(`http://127.0.0.1:${s.httpPort}/healthcheck`, 500)).rejects.toThrow();
  });
});
