// In the host emulator, whose verify_signature, uncompress, compress, CEL and filter state answer as Envoy 1.40's.
import { join } from "node:path";
import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { deflateSync, inflateSync } from "node:zlib";
import { buildFilter } from "pwas/build";
import { Host, Action, LogLevel, type HostOptions } from "pwas/emulator";

const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pem = (k: KeyObject) => k.export({ type: "spki", format: "pem" }).toString();
const KEYS = { "partner-a": pem(ec.publicKey), "partner-b": pem(rsa.publicKey) };

/** The signature the filter expects: over "<method>\n<path>\n<body>", base64. */
function signature(method: string, path: string, body: string | Buffer, key: KeyObject = ec.privateKey, hash = "sha256"): string {
  return createSign(hash).update(`${method}\n${path}\n`).update(body).sign(key).toString("base64");
}

let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});

const start = (config: object, opts: HostOptions = {}) => Host.start(wasm, { pluginConfig: JSON.stringify({ keys: KEYS, ...config }), ...opts });

/** Sends a request with the given headers and body; returns the stream. */
async function send(config: object, method: string, path: string, headers: Array<[string, string]>, body?: string | Buffer, opts: HostOptions = {}) {
  const host = await start(config, opts);
  const s = host.newHttpStream();
  const action = s.sendRequestHeaders([[":method", method], [":path", path], [":authority", "api"], ...headers], body === undefined);
  const bodyAction = body === undefined ? undefined : s.sendRequestBody(body, true);
  return { host, s, action, bodyAction };
}

const signedBy = (key: string, sig: string): Array<[string, string]> => [["x-signature-key", key], ["x-signature", sig]];

describe("verifying", () => {
  test("an ECDSA signature over method, path and body passes; the signer is filter state and a property", async () => {
    const body = '{"order": 42}';
    const { host, s, bodyAction } = await send({}, "POST", "/orders?x=1", signedBy("partner-a", signature("POST", "/orders?x=1", body)), body);
    expect(s.localResponse).toBeNull();
    expect(bodyAction).toBe(Action.Continue);
    expect(Buffer.from(s.upstream.body).toString()).toBe(body);
    expect(s.envoyFilterState.get("envoy.string")).toEqual({ value: "partner-a", span: "Request" });
    expect(s.filterStateText("signed_by")).toBe("partner-a");
    expect(host.metric("signed_requests.verified")?.value).toBe(1);
  });

  test("an RSA key with sha512; a request without a body is verified at its headers", async () => {
    const { s, action } = await send({ hash: "sha512" }, "GET", "/report", signedBy("partner-b", signature("GET", "/report", "", rsa.privateKey, "sha512")));
    expect(action).toBe(Action.Continue);
    expect(s.localResponse).toBeNull();
    expect(s.envoyFilterState.get("envoy.string")?.value).toBe("partner-b");
  });

  test("a signature over another path or body is refused with 403, and the body never reaches the upstream", async () => {
    const { host, s } = await send({}, "POST", "/orders", signedBy("partner-a", signature("POST", "/orders", "pay 10")), "pay 1000");
    expect(s.localResponse).toMatchObject({ status: 403, details: "signature_invalid" });
    expect(Buffer.from(s.localResponse!.body).toString()).toBe('the signature does not match this request for key "partner-a"\n');
    expect(s.upstream.body.length).toBe(0);
    expect(s.envoyFilterState.size).toBe(0);
    expect(host.metric("signed_requests.refused")?.value).toBe(1);
    const other = await send({}, "POST", "/refunds", signedBy("partner-a", signature("POST", "/orders", "x")), "x");
    expect(other.s.localResponse?.status).toBe(403);
  });

  test("a missing, unknown-key or malformed signature: 401, 403, 400", async () => {
    expect((await send({}, "GET", "/", [])).s.localResponse).toMatchObject({ status: 401, details: "signature_missing" });
    expect((await send({}, "GET", "/", signedBy("partner-z", signature("GET", "/", "")))).s.localResponse).toMatchObject({ status: 403, details: "signature_unknown_key" });
    expect((await send({}, "GET", "/", signedBy("partner-a", "not*base64!"))).s.localResponse).toMatchObject({ status: 400, details: "signature_malformed" });
  });

  test("a body that ends with trailers is verified when they arrive", async () => {
    const host = await start({});
    const s = host.newHttpStream();
    s.sendRequestHeaders([[":method", "POST"], [":path", "/grpc"], ...signedBy("partner-a", signature("POST", "/grpc", "part1part2"))], false);
    expect(s.sendRequestBody("part1", false)).toBe(Action.Pause);
    s.sendRequestBody("part2", false);
    s.sendRequestTrailers([["x-checksum", "1"]]);
    expect(s.localResponse).toBeNull();
    expect(Buffer.from(s.upstream.body).toString()).toBe("part1part2");
    expect(s.envoyFilterState.get("envoy.string")?.value).toBe("partner-a");
  });

  test("hold_request_headers (with allow_on_headers_stop_iteration): the upstream sees nothing of a refused request", async () => {
    const opts = { allowOnHeadersStopIteration: true };
    const bad = await send({ hold_request_headers: true }, "POST", "/orders", signedBy("partner-a", signature("POST", "/orders", "a")), "b", opts);
    expect(bad.action).toBe(Action.Pause);
    expect(bad.s.localResponse?.status).toBe(403);
    expect(bad.s.upstream.headers).toBeNull();
    const good = await send({ hold_request_headers: true }, "POST", "/orders", signedBy("partner-a", signature("POST", "/orders", "a")), "a", opts);
    expect(good.s.upstream.headers).not.toBeNull();
    expect(Buffer.from(good.s.upstream.body).toString()).toBe("a");
  });
});

describe("selecting with CEL", () => {
  const config = { require_signature: "request.method != 'GET' || request.path.startsWith('/admin')" };

  test("an unselected request passes unsigned; a selected one without a signature is refused", async () => {
    const get = await send(config, "GET", "/catalog", []);
    expect(get.s.localResponse).toBeNull();
    expect(get.s.envoyFilterState.size).toBe(0);
    expect((await send(config, "GET", "/admin/users", [])).s.localResponse?.status).toBe(401);
    expect((await send(config, "POST", "/catalog", [], "x")).s.localResponse?.status).toBe(401);
  });

  test("an expression that fails to evaluate selects the request (fail closed)", async () => {
    const { s } = await send({ require_signature: "request.headers['x-tenant'] == 'acme'" }, "GET", "/", []);
    expect(s.localResponse?.status).toBe(401);
  });
});

describe("deflated bodies", () => {
  const text = JSON.stringify({ items: Array.from({ length: 50 }, (_, i) => ({ sku: `sku-${i}`, qty: i })) });
  const deflate: Array<[string, string]> = [["content-encoding", "deflate"]];

  test("are verified over their inflated content and forwarded as they came", async () => {
    const packed = deflateSync(text);
    const { s } = await send({}, "PUT", "/cart", [...deflate, ...signedBy("partner-a", signature("PUT", "/cart", text))], packed);
    expect(s.localResponse).toBeNull();
    expect(Buffer.from(s.upstream.body)).toEqual(packed);
    expect(s.envoyFilterState.get("envoy.string")?.value).toBe("partner-a");
  });

  test("corrupt data is a 400; too much after inflating, or too much deflated, a 413", async () => {
    const sig = signedBy("partner-a", signature("PUT", "/cart", text));
    const corrupt = Buffer.from(deflateSync(text));
    corrupt[corrupt.length - 1] ^= 0xff; // the Adler-32 check
    expect((await send({}, "PUT", "/cart", [...deflate, ...sig], corrupt)).s.localResponse).toMatchObject({ status: 400, details: "signature_bad_deflate" });
    expect((await send({}, "PUT", "/cart", [...deflate, ...sig], "not zlib at all")).s.localResponse?.status).toBe(400);
    const bomb = deflateSync(Buffer.alloc(4 << 20));
    expect(bomb.length).toBeLessThan(8192);
    expect((await send({}, "PUT", "/cart", [...deflate, ...sig], bomb)).s.localResponse).toMatchObject({ status: 413, details: "signature_body_too_large" });
    const big = deflateSync(randomBytes(4000));
    expect((await send({ max_deflated_bytes: 1024 }, "PUT", "/cart", [...deflate, ...sig], big)).s.localResponse?.status).toBe(413);
  });

  test("another content-encoding is a 415; a host without uncompress refuses deflate with 415", async () => {
    const sig = signedBy("partner-a", signature("PUT", "/cart", text));
    expect((await send({}, "PUT", "/cart", [["content-encoding", "gzip"], ...sig], "x")).s.localResponse?.status).toBe(415);
    const noZlib = await send({}, "PUT", "/cart", [...deflate, ...sig], deflateSync(text), { withoutForeignFunctions: ["uncompress"] });
    expect(noZlib.s.localResponse?.status).toBe(415);
  });
});

test("compress_responses deflates a response of known length for a client that accepts deflate", async () => {
  const host = await start({ compress_responses: true, require_signature: "false" });
  const body = "hello ".repeat(200);
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":method", "GET"], [":path", "/"], ["accept-encoding", "gzip, deflate"]], true);
  s.sendResponseHeaders([[":status", "200"], ["content-length", String(body.length)]], false);
  expect(s.sendResponseBody(body, true)).toBe(Action.Continue);
  const headers = new Map(s.downstream.headers!);
  expect(headers.get("content-encoding")).toBe("deflate");
  expect(headers.has("content-length")).toBe(false);
  expect(inflateSync(s.downstream.body).toString()).toBe(body);
  const plain = host.newHttpStream();
  plain.sendRequestHeaders([[":method", "GET"], [":path", "/"]], true);
  plain.sendResponseHeaders([[":status", "200"], ["content-length", "5"]], false);
  plain.sendResponseBody("hello", true);
  expect(Buffer.from(plain.downstream.body).toString()).toBe("hello");
});

describe("configuration", () => {
  async function refused(config: object, opts: HostOptions = {}): Promise<string[]> {
    const host = await Host.load(wasm, { pluginConfig: JSON.stringify(config), ...opts });
    host.startVm();
    expect(host.configure()).toBe(false);
    return host.logMessages(LogLevel.Error);
  }
  const prefix = "signed-requests: invalid configuration: ";

  test("a key that is not a PEM public key, or that Envoy cannot read, names the key's field", async () => {
    expect(await refused({ keys: { "partner-a": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" } })).toEqual([
      `${prefix}keys.partner-a: must be a PEM public key (-----BEGIN PUBLIC KEY----- ..., RSA or ECDSA)`,
    ]);
    expect(await refused({ keys: { "partner-b": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n" } })).toEqual([
      `${prefix}keys.partner-b: Envoy cannot read this public key (Failed to initialize digest verify.)`,
    ]);
    expect(await refused({})).toEqual([`${prefix}keys: is required`]);
    expect(await refused({ keys: {} })).toEqual([`${prefix}keys: must name at least one public key`]);
  });

  test("CEL that does not compile names require_signature; so does a host without CEL", async () => {
    expect(await refused({ keys: KEYS, require_signature: "request.method ==" })).toEqual([`${prefix}require_signature: not a valid CEL expression: request.method ==`]);
    expect(await refused({ keys: KEYS, require_signature: "true" }, { withoutForeignFunctions: ["expr_create"] })).toEqual([
      `${prefix}require_signature: CEL expressions need a host that evaluates them (Envoy's expr_create), and this one does not`,
    ]);
  });

  test("a host without verify_signature is refused; other fields are checked", async () => {
    expect(await refused({ keys: KEYS }, { withoutForeignFunctions: ["verify_signature"] })).toEqual([
      `${prefix}this host cannot verify signatures (it has no verify_signature foreign function: Envoy 1.40 or later has it)`,
    ]);
    expect(await refused({ keys: KEYS, hash: "md5" })).toEqual([`${prefix}hash: must be one of sha256, sha384, sha512, got "md5"`]);
    expect(await refused({ keys: KEYS, filter_state_key: "my.key" })).toEqual([
      `${prefix}filter_state_key: must be "" or one of envoy.string, envoy.hashable_string (Envoy builds the object with the factory of that name), got "my.key"`,
    ]);
    expect(await refused({ keys: KEYS, max_deflated_bytes: 1 << 20 })).toEqual([`${prefix}max_deflated_bytes: must be between 0 and 262144, got 1048576`]);
  });

  test("a host without filter state or declarations still publishes the signer as a property", async () => {
    const { s, host } = await send({}, "GET", "/", signedBy("partner-a", signature("GET", "/", "")), undefined, {
      withoutForeignFunctions: ["set_envoy_filter_state", "declare_property"],
    });
    expect(s.localResponse).toBeNull();
    expect(s.filterStateText("signed_by")).toBe("partner-a");
    expect(host.logMessages(LogLevel.Warn)).toEqual([
      "signed-requests: this host cannot declare properties; signed_by is set as plain bytes",
      "signed-requests: this host has no set_envoy_filter_state; the signer is published as the property only",
    ]);
  });
});
