/**
 * What matters of a Wasm plugin as Envoy runs it, projected the same way from a real sidecar's /config_dump
 * (filters named by ECDS, their configs in the EcdsConfigDump) and from `pwas preview`'s rendered bootstrap
 * (inline filters), so the two can be compared with toEqual.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface PluginProjection {
  /** The ECDS resource the listener names (preview: the name istiod would serve its filter under). */
  ecds: string;
  /** "wasm", or the agent's stand-in "rbac" when it could not fetch the module. */
  kind: "wasm" | "rbac";
  name?: string;
  rootId?: string;
  vmId?: string;
  runtime?: string;
  /** The exact bytes the plugin gets in proxy_on_configure. An absent configuration and istiod's empty Any both give none. */
  configuration?: string;
  /** key_values, keys sorted; absent and empty are the same to the VM. */
  env?: Record<string, string>;
  hostEnvKeys?: string[];
  /** Envoy leaves FAIL_UNSPECIFIED (0) out of the dump; it means FAIL_CLOSED. */
  failurePolicy?: string;
  /**
   * sha256 of the module file. The agent keeps a fetched module under /var/lib/istio/data and preview under its
   * cache, so the paths differ legitimately; the bytes must not.
   */
  module?: string;
}

export interface ChainProjection {
  /** Wasm network filters before the HTTP connection manager, in order. */
  network: PluginProjection[];
  /** Wasm HTTP filters in the connection manager, in order (Istio's own filters and the router left out). */
  http: PluginProjection[];
}

function fileSha256(path: string): string {
  try {
    return createHash("sha256").update(readFileSync(path)).digest("hex");
  } catch (err) {
    return `unreadable ${path}: ${(err as Error).message}`;
  }
}

/** A PluginConfig (Envoy JSON) projected. */
export function projectPluginConfig(ecds: string, typedConfig: Json): PluginProjection {
  if (String(typedConfig["@type"]).endsWith(".RBAC")) return { ecds, kind: "rbac" };
  const c = typedConfig.config as Json;
  const vm = (c.vm_config ?? {}) as Json;
  const envs = (vm.environment_variables ?? {}) as Json;
  const kv = (envs.key_values ?? {}) as Record<string, string>;
  const conf = c.configuration as Json | undefined;
  return {
    ecds,
    kind: "wasm",
    name: c.name,
    rootId: c.root_id ?? "",
    vmId: vm.vm_id ?? "",
    runtime: vm.runtime,
    // A StringValue carries its bytes in value; istiod's empty Any ({}) and no configuration carry none.
    configuration: conf && conf["@type"] !== undefined ? `${conf["@type"]}:${conf.value ?? ""}` : "",
    env: Object.fromEntries(Object.keys(kv).sort().map((k) => [k, kv[k]])),
    hostEnvKeys: envs.host_env_keys ?? [],
    failurePolicy: c.failure_policy ?? "FAIL_CLOSED",
    module: vm.code?.local?.filename ? fileSha256(vm.code.local.filename) : JSON.stringify(vm.code ?? null),
  };
}

/** The sidecar listener bound to `address:port`: one projection per filter chain (TLS and plain text). */
export function projectSidecar(dump: Json, address: string, port: number): ChainProjection[] {
  const configs = dump.configs as Json[];
  const ecds = new Map<string, Json>();
  for (const c of configs.filter((x) => String(x["@type"]).endsWith("EcdsConfigDump"))) {
    for (const f of (c.ecds_filters ?? []) as Json[]) ecds.set(f.ecds_filter.name, f.ecds_filter.typed_config);
  }
  const listeners = (configs.find((x) => String(x["@type"]).endsWith("ListenersConfigDump"))?.dynamic_listeners ?? []) as Json[];
  const listener = listeners.map((l) => l.active_state?.listener as Json | undefined)
    .find((l) => l?.address?.socket_address?.address === address && l.address.socket_address.port_value === port);
  if (!listener) return [];
  const viaEcds = (f: Json): PluginProjection | undefined => {
    if (!f.config_discovery) return undefined;
    const typed = ecds.get(f.name);
    return typed ? projectPluginConfig(f.name, typed) : { ecds: f.name, kind: "wasm", name: "(no ECDS config yet)" };
  };
  const chains = [...(listener.filter_chains ?? []), ...(listener.default_filter_chain ? [listener.default_filter_chain] : [])] as Json[];
  return chains.map((fc) => {
    const filters = fc.filters as Json[];
    const hcm = filters.find((f) => f.name === "envoy.filters.network.http_connection_manager");
    return {
      network: filters.map(viaEcds).filter((p): p is PluginProjection => p !== undefined),
      http: ((hcm?.typed_config?.http_filters ?? []) as Json[]).map(viaEcds).filter((p): p is PluginProjection => p !== undefined),
    };
  });
}

/** Every ECDS resource name the sidecar's Envoy holds a config for. */
export function ecdsNames(dump: Json): string[] {
  return (dump.configs as Json[]).filter((x) => String(x["@type"]).endsWith("EcdsConfigDump"))
    .flatMap((c) => ((c.ecds_filters ?? []) as Json[]).map((f) => f.ecds_filter.name as string));
}
