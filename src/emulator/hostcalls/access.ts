// What the host functions may see of the Host: one interface, so each ABI area's file depends on it and not on
// the Host class (which builds the object in one place and keeps its own state private).

import type { LogLevel } from "../abi";
import type { CalloutTokens, GrpcCallRecord, GrpcStreamRecord, HttpCallRecord } from "../callouts";
import type { VirtualClock } from "../clock";
import type { Host } from "../host";
import type { Context, ForeignFunction, HostOptions, RootContext } from "../host-types";
import type { Metrics } from "../metrics";
import type { PropertyScope } from "../properties";
import type { SharedData, SharedQueues } from "../shared";
import type { DeclaredProperty } from "../foreign";
import type { GuestMemory } from "./memory";

/** A host function as the module calls it: i32 arguments arrive as numbers, i64 as bigints. */
export type Fn = (...args: Array<number | bigint>) => number | bigint | void;

/** The host state and actions the env imports act on. */
export interface HostCalls {
  readonly host: Host;
  readonly mem: GuestMemory;
  readonly options: HostOptions;
  readonly clock: VirtualClock;
  readonly logLevel: LogLevel;
  readonly vmId: string;
  readonly vmConfig: Uint8Array;
  readonly contexts: Map<number, Context>;
  readonly failed: boolean;
  /** The context host calls act on: the one proxy_set_effective_context chose, else the one being called. */
  effective(): Context;
  setEffectiveContext(id: number): void;
  log(level: LogLevel, message: string): void;
  /** Runs after the current callback returns (as Envoy's DeferAfterCallActions). */
  defer(action: () => void): void;
  /** The callback's filter status becomes StopIteration (after a local reply). */
  stopNextIteration(): void;
  deleteRoot(root: RootContext): void;
  readonly tokens: CalloutTokens;
  readonly httpCalls: Map<number, HttpCallRecord>;
  readonly grpcCalls: Map<number, GrpcCallRecord>;
  readonly grpcStreams: Map<number, GrpcStreamRecord>;
  readonly sharedData: SharedData;
  readonly queues: SharedQueues;
  readonly queueOwner: { notify(queueId: number, contextId: number): void };
  readonly metrics: Metrics;
  propertyScope(ctx: Context): PropertyScope;
  /** Properties declared with declare_property in a context. */
  declaredProperties(contextId: number): Map<string, DeclaredProperty>;
  readonly foreign: Map<string, ForeignFunction>;
  readonly foreignCounts: Map<string, number>;
}

/** An unsigned 32-bit argument. */
export const u = (x: number | bigint): number => Number(x) >>> 0;
