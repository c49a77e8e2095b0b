// The `env` import object, one file per ABI area (as sdk/assembly/abi/imports.ts groups the raw imports):
// context.ts (log, time, tick, effective context, done, status), buffers.ts, header-maps.ts, stream.ts
// (continue, close, local reply), callouts.ts (HTTP and gRPC), shared.ts (shared data and queues), metrics.ts,
// properties.ts, foreign.ts. Each area declares its functions' Envoy-side signatures beside them.

import type { AbiVersion } from "../abi";
import type { Fn, HostCalls } from "./access";
import { bufferImports, SIGNATURES as BUFFERS } from "./buffers";
import { calloutImports, SIGNATURES as CALLOUTS } from "./callouts";
import { contextImports, SIGNATURES as CONTEXT } from "./context";
import { foreignImports, SIGNATURES as FOREIGN } from "./foreign";
import { headerMapImports, SIGNATURES as HEADER_MAPS } from "./header-maps";
import { metricImports, SIGNATURES as METRICS } from "./metrics";
import { propertyImports, SIGNATURES as PROPERTIES } from "./properties";
import { sharedImports, SIGNATURES as SHARED } from "./shared";
import { streamImports, SIGNATURES as STREAM } from "./stream";

export type { Fn, HostCalls } from "./access";
export { GuestMemory } from "./memory";

/** Envoy-side (C++ host) signatures of every env import. */
export const ENV_SIGNATURES: Record<string, string> = {
  ...CONTEXT,
  ...BUFFERS,
  ...HEADER_MAPS,
  ...STREAM,
  ...CALLOUTS,
  ...SHARED,
  ...METRICS,
  ...PROPERTIES,
  ...FOREIGN,
};

/** ABI 0.2.0 has no proxy_get_log_level; Envoy registers it for 0.2.1 modules only. */
const ONLY_0_2_1 = new Set(["proxy_get_log_level"]);

/** The env functions a module of this ABI version can import. */
export function envImports(h: HostCalls, abi: AbiVersion): Record<string, Fn> {
  const env: Record<string, Fn> = {
    ...contextImports(h),
    ...bufferImports(h),
    ...headerMapImports(h),
    ...streamImports(h),
    ...calloutImports(h),
    ...sharedImports(h),
    ...metricImports(h),
    ...propertyImports(h),
    ...foreignImports(h),
  };
  if (abi !== "0.2.1") for (const n of ONLY_0_2_1) delete env[n];
  return env;
}
