// auth: per-route rules (docs/route-rules.md) in the emulator: one plugin, different requirements per route.
import { createHash } from "node:crypto";
import { Action, Host, LogLevel } from "../../../src/emulator";
import { buildAuthFilter, startAuth, bearer, hmacKey, jwks, mint, T0, outcome } from "./auth-harness";

let wasm: Uint8Array;
beforeAll(async () => { wasm = await buildAuthFilter(); }, 180_000);

const ISS = "https://issuer.example";
const hs = hmacKey("HS256", "hs-1");
const token = () => mint(hs, { iss: ISS, sub: "alice", exp: T0 + 3600 });
const KEY = "billing-key";
const sha256 = createHash("sha256").update(KEY).digest("hex");

const CONFIG = {
  providers: { p: { issuer: ISS, local_jwks: { inline_string: jwks(hs) } } },
  rules: [{ match: { prefix: "/" }, requires: { provider_name: "p" } }],
  route_rules: [
    // Public pages: no JWT at all.
    { match: { route_name: "public" }, config: { rules: [{ match: { prefix: "/" } }] } },
    // The billing API takes an API key instead of a JWT.
    { match: { route_name: "billing" }, config: { rules: [{ match: { prefix: "/" } }], api_keys: { keys: [{ client: "billing", sha256 }], forward_client_header: "x-client" } } },
    // The admin host needs both.
    { match: { host: "admin.example.com" }, config: { api_keys: { keys: [{ client: "ops", sha256 }], forward_client_header: "x-client" } } },
  ],
};

function send(host: Host, route: string, headers: Array<[string, string]> = [], authority = "example.com") {
  const s = host.newHttpStream(undefined, { properties: { "xds.route_name": route } });
  const action = s.sendRequestHeaders([[":method", "GET"], [":path", "/x"], [":authority", authority], [":scheme", "http"], ...headers], true);
  return outcome(s, action);
}

describe("auth: route rules", () => {
  test("one plugin: JWT on the default route, nothing on public, an API key on billing, both on the admin host", async () => {
    const host = await startAuth(wasm, CONFIG);
    const key: [string, string] = ["x-api-key", KEY];
    expect(send(host, "default").status).toBe(401);
    expect(send(host, "default", [bearer(token())]).action).toBe(Action.Continue);
    expect(send(host, "public").action).toBe(Action.Continue);
    expect(send(host, "billing").status).toBe(401);
    expect(send(host, "billing").body).toBe("API key is missing");
    const billed = send(host, "billing", [key]);
    expect([billed.action, billed.upstream.get("x-client")]).toEqual([Action.Continue, "billing"]);
    expect(send(host, "default", [["authorization", "Bearer nope"], key], "admin.example.com").status).toBe(401);
    expect(send(host, "default", [bearer(token())], "admin.example.com").body).toBe("API key is missing");
    const admin = send(host, "default", [bearer(token()), key], "admin.example.com");
    expect([admin.action, admin.upstream.get("x-client")]).toEqual([Action.Continue, "ops"]);
  });

  test("headers the filter sets on some route are removed on every route: a client cannot forge them where a rule turns a stage off", async () => {
    const host = await startAuth(wasm, {
      providers: { p: { issuer: ISS, local_jwks: { inline_string: jwks(hs) }, claim_to_headers: [{ header_name: "x-sub", claim_name: "sub" }] } },
      rules: [{ match: { prefix: "/" }, requires: { provider_name: "p" } }],
      api_keys: { keys: [{ client: "ops", sha256 }], forward_client_header: "x-client" },
      ext_authz: { http_service: { server_uri: { uri: "http://authz.local", cluster: "authz", timeout: "0.2s" }, authorization_response: { allowed_upstream_headers: { patterns: [{ prefix: "x-user-" }] } } } },
      route_rules: [{ match: { route_name: "public" }, config: { rules: [{ match: { prefix: "/" } }], api_keys: null, ext_authz: null } }],
    });
    const forged: Array<[string, string]> = [["x-sub", "root"], ["x-client", "ops"], ["x-user-role", "admin"], ["x-envoy-auth-failure-mode-allowed", "true"], ["x-other", "kept"]];
    const r = send(host, "public", forged);
    expect(r.action).toBe(Action.Continue);
    expect([...r.upstream.keys()].filter((k) => k.startsWith("x-"))).toEqual(["x-other"]);
  });

  test("providers, limits and host_crypto are shared by all routes: a rule that sets them is refused, naming the field", async () => {
    for (const field of ["providers", "limits", "host_crypto"]) {
      const config = { ...CONFIG, route_rules: [{ match: { route_name: "r" }, config: { [field]: null } }] };
      const host = await Host.load(wasm, { pluginConfig: JSON.stringify(config) });
      host.startVm();
      expect(host.configure()).toBe(false);
      expect(host.logMessages(LogLevel.Error).join("\n")).toContain(`route_rules[0].config.${field}: is shared by all routes`);
    }
  });

  test("a rule's requirement naming an unknown provider is refused with the rule's path", async () => {
    const config = { ...CONFIG, route_rules: [{ match: { route_name: "r" }, config: { rules: [{ match: { prefix: "/" }, requires: { provider_name: "q" } }] } }] };
    const host = await Host.load(wasm, { pluginConfig: JSON.stringify(config) });
    host.startVm();
    expect(host.configure()).toBe(false);
    expect(host.logMessages(LogLevel.Error).join("\n")).toContain("route_rules[0].config.rules[0].requires");
  });
});
