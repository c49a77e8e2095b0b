// Envoy's host extensions through the SDK's typed API (sdk/assembly/envoy.ts), exercised with the compiled
// conformance filter in the emulator: results checked with node:crypto and node:zlib, and a host without a
// function answering NotFound. e2e/conformance.test.ts runs the same scenarios against Envoy.
import { join } from "node:path";
import { createPublicKey, createSign, generateKeyPairSync, verify } from "node:crypto";
import { deflateSync } from "node:zlib";
import { buildFilter } from "../../src/build/build";
import { Host, WasmResult } from "../../src/emulator";

const ROOT = join(__dirname, "..", "..");
let wasm: string;

beforeAll(async () => {
  wasm = (await buildFilter(join(ROOT, "sdk/tests/conformance"))).wasmPath;
}, 120_000);

const CONFIG = JSON.stringify({ callout_cluster: "echo", grpc_cluster: "grpc", tick_ms: 10 });
const start = (opts: Parameters<typeof Host.start>[1] = {}) => Host.start(wasm, { pluginConfig: CONFIG, ...opts });

function request(host: Host, scenario: string, extra: Record<string, string> = {}) {
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":method", "GET"], [":path", "/"], [":authority", "example.com"], ["x-scenario", scenario], ...Object.entries(extra)], true);
  return { s, h: new Map(s.requestHeaders()) };
}

const hex = (b: Uint8Array | string) => Buffer.from(b).toString("hex");
const fnv1a = (b: Uint8Array) => b.reduce((h, c) => Math.imul(h ^ c, 0x01000193) >>> 0, 0x811c9dc5);
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const TEXT = "signed text";

describe("feature detection", () => {
  test("hostHas: every Envoy function the emulator implements, none that it lacks", async () => {
    const { h } = request(await start(), "host-has");
    expect(h.get("x-host-has")).toBe(
      "set_envoy_filter_state=yes,declare_property=yes,verify_signature=yes,sign=yes,compress=yes,uncompress=yes,expr_delete=yes,no_such_function=no",
    );
  });

  test("hostHas: a host emulated without verify_signature and compress says so, and the calls return NotFound", async () => {
    const host = await start({ withoutForeignFunctions: ["verify_signature", "compress"] });
    expect(request(host, "host-has").h.get("x-host-has")).toMatch(/verify_signature=no,sign=yes,compress=no,uncompress=yes/);
    const v = request(host, "verify", { "x-hash": "sha256", "x-key-hex": "00", "x-sig-hex": "00", "x-text": "t" }).h;
    expect([v.get("x-verify-status"), v.get("x-verify-ok")]).toEqual([String(WasmResult.NotFound), "false"]);
    expect(request(host, "zlib", { "x-text": "abc" }).h.get("x-compress-status")).toBe(String(WasmResult.NotFound));
  });
});

describe("signatures", () => {
  test("sign makes an RSA signature node:crypto verifies; verify accepts node's signature with a PEM or DER key", async () => {
    const host = await start();
    const pem = rsa.privateKey.export({ type: "pkcs8", format: "pem" });
    const signed = request(host, "sign", { "x-hash": "SHA256", "x-key-hex": hex(pem), "x-text": TEXT }).h;
    expect([signed.get("x-sign-status"), signed.get("x-sign-ok"), signed.get("x-sign-error")]).toEqual(["0", "true", ""]);
    expect(verify("sha256", Buffer.from(TEXT), rsa.publicKey, Buffer.from(signed.get("x-signature")!, "hex"))).toBe(true);

    const sig = createSign("sha384").update(TEXT).sign(rsa.privateKey);
    for (const key of [rsa.publicKey.export({ type: "spki", format: "pem" }), rsa.publicKey.export({ type: "spki", format: "der" })]) {
      const v = request(host, "verify", { "x-hash": "sha384", "x-key-hex": hex(key), "x-sig-hex": hex(sig), "x-text": TEXT }).h;
      expect([v.get("x-verify-status"), v.get("x-verify-ok"), v.get("x-verify-error")]).toEqual(["0", "true", ""]);
    }
    expect(createPublicKey(rsa.publicKey.export({ type: "spki", format: "pem" })).asymmetricKeyType).toBe("rsa");
  });

  test("a tampered text, a bad hash name, an unreadable key and no key give Envoy's answers", async () => {
    const host = await start();
    const pub = hex(rsa.publicKey.export({ type: "spki", format: "pem" }));
    const sig = hex(createSign("sha256").update(TEXT).sign(rsa.privateKey));
    const v = (extra: Record<string, string>) => {
      const h = request(host, "verify", { "x-hash": "sha256", "x-key-hex": pub, "x-sig-hex": sig, "x-text": TEXT, ...extra }).h;
      return [h.get("x-verify-status"), h.get("x-verify-ok"), h.get("x-verify-error")];
    };
    expect(v({ "x-text": "other" })).toEqual(["0", "false", "Failed to verify digest. Error code: 0"]);
    expect(v({ "x-hash": "md5" })).toEqual(["0", "false", "md5 is not supported."]);
    expect(v({ "x-key-hex": "3003020100" })).toEqual(["0", "false", "Failed to initialize digest verify."]);
    expect(v({ "x-key-hex": "" })).toEqual([String(WasmResult.BadArgument), "false", ""]);
    const s = request(host, "sign", { "x-hash": "sha256", "x-key-hex": "00ff", "x-text": TEXT }).h;
    expect(s.get("x-sign-error")).toBe("Invalid key type: private key required for signing operation.");
  });
});

describe("zlib", () => {
  test("compress then uncompress gives the text back; a node:zlib stream uncompresses; a corrupt one is SerializationFailure", async () => {
    const host = await start();
    const ok = request(host, "zlib", { "x-text": "hello hello hello", "x-zlib-hex": hex(deflateSync("from node")) }).h;
    expect([ok.get("x-compress-status"), ok.get("x-roundtrip"), ok.get("x-uncompressed")]).toEqual(["0", "same", hex("from node")]);
    // A result of 64 KiB (more than Envoy's xds.node bytes) comes out whole: the filter reports its length and hash.
    const big = Buffer.alloc(65_536, "a long result from a host call ");
    const large = request(host, "zlib", { "x-text": "", "x-zlib-hex": hex(deflateSync(big)) }).h;
    expect(large.get("x-uncompressed")).toBe(`65536 bytes, fnv1a ${fnv1a(big).toString(16)}`);
    const bad = request(host, "zlib", { "x-text": "x", "x-zlib-hex": "78da0102" }).h;
    expect([bad.get("x-uncompress-status"), bad.get("x-uncompressed")]).toEqual([String(WasmResult.SerializationFailure), "null"]);
  });
});

describe("CEL", () => {
  test("expressions compiled in onConfigure evaluate per request to typed values; parse errors, unknown functions and type errors fail as in Envoy", async () => {
    const host = await start();
    const h = request(host, "cel", { "x-cel": "yes", "x-n": "21" }).h;
    // The 12 checked here, then the attribute and result expressions the conformance scenario compares with Envoy.
    expect(h.get("x-cel-compiled")).toBe(["0,0,0,0,0,0,0,0,0,0,2,2", ...Array(19).fill("0")].join(","));
    const f = WasmResult.InternalFailure;
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => h.get(`x-cel-${i}`))).toEqual([
      "0 /", "0 GET yes", "0 hex:01", "0 hex:2a00000000000000", "0 hex:1600000000000000", "0 hex:0000000000001540", "0 hex:01",
      `${f} null`, `${f} null`, `${f} null`,
    ]);
    expect(h.get("x-cel-deleted")).toBe(String(WasmResult.NotFound));
    // A message result is its protobuf bytes: the filter reads the Node's id and cluster back out of them.
    expect(h.get("x-cel-node")).toBe("0 message id=pwas cluster=pwas");
    const without = request(host, "cel").h;
    expect([without.get("x-cel-1"), without.get("x-cel-6")]).toEqual([`${f} null`, "0 hex:00"]);
  });

  test("a CEL condition in the configuration that does not compile is a configuration error naming the field", async () => {
    const cost = (await buildFilter(join(ROOT, "sdk/tests/hostext-cost"))).wasmPath;
    const good = await Host.start(cost, { pluginConfig: JSON.stringify({ condition: "request.method == 'GET'" }) });
    expect(good.configure(JSON.stringify({ condition: "request.path ==" }))).toBe(false);
    expect(good.logMessages()).toContain("hostext-cost: invalid configuration: condition: not a valid CEL expression: request.path ==");
    const noCel = await Host.load(cost, { pluginConfig: "{}", withoutForeignFunctions: ["expr_create"] });
    noCel.startVm();
    expect(noCel.configure()).toBe(false);
    expect(noCel.logMessages()).toContain(
      "hostext-cost: invalid configuration: condition: CEL expressions need a host that evaluates them (Envoy's expr_create), and this one does not",
    );
  }, 120_000);

  test("a host without CEL: every compile answers NotFound", async () => {
    const h = request(await start({ withoutForeignFunctions: ["expr_create"] }), "cel").h;
    expect(h.get("x-cel-compiled")).toBe(Array(31).fill(String(WasmResult.NotFound)).join(","));
  });
});

describe("filter state and declared properties", () => {
  test("setFilterState stores a typed object with its life span, readable as filter_state.<key>; unknown keys and refused values fail", async () => {
    const host = await start();
    const { s, h } = request(host, "filter-state", { "x-fs-key": "envoy.string", "x-fs-value": "subset-b", "x-fs-span": "connection" });
    expect([h.get("x-fs-status"), h.get("x-fs-read"), h.get("x-fs-read-top")]).toEqual(["0", "subset-b", "null"]);
    expect(s.envoyFilterState.get("envoy.string")).toEqual({ value: "subset-b", span: "Connection" });
    const unknown = request(host, "filter-state", { "x-fs-key": "my.key", "x-fs-value": "v" }).h;
    expect([unknown.get("x-fs-status"), unknown.get("x-fs-read")]).toEqual([String(WasmResult.NotFound), "null"]);
    const refused = request(host, "filter-state", { "x-fs-key": "envoy.upstream.dynamic_port", "x-fs-value": "eighty" }).h;
    expect(refused.get("x-fs-status")).toBe(String(WasmResult.BadArgument));
  });

  test("declareProperty: a read-only property takes one value; declaring a name twice is refused in the same context", async () => {
    const host = await start();
    const h = request(host, "declare", { "x-value": "first" }).h;
    expect(h.get("x-declared")).toBe("0,0");
    expect(h.get("x-set-once")).toBe(`0,${WasmResult.BadArgument}`);
    expect(h.get("x-read-once")).toBe("first");
    expect([h.get("x-set-bytes"), h.get("x-read-bytes")]).toEqual(["0,0", "again"]);
    // A stream's declaration is its own (Envoy keeps them per context), so the stream may declare the name.
    expect(h.get("x-declare-again")).toBe("0");
    expect(host.configure()).toBe(true);
  });
});
