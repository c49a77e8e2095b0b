// tcp: a network filter. Counts bytes in each direction, closes connections whose first bytes start with
// a refused prefix (for example a protocol you do not want on this port), and logs a summary per connection.
// Config: {"refuse_prefixes": ["DELETE "], "log_connections": true}

export * from "proxy-wasm-as/exports";

import {
  RootContext, TcpContext, Action, PeerType, registerRootContext, downstreamData, Counter,
  ConfigErrors, readPluginConfig, log, encodeUtf8,
} from "proxy-wasm-as";

class TcpRoot extends RootContext {
  refused: ArrayBuffer[] = [];
  logConnections: bool = false;
  bytesIn: Counter | null = null;
  bytesOut: Counter | null = null;
  refusedCount: Counter | null = null;

  onConfigure(size: usize): bool {
    const errors = new ConfigErrors();
    const cfg = readPluginConfig(errors);
    const next = new Array<ArrayBuffer>();
    if (cfg !== null && cfg.allowOnly(["refuse_prefixes", "log_connections"])) {
      const list = cfg.array("refuse_prefixes");
      if (list !== null) {
        for (let i = 0; i < list.length; i++) {
          const p = list.string(i);
          if (p.length == 0) errors.add(list.itemPath(i), "must not be empty");
          next.push(encodeUtf8(p));
        }
      }
      this.logConnections = cfg.bool("log_connections", false);
    }
    if (!errors.ok) {
      log.error("tcp: invalid configuration: " + errors.first);
      return false;
    }
    this.refused = next;
    if (this.bytesIn === null) {
      this.bytesIn = new Counter("tcp.downstream_bytes");
      this.bytesOut = new Counter("tcp.upstream_bytes");
      this.refusedCount = new Counter("tcp.refused");
    }
    return true;
  }

  newTcpContext(contextId: u32): TcpContext | null { return new Connection(contextId, this); }
}

class Connection extends TcpContext {
  inBytes: u64 = 0;
  outBytes: u64 = 0;
  checked: bool = false;

  get conf(): TcpRoot { return changetype<TcpRoot>(this.root); }

  onDownstreamData(size: usize, endOfStream: bool): Action {
    this.inBytes += <u64>size;
    this.conf.bytesIn!.increment(<u64>size);
    if (!this.checked && size > 0) {
      this.checked = true;
      const head = downstreamData.read(0, 64);
      const refused = this.conf.refused;
      for (let i = 0; i < refused.length; i++) {
        const p = refused[i];
        if (head.byteLength >= p.byteLength && memory.compare(changetype<usize>(head), changetype<usize>(p), <usize>p.byteLength) == 0) {
          this.conf.refusedCount!.increment();
          log.warn("tcp: refused a connection starting with a refused prefix");
          this.closeDownstream();
          return Action.Pause;
        }
      }
    }
    return Action.Continue;
  }

  onUpstreamData(size: usize, endOfStream: bool): Action {
    this.outBytes += <u64>size;
    this.conf.bytesOut!.increment(<u64>size);
    return Action.Continue;
  }

  onDownstreamConnectionClose(peer: PeerType): void {
    if (this.conf.logConnections) {
      log.info("tcp: connection closed, " + this.inBytes.toString() + " bytes in, " + this.outBytes.toString() + " bytes out");
    }
  }
}

registerRootContext((id: u32): RootContext => new TcpRoot(id));
