// End to end: the module in a real Envoy, whose verify_signature, uncompress, compress and CEL do the work.
// A header_mutation filter after it copies the published signer (filter state and the declared property) into
// request headers, and a route sends partner-b's requests to their own upstream, as a platform team would.
import { join } from "node:path";
import { request } from "node:http";
import { createSign, generateKeyPairSync, type KeyObject } from "node:crypto";
import { deflateSync, inflateSync } from "node:zlib";
import { buildFilter } from "pwas/build";
import { envoyHarness, httpListener, wasmFilter, nativeFilter, cluster, type StartedEnvoy, type EchoServer } from "pwas/envoy";

const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pem = (k: KeyObject) => k.export({ type: "spki", format: "pem" }).toString();
const KEYS = { "partner-a": pem(ec.publicKey), "partner-b": pem(rsa.publicKey) };
const SELECT = "request.method != 'GET' || request.path.startsWith('/admin')";

function signature(method: string, path: string, body: string | Buffer, key: KeyObject = ec.privateKey): string {
  return createSign("sha256").update(`${method}\n${path}\n`).update(body).sign(key).toString("base64");
}

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

/** One request over node:http, so the body arrives as Envoy sent it (fetch would inflate it). */
function send(url: string, method: string, headers: Record<string, string>, body?: string | Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const signed = (key: string, sig: string) => ({ "x-signature-key": key, "x-signature": sig });

/**
 * Copies the signer into request headers: the filter state object, and the declared property (wasm.<name>).
 * What the client sent under those names goes first: an empty value (no signer) adds no header.
 */
const copySigner = nativeFilter("envoy.filters.http.header_mutation", {
  mutations: {
    request_mutations: [
      { remove: "x-signer" },
      { remove: "x-signed-by" },
      { append: { header: { key: "x-signer", value: "%FILTER_STATE(envoy.string:PLAIN)%" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" } },
      { append: { header: { key: "x-signed-by", value: "%FILTER_STATE(wasm.signed_by:PLAIN)%" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" } },
    ],
  },
}, "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation");

const harness = envoyHarness({ scope: "all" });
let wasm: string;
let envoy: StartedEnvoy;
let echo: EchoServer;

beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
  echo = await harness.startEcho({ name: "echo" });
  const partnerB = await harness.startEcho({ name: "partner-b" });
  const routes = [
    { match: { prefix: "/", filterState: [{ key: "envoy.string", exact: "partner-b" }] }, cluster: "partner-b" },
    { match: { prefix: "/" }, cluster: "echo" },
  ];
  const plugin = (configuration: object, allowOnHeadersStopIteration: boolean) =>
    wasmFilter({ name: "signed-requests", wasmFile: wasm, configuration: JSON.stringify({ keys: KEYS, require_signature: SELECT, ...configuration }), allowOnHeadersStopIteration });
  envoy = await harness.startEnvoy({
    listeners: [
      httpListener("held", {
        httpFilters: [plugin({ hold_request_headers: true, compress_responses: true }, true), copySigner],
        virtualHosts: [{ name: "all", routes }],
      }),
      httpListener("streaming", {
        httpFilters: [plugin({}, false), copySigner],
        virtualHosts: [{ name: "all", routes }],
      }),
    ],
    clusters: [cluster("echo", echo.port), cluster("partner-b", partnerB.port)],
  });
}, 120_000);

const url = (path: string, listener = "held") => envoy.url(path, listener);

test("a good signature passes; the upstream sees the signer from the filter state and from the declared property", async () => {
  const body = '{"order": 42}';
  const res = await send(url("/orders"), "POST", { ...signed("partner-a", signature("POST", "/orders", body)), "content-type": "application/json" }, body);
  expect(res.status).toBe(200);
  const echoed = JSON.parse(res.body.toString());
  expect(echoed).toMatchObject({ upstream: "echo", path: "/orders", body });
  expect(echoed.headers["x-signer"]).toBe("partner-a");
  expect(echoed.headers["x-signed-by"]).toBe("partner-a");
  expect(await envoy.waitForStat("wasmcustom.signed_requests.verified", (v) => v !== undefined && v >= 1)).toBeGreaterThanOrEqual(1);
});

test("a route matching the filter state sends partner-b's requests (RSA key) to their own upstream", async () => {
  const res = await send(url("/admin/report"), "GET", signed("partner-b", signature("GET", "/admin/report", "", rsa.privateKey)));
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body.toString())).toMatchObject({ upstream: "partner-b", headers: { "x-signer": "partner-b" } });
});

test("a bad signature is refused with 403 and the reason", async () => {
  const res = await send(url("/orders"), "POST", signed("partner-a", signature("POST", "/orders", "pay 10")), "pay 1000");
  expect(res.status).toBe(403);
  expect(res.body.toString()).toBe('the signature does not match this request for key "partner-a"\n');
});

test("CEL selects: an unsigned GET passes without a signer; an unsigned POST or /admin request gets 401", async () => {
  const get = await send(url("/catalog"), "GET", { "x-signer": "spoofed" });
  expect(get.status).toBe(200);
  const echoed = JSON.parse(get.body.toString());
  expect(echoed.upstream).toBe("echo");
  expect(echoed.headers["x-signer"]).toBeUndefined();
  expect((await send(url("/catalog"), "POST", {}, "x")).status).toBe(401);
  const admin = await send(url("/admin/users"), "GET", {});
  expect(admin.status).toBe(401);
  expect(admin.body.toString()).toBe("this request must be signed: send x-signature-key and x-signature\n");
});

test("a deflated body is verified over its content; corrupt deflate data is a 400", async () => {
  const text = JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ sku: `sku-${i}` })) });
  const headers = { ...signed("partner-a", signature("PUT", "/cart", text)), "content-encoding": "deflate" };
  const good = await send(url("/cart"), "PUT", headers, deflateSync(text));
  expect(good.status).toBe(200);
  expect(JSON.parse(good.body.toString()).headers["x-signer"]).toBe("partner-a");
  const corrupt = Buffer.from(deflateSync(text));
  corrupt[corrupt.length - 1] ^= 0xff;
  const bad = await send(url("/cart"), "PUT", headers, corrupt);
  expect(bad.status).toBe(400);
  expect(bad.body.toString()).toMatch(/^the body is not valid content-encoding: deflate \(zlib\) data/);
  const bomb = await send(url("/cart"), "PUT", headers, deflateSync(Buffer.alloc(4 << 20)));
  expect(bomb.status).toBe(413);
});

test("a response of known length is deflated for a client that accepts deflate", async () => {
  const res = await send(url("/catalog"), "GET", { "accept-encoding": "deflate" });
  expect(res.status).toBe(200);
  expect(res.headers["content-encoding"]).toBe("deflate");
  expect(JSON.parse(inflateSync(res.body).toString()).path).toBe("/catalog");
});

test("without hold_request_headers the body is still checked before the upstream can answer", async () => {
  const good = await send(url("/orders", "streaming"), "POST", signed("partner-a", signature("POST", "/orders", "ok")), "ok");
  expect(good.status).toBe(200);
  expect(JSON.parse(good.body.toString()).body).toBe("ok");
  const answered = echo.requests;
  const bad = await send(url("/orders", "streaming"), "POST", signed("partner-a", signature("POST", "/orders", "ok")), "not ok");
  expect(bad.status).toBe(403);
  // The upstream had the headers, never the body: the refused request was reset, not answered.
  expect(echo.requests).toBe(answered);
  // The route and header_mutation ran on the headers, before the signer was known (hold_request_headers is for that).
  const routed = await send(url("/orders", "streaming"), "POST", signed("partner-b", signature("POST", "/orders", "b", rsa.privateKey)), "b");
  expect(routed.status).toBe(200);
  const echoed = JSON.parse(routed.body.toString());
  expect(echoed.upstream).toBe("echo");
  expect(echoed.headers["x-signer"]).toBeUndefined();
});

describe("Envoy refuses a bad configuration with the field in its log", () => {
  const start = (configuration: object) => harness.startEnvoy({
    listeners: [httpListener("main", {
      httpFilters: [wasmFilter({ name: "signed-requests", wasmFile: wasm, configuration: JSON.stringify(configuration) })],
      virtualHosts: [{ name: "all", routes: [{ match: { prefix: "/" }, directResponse: { status: 200 } }] }],
    })],
  });

  test("a public key Envoy cannot read", async () => {
    await expect(start({ keys: { "partner-a": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n" } }))
      .rejects.toThrow(/signed-requests: invalid configuration: keys\.partner-a: Envoy cannot read this public key \(Failed to initialize digest verify\.\)/);
  });

  test("CEL that does not compile", async () => {
    await expect(start({ keys: KEYS, require_signature: "request.method ==" }))
      .rejects.toThrow(/signed-requests: invalid configuration: require_signature: not a valid CEL expression: request\.method ==/);
  });
});
