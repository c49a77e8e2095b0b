// What every stream the Host drives has, HTTP or TCP: its context, the attribute overrides and filter state the
// module reads and writes, and the one way into the module (a trap fails the stream as Envoy would).

import { StreamType, WasmResult } from "./abi";
import { toText } from "./bytes";
import { WasmTrapError } from "./errors";
import type { Host } from "./host";
import type { Context } from "./host-types";
import type { PropertyOverrides, PropertyValue, StreamFacts } from "./properties";

/** A filter state object set through set_envoy_filter_state: its serialised value and life span. */
export interface EnvoyFilterStateObject {
  value: string;
  span: "FilterChain" | "Request" | "Connection";
}

export abstract class StreamBase {
  /** Values written by proxy_set_property, keyed by the path the module passed. */
  readonly filterState = new Map<string, Uint8Array>();
  /** Objects set with set_envoy_filter_state, by factory key (read back as filter_state.<key>). */
  readonly envoyFilterState = new Map<string, EnvoyFilterStateObject>();
  readonly propertyOverrides: PropertyOverrides;
  protected readonly startTimeNs: bigint;
  protected readonly continues = new Map<StreamType, number>();
  protected completed = false;

  constructor(
    protected readonly host: Host,
    protected readonly ctx: Context,
    readonly connectionId: number,
    opts: { properties?: PropertyOverrides },
  ) {
    this.propertyOverrides = { ...(opts.properties ?? {}) };
    this.startTimeNs = host.nowNs;
  }

  /** The context id the module knows this stream by. */
  get id(): number {
    return this.ctx.id;
  }

  get contextId(): number {
    return this.ctx.id;
  }

  /** How many times the module called proxy_continue_stream(type) acting on this stream. */
  continued(type: StreamType): number {
    return this.continues.get(type) ?? 0;
  }

  /** Overrides one attribute for this stream (dotted path). */
  setProperty(path: string, value: PropertyValue): void {
    this.propertyOverrides[path] = value;
  }

  /** The filter-state value the module stored with proxy_set_property, as text. */
  filterStateText(path: string): string | undefined {
    const v = this.filterState.get(path);
    return v && toText(v);
  }

  protected call(name: string, args: Array<number | bigint>): { value: number | undefined; stopped: boolean } {
    try {
      return this.host.dispatch(this.ctx, name, args);
    } catch (e) {
      if (e instanceof WasmTrapError) this.onTrap();
      throw e;
    }
  }

  protected abstract onTrap(): void;

  /** @internal */
  abstract continueFromModule(type: StreamType): WasmResult;
  /** @internal */
  abstract closeFromModule(type: StreamType): void;
  /** @internal */
  abstract facts(): StreamFacts;
}
