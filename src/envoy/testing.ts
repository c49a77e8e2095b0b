import type { Bootstrap } from "./bootstrap";
import { startEcho, type EchoOptions, type EchoServer } from "./echo";
import { startEnvoy, type EnvoyBackend, type StartEnvoyOptions } from "./envoy";
import type { StartedEnvoy } from "./instance";

export interface EnvoyHarness {
  /** startEnvoy, remembered for cleanup. */
  startEnvoy(spec: Bootstrap, opts?: StartEnvoyOptions): Promise<StartedEnvoy>;
  /** startEcho, remembered for cleanup. */
  startEcho(opts?: EchoOptions): Promise<EchoServer>;
  /** Stops every Envoy, then every echo server, started through this harness so far. Safe to call twice. */
  cleanup(): Promise<void>;
}

export interface HarnessOptions {
  /** "each" (default) cleans up after every test; "all" after the file, for Envoys started in beforeAll. */
  scope?: "each" | "all";
  /**
   * Where this file's Envoys run unless a call says otherwise; defaults to PWAS_ENVOY_BACKEND (which
   * `pwas test --docker` sets to "container"), then "process".
   */
  backend?: EnvoyBackend;
}

/**
 * Test helper: tracks what a test file starts and always stops it, pass or fail, in jest's afterEach (or
 * afterAll). Call it at the top of a file or describe block. Envoys that a crashed run leaves behind are
 * killed by the process exit hook of their backend (processes are killed, containers removed).
 */
export function envoyHarness(opts: HarnessOptions = {}): EnvoyHarness {
  const envoys: StartedEnvoy[] = [];
  const echoes: EchoServer[] = [];
  const harness: EnvoyHarness = {
    async startEnvoy(spec, startOpts) {
      const envoy = await startEnvoy(spec, { backend: opts.backend, ...startOpts });
      envoys.push(envoy);
      return envoy;
    },
    async startEcho(echoOpts) {
      const echo = await startEcho(echoOpts);
      echoes.push(echo);
      return echo;
    },
    async cleanup() {
      // Envoys first, so none is left holding connections to an upstream being closed.
      const stopping = envoys.splice(0).map((e) => e.stop());
      const results = await Promise.allSettled(stopping);
      await Promise.allSettled(echoes.splice(0).map((e) => e.close()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    },
  };
  const hook = opts.scope === "all" ? globalThis.afterAll : globalThis.afterEach;
  if (typeof hook === "function") hook(() => harness.cleanup());
  return harness;
}
