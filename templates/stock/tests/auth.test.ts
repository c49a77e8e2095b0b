// The auth filter's two most common setups: an HS256 JWT provider with inline keys and API keys.
import { createHash, createHmac } from "node:crypto";
import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { Host } from "pwas/emulator";

const SECRET = Buffer.from("a-secret-of-at-least-32-bytes-long!!", "utf8");
const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");
const NOW_S = 1_900_000_000;

function hs256(claims: object): string {
  const input = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT", kid: "k1" }))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(createHmac("sha256", SECRET).update(input).digest())}`;
}

const JWT_CONFIG = JSON.stringify({
  providers: {
    example: {
      issuer: "https://issuer.example",
      audiences: ["api"],
      local_jwks: { inline_string: JSON.stringify({ keys: [{ kty: "oct", kid: "k1", alg: "HS256", k: b64url(SECRET) }] }) },
      forward: true,
    },
  },
  rules: [{ match: { prefix: "/" }, requires: { provider_name: "example" } }],
});
const API_KEY_CONFIG = JSON.stringify({
  api_keys: { keys: [{ client: "billing", sha256: createHash("sha256").update("k-123").digest("hex") }], from_headers: ["x-api-key"], forward_client_header: "x-api-client" },
});

let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});

async function status(config: string, headers: Array<[string, string]>) {
  const host = await Host.start(wasm, { pluginConfig: config, startTimeNs: BigInt(NOW_S) * 1_000_000_000n });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":method", "GET"], [":path", "/api"], [":authority", "x"], ...headers], true);
  return { code: s.localResponse?.status ?? 200, upstream: s.upstream.headers ? new Map(s.upstream.headers) : null };
}

test("a valid token passes, an expired or missing one gets 401, a foreign audience 403", async () => {
  const good = hs256({ iss: "https://issuer.example", aud: "api", exp: NOW_S + 60 });
  expect((await status(JWT_CONFIG, [["authorization", `Bearer ${good}`]])).code).toBe(200);
  expect((await status(JWT_CONFIG, [["authorization", `Bearer ${hs256({ iss: "https://issuer.example", aud: "api", exp: NOW_S - 3600 })}`]])).code).toBe(401);
  expect((await status(JWT_CONFIG, [])).code).toBe(401);
  expect((await status(JWT_CONFIG, [["authorization", `Bearer ${hs256({ iss: "https://issuer.example", aud: "other", exp: NOW_S + 60 })}`]])).code).toBe(403);
});

test("an API key is checked against its hash and the client name is forwarded", async () => {
  const ok = await status(API_KEY_CONFIG, [["x-api-key", "k-123"]]);
  expect(ok.code).toBe(200);
  expect(ok.upstream!.get("x-api-client")).toBe("billing");
  expect((await status(API_KEY_CONFIG, [["x-api-key", "wrong"]])).code).toBe(401);
});
