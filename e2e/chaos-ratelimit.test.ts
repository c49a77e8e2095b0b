// Chaos under load, global rate limit: while requests flow through two Envoys (one failing open, the
// default; one with failure_mode_deny), Redis is killed and started again, then the ratelimit service is
// killed and started again. Every answer must be the limit's decision or the configured failure mode.

import { describeRequiring } from "../src/requirements";
import { ratelimitWasm } from "../filters/ratelimit/tests/harness";
import { cluster, envoyHarness, httpListener, wasmFilter, type Bootstrap, type JsonObject, type StartedEnvoy } from "../src/envoy";
import { locateRatelimitService, locateRedisServer, servicesHarness } from "../src/services";
import { httpRequest, type ClientResponse } from "./support/client";
import { countBy, latencies, startLoad, type Sample } from "./support/load";

const redisBin = locateRedisServer();
const serviceBin = locateRatelimitService();
const missing = !redisBin.ok ? redisBin.reason : !serviceBin.ok ? serviceBin.reason : undefined;
const describeChaos = describeRequiring(missing === undefined ? undefined : `ratelimit chaos e2e: ${missing}`);

const DOMAIN = "pwas-chaos";
/** The filter's per-call timeout: no answer may take much longer. */
const CALL_TIMEOUT_MS = 1000;
/** The deny-mode answer to a failed call: a code Envoy never sends itself, so it cannot be mistaken for one of Envoy's errors. */
const ON_ERROR = 599;
/** Slack on a 2-core machine busy with two Envoys, the services and the load itself. */
const MARGIN_MS = 2000;

const envoys = envoyHarness();
const services = servicesHarness();

jest.setTimeout(90_000);

/**
 * The x-class header picks the descriptor: "open" has a limit no run reaches (the right answer is 200),
 * "closed" a limit of 0 (the right answer is 429). Both are counted in Redis, so both need the services.
 */
function filterConfig(deny: boolean): JsonObject {
  return {
    domain: DOMAIN,
    rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: "ratelimit" } }, transport_api_version: "V3" },
    rate_limits: [{ actions: [{ request_headers: { header_name: "x-class", descriptor_key: "class" } }] }],
    timeout: `${CALL_TIMEOUT_MS / 1000}s`,
    failure_mode_deny: deny,
    status_on_error: { code: ON_ERROR },
  };
}

function bootstrap(echoPort: number, rlsPort: number, config: JsonObject): Bootstrap {
  return {
    listeners: [httpListener("rl", {
      httpFilters: [wasmFilter({ name: "ratelimit", wasmFile: wasm, vmId: "ratelimit", configuration: config })],
      virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }],
    })],
    clusters: [cluster("echo", echoPort), cluster("ratelimit", rlsPort, { http2: true, connectTimeoutMs: 250 })],
  };
}

let wasm: string;

type Mode = "open" | "deny";
type Class = "open" | "closed";
interface Answer { mode: Mode; cls: Class; status: number }

/** What an answer is: the limit's decision, the configured failure mode, or wrong. */
function verdict(a: Answer): "decision" | "failure mode" | "wrong" {
  const decision = a.cls === "open" ? 200 : 429;
  if (a.status === decision) return "decision";
  if (a.mode === "deny" && a.status === ON_ERROR) return "failure mode";
  // Failing open, a failed call lets the request through: 200 (for "open" it cannot be told from the decision).
  if (a.mode === "open" && a.status === 200) return "failure mode";
  return "wrong";
}

describeChaos("chaos e2e: global rate limit while Redis and the ratelimit service go down and come back", () => {
  beforeAll(async () => {
    wasm = await ratelimitWasm();
  }, 180_000);

  test("every answer is the limit's decision or the configured failure mode; none hangs past the call timeout", async () => {
    const redis = await services.startRedis();
    const rls = await services.startRatelimitService({
      redisAddress: redis.address,
      domains: [{
        domain: DOMAIN,
        descriptors: [
          { key: "class", value: "open", rate_limit: { unit: "hour", requests_per_unit: 1_000_000_000 } },
          { key: "class", value: "closed", rate_limit: { unit: "hour", requests_per_unit: 0 } },
        ],
      }],
    });
    const echo = await envoys.startEcho();
    const byMode: Record<Mode, StartedEnvoy> = {
      open: await envoys.startEnvoy(bootstrap(echo.port, rls.grpcPort, filterConfig(false)), { concurrency: 2 }),
      deny: await envoys.startEnvoy(bootstrap(echo.port, rls.grpcPort, filterConfig(true)), { concurrency: 2 }),
    };
    const modes: Mode[] = ["open", "deny"];
    const classes: Class[] = ["open", "closed"];

    const load = startLoad<Answer>({
      concurrency: 10,
      maxRequests: 6000,
      maxDurationMs: 30_000,
      send: async (i) => {
        const mode = modes[i % 2];
        const cls = classes[(i >> 1) % 2];
        const r: ClientResponse = await httpRequest(byMode[mode].url("/"), { headers: { "x-class": cls }, timeoutMs: CALL_TIMEOUT_MS + 10_000 });
        return { mode, cls, status: r.status };
      },
    });
    const rightOnBoth = async (since: number, what: string) => {
      for (const mode of modes) {
        await load.waitForSample((s) => s.result?.mode === mode && s.result.cls === "closed" && s.result.status === 429, since, 20_000, `${what} (${mode} Envoy)`);
      }
    };
    let recoveredAt = 0;
    try {
      await rightOnBoth(load.mark("steady"), "a 429 from the service before any chaos");
      await load.advance(100);
      load.mark("redis killed");
      await redis.kill();
      // Calls the service cannot answer without Redis run into the call timeout: a few rounds of them.
      await load.advance(30);
      load.mark("redis restarting");
      await redis.start();
      await rightOnBoth(load.mark("redis back"), "a 429 decided by the service after Redis came back");
      await load.advance(100);
      load.mark("ratelimit service killed");
      await rls.kill();
      await load.advance(100);
      load.mark("ratelimit service restarting");
      await rls.start();
      recoveredAt = load.mark("all back");
      await rightOnBoth(recoveredAt, "a 429 decided by the service after it was restarted");
      await load.advance(100);
    } finally {
      await load.stop();
    }

    const samples = load.samples;
    const answered = samples.filter((s) => s.result);
    const key = (s: Sample<Answer>) => (s.result ? `${s.result.mode}-mode ${s.result.cls} ${s.result.status} (${verdict(s.result)})` : `error: ${s.error}`);
    const lines = load.phases.map((p) => `  ${p.padEnd(30)} ${JSON.stringify(countBy(samples.filter((s) => s.phase === p), (s) => (s.result ? verdict(s.result) : "error")))}`);
    const errors = { open: await byMode.open.counter("wasmcustom.ratelimit.errors"), deny: await byMode.deny.counter("wasmcustom.ratelimit.errors") };
    console.log([
      `ratelimit chaos: ${samples.length} requests in ${Math.round(load.now())} ms, latency ${JSON.stringify(latencies(samples))}`,
      ...Object.entries(countBy(samples, key)).map(([k, n]) => `  ${k}: ${n}`),
      "by phase (when each request started):",
      ...lines,
      `ratelimit.errors counters: open-mode Envoy ${errors.open}, deny-mode Envoy ${errors.deny}`,
    ].join("\n"));

    // Nothing but decisions and failure-mode answers, and every request answered.
    expect(samples.filter((s) => s.error).map((s) => s.error)).toEqual([]);
    expect(answered.filter((s) => verdict(s.result!) === "wrong").map(key)).toEqual([]);
    // No request waited much longer than one call timeout.
    expect(latencies(samples).max).toBeLessThan(CALL_TIMEOUT_MS + MARGIN_MS);
    // The chaos reached the filter: failed calls were answered by the failure mode, one answer per failed call.
    const onError = answered.filter((s) => s.result!.mode === "deny" && s.result!.status === ON_ERROR).length;
    expect(onError).toBeGreaterThan(0);
    expect(onError).toBe(errors.deny);
    const openedClosed = answered.filter((s) => s.result!.mode === "open" && s.result!.cls === "closed" && s.result!.status === 200).length;
    expect(openedClosed).toBeGreaterThan(0);
    expect(openedClosed).toBeLessThanOrEqual(errors.open);
    // Every request that reached the upstream was allowed by the decision or by failing open.
    const passed = answered.filter((s) => s.result!.status === 200).length;
    expect(echo.requests).toBe(passed);
    expect(recoveredAt).toBeGreaterThan(0);
  });
});
