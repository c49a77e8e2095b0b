import { PwasError } from "../errors";
import type { Bootstrap } from "./bootstrap";
import { startContainerEnvoy, type ContainerEnvoyOptions } from "./container";
import type { StartedEnvoy } from "./instance";
import { startProcessEnvoy, type ProcessEnvoyOptions } from "./process";

export type EnvoyBackend = "process" | "container";

export interface StartEnvoyOptions extends ProcessEnvoyOptions, ContainerEnvoyOptions {
  /**
   * Where Envoy runs: "process" (the default: the local binary from locateEnvoy) or "container" (the
   * official image through testcontainers; needs a Docker engine). PWAS_ENVOY_BACKEND sets it when omitted.
   */
  backend?: EnvoyBackend;
}

/** Resolves the backend: the option, then PWAS_ENVOY_BACKEND, then "process". */
export function selectBackend(opts: StartEnvoyOptions = {}, env: NodeJS.ProcessEnv = process.env): EnvoyBackend {
  const chosen = opts.backend ?? env.PWAS_ENVOY_BACKEND ?? "process";
  if (chosen !== "process" && chosen !== "container") {
    throw new PwasError("E_CONFIG", `unknown Envoy backend "${chosen}" (from ${opts.backend ? "options" : "PWAS_ENVOY_BACKEND"}): use "process" or "container"`);
  }
  return chosen;
}

/**
 * Renders `spec`, starts Envoy and resolves once the admin API answers `GET /ready` with LIVE. Listener and
 * admin ports left at 0 are bound by Envoy itself (no window in which another process could take them) and
 * read back from the admin API into `ports`. Rejects with an EnvoyStartError carrying Envoy's log when Envoy
 * exits early or does not become ready in time. The caller must stop() it; `envoyHarness()` does that in tests.
 */
export function startEnvoy(spec: Bootstrap, opts: StartEnvoyOptions = {}): Promise<StartedEnvoy> {
  return selectBackend(opts) === "container" ? startContainerEnvoy(spec, opts) : startProcessEnvoy(spec, opts);
}
