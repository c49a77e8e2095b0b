/**
 * Differential conformance: every scenario of the conformance filter (sdk/tests/conformance) runs in a real
 * Envoy and in the emulator, and everything a user can observe must be the same in both: status, what the
 * upstream received, response headers and body, local replies, the plugin's log lines, its metrics, and the
 * results of shared data, queues, callouts, gRPC and properties (which the filter writes into request headers).
 *
 * Envoy is the truth. The emulator plays the parts Envoy's surroundings play: the connection manager (the
 * request headers it hands the first filter), the router (route choice on the final headers) and the upstreams
 * (the echo's JSON reply, the gRPC server's answers), using the same code as the real upstreams where possible.
 *
 * Normalised, because they legitimately differ between the two worlds:
 * - `x-request-id`: Envoy generates a random one per request; the emulator is handed a fixed one.
 * - `x-envoy-expected-rq-timeout-ms`: added by Envoy's router after the filter chain, which the emulator ends at;
 *   `transfer-encoding` on the upstream request: the HTTP/1.1 codec's framing of a body without content-length.
 * - response `date`, `server`, `connection`, `transfer-encoding`, `x-envoy-upstream-service-time`: Envoy's
 *   codec and router; `content-length: 0` on a response without a body: the HTTP/1.1 codec writes it for a
 *   headers-only response; and `content-length` of echo replies, whose JSON embeds ports and request ids.
 * - the response-body scenario's "(N bytes seen)" and `x-upstream-content-length`: the echo's reply length
 *   (ports, request ids); instead each world must agree with itself (N equals the upstream's content-length).
 * The request's Host/:authority is the real Envoy listener address in both worlds, so it needs no normalising.
 * Histograms are not compared: Envoy's admin API shows them only after a stats flush interval.
 */
import { Host, LogLevel, WasmTrapError, type HttpStream } from "../src/emulator";
import { envoyHarness, type EchoServer, type StartedEnvoy } from "../src/envoy";
import { conformanceRequest } from "./support/conformance-client";
import { buildConformance, conformanceBootstrap, CONFORMANCE_CONFIG, PLUGIN, pluginLogLines } from "./support/conformance";
import { HOST_EXTENSION_SCENARIOS } from "./support/conformance-hostext";
import { pong, startGrpcServer, unknownMethod, type GrpcServer } from "./support/grpc";
import { waitFor } from "../src/envoy";

interface Scenario {
  /** Unique label in test names. */
  name: string;
  /** The `x-scenario` header value; none when omitted. */
  scenario?: string;
  /** More request headers, sent byte for byte (char codes < 256); an array sends the header once per value. */
  headers?: Record<string, string | string[]>;
  /** A request body (POST with content-length). */
  body?: string;
  /**
   * A request body in chunks (POST, chunked): each reaches the filter in a body callback of its own (the next
   * is sent once Envoy logged the filter's line for it), then the end of stream comes alone, with no data.
   */
  chunks?: string[];
}

/** Sent twice by the repeated-header scenarios: two entries of one name in Envoy's map. */
const MULTI = { "x-multi": ["first", "second"] };

const SCENARIOS: Scenario[] = [
  { name: "no scenario (pass-through)" },
  { name: "headers", scenario: "headers", headers: { "x-replaced": "old", "x-removed": "gone", "x-bytes": "caf\xe9" } },
  { name: "set-all", scenario: "set-all", headers: { "x-drop-me": "1", "x-keep-me": "2" } },
  { name: "local-reply", scenario: "local-reply" },
  { name: "grpc-error to a plain HTTP request", scenario: "grpc-error" },
  { name: "grpc-error to a gRPC request", scenario: "grpc-error", headers: { "content-type": "application/grpc" } },
  { name: "delay (resumed from the tick)", scenario: "delay" },
  { name: "counter, first", scenario: "counter" },
  { name: "counter, second", scenario: "counter" },
  { name: "cas", scenario: "cas" },
  { name: "queue-put", scenario: "queue-put", headers: { "x-message": "hello queue" } },
  { name: "queue-get", scenario: "queue-get" },
  { name: "callout", scenario: "callout" },
  { name: "callout-bad", scenario: "callout-bad" },
  { name: "grpc unary", scenario: "grpc" },
  { name: "grpc unary to an unknown method", scenario: "grpc", headers: { "x-grpc-method": "Missing" } },
  { name: "grpc-stream", scenario: "grpc-stream" },
  { name: "properties", scenario: "properties" },
  { name: "reroute", scenario: "reroute" },
  { name: "foreign-missing", scenario: "foreign-missing" },
  { name: "log", scenario: "log" },
  { name: "body-replace", scenario: "body-replace", body: "original" },
  { name: "body-append", scenario: "body-append", body: "original" },
  { name: "body-prepend", scenario: "body-prepend", body: "original" },
  { name: "response-body", scenario: "response-body" },
  { name: "body chunks held with StopIterationAndBuffer", scenario: "body-chunks", headers: { "x-body-hold": "buffer" }, chunks: ["first-", "second-chunk"] },
  { name: "body chunks held with StopIterationAndWatermark", scenario: "body-chunks", headers: { "x-body-hold": "watermark" }, chunks: ["first-", "second-chunk"] },
  { name: "tick period changed while ticks run", scenario: "tick-rearm" },
  { name: "replace a header sent twice", scenario: "hdr-replace-repeated", headers: MULTI },
  { name: "add to a header sent twice", scenario: "hdr-add-repeated", headers: MULTI },
  { name: "remove a header sent twice", scenario: "hdr-remove-repeated", headers: MULTI },
  { name: "get a header sent twice", scenario: "hdr-get-repeated", headers: MULTI },
  { name: "header names in mixed case", scenario: "hdr-case", headers: { "X-Mixed": "mixed", "X-Replace-Me": "old", "x-remove-me": "gone" } },
  { name: "pseudo-headers", scenario: "hdr-pseudo" },
  ...HOST_EXTENSION_SCENARIOS,
  // Last: the trap fails the VM (FAIL_CLOSED, Envoy's default), so every later request gets a 503.
  { name: "trap", scenario: "trap" },
  { name: "a request after the trap", scenario: "headers" },
];

const PATH = "/conformance?q=1";
const FIXED_REQUEST_ID = "00000000-0000-4000-8000-000000000000";
const REQUEST_ID = "<request-id>";

/** Everything compared between the two worlds for one scenario. */
interface Observation {
  status: number;
  /** Which upstream answered ("a" or "b"), or null when the request never reached one. */
  upstream: string | null;
  /** What that upstream received (from the echo's JSON in Envoy, from the forwarded request in the emulator). */
  upstreamRequest: { method: string; path: string; headers: Record<string, string>; body: string } | null;
  responseHeaders: Record<string, string>;
  /** The response body, unless it is the echo's reply (whose content is `upstreamRequest`). */
  body: string | null;
  /** The plugin's log lines during the scenario, "level: message". */
  logs: string[];
  metrics: { requests: number; inFlight: number };
}

const LEVEL_NAMES: Record<number, string> = {
  [LogLevel.Trace]: "trace",
  [LogLevel.Debug]: "debug",
  [LogLevel.Info]: "info",
  [LogLevel.Warn]: "warning",
  [LogLevel.Error]: "error",
  [LogLevel.Critical]: "critical",
};

const TRANSPORT_HEADERS = new Set(["date", "server", "connection", "transfer-encoding", "x-envoy-upstream-service-time"]);

const h = envoyHarness({ scope: "all" });
let envoy: StartedEnvoy;
let echoA: EchoServer;
let echoB: EchoServer;
let grpc: GrpcServer;
let host: Host;
let compared = 0;
let identical = 0;
const startedAt = Date.now();

beforeAll(async () => {
  const wasm = await buildConformance();
  echoA = await h.startEcho({ name: "a" });
  echoB = await h.startEcho({ name: "b" });
  const callout = await h.startEcho({ name: "echo" });
  grpc = await startGrpcServer();
  envoy = await h.startEnvoy(conformanceBootstrap(wasm, { a: echoA.port, b: echoB.port, callout: callout.port, grpc: grpc.port }));
  host = await Host.start(wasm, {
    pluginName: PLUGIN.name,
    rootId: PLUGIN.rootId,
    vmId: PLUGIN.vmId,
    vmConfig: PLUGIN.vmConfiguration,
    pluginConfig: JSON.stringify(CONFORMANCE_CONFIG),
    // Envoy runs at -l info: proxy_get_log_level answers Info and lower levels are dropped.
    logLevel: LogLevel.Info,
    clusters: ["a", "b", "echo", "grpc"],
    // conformanceBootstrap's listener sets no traffic_direction: Envoy reports UNSPECIFIED (0).
    properties: { "xds.listener_direction": 0 },
  });
}, 120_000);

afterAll(async () => {
  await grpc?.close();
  console.log(`conformance: ${compared} scenarios compared, ${identical} identical (${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
});

test("conformance: start-up logs the same configuration line in Envoy and in the emulator", () => {
  const envoyLines = new Set(pluginLogLines(envoy.log()).map((l) => `${l.level}: ${l.message}`));
  const emulatorLines = new Set(host.logs().map((l) => `${LEVEL_NAMES[l.level]}: ${l.message}`));
  expect([...emulatorLines]).toEqual([...envoyLines]);
  expect([...envoyLines]).toEqual([`info: conformance: configured, vm config '${PLUGIN.vmConfiguration}'`]);
  host.clearLogs();
});

describe.each(SCENARIOS)("conformance: $name", (sc) => {
  test("behaves the same in Envoy and in the emulator", async () => {
    const emulated = runInEmulator(sc);
    const real = await runInEnvoy(sc, emulated);
    compared += 1;
    expect(emulated).toEqual(real);
    identical += 1;
  });
});

// ---------------------------------------------------------------------------------------------------------
// Envoy

/** The client's headers for a scenario (Host and Connection are added by node:http). */
function clientHeaders(sc: Scenario): Record<string, string | string[]> {
  return { ...(sc.scenario !== undefined ? { "x-scenario": sc.scenario } : {}), ...(sc.headers ?? {}) };
}

async function runInEnvoy(sc: Scenario, expected: Observation): Promise<Observation> {
  const logsBefore = pluginLogLines(envoy.log()).length;
  const before = { a: echoA.requests, b: echoB.requests };
  // body-chunks: chunk i is in once the filter logged its callback for it.
  const afterChunk = (i: number) =>
    waitFor(() => (pluginLogLines(envoy.log()).length >= logsBefore + i + 1 ? true : undefined), { timeoutMs: 5000, what: `body chunk ${i} to reach the filter` });
  const res = await conformanceRequest(envoy.url(PATH), { headers: clientHeaders(sc), body: sc.body, chunks: sc.chunks, afterChunk });
  const upstream = echoA.requests > before.a ? "a" : echoB.requests > before.b ? "b" : null;

  let upstreamRequest: Observation["upstreamRequest"] = null;
  let body: string | null = res.body.toString("latin1");
  const reply = upstream !== null ? echoReply(res.body) : undefined;
  if (reply !== undefined) {
    const headers = { ...reply.headers };
    delete headers["x-envoy-expected-rq-timeout-ms"];
    delete headers["transfer-encoding"];
    if ("x-request-id" in headers) headers["x-request-id"] = REQUEST_ID;
    upstreamRequest = { method: reply.method, path: reply.path, headers: sortKeys(headers), body: reply.body };
    body = null;
  }
  const responseHeaders = normaliseResponseHeaders(res.headers, reply !== undefined, res.body.length === 0);
  body = normaliseBody(sc, responseHeaders, body);

  // Envoy writes the plugin's log lines before it answers, but they reach us through a pipe that may be read
  // after the response; and the queue delivery is posted to another thread. Wait until Envoy has logged as
  // many lines as the emulator did (or give up after a while and compare what there is).
  const lines = await settle(() => pluginLogLines(envoy.log()).slice(logsBefore), (l) => l.length >= expected.logs.length);
  // proxy_on_log (which decrements the gauge) runs when Envoy finishes the stream, around the response.
  const metrics = await settle(
    async () => {
      const stats = await envoy.stats();
      return { requests: stats.get("wasmcustom.conformance.requests") ?? 0, inFlight: stats.get("wasmcustom.conformance.in_flight") ?? 0 };
    },
    (m) => m.requests === expected.metrics.requests && m.inFlight === expected.metrics.inFlight,
  );
  return {
    status: res.status,
    upstream,
    upstreamRequest,
    responseHeaders,
    body,
    logs: lines.map((l) => `${l.level}: ${l.message}`),
    metrics,
  };
}

type EchoJson = { method: string; path: string; headers: Record<string, string>; body: string };

/** The echo's JSON reply, or undefined when the body is something else (a rewritten response). */
function echoReply(body: Buffer): EchoJson | undefined {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as Partial<EchoJson>;
    return typeof parsed.method === "string" && typeof parsed.headers === "object" ? (parsed as EchoJson) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls until `done(value)` or a deadline, then returns the last value either way (the caller compares it). */
async function settle<T>(probe: () => T | Promise<T>, done: (v: T) => boolean, timeoutMs = 2000): Promise<T> {
  let last = await probe();
  if (done(last)) return last;
  await waitFor(
    async () => {
      last = await probe();
      return done(last) ? true : undefined;
    },
    { timeoutMs, what: "Envoy to catch up" },
  ).catch(() => undefined);
  return last;
}

// ---------------------------------------------------------------------------------------------------------
// The emulator

/**
 * The request headers Envoy's connection manager hands the first filter for our HTTP/1.1 client's request:
 * the pseudo-headers, the client's headers (Host as :authority, the hop-by-hop Connection removed), then
 * x-forwarded-proto and x-request-id, which the connection manager adds.
 */
function headersAsEnvoyDelivers(sc: Scenario): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [
    [":authority", Buffer.from(`127.0.0.1:${envoy.port()}`)],
    [":path", Buffer.from(PATH)],
    [":method", Buffer.from(sc.body !== undefined || sc.chunks !== undefined ? "POST" : "GET")],
    [":scheme", Buffer.from("http")],
  ];
  for (const [k, v] of Object.entries(clientHeaders(sc))) for (const one of [v].flat()) out.push([k, Buffer.from(one, "latin1")]);
  if (sc.body !== undefined) out.push(["content-length", Buffer.from(String(Buffer.byteLength(sc.body)))]);
  out.push(["x-forwarded-proto", Buffer.from("http")], ["x-request-id", Buffer.from(FIXED_REQUEST_ID)]);
  return out;
}

function runInEmulator(sc: Scenario): Observation {
  const logsBefore = host.logs().length;
  const stream = host.newHttpStream();
  try {
    const hasBody = sc.body !== undefined || sc.chunks !== undefined;
    stream.sendRequestHeaders(headersAsEnvoyDelivers(sc), !hasBody);
    if (sc.body !== undefined) stream.sendRequestBody(sc.body, true);
    if (sc.chunks !== undefined) {
      for (const chunk of sc.chunks) stream.sendRequestBody(chunk, false);
      stream.sendRequestBody("", true);
    }
    answerCallouts();
    // The delay scenario resumes once a tick finds its wake-up time (3 periods) passed.
    if (sc.scenario === "delay") host.advanceTime(CONFORMANCE_CONFIG.tick_ms * 4);
    // tick-rearm resumes on the first tick after it set a 1 s period.
    if (sc.scenario === "tick-rearm") host.advanceTime(1000 + CONFORMANCE_CONFIG.tick_ms);
    playUpstream(stream);
    stream.complete();
  } catch (e) {
    // A trap fails the VM; the stream then shows what Envoy's failure policy made of it.
    if (!(e instanceof WasmTrapError)) throw e;
  }

  const down = stream.downstream;
  const upstreamReached = stream.upstream.headers !== null && stream.upstream.endOfStream;
  const pairs = down.headers ?? [];
  const status = Number(pairs.find(([k]) => k === ":status")?.[1] ?? 0);
  const raw: Record<string, string> = {};
  for (const [k, v] of pairs) if (!k.startsWith(":")) raw[k] = k in raw ? `${raw[k]}, ${v}` : v;
  const isEchoReply = upstreamReached && echoReply(Buffer.from(down.body)) !== undefined;
  const responseHeaders = normaliseResponseHeaders(raw, isEchoReply, down.body.length === 0);
  const body = isEchoReply ? null : normaliseBody(sc, responseHeaders, Buffer.from(down.body).toString("latin1"));
  return {
    status,
    upstream: upstreamReached ? routeOf(stream) : null,
    // As in Envoy, what the upstream received is known from its reply, so only when the client sees that reply.
    upstreamRequest: isEchoReply ? forwardedRequest(stream) : null,
    responseHeaders,
    body,
    logs: host.logs().slice(logsBefore).map((l) => `${LEVEL_NAMES[l.level]}: ${l.message}`),
    metrics: { requests: host.metric("conformance.requests")?.value ?? 0, inFlight: host.metric("conformance.in_flight")?.value ?? 0 },
  };
}

/** Envoy's route table: `x-route: b` goes to "b", everything else to "a" (decided on the final headers). */
function routeOf(stream: HttpStream): string {
  return header(stream, "x-route") === "b" ? "b" : "a";
}

function header(stream: HttpStream, name: string): string | undefined {
  const found = stream.requestHeadersBytes().find(([k]) => Buffer.from(k).toString("latin1") === name);
  return found && Buffer.from(found[1]).toString("latin1");
}

/** The forwarded request as the echo would report it (header bytes as latin1, as node:http decodes them). */
function forwardedRequest(stream: HttpStream): NonNullable<Observation["upstreamRequest"]> {
  const headers: Record<string, string> = {};
  let method = "";
  let path = "";
  for (const [kb, vb] of stream.requestHeadersBytes()) {
    const k = Buffer.from(kb).toString("latin1");
    const v = Buffer.from(vb).toString("latin1");
    if (k === ":method") method = v;
    else if (k === ":path") path = v;
    else if (k === ":authority") headers.host = v;
    else if (!k.startsWith(":")) headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  if ("x-request-id" in headers) headers["x-request-id"] = REQUEST_ID;
  return { method, path, headers: sortKeys(headers), body: Buffer.from(stream.upstream.body).toString("utf8") };
}

/** Answers the request as the echo upstream does: 200 with the JSON of what it received. */
function playUpstream(stream: HttpStream): void {
  if (stream.upstream.headers === null || !stream.upstream.endOfStream || stream.closed) return;
  const seen = forwardedRequest(stream);
  const reply = Buffer.from(JSON.stringify({ upstream: routeOf(stream), ...seen }));
  stream.sendResponseHeaders([[":status", "200"], ["content-type", "application/json"], ["content-length", String(reply.length)]]);
  if (!stream.closed) stream.sendResponseBody(reply, true);
}

/**
 * Answers every pending callout the way the real upstreams do: the callout echo with the JSON of the request
 * Envoy's async client sent it, the gRPC server with "pong:" + each message (or UNIMPLEMENTED).
 */
function answerCallouts(): void {
  for (const call of host.httpCalls()) host.respondHttpCall(call.token, { headers: [[":status", "200"], ["content-type", "application/json"]], body: calloutEchoReply(call.headerBytes, call.body, call.timeoutMs) });
  for (const call of host.grpcCalls()) {
    const path = `/${call.service}/${call.method}`;
    if (call.method === "Unary") host.respondGrpcCall(call.token, { status: 0, message: pong(call.message) });
    else {
      const refusal = unknownMethod(path);
      host.respondGrpcCall(call.token, { status: refusal.status, statusMessage: refusal.message });
    }
  }
  for (const s of host.grpcStreams()) {
    for (const m of s.sent) host.grpcStreamReceive(s.token, { message: pong(m) });
    host.closeGrpcStream(s.token, 0);
  }
}

/** The echo's JSON for a callout request as it arrives through Envoy's async HTTP client. */
function calloutEchoReply(headerBytes: Array<[Uint8Array, Uint8Array]>, body: Uint8Array, timeoutMs: number): string {
  const headers: Record<string, string> = {};
  let method = "";
  let path = "";
  for (const [kb, vb] of headerBytes) {
    const k = Buffer.from(kb).toString("latin1");
    const v = Buffer.from(vb).toString("latin1");
    if (k === ":method") method = v;
    else if (k === ":path") path = v;
    else if (k === ":authority") headers.host = v;
    else if (!k.startsWith(":")) headers[k] = v;
  }
  // What Envoy's async client and router add to a callout (seen in the echo's replies in a real Envoy).
  headers["x-envoy-internal"] = "true";
  headers["x-envoy-expected-rq-timeout-ms"] = String(timeoutMs);
  return JSON.stringify({ upstream: "echo", method, path, headers, body: Buffer.from(body).toString("utf8") });
}

// ---------------------------------------------------------------------------------------------------------
// Normalisation shared by both worlds

function normaliseResponseHeaders(headers: Record<string, string>, fromEcho: boolean, noBody: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (TRANSPORT_HEADERS.has(k)) continue;
    if (fromEcho && k === "content-length") continue;
    if (noBody && k === "content-length" && v === "0") continue;
    out[k] = v;
  }
  return sortKeys(out);
}

/** response-body: "(N bytes seen)" must equal the upstream's content-length; then both become placeholders. */
function normaliseBody(sc: Scenario, responseHeaders: Record<string, string>, body: string | null): string | null {
  if (sc.scenario !== "response-body" || body === null) return body;
  const seen = /\((\d+) bytes seen\)/.exec(body);
  const length = responseHeaders["x-upstream-content-length"];
  const consistent = seen !== null && seen[1] === length;
  responseHeaders["x-upstream-content-length"] = consistent ? "<upstream length>" : `${length} (inconsistent with the body)`;
  return body.replace(/\(\d+ bytes seen\)/, consistent ? "(<upstream length> bytes seen)" : "$&");
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
