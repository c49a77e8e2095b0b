// TCP connections driven through a Host: data each way (paused data stays buffered and the next callback sees
// all of it), closes from either side, and what was forwarded.

import { Action, PeerType, StreamType, WasmResult } from "./abi";
import { BytesLike, concatBytes, toBytes } from "./bytes";
import type { BufferBox } from "./host-types";
import type { StreamFacts } from "./properties";
import { StreamBase } from "./stream-base";

export class TcpStream extends StreamBase {
  private down: BufferBox | null = null;
  private up: BufferBox | null = null;
  private toUpstream: Uint8Array[] = [];
  private toDownstream: Uint8Array[] = [];
  private downstreamClosed = false;
  private upstreamClosed = false;
  /** What proxy_on_new_connection returned. */
  newConnectionAction: Action = Action.Continue;

  /** @internal */
  start(): void {
    if (this.host.failed) {
      this.downstreamClosed = true;
      this.completed = true;
      return;
    }
    this.call("proxy_on_context_create", [this.id, this.ctx.root!.id]);
    this.ctx.created = true;
    const { value } = this.call("proxy_on_new_connection", [this.id]);
    this.newConnectionAction = (value ?? 0) === 0 ? Action.Continue : Action.Pause;
  }

  /** Data from the client. Paused data stays buffered and the next call sees all of it. */
  sendDownstreamData(data: BytesLike, endOfStream = false): Action {
    if (this.completed || this.downstreamClosed) return Action.Pause;
    this.down = { data: this.down ? concatBytes(this.down.data, toBytes(data)) : toBytes(data), mutable: true };
    const { value } = this.call("proxy_on_downstream_data", [this.id, this.down.data.length, endOfStream ? 1 : 0]);
    if ((value ?? 0) === 0) {
      this.toUpstream.push(this.down.data);
      this.down = null;
      return Action.Continue;
    }
    return Action.Pause;
  }

  /** Data from the upstream; end of stream also reports the upstream side closed (as Envoy does). */
  sendUpstreamData(data: BytesLike, endOfStream = false): Action {
    if (this.completed) return Action.Pause;
    this.up = { data: this.up ? concatBytes(this.up.data, toBytes(data)) : toBytes(data), mutable: true };
    const { value } = this.call("proxy_on_upstream_data", [this.id, this.up.data.length, endOfStream ? 1 : 0]);
    let action = Action.Pause;
    if ((value ?? 0) === 0) {
      this.toDownstream.push(this.up.data);
      this.up = null;
      action = Action.Continue;
    }
    if (endOfStream) this.closeUpstream(PeerType.Unknown);
    return action;
  }

  /** The client side closes (Remote) or Envoy closes it (Local); the connection then completes. */
  closeDownstream(peer: PeerType = PeerType.Remote): void {
    if (this.downstreamClosed || this.completed) return;
    this.downstreamClosed = true;
    this.call("proxy_on_downstream_connection_close", [this.id, peer]);
    this.finish();
  }

  closeUpstream(peer: PeerType = PeerType.Remote): void {
    if (this.upstreamClosed || this.completed) return;
    this.upstreamClosed = true;
    this.call("proxy_on_upstream_connection_close", [this.id, peer]);
    if (this.downstreamClosed) this.finish();
  }

  private finish(): void {
    if (this.completed) return;
    this.completed = true;
    if (!this.host.failed) {
      this.call("proxy_on_done", [this.id]);
      this.call("proxy_on_log", [this.id]);
      this.call("proxy_on_delete", [this.id]);
    }
    this.host.contexts.delete(this.id);
  }

  /** Bytes forwarded to the upstream so far. */
  get upstreamData(): Uint8Array {
    return concatBytes(...this.toUpstream);
  }

  /** Bytes forwarded to the client so far. */
  get downstreamData(): Uint8Array {
    return concatBytes(...this.toDownstream);
  }

  /** Data the filter is holding (paused), per direction. */
  get pendingDownstreamData(): Uint8Array {
    return this.down?.data ?? new Uint8Array(0);
  }

  get pendingUpstreamData(): Uint8Array {
    return this.up?.data ?? new Uint8Array(0);
  }

  get closed(): boolean {
    return this.completed;
  }

  protected onTrap(): void {
    this.downstreamClosed = true;
  }

  /** @internal */
  dataBuffer(type: number): BufferBox {
    const b = type === 2 ? this.down : this.up;
    return b ?? { data: new Uint8Array(0), mutable: false };
  }

  /** @internal */
  continueFromModule(type: StreamType): WasmResult {
    this.continues.set(type, this.continued(type) + 1);
    if (type === StreamType.Downstream) {
      this.host.defer(() => {
        if (this.down && !this.completed) {
          this.toUpstream.push(this.down.data);
          this.down = null;
        }
      });
    }
    return WasmResult.Ok;
  }

  /** @internal Both close the client connection in Envoy (FlushWrite), seen as a local close. */
  closeFromModule(type: StreamType): void {
    if (type === StreamType.Downstream || type === StreamType.Upstream) {
      this.host.defer(() => this.closeDownstream(PeerType.Local));
    }
  }

  /** @internal */
  facts(): StreamFacts {
    return {
      http: false,
      connectionId: this.connectionId,
      startTimeNs: this.startTimeNs,
      nowNs: this.host.nowNs,
      logPhase: false,
      requestHeaders: null,
      responseHeaders: null,
      responseTrailers: null,
      requestBytes: 0,
      responseBytes: 0,
      filterState: this.filterState,
      envoyFilterState: this.envoyFilterState,
    };
  }
}
