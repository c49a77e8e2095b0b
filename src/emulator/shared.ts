// Shared data and shared queues, with the rules of proxy-wasm-cpp-host's shared_data.cc and
// shared_queue.cc. One store models one Envoy process: pass the same instance to several Host objects
// to model several workers (each its own VM) of one vm_id.

import { WasmResult } from "./abi";
import { bytesEqual } from "./bytes";

export interface SharedValue {
  value: Uint8Array;
  cas: number;
}

const keyOf = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

export class SharedData {
  private readonly byVm = new Map<string, Map<string, SharedValue>>();
  /** One counter for the whole process; 0 is never handed out. */
  private nextCas = 1;

  private bump(): number {
    const cas = this.nextCas;
    this.nextCas = (this.nextCas + 1) >>> 0;
    if (this.nextCas === 0) this.nextCas = 1;
    return cas;
  }

  get(vmId: string, key: Uint8Array): SharedValue | undefined {
    const v = this.byVm.get(vmId)?.get(keyOf(key));
    return v && { value: v.value.slice(), cas: v.cas };
  }

  /**
   * cas 0 always writes; a non-zero cas must equal the key's current cas or the write is refused with
   * CasMismatch. A key that does not exist yet is created whatever the cas (Envoy ignores it), so two
   * workers can both "create" the same key. Every successful write takes the next cas.
   */
  set(vmId: string, key: Uint8Array, value: Uint8Array, cas: number): WasmResult {
    let map = this.byVm.get(vmId);
    if (!map) this.byVm.set(vmId, (map = new Map()));
    const k = keyOf(key);
    const cur = map.get(k);
    if (cur && cas !== 0 && cas !== cur.cas) return WasmResult.CasMismatch;
    map.set(k, { value: value.slice(), cas: this.bump() });
    return WasmResult.Ok;
  }

  keys(vmId: string): Uint8Array[] {
    return [...(this.byVm.get(vmId)?.keys() ?? [])].map((k) => new Uint8Array(Buffer.from(k, "latin1")));
  }

  /** Test convenience: the value as text, or undefined. */
  getText(vmId: string, key: string): string | undefined {
    const v = this.get(vmId, Buffer.from(key));
    return v && Buffer.from(v.value).toString("utf8");
  }

  equals(vmId: string, key: Uint8Array, value: Uint8Array): boolean {
    const v = this.get(vmId, key);
    return !!v && bytesEqual(v.value, value);
  }
}

/** Who is told when a queue gets data: a root context in one Host (one worker). */
export interface QueueOwner {
  notify(queueId: number, contextId: number): void;
}

interface Queue {
  vmId: string;
  name: string;
  items: Uint8Array[];
  owner?: QueueOwner;
  contextId: number;
}

export class SharedQueues {
  private readonly queues = new Map<number, Queue>();
  private readonly tokens = new Map<string, number>();
  private nextToken = 1;

  /** Registers (or re-registers) a queue; the latest registrant is the one notified. Data is kept. */
  register(vmId: string, name: string, owner: QueueOwner | undefined, contextId: number): number {
    const key = `${vmId}\u0000${name}`;
    let token = this.tokens.get(key);
    if (token === undefined) {
      while (token === undefined || token === 0 || this.queues.has(token)) token = this.nextToken++ >>> 0;
      this.tokens.set(key, token);
      this.queues.set(token, { vmId, name, items: [], contextId });
    }
    const q = this.queues.get(token)!;
    q.owner = owner;
    q.contextId = contextId;
    return token;
  }

  /** 0 when there is no such queue. */
  resolve(vmId: string, name: string): number {
    return this.tokens.get(`${vmId}\u0000${name}`) ?? 0;
  }

  enqueue(token: number, value: Uint8Array): WasmResult {
    const q = this.queues.get(token);
    if (!q) return WasmResult.NotFound;
    q.items.push(value.slice());
    q.owner?.notify(token, q.contextId);
    return WasmResult.Ok;
  }

  dequeue(token: number): { result: WasmResult; value?: Uint8Array } {
    const q = this.queues.get(token);
    if (!q) return { result: WasmResult.NotFound };
    const value = q.items.shift();
    return value ? { result: WasmResult.Ok, value } : { result: WasmResult.Empty };
  }

  /** Inspection: items waiting in a queue, oldest first. */
  peek(vmId: string, name: string): Uint8Array[] {
    const t = this.resolve(vmId, name);
    return t ? this.queues.get(t)!.items.map((i) => i.slice()) : [];
  }
}
