import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describeRequiring } from "../requirements";
import { cluster, httpListener, nativeFilter, wasmFilter } from "./bootstrap";
import { containerImage, containerLabels, dockerImagePresentSync, LOCAL_ENVOY_IMAGE, probeDockerEngineSync, type ContainerEnvoy } from "./container";
import { inspectContainer, labelledContainers } from "./docker";
import type { EchoReply } from "./echo";
import { selectBackend } from "./envoy";
import { EnvoyStartError } from "./instance";
import { passthroughWasm } from "./testdata/passthrough-wasm";
import { envoyHarness } from "./testing";
import { ENVOY_IMAGE, ENVOY_VERSION } from "./version";

// No image registry is reachable from the test machines: the tests run the image `make setup` builds, and
// remove their containers themselves rather than through testcontainers' reaper (whose image cannot be pulled).
process.env.PWAS_ENVOY_IMAGE ||= LOCAL_ENVOY_IMAGE;
process.env.TESTCONTAINERS_RYUK_DISABLED ||= "true";

describe("envoy: backend selection", () => {
  test("the process backend is the default; the container backend only when asked", () => {
    expect(selectBackend({}, {})).toBe("process");
    expect(selectBackend({ backend: "container" }, {})).toBe("container");
    expect(selectBackend({}, { PWAS_ENVOY_BACKEND: "container" })).toBe("container");
    expect(selectBackend({ backend: "process" }, { PWAS_ENVOY_BACKEND: "container" })).toBe("process");
    expect(() => selectBackend({}, { PWAS_ENVOY_BACKEND: "docker" })).toThrow('unknown Envoy backend "docker"');
  });

  test("the image is the option, then PWAS_ENVOY_IMAGE, then the pinned official image", () => {
    expect(containerImage({}, {})).toBe(`envoyproxy/envoy:v${ENVOY_VERSION}`);
    expect(containerImage({}, {})).toBe(ENVOY_IMAGE);
    expect(containerImage({}, { PWAS_ENVOY_IMAGE: "pwas-envoy:1.40.0" })).toBe("pwas-envoy:1.40.0");
    expect(containerImage({ image: "mine:1" }, { PWAS_ENVOY_IMAGE: "pwas-envoy:1.40.0" })).toBe("mine:1");
    expect(LOCAL_ENVOY_IMAGE).toBe(`pwas-envoy:${ENVOY_VERSION}`);
  });

  test("containers carry the backend's label, PWAS_ENVOY_LABELS and the option's labels", () => {
    expect(containerLabels({}, {})).toEqual({ "pwas.envoy": ENVOY_VERSION });
    expect(containerLabels({ labels: { b: "3" } }, { PWAS_ENVOY_LABELS: "pwas.test=1, b=2,flag" })).toEqual({
      "pwas.envoy": ENVOY_VERSION, "pwas.test": "1", b: "3", flag: "",
    });
  });
});

/** Why the container backend cannot run here, or undefined when it can. */
function containerBackendMissing(): string | undefined {
  const probe = probeDockerEngineSync();
  if (!probe.ok) return `container backend tests: ${probe.reason} (make setup starts one)`;
  try {
    require.resolve("testcontainers");
  } catch {
    return "container backend tests: the npm package testcontainers is not installed";
  }
  const image = dockerImagePresentSync(containerImage());
  return image.ok ? undefined : `container backend tests: ${image.reason} (make setup builds ${LOCAL_ENVOY_IMAGE})`;
}

describeRequiring(containerBackendMissing())("envoy: container backend (testcontainers)", () => {
  const harness = envoyHarness();
  let dir: string;
  let wasmFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pwas-wasm-"));
    wasmFile = join(dir, "passthrough.wasm");
    writeFileSync(wasmFile, passthroughWasm("passthrough in a container"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a Wasm filter in the containerised Envoy serves the echo upstream on the host's 127.0.0.1", async () => {
    const echo = await harness.startEcho({ name: "c" });
    const envoy = (await harness.startEnvoy(
      {
        listeners: [httpListener("ingress", {
          httpFilters: [wasmFilter({ name: "pass", wasmFile, configuration: { mode: "container" } })],
          virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }],
        })],
        clusters: [cluster("echo", echo.port)],
      },
      { backend: "container", labels: { "pwas.test": "1" } },
    )) as ContainerEnvoy;
    expect(envoy.backend).toBe("container");
    expect(envoy.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const reply = (await (await fetch(envoy.url("/x"))).json()) as EchoReply;
    expect(reply).toMatchObject({ upstream: "c", path: "/x" });
    expect(reply.headers["x-request-id"]).toBeDefined();
    await envoy.waitForStat("http.ingress.downstream_rq_completed", (v) => v === 1);
    await envoy.waitForLog(/wasm log[^:]*: passthrough in a container/);

    // What the engine says it runs: the chosen image, host networking, our labels, read-only config and module.
    const info = await inspectContainer(envoy.containerId);
    expect(info.State.Running).toBe(true);
    expect(info.Config.Image).toBe(LOCAL_ENVOY_IMAGE);
    expect(info.HostConfig.NetworkMode).toBe("host");
    expect(info.Config.Labels).toMatchObject({ "pwas.envoy": ENVOY_VERSION, "pwas.test": "1" });
    const configMount = info.Mounts.find((m) => existsSync(join(m.Source, "envoy.json")));
    expect(configMount?.RW).toBe(false);
    expect(info.Mounts.find((m) => m.Destination === dirname(wasmFile))).toMatchObject({ Source: dirname(wasmFile), RW: false });
    // Only the folder Envoy writes its admin address into is writable.
    const writable = info.Mounts.filter((m) => m.RW);
    expect(writable).toHaveLength(1);
    expect(readFileSync(join(writable[0].Source, "admin-address"), "utf8").trim()).toBe(envoy.adminUrl.slice("http://".length));
  }, 120_000);

  test("stop() removes the container and its temporary files, and is idempotent", async () => {
    const echo = await harness.startEcho();
    const envoy = (await harness.startEnvoy(
      { listeners: [httpListener("ingress", { virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }] })], clusters: [cluster("echo", echo.port)] },
      { backend: "container" },
    )) as ContainerEnvoy;
    const id = envoy.containerId;
    const runDir = (await inspectContainer(id)).Mounts.find((m) => m.RW)!.Source;
    await Promise.all([envoy.stop(), envoy.stop()]);
    await envoy.stop();
    expect(envoy.stopped).toBe(true);
    await expect(inspectContainer(id)).rejects.toThrow(/answered 404/);
    expect(existsSync(runDir)).toBe(false);
    await expect(fetch(envoy.url())).rejects.toThrow();
  }, 120_000);

  test("an invalid config fails start-up with Envoy's own error from the container log, and leaves no container", async () => {
    const run = randomUUID();
    const bad = { listeners: [httpListener("ingress", { httpFilters: [nativeFilter("envoy.filters.http.fault", { abort: { http_status: 42 } })], virtualHosts: [] })] };
    const started = harness.startEnvoy(bad, { backend: "container", readyTimeoutMs: 30_000, labels: { "pwas.test.run": run } });
    const err = (await started.catch((e: unknown) => e)) as EnvoyStartError;
    expect(err).toBeInstanceOf(EnvoyStartError);
    expect(err.message).toMatch(/^Envoy did not start: the Envoy container exited\n/);
    expect(err.message).toContain("FaultAbortValidationError.HttpStatus: value must be inside range [200, 600)");
    expect(err.envoyLog).toContain("[info]");
    expect(await labelledContainers(`pwas.test.run=${run}`)).toEqual([]);
  }, 120_000);
});
