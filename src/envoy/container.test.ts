import { cluster, httpListener } from "./bootstrap";
import { probeDockerEngineSync } from "./container";
import { selectBackend } from "./envoy";
import type { EchoReply } from "./echo";
import { envoyHarness } from "./testing";

/** Whether the container backend can run here: a Docker engine must answer, and testcontainers be installed. */
function containerBackendAvailable(): { ok: boolean; reason: string } {
  const probe = probeDockerEngineSync();
  if (!probe.ok) return probe;
  try {
    require.resolve("testcontainers");
  } catch {
    return { ok: false, reason: "the npm package testcontainers is not installed" };
  }
  return probe;
}

describe("envoy: backend selection", () => {
  test("the process backend is the default; the container backend only when asked", () => {
    expect(selectBackend({}, {})).toBe("process");
    expect(selectBackend({ backend: "container" }, {})).toBe("container");
    expect(selectBackend({}, { PWAS_ENVOY_BACKEND: "container" })).toBe("container");
    expect(() => selectBackend({}, { PWAS_ENVOY_BACKEND: "docker" })).toThrow('unknown Envoy backend "docker"');
  });
});

const available = containerBackendAvailable();
if (!available.ok) console.log(`skipped: container backend tests: ${available.reason}`);
const containerTest = available.ok ? test : test.skip;

describe("envoy: container backend (official image via testcontainers)", () => {
  const harness = envoyHarness();

  containerTest(
    "a request through the containerised Envoy returns the echo JSON",
    async () => {
      const echo = await harness.startEcho({ name: "c" });
      const envoy = await harness.startEnvoy(
        { listeners: [httpListener("ingress", { virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }] })], clusters: [cluster("echo", echo.port)] },
        { backend: "container" },
      );
      expect(envoy.backend).toBe("container");
      const reply = (await (await fetch(envoy.url("/x"))).json()) as EchoReply;
      expect(reply).toMatchObject({ upstream: "c", path: "/x" });
      await envoy.waitForStat("http.ingress.downstream_rq_completed", (v) => v === 1);
    },
    180_000,
  );
});
