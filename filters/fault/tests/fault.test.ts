// fault: the compiled filter in the host emulator. Virtual time, a seeded random source, several "workers"
// sharing one shared-data store.

import { join } from "node:path";
import { buildFilter } from "../../../src/build/build";
import { Action, Host, HostOptions, HttpStream, LogLevel, SharedData } from "../../../src/emulator";

const FILTER_DIR = join(__dirname, "..");
let wasm: string;

beforeAll(async () => {
  wasm = (await buildFilter(FILTER_DIR)).wasmPath;
}, 120_000);

type Config = Record<string, unknown>;

async function start(config: Config, opts: HostOptions = {}): Promise<Host> {
  return Host.start(wasm, { pluginConfig: JSON.stringify(config), pluginName: "fault", vmId: "fault", ...opts });
}

const BASE: Array<[string, string]> = [[":method", "GET"], [":path", "/"], [":authority", "example.com"], [":scheme", "http"]];

function send(host: Host, headers: Array<[string, string]> = [], properties?: Record<string, string | null>): { s: HttpStream; action: Action } {
  const s = host.newHttpStream(undefined, properties ? { properties } : {});
  const action = s.sendRequestHeaders([...BASE, ...headers], true);
  return { s, action };
}

function metric(host: Host, name: string): number {
  return host.metric(name)?.value ?? 0;
}

/** A request that went through untouched. */
function passed(s: HttpStream, action: Action): boolean {
  return action === Action.Continue && s.upstream.headers !== null && s.localResponse === null;
}

/** Binomial bounds: k successes of n at probability p lie within ±4.5σ of n·p. */
function expectBinomial(k: number, n: number, p: number): void {
  const sigma = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(k - n * p)).toBeLessThanOrEqual(4.5 * sigma);
}

describe("fault: aborts", () => {
  test("abort http_status 503 at 100% answers 503 with Envoy's body and details, and counts it", async () => {
    const host = await start({ abort: { http_status: 503, percentage: { numerator: 100 } } });
    const { s, action } = send(host);
    expect(action).toBe(Action.Pause);
    expect(s.localResponse?.status).toBe(503);
    expect(s.localResponse?.details).toBe("fault_filter_abort");
    expect(Buffer.from(s.localResponse!.body).toString()).toBe("fault filter abort");
    expect(s.upstream.headers).toBeNull();
    expect(metric(host, "fault.aborts_injected")).toBe(1);
    expect(metric(host, "fault.active_faults")).toBe(1);
    s.complete();
    expect(metric(host, "fault.active_faults")).toBe(0);
  });

  test("abort grpc_status answers HTTP 200 with grpc-status (a gRPC client sees the status)", async () => {
    const host = await start({ abort: { grpc_status: 14, percentage: { numerator: 100 } } });
    const { s } = send(host, [["content-type", "application/grpc"]]);
    expect(s.localResponse?.status).toBe(200);
    expect(s.localResponse?.grpcStatus).toBe(14);
    const headers = Object.fromEntries(s.downstream.headers ?? []);
    expect(headers[":status"]).toBe("200");
    expect(headers["grpc-status"]).toBe("14");
    expect(headers["grpc-message"]).toBe("fault filter abort");
  });

  test("percentage: 10 000 requests at 25% abort within ±4.5σ of 2 500 (seeded)", async () => {
    for (const seed of [1, 2]) {
      const host = await start({ abort: { http_status: 500, percentage: { numerator: 25 } } }, { seed });
      let aborted = 0;
      const n = 10_000;
      for (let i = 0; i < n; i++) {
        const { s } = send(host);
        if (s.localResponse?.status === 500) aborted++;
        s.complete();
      }
      expectBinomial(aborted, n, 0.25);
      expect(metric(host, "fault.aborts_injected")).toBe(aborted);
      expect(metric(host, "fault.active_faults")).toBe(0);
    }
  });

  test("percentage denominators: 2 500 per TEN_THOUSAND and 250 000 per MILLION are 25% too", async () => {
    for (const percentage of [{ numerator: 2500, denominator: "TEN_THOUSAND" }, { numerator: 250_000, denominator: "MILLION" }, { numerator: 250_000, denominator: 2 }]) {
      const host = await start({ abort: { http_status: 500, percentage } }, { seed: 7 });
      let aborted = 0;
      for (let i = 0; i < 4000; i++) {
        const { s } = send(host);
        if (s.localResponse) aborted++;
        s.complete();
      }
      expectBinomial(aborted, 4000, 0.25);
    }
  });

  test("no percentage means 0%, as in Envoy, with a warning at configure time", async () => {
    const host = await start({ abort: { http_status: 503 } });
    expect(host.logMessages(LogLevel.Warn).join("\n")).toContain("abort.percentage is 0%");
    for (let i = 0; i < 100; i++) {
      const { s, action } = send(host);
      expect(passed(s, action)).toBe(true);
    }
  });
});

describe("fault: header control", () => {
  const headerAbort = { abort: { header_abort: {}, percentage: { numerator: 100 } } };

  test("x-envoy-fault-abort-request picks the status; invalid or out-of-range values do nothing", async () => {
    const host = await start(headerAbort);
    expect(send(host, [["x-envoy-fault-abort-request", "503"]]).s.localResponse?.status).toBe(503);
    expect(send(host, [["x-envoy-fault-abort-request", " 429 "]]).s.localResponse?.status).toBe(429);
    expect(send(host, [["x-envoy-fault-abort-request", "200"]]).s.localResponse?.status).toBe(200);
    for (const bad of ["600", "199", "abc", "", "-503", "5O3"]) {
      const { s, action } = send(host, [["x-envoy-fault-abort-request", bad]]);
      expect([bad, passed(s, action)]).toEqual([bad, true]);
    }
    const { s, action } = send(host);
    expect(passed(s, action)).toBe(true);
  });

  test("x-envoy-fault-abort-grpc-request answers 200 + grpc-status; the HTTP header wins when both are valid", async () => {
    const host = await start(headerAbort);
    const grpc = send(host, [["x-envoy-fault-abort-grpc-request", "7"], ["content-type", "application/grpc"]]).s;
    expect(grpc.localResponse?.status).toBe(200);
    expect(grpc.localResponse?.grpcStatus).toBe(7);
    const both = send(host, [["x-envoy-fault-abort-request", "502"], ["x-envoy-fault-abort-grpc-request", "7"]]).s;
    expect(both.localResponse?.status).toBe(502);
    expect(both.localResponse?.grpcStatus).toBeNull();
    const badHttp = send(host, [["x-envoy-fault-abort-request", "999"], ["x-envoy-fault-abort-grpc-request", "4"]]).s;
    expect(badHttp.localResponse?.grpcStatus).toBe(4);
  });

  test("headers have no effect unless header_abort / header_delay is configured", async () => {
    const host = await start({ abort: { http_status: 500, percentage: { numerator: 0 } }, delay: { fixed_delay: "1s", percentage: { numerator: 0 } } });
    const { s, action } = send(host, [["x-envoy-fault-abort-request", "503"], ["x-envoy-fault-delay-request", "100"], ["x-envoy-fault-abort-request-percentage", "100"]]);
    expect(passed(s, action)).toBe(true);
  });

  test("x-envoy-fault-abort-request-percentage is capped by the configured numerator", async () => {
    const host = await start({ abort: { header_abort: {}, percentage: { numerator: 50 } } }, { seed: 3 });
    const rate = (pct: string | null) => {
      let n = 0;
      for (let i = 0; i < 4000; i++) {
        const h: Array<[string, string]> = [["x-envoy-fault-abort-request", "503"]];
        if (pct !== null) h.push(["x-envoy-fault-abort-request-percentage", pct]);
        const { s } = send(host, h);
        if (s.localResponse) n++;
        s.complete();
      }
      return n;
    };
    expectBinomial(rate("100"), 4000, 0.5); // capped at 50
    expectBinomial(rate("10"), 4000, 0.1);
    expectBinomial(rate(null), 4000, 0.5); // configured
    expectBinomial(rate("x"), 4000, 0.5); // not a number: configured
    expect(rate("0")).toBe(0);
  });

  test("x-envoy-fault-delay-request delays by that many ms; its percentage header is capped too", async () => {
    const host = await start({ delay: { header_delay: {}, percentage: { numerator: 100 } } });
    const { s, action } = send(host, [["x-envoy-fault-delay-request", "50"]]);
    expect(action).toBe(Action.Pause);
    host.advanceTime(49);
    expect(s.upstream.headers).toBeNull();
    host.advanceTime(1);
    expect(s.upstream.headers).not.toBeNull();
    for (const v of ["0", "abc", "-5"]) {
      const r = send(host, [["x-envoy-fault-delay-request", v]]);
      expect([v, passed(r.s, r.action)]).toEqual([v, true]);
    }
    const zero = send(host, [["x-envoy-fault-delay-request", "50"], ["x-envoy-fault-delay-request-percentage", "0"]]);
    expect(passed(zero.s, zero.action)).toBe(true);
  });
});

describe("fault: delays", () => {
  test("a fixed 200 ms delay holds the request exactly 200 ms of virtual time, then forwards it", async () => {
    const host = await start({ delay: { fixed_delay: "0.2s", percentage: { numerator: 100 } } });
    expect(host.tickPeriodMs()).toBe(0); // idle: no timer
    const { s, action } = send(host);
    expect(action).toBe(Action.Pause);
    expect(host.tickPeriodMs()).toBe(1);
    expect(metric(host, "fault.delays_injected")).toBe(1);
    expect(metric(host, "fault.active_faults")).toBe(1);
    host.advanceTime(199);
    expect(s.upstream.headers).toBeNull();
    host.advanceTime(1);
    expect(s.upstream.headers).not.toBeNull();
    expect(s.upstream.endOfStream).toBe(true);
    // The delay is over: no longer an active fault, and the timer stops.
    expect(metric(host, "fault.active_faults")).toBe(0);
    host.advanceTime(1);
    expect(host.tickPeriodMs()).toBe(0);
  });

  test("a delay followed by an abort: the abort is answered when the delay ends", async () => {
    const host = await start({
      delay: { fixed_delay: "0.1s", percentage: { numerator: 100 } },
      abort: { http_status: 504, percentage: { numerator: 100 } },
    });
    const { s } = send(host);
    host.advanceTime(99);
    expect(s.localResponse).toBeNull();
    host.advanceTime(1);
    expect(s.localResponse?.status).toBe(504);
    expect(metric(host, "fault.delays_injected")).toBe(1);
    expect(metric(host, "fault.aborts_injected")).toBe(1);
    expect(metric(host, "fault.active_faults")).toBe(1); // until the stream ends, as in Envoy
    s.complete();
    expect(metric(host, "fault.active_faults")).toBe(0);
  });

  test("2 000 concurrent delayed requests each resume at their own deadline (±1 ms)", async () => {
    const host = await start({ delay: { header_delay: {}, percentage: { numerator: 100 } } });
    const streams: Array<{ s: HttpStream; due: number }> = [];
    for (let i = 0; i < 2000; i++) {
      const due = 1 + ((i * 7919) % 500);
      const { s, action } = send(host, [["x-envoy-fault-delay-request", String(due)]]);
      expect(action).toBe(Action.Pause);
      streams.push({ s, due });
    }
    expect(metric(host, "fault.active_faults")).toBe(2000);
    for (let t = 1; t <= 501; t++) {
      host.advanceTime(1);
      for (const { s, due } of streams) {
        const out = s.upstream.headers !== null;
        if (out !== t >= due) throw new Error(`request due at ${due} ms: forwarded=${out} at ${t} ms`);
      }
    }
    expect(metric(host, "fault.active_faults")).toBe(0);
    host.advanceTime(2);
    expect(host.tickPeriodMs()).toBe(0);
  });

  test("a client that goes away during a delay releases its fault; the timer stops", async () => {
    const host = await start({ delay: { fixed_delay: "5s", percentage: { numerator: 100 } }, max_active_faults: 1 });
    const first = send(host);
    expect(first.action).toBe(Action.Pause);
    first.s.complete(); // reset by the client: onLog/onDone/onDelete while paused
    expect(metric(host, "fault.active_faults")).toBe(0);
    host.advanceTime(2);
    expect(host.tickPeriodMs()).toBe(0);
    // The shared count was released too: the next request may fault.
    expect(send(host).action).toBe(Action.Pause);
    expect(metric(host, "fault.faults_overflow")).toBe(0);
  });
});

describe("fault: max_active_faults", () => {
  test("over the limit: no fault, overflow counted; freed slots are reused", async () => {
    const host = await start({ delay: { fixed_delay: "1s", percentage: { numerator: 100 } }, max_active_faults: 2 });
    const a = send(host);
    const b = send(host);
    const c = send(host);
    expect([a.action, b.action]).toEqual([Action.Pause, Action.Pause]);
    expect(passed(c.s, c.action)).toBe(true);
    expect(metric(host, "fault.faults_overflow")).toBe(1);
    expect(metric(host, "fault.active_faults")).toBe(2);
    host.advanceTime(1000);
    expect(metric(host, "fault.active_faults")).toBe(0);
    expect(send(host).action).toBe(Action.Pause);
  });

  test("an overflowing delay still tries the abort, which overflows too (Envoy counts each attempt)", async () => {
    const host = await start({
      delay: { fixed_delay: "1s", percentage: { numerator: 100 } },
      abort: { http_status: 503, percentage: { numerator: 100 } },
      max_active_faults: 0,
    });
    const { s, action } = send(host);
    expect(passed(s, action)).toBe(true);
    expect(metric(host, "fault.faults_overflow")).toBe(2);
  });

  test("the limit holds across workers sharing one VM's shared data, and every slot is returned", async () => {
    const shared = new SharedData();
    const config = { abort: { http_status: 503, percentage: { numerator: 100 } }, max_active_faults: 3 };
    const workers = await Promise.all([0, 1, 2, 3].map((i) => start(config, { sharedData: shared, seed: i + 1 })));
    const open: HttpStream[] = [];
    let aborted = 0;
    let overflowed = 0;
    for (let round = 0; round < 10; round++) {
      for (const w of workers) {
        const { s } = send(w);
        if (s.localResponse) { aborted++; open.push(s); } else { overflowed++; s.complete(); }
      }
    }
    expect(aborted).toBe(3);
    expect(overflowed).toBe(37);
    expect(workers.reduce((n, w) => n + metric(w, "fault.faults_overflow"), 0)).toBe(37);
    for (const s of open) s.complete();
    // All slots back: the next requests abort again, up to the limit.
    const again = workers.map((w) => send(w).s.localResponse !== null);
    expect(again.filter(Boolean).length).toBe(3);
  });
});

describe("fault: which requests", () => {
  const abort = { http_status: 503, percentage: { numerator: 100 } };

  test("headers: all matchers must match", async () => {
    const host = await start({
      abort,
      headers: [
        { name: "x-user", string_match: { prefix: "test-" } },
        { name: "x-canary", present_match: true, invert_match: true },
      ],
    });
    expect(send(host, [["x-user", "test-1"]]).s.localResponse?.status).toBe(503);
    expect(send(host, [["x-user", "prod-1"]]).s.localResponse).toBeNull();
    expect(send(host, [["x-user", "test-1"], ["x-canary", "1"]]).s.localResponse).toBeNull();
    expect(send(host).s.localResponse).toBeNull();
  });

  test("upstream_cluster compares with the route's cluster (xds.cluster_name)", async () => {
    const host = await start({ abort, upstream_cluster: "backend" });
    expect(send(host, [], { "xds.cluster_name": "backend" }).s.localResponse?.status).toBe(503);
    expect(send(host, [], { "xds.cluster_name": "other" }).s.localResponse).toBeNull();
    expect(send(host, [], { "xds.cluster_name": null }).s.localResponse).toBeNull();
  });

  test("downstream_nodes: only requests from those x-envoy-downstream-service-node values", async () => {
    const host = await start({ abort, downstream_nodes: ["node-a", "node-b"] });
    expect(send(host, [["x-envoy-downstream-service-node", "node-b"]]).s.localResponse?.status).toBe(503);
    expect(send(host, [["x-envoy-downstream-service-node", "node-c"]]).s.localResponse).toBeNull();
    expect(send(host).s.localResponse).toBeNull();
  });

  test("active_window: faults only in [start, end), as RFC 3339 or epoch seconds", async () => {
    const start0 = Date.UTC(2025, 5, 1, 9, 0, 0) / 1000;
    // 11:00+02:00 is 09:00Z: an empty window, rejected (offsets are applied).
    const empty = await Host.load(wasm, {
      pluginConfig: JSON.stringify({ abort, active_window: { start: "2025-06-01T09:00:00Z", end: "2025-06-01T11:00:00+02:00" } }),
    });
    empty.startVm();
    expect(empty.configure()).toBe(false);
    expect(empty.logMessages(LogLevel.Error).join("\n")).toContain("active_window.end: must be after start");
    const window = { start: "2025-06-01T09:00:00Z", end: start0 + 3600 };
    const host = await start({ abort, active_window: window }, { startTimeNs: BigInt(start0 - 1) * 1_000_000_000n });
    expect(send(host).s.localResponse).toBeNull(); // 08:59:59
    host.advanceTime(1000);
    expect(send(host).s.localResponse?.status).toBe(503); // 09:00:00
    host.advanceTime(3599_000);
    expect(send(host).s.localResponse?.status).toBe(503); // 09:59:59
    host.advanceTime(1000);
    expect(send(host).s.localResponse).toBeNull(); // 10:00:00, the end is exclusive
    const open = await start({ abort, active_window: { start: "2025-06-01T09:00:00.5+00:00" } }, { startTimeNs: BigInt(start0) * 1_000_000_000n });
    expect(send(open).s.localResponse).toBeNull();
    open.advanceTime(500);
    expect(send(open).s.localResponse?.status).toBe(503);
  });

  test("no fault configured: every request passes and no timer runs", async () => {
    const host = await start({});
    const { s, action } = send(host);
    expect(passed(s, action)).toBe(true);
    expect(host.tickPeriodMs()).toBe(0);
  });
});

describe("fault: response_rate_limit (chunk-paced, see README)", () => {
  test("fixed_limit 1 KiB/s: each 1 KiB chunk leaves when the rate allows its last byte", async () => {
    const host = await start({ response_rate_limit: { fixed_limit: { limit_kbps: 1 }, percentage: { numerator: 100 } } });
    const { s, action } = send(host);
    expect(action).toBe(Action.Continue);
    expect(metric(host, "fault.response_rl_injected")).toBe(1);
    expect(s.sendResponseHeaders([[":status", "200"]])).toBe(Action.Continue); // headers are not held
    const chunk = Buffer.alloc(1024, 0x61);
    expect(s.sendResponseBody(chunk)).toBe(Action.Pause);
    host.advanceTime(999);
    expect(s.downstream.body.length).toBe(0);
    host.advanceTime(1);
    expect(s.downstream.body.length).toBe(1024);
    // A 2 KiB chunk right after: it may leave once its last byte is due, at 3 s.
    expect(s.sendResponseBody(Buffer.alloc(2048, 0x62), true)).toBe(Action.Pause);
    host.advanceTime(1999);
    expect(s.downstream.body.length).toBe(1024);
    host.advanceTime(1);
    expect(s.downstream.body.length).toBe(3072);
    expect(s.downstream.endOfStream).toBe(true);
    s.complete();
    expect(metric(host, "fault.active_faults")).toBe(0);
    host.advanceTime(2);
    expect(host.tickPeriodMs()).toBe(0);
  });

  test("a slow upstream is not slowed further: chunks within the rate pass at once", async () => {
    const host = await start({ response_rate_limit: { fixed_limit: { limit_kbps: 100 }, percentage: { numerator: 100 } } });
    const { s } = send(host);
    s.sendResponseHeaders([[":status", "200"]]);
    host.advanceTime(1000);
    expect(s.sendResponseBody(Buffer.alloc(1024))).toBe(Action.Pause); // pacing starts with the first byte
    host.advanceTime(10);
    expect(s.downstream.body.length).toBe(1024);
    host.advanceTime(1000);
    expect(s.sendResponseBody(Buffer.alloc(1024))).toBe(Action.Continue);
  });

  test("x-envoy-fault-throughput-response sets the rate with header_limit", async () => {
    const host = await start({ response_rate_limit: { header_limit: {}, percentage: { numerator: 100 } } });
    const none = send(host);
    expect(metric(host, "fault.response_rl_injected")).toBe(0);
    none.s.sendResponseHeaders([[":status", "200"]]);
    expect(none.s.sendResponseBody(Buffer.alloc(10))).toBe(Action.Continue);
    expect(none.s.sendResponseBody(Buffer.alloc(10))).toBe(Action.Continue);
    const { s } = send(host, [["x-envoy-fault-throughput-response", "2"]]);
    s.sendResponseHeaders([[":status", "200"]]);
    expect(s.sendResponseBody(Buffer.alloc(2048), true)).toBe(Action.Pause);
    host.advanceTime(999);
    expect(s.downstream.endOfStream).toBe(false);
    host.advanceTime(1);
    expect(s.downstream.endOfStream).toBe(true);
  });
});

describe("fault: configuration errors name the field", () => {
  const cases: Array<[string, unknown, string]> = [
    ["not JSON", "{", ""],
    ["unknown field", { abort: { http_status: 503 }, delays: {} }, "delays: unknown field"],
    ["runtime key", { abort_percent_runtime: "x" }, "abort_percent_runtime: Envoy runtime overrides"],
    ["abort without a type", { abort: { percentage: { numerator: 1 } } }, "abort: one of http_status, grpc_status, header_abort is required"],
    ["two abort types", { abort: { http_status: 503, grpc_status: 1 } }, "abort: set only one of"],
    ["http_status too high", { abort: { http_status: 600 } }, "abort.http_status: must be between 200 and 599"],
    ["http_status too low", { abort: { http_status: 199 } }, "abort.http_status: must be between 200 and 599"],
    ["http_status not a number", { abort: { http_status: "x" } }, "abort.http_status: must be an integer"],
    ["grpc_status out of range", { abort: { grpc_status: 17 } }, "abort.grpc_status: must be between 0 and 16"],
    ["header_abort not an object", { abort: { header_abort: true } }, "abort.header_abort: must be an object"],
    ["header_abort with fields", { abort: { header_abort: { x: 1 } } }, "abort.header_abort.x: unknown field"],
    ["unknown abort field", { abort: { http_status: 503, status: 1 } }, "abort.status: unknown field"],
    ["delay without a type", { delay: {} }, "delay: one of fixed_delay, header_delay is required"],
    ["fixed_delay malformed", { delay: { fixed_delay: "200ms" } }, "delay.fixed_delay: must be a duration"],
    ["fixed_delay zero", { delay: { fixed_delay: "0s" } }, "delay.fixed_delay: must be greater than 0s"],
    ["fixed_delay under 1 ms", { delay: { fixed_delay: "0.0001s" } }, "delay.fixed_delay: must be at least 0.001s"],
    ["negative numerator", { delay: { fixed_delay: "1s", percentage: { numerator: -1 } } }, "delay.percentage.numerator: must be between 0 and 4294967295"],
    ["bad denominator", { delay: { fixed_delay: "1s", percentage: { numerator: 1, denominator: "THOUSAND" } } }, "delay.percentage.denominator: must be HUNDRED, TEN_THOUSAND or MILLION"],
    ["percentage extra field", { delay: { fixed_delay: "1s", percentage: { value: 1 } } }, "delay.percentage.value: unknown field"],
    ["max_active_faults negative", { max_active_faults: -1 }, "max_active_faults: must be between 0 and 4294967295"],
    ["upstream_cluster not a string", { upstream_cluster: 1 }, "upstream_cluster: must be a string"],
    ["downstream_nodes not strings", { downstream_nodes: [1] }, "downstream_nodes[0]: must be a string"],
    ["header matcher without name", { headers: [{ exact_match: "x" }] }, "headers[0].name: is required"],
    ["header matcher bad name", { headers: [{ name: "a b" }] }, "headers[0].name: \"a b\" is not a valid header name"],
    ["header matcher two specifiers", { headers: [{ name: "a", exact_match: "x", prefix_match: "y" }] }, "headers[0]: set only one of"],
    ["header matcher empty prefix", { headers: [{ name: "a", string_match: { prefix: "" } }] }, "headers[0].string_match.prefix: must not be empty"],
    ["header matcher bad regex", { headers: [{ name: "a", safe_regex_match: { regex: "(" } }] }, "headers[0].safe_regex_match.regex: invalid regex"],
    ["rate limit zero", { response_rate_limit: { fixed_limit: { limit_kbps: 0 } } }, "response_rate_limit.fixed_limit.limit_kbps: must be between 1"],
    ["window empty", { active_window: {} }, "active_window: set start, end or both"],
    ["window bad time", { active_window: { start: "2025-13-01T00:00:00Z" } }, "active_window.start: must be an RFC 3339 timestamp"],
    ["window no zone", { active_window: { start: "2025-06-01T00:00:00" } }, "active_window.start: must be an RFC 3339 timestamp"],
    ["window bool", { active_window: { end: true } }, "active_window.end: must be an RFC 3339 timestamp (string) or seconds since the epoch (number), got a boolean"],
    ["filter_metadata", { filter_metadata: {} }, "filter_metadata: not supported"],
  ];

  test.each(cases)("%s is rejected", async (_what, config, message) => {
    const host = await Host.load(wasm, { pluginConfig: typeof config === "string" ? config : JSON.stringify(config) });
    expect(host.startVm()).toBe(true);
    expect(host.configure()).toBe(false);
    const errors = host.logMessages(LogLevel.Error);
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(/^fault: invalid configuration: /);
    expect(errors[0]).toContain(message);
  });

  test("the filter imports only what Envoy provides", async () => {
    const host = await Host.load(wasm);
    const modules = new Set(host.imports().map((i) => i.module));
    expect([...modules].sort()).toEqual(["env", "wasi_snapshot_preview1"]);
  });
});
