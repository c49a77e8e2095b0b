/**
 * Per-call cost of Envoy's host extensions against the pure-Wasm alternative (sdk/tests/hostext-cost), measured
 * inside the filter with the host clock in a real Envoy (in the emulator, whose clock is virtual, from outside): native RSA verify_signature vs the
 * auth filter's own Wasm RSA, a CEL condition evaluated by Envoy vs the SDK's HeaderMatchers, and zlib compress /
 * uncompress of 1 KiB. Every call of every measured loop must succeed (the filter answers 500 otherwise).
 */
import { join, resolve } from "node:path";
import { createSign, generateKeyPairSync } from "node:crypto";
import { buildFilter } from "../src/build/build";
import { Host } from "../src/emulator";
import { cluster, envoyHarness, httpListener, wasmFilter, type StartedEnvoy } from "../src/envoy";
import { httpRequest } from "./support/client";

const DIR = resolve(__dirname, "../sdk/tests/hostext-cost");
const N = 200;
const TEXT = "the signed text";
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = rsa.publicKey.export({ format: "jwk" });
const b64 = (s: string) => Buffer.from(s, "base64url").toString("hex");
const INPUTS = {
  "x-text": TEXT,
  "x-key-hex": rsa.publicKey.export({ type: "spki", format: "der" }).toString("hex"),
  "x-sig-hex": createSign("sha256").update(TEXT).sign(rsa.privateKey).toString("hex"),
  "x-n-hex": b64(jwk.n!),
  "x-e-hex": b64(jwk.e!),
  "x-cel": "yes",
  "x-size": "1024",
};
const OPS = ["verify-native", "verify-wasm", "cel", "matcher", "compress", "uncompress"] as const;

const h = envoyHarness({ scope: "all" });
let envoy: StartedEnvoy;
let host: Host;
const figures: Record<string, { envoy?: number; emulator?: number }> = {};

beforeAll(async () => {
  const wasm = (await buildFilter(DIR, { outFile: join(DIR, "build", "hostext-cost.wasm") })).wasmPath;
  const echo = await h.startEcho({ name: "a" });
  envoy = await h.startEnvoy({
    listeners: [
      httpListener("ingress", {
        httpFilters: [wasmFilter({ name: "hostext-cost", rootId: "hostext-cost", wasmFile: wasm })],
        virtualHosts: [{ name: "all", routes: [{ cluster: "a" }] }],
      }),
    ],
    clusters: [cluster("a", echo.port)],
  });
  host = await Host.start(wasm, { rootId: "hostext-cost" });
}, 180_000);

afterAll(() => {
  const rows = OPS.map((op) => `${op.padEnd(14)} ${String(figures[op]?.envoy ?? "-").padStart(9)} ns ${String(figures[op]?.emulator ?? "-").padStart(9)} ns`);
  console.log(`host extension cost per call (mean of ${N} calls; Envoy, emulator):\n${rows.join("\n")}`);
});

describe.each(OPS)("host extension cost: %s", (op) => {
  test(`${N} calls succeed in Envoy and in the emulator, timed per call`, async () => {
    const headers = { ...INPUTS, "x-op": op, "x-n": String(N) };
    const res = await httpRequest(envoy.url("/"), { headers });
    expect(`${res.status} ${res.body.toString()}`).toMatch(/^200 \d+\n$/);
    // The emulator's clock is virtual (it stands still during a call): time the emulated request from outside.
    const s = host.newHttpStream();
    const t0 = process.hrtime.bigint();
    s.sendRequestHeaders([[":method", "GET"], [":path", "/"], [":authority", "x"], ...Object.entries(headers)], true);
    const elapsed = process.hrtime.bigint() - t0;
    const reply = s.downstream;
    const status = reply.headers?.find(([k]) => k === ":status")?.[1];
    const body = Buffer.from(reply.body).toString();
    expect(`${status} ${body}`).toMatch(/^200 \d+\n$/);
    figures[op] = { envoy: Number(res.body.toString()), emulator: Number(elapsed / BigInt(N)) };
  }, 60_000);
});
