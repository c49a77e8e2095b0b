/**
 * What Envoy does when the plugin fails, per failure_policy, with the conformance filter's `trap` scenario
 * (an abort: the VM traps in proxy_on_request_headers), and what it does with a configuration the plugin
 * rejects in proxy_on_configure.
 */
import { EnvoyStartError, envoyHarness, waitFor, type EchoServer, type FailurePolicy, type StartedEnvoy } from "../src/envoy";
import { Host, WasmTrapError } from "../src/emulator";
import { httpRequest, type ClientResponse } from "./support/client";
import { buildConformance, conformanceBootstrap, CONFORMANCE_CONFIG, pluginLogLines } from "./support/conformance";

const h = envoyHarness();
let wasm: string;

beforeAll(async () => {
  wasm = await buildConformance();
}, 120_000);

async function start(failurePolicy: FailurePolicy): Promise<{ envoy: StartedEnvoy; echo: EchoServer }> {
  const echo = await h.startEcho({ name: "a" });
  const envoy = await h.startEnvoy(conformanceBootstrap(wasm, { a: echo.port }, { failurePolicy }));
  return { envoy, echo };
}

const request = (envoy: StartedEnvoy, scenario: string): Promise<ClientResponse> =>
  httpRequest(envoy.url("/"), { headers: { "x-scenario": scenario } });

/** Asserts the trap happened in the plugin (its abort message and the V8 trap are in Envoy's log). */
async function expectTrapLogged(envoy: StartedEnvoy): Promise<void> {
  await envoy.waitForLog(/proxy_on_request_headers failed: Uncaught RuntimeError: unreachable/);
  expect(pluginLogLines(envoy.log())).toContainEqual({ level: "critical", message: "AssemblyScript abort: conformance trap requested" });
}

test("failure policy FAIL_CLOSED: the trapping request and every later one get 503", async () => {
  const { envoy, echo } = await start("FAIL_CLOSED");
  const healthy = await request(envoy, "headers");
  expect(healthy.status).toBe(200);
  expect(healthy.headers["x-conformance"]).toBe("1");

  const trapped = await request(envoy, "trap");
  expect(trapped.status).toBe(503);
  await expectTrapLogged(envoy);

  const reached = echo.requests;
  for (let i = 0; i < 3; i++) expect((await request(envoy, "headers")).status).toBe(503);
  expect(echo.requests).toBe(reached); // nothing got past the failed filter
});

test("failure policy FAIL_OPEN: after the trap, requests bypass the filter and reach the upstream", async () => {
  const { envoy, echo } = await start("FAIL_OPEN");
  const trapped = await request(envoy, "trap");
  await expectTrapLogged(envoy);
  const reachedBefore = echo.requests;

  const later = await request(envoy, "headers");
  expect(later.status).toBe(200);
  expect(echo.requests).toBe(reachedBefore + 1);
  // The filter did not run: no x-conformance on the response, no x-added on the upstream request.
  expect(later.headers["x-conformance"]).toBeUndefined();
  const seen = JSON.parse(later.body.toString("utf8")) as { headers: Record<string, string> };
  expect(seen.headers["x-scenario"]).toBe("headers");
  expect(seen.headers["x-added"]).toBeUndefined();
  // The request that trapped is failed, not bypassed: fail-open applies to the requests after it.
  expect(trapped.status).toBe(503);

  // The emulator's failOpen does the same.
  const host = await Host.start(wasm, { pluginConfig: JSON.stringify(CONFORMANCE_CONFIG), failOpen: true });
  const first = host.newHttpStream();
  expect(() => first.sendRequestHeaders([[":path", "/"], [":method", "GET"], [":authority", "x"], ["x-scenario", "trap"]], true)).toThrow(WasmTrapError);
  expect(first.downstream.headers).toContainEqual([":status", "503"]);
  const next = host.newHttpStream();
  next.sendRequestHeaders([[":path", "/"], [":method", "GET"], [":authority", "x"], ["x-scenario", "headers"]], true);
  expect(next.upstream.headers).not.toBeNull();
  expect(next.upstream.headers?.some(([k]) => k === "x-added")).toBe(false);
});

test("failure policy FAIL_RELOAD: a new VM takes over and the filter processes requests again", async () => {
  const { envoy } = await start("FAIL_RELOAD");
  const trapped = await request(envoy, "trap");
  expect(trapped.status).toBe(503);
  await expectTrapLogged(envoy);

  // Envoy reloads the VM on a later request once its backoff allows; poll with requests until one is served
  // by the filter again (each probe is a real request, so this also counts how many were refused meanwhile).
  let refused = 0;
  const served = await waitFor(
    async () => {
      const res = await request(envoy, "headers");
      if (res.headers["x-conformance"] === "1") return res;
      refused += 1;
      return undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: "a request served by the reloaded filter" },
  );
  expect(served.status).toBe(200);
  const seen = JSON.parse(served.body.toString("utf8")) as { headers: Record<string, string> };
  expect(seen.headers["x-added"]).toBe("1");
  const stats = await envoy.stats();
  expect(stats.get("wasm.conformance.vm_reload_success")).toBeGreaterThanOrEqual(1);
  console.log(
    `failure policy FAIL_RELOAD: served again after ${refused} refused request(s); ` +
      `vm_reload=${stats.get("wasm.conformance.vm_reload")} vm_reload_success=${stats.get("wasm.conformance.vm_reload_success")} ` +
      `vm_reload_backoff=${stats.get("wasm.conformance.vm_reload_backoff")} vm_reload_failure=${stats.get("wasm.conformance.vm_reload_failure")}`,
  );
  // The reloaded VM is configured again: shared data and metrics survive, the VM's memory does not.
  expect(pluginLogLines(envoy.log()).filter((l) => l.message.startsWith("conformance: configured")).length).toBeGreaterThan(2);
});

describe.each([
  [{ fail: true }, "conformance: invalid configuration: fail: set to true, so this configuration is rejected on purpose"],
  [{ unknown: 1 }, "conformance: invalid configuration: unknown: unknown field (expected one of: callout_cluster"],
])("an invalid plugin configuration %j", (configuration, message) => {
  test("makes on_configure fail, Envoy refuse to start, and the plugin's reason appear in the log", async () => {
    const echo = await h.startEcho();
    const started = h.startEnvoy(conformanceBootstrap(wasm, { a: echo.port }, { configuration }));
    const err = await started.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EnvoyStartError);
    const log = (err as EnvoyStartError).envoyLog;
    const errors = pluginLogLines(log).filter((l) => l.level === "error");
    expect(errors.map((l) => l.message).join("\n")).toContain(message);
    // Envoy's own account: proxy_on_configure returned false, so the plugin (fail closed) cannot load.
    expect(log).toContain("Failed to configure base Wasm plugin");
    expect(log).toContain("Plugin conformance failed to load");
  });
});
