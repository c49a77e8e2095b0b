// The global mode in the emulator: the ShouldRateLimit call it makes, and what it does with each answer.
import { GrpcStatus, Host } from "../../../src/emulator";
import { finish, ratelimitWasm, startFilter } from "./harness";
import { Code, decodeRequest, encodeResponse, Unit } from "./rls-proto";

beforeAll(async () => {
  await ratelimitWasm();
}, 180_000);

const base = {
  domain: "edge",
  rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: "ratelimit" } }, transport_api_version: "V3" },
  rate_limits: [
    { actions: [{ remote_address: {} }] },
    { actions: [{ generic_key: { descriptor_value: "api" } }, { request_headers: { header_name: "x-user", descriptor_key: "user", skip_if_absent: true } }] },
  ],
  timeout: "0.25s",
};

function send(host: Host, headers: Array<[string, string]> = []) {
  const s = host.newHttpStream(undefined, { properties: { "source.address": "198.51.100.7:4321" } });
  s.sendRequestHeaders([[":method", "GET"], [":path", "/x"], [":authority", "a"], ...headers], true);
  return s;
}

describe("ratelimit global: the call to the rate limit service", () => {
  test("one ShouldRateLimit call per request with domain, descriptors and the configured timeout", async () => {
    const host = await startFilter(base);
    const s = send(host, [["x-user", "alice"]]);
    const calls = host.grpcCalls();
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ upstream: "ratelimit", service: "envoy.service.ratelimit.v3.RateLimitService", method: "ShouldRateLimit", timeoutMs: 250 });
    expect(decodeRequest(calls[0].message)).toEqual({
      domain: "edge",
      descriptors: [[{ key: "remote_address", value: "198.51.100.7" }], [{ key: "generic_key", value: "api" }, { key: "user", value: "alice" }]],
      hitsAddend: 0,
    });
    // The request waits for the answer.
    expect(s.upstream.headers).toBeNull();
    host.respondGrpcCall(calls[0].token, { status: 0, message: encodeResponse({ overallCode: Code.OK }) });
    expect(s.upstream.headers).not.toBeNull();
    expect(finish(s).status).toBe(200);
    expect(host.metric("ratelimit.ok")?.value).toBe(1);
  });

  test("Envoy's default timeout is 20 ms; the grpc_service timeout applies when the filter sets none", async () => {
    const { timeout: _t, ...noTimeout } = base;
    const host = await startFilter(noTimeout);
    send(host);
    expect(host.grpcCalls()[0].timeoutMs).toBe(20);
    const h2 = await startFilter({ ...noTimeout, rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: "rl" }, timeout: "1s" } } });
    send(h2);
    expect(h2.grpcCalls()[0]).toMatchObject({ upstream: "rl", timeoutMs: 1000 });
  });

  test("OVER_LIMIT: the configured status with x-envoy-ratelimited, retry-after, the service's headers and body", async () => {
    const host = await startFilter({ ...base, enable_x_ratelimit_headers: "DRAFT_VERSION_03" });
    const s = send(host);
    host.respondGrpcCall(host.grpcCalls()[0].token, {
      status: 0,
      message: encodeResponse({
        overallCode: Code.OVER_LIMIT,
        statuses: [
          { code: Code.OK, currentLimit: { requestsPerUnit: 100, unit: Unit.MINUTE }, limitRemaining: 50, durationUntilReset: { seconds: 30, nanos: 0 } },
          { code: Code.OVER_LIMIT, currentLimit: { requestsPerUnit: 5, unit: Unit.SECOND }, limitRemaining: 0, durationUntilReset: { seconds: 0, nanos: 400_000_000 } },
        ],
        responseHeadersToAdd: [["x-service", "rls"]],
        rawBody: Buffer.from("over limit\n"),
      }),
    });
    const o = finish(s);
    expect(o.status).toBe(429);
    expect(o.body).toBe("over limit\n");
    expect(o.headers).toMatchObject({
      "x-envoy-ratelimited": "true",
      "retry-after": "1",
      "x-service": "rls",
      "x-ratelimit-limit": "5, 5;w=1",
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": "1",
    });
    expect(o.stream.localResponse?.details).toBe("request_rate_limited");
    expect(host.metric("ratelimit.over_limit")?.value).toBe(1);
  });

  test("OK: the service's response and request headers are applied, x-ratelimit headers on the response", async () => {
    const host = await startFilter({ ...base, enable_x_ratelimit_headers: "DRAFT_VERSION_03" });
    const s = send(host);
    host.respondGrpcCall(host.grpcCalls()[0].token, {
      status: 0,
      message: encodeResponse({
        overallCode: Code.OK,
        statuses: [{ code: Code.OK, currentLimit: { requestsPerUnit: 10, unit: Unit.MINUTE }, limitRemaining: 9, durationUntilReset: { seconds: 59, nanos: 1 } }],
        responseHeadersToAdd: [["x-quota", "ok"]],
        requestHeadersToAdd: [["x-ratelimit-checked", "1"]],
      }),
    });
    expect(s.upstream.headers).toContainEqual(["x-ratelimit-checked", "1"]);
    const o = finish(s);
    expect(o.status).toBe(200);
    expect(o.headers).toMatchObject({ "x-quota": "ok", "x-ratelimit-limit": "10, 10;w=60", "x-ratelimit-remaining": "9", "x-ratelimit-reset": "60" });
  });

  test("shadow mode: an OVER_LIMIT answer passes when not enforced", async () => {
    const host = await startFilter({ ...base, filter_enforced: { default_value: { numerator: 0 } } });
    const s = send(host);
    host.respondGrpcCall(host.grpcCalls()[0].token, { status: 0, message: encodeResponse({ overallCode: Code.OVER_LIMIT }) });
    expect(finish(s).status).toBe(200);
    expect(host.metric("ratelimit.shadow_over_limit")?.value).toBe(1);
  });

  test("no descriptor produced: no call, the request passes", async () => {
    const host = await startFilter({ ...base, rate_limits: [{ actions: [{ request_headers: { header_name: "x-tenant", descriptor_key: "tenant" } }] }] });
    const s = send(host);
    expect(host.grpcCalls()).toHaveLength(0);
    expect(finish(s).status).toBe(200);
  });
});

describe("ratelimit global: failures", () => {
  const failures: Array<[string, (host: Host, token: number) => void]> = [
    ["the service is unavailable", (h, t) => h.respondGrpcCall(t, { status: GrpcStatus.Unavailable, statusMessage: "no healthy upstream" })],
    ["the call times out", (h) => h.advanceTime(300)],
    ["the answer is malformed", (h, t) => h.respondGrpcCall(t, { status: 0, message: Uint8Array.from([0x12, 0x09, 0x08]) })],
    ["the answer has overall_code UNKNOWN", (h, t) => h.respondGrpcCall(t, { status: 0, message: new Uint8Array(0) })],
  ];

  test.each(failures)("fail open by default when %s: allowed, counted in ratelimit.errors", async (_n, fail) => {
    const host = await startFilter(base);
    const s = send(host);
    fail(host, host.grpcCalls()[0].token);
    expect(s.localResponse).toBeNull();
    expect(finish(s).status).toBe(200);
    expect(host.metric("ratelimit.errors")?.value).toBe(1);
    expect(host.failed).toBe(false);
  });

  test.each(failures)("failure_mode_deny when %s: status_on_error (default 500)", async (_n, fail) => {
    const host = await startFilter({ ...base, failure_mode_deny: true });
    const s = send(host);
    fail(host, host.grpcCalls()[0].token);
    const o = finish(s);
    expect(o.status).toBe(500);
    expect(o.stream.localResponse?.details).toBe("rate_limiter_error");
    expect(host.metric("ratelimit.errors")?.value).toBe(1);
  });

  test("status_on_error is configurable", async () => {
    const host = await startFilter({ ...base, failure_mode_deny: true, status_on_error: { code: 503 } });
    const s = send(host);
    host.respondGrpcCall(host.grpcCalls()[0].token, { status: GrpcStatus.Unavailable });
    expect(finish(s).status).toBe(503);
  });

  test("an unknown cluster fails at call time: allowed by default", async () => {
    const host = await startFilter(base, { clusters: ["other"] });
    const s = send(host);
    expect(host.grpcCalls()).toHaveLength(0);
    expect(finish(s).status).toBe(200);
    expect(host.metric("ratelimit.errors")?.value).toBe(1);
  });

  test("a client that leaves before the answer cancels the call; a late answer finds nothing", async () => {
    const host = await startFilter(base);
    const s = send(host);
    const token = host.grpcCalls()[0].token;
    s.complete();
    expect(host.grpcCalls()).toHaveLength(0);
    expect(() => host.respondGrpcCall(token, { status: 0, message: encodeResponse({ overallCode: Code.OK }) })).toThrow(/no pending gRPC call/);
    expect(host.failed).toBe(false);
  });

  test("1000 requests leave no handler behind (memory stays flat)", async () => {
    const host = await startFilter(base);
    const round = () => {
      for (let i = 0; i < 200; i++) {
        const s = send(host, [["x-user", `u${i}`]]);
        host.respondGrpcCall(host.grpcCalls()[0].token, { status: 0, message: encodeResponse({ overallCode: Code.OK }) });
        finish(s);
      }
    };
    round();
    const before = host.memoryBytes();
    for (let r = 0; r < 4; r++) round();
    expect(host.memoryBytes()).toBe(before);
  });
});

describe("ratelimit global: configuration errors", () => {
  const cases: Array<[string, unknown, string]> = [
    ["no domain", { ...base, domain: undefined }, "domain: is required"],
    ["no cluster", { ...base, rate_limit_service: { grpc_service: { envoy_grpc: {} } } }, "rate_limit_service.grpc_service.envoy_grpc.cluster_name: is required"],
    ["no rate_limits", { ...base, rate_limits: undefined }, "rate_limits: is required in global mode"],
    ["a local field", { ...base, token_bucket: { max_tokens: 1, fill_interval: "1s" } }, "token_bucket: is a local-mode field"],
    ["v2 transport", { ...base, rate_limit_service: { ...base.rate_limit_service, transport_api_version: "V2" } }, "rate_limit_service.transport_api_version: must be V3"],
    ["a google_grpc service", { ...base, rate_limit_service: { grpc_service: { google_grpc: {} } } }, "rate_limit_service.grpc_service.google_grpc: unknown field"],
    ["timeout 0", { ...base, timeout: "0s" }, "timeout: must be between 0.001s and 3600s"],
  ];
  test.each(cases)("%s", async (_name, config, message) => {
    await expect(startFilter(config)).rejects.toThrow("ratelimit: invalid configuration: " + message);
  });
});
