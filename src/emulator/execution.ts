// Calling into the module as Envoy does: every call runs "in" one context, a host call acts on that context
// unless the module switched with proxy_set_effective_context (reset to none on each entry, as Envoy does),
// work the module asks for during a callback (local replies, continues) runs after it returns, queue-ready
// deliveries are never re-entrant, and a trap fails the VM for good.

import { LogLevel } from "./abi";
import { WasmTrapError } from "./errors";
import type { Fn } from "./hostcalls";
import type { Context } from "./host-types";
import type { LogEntry } from "./logs";

/** What one callback returned, and whether the module asked to stop the next iteration (after a local reply). */
export interface Dispatched {
  value: number | undefined;
  stopped: boolean;
}

export class Execution {
  /** Set once the module is instantiated. */
  instance!: WebAssembly.Instance;
  /** Only logging and memory growth are allowed (the module's own start-up). */
  restricted = false;

  private current: Context;
  private effectiveId = 0;
  private depth = 0;
  private stopNext = false;
  private afterActions: Array<() => void> = [];
  private pendingQueueReady: Array<[number, number]> = [];
  private failedState: WasmTrapError | null = null;
  private lastCritical: string | undefined;
  private readonly logEntries: LogEntry[] = [];

  constructor(
    /** Every live context by id; id 0 is the VM context. */
    readonly contexts: Map<number, Context>,
    private readonly logLevel: LogLevel,
  ) {
    this.current = contexts.get(0)!;
  }

  /** The trap that failed the VM, or null while it is healthy. */
  get failure(): WasmTrapError | null {
    return this.failedState;
  }

  get failed(): boolean {
    return this.failedState !== null;
  }

  /** Calls an export in a context; returns undefined when the module does not export it. */
  callVm(ctx: Context, name: string, args: Array<number | bigint>): number | undefined {
    const fn = this.instance.exports[name];
    if (typeof fn !== "function") return undefined;
    const savedCurrent = this.current;
    const savedEffective = this.effectiveId;
    this.current = ctx;
    this.effectiveId = 0;
    this.depth++;
    try {
      const r = (fn as Fn)(...args);
      return typeof r === "bigint" ? Number(r) : typeof r === "number" ? r >>> 0 : 0;
    } catch (e) {
      if (e instanceof WasmTrapError) throw e;
      const err = new WasmTrapError(name, e, this.lastCritical, this.logs());
      this.failedState ??= err;
      this.afterActions = [];
      throw err;
    } finally {
      this.depth--;
      this.current = savedCurrent;
      this.effectiveId = savedEffective;
      if (this.depth === 0) this.flushQueueReady();
    }
  }

  /**
   * One callback as Envoy makes it: the call, then (like DeferAfterCallActions) whether the module asked to
   * stop the next iteration, then the deferred actions (local replies, continues).
   */
  dispatch(ctx: Context, name: string, args: Array<number | bigint>): Dispatched {
    const value = this.callVm(ctx, name, args);
    const stopped = this.stopNext;
    this.stopNext = false;
    this.runAfterActions();
    return { value, stopped };
  }

  /** Runs `fn` as if the module were executing in `ctx` (a test hook for raw ABI rules). */
  runAs<T>(ctx: Context, fn: () => T): T {
    const saved = this.current;
    const savedEffective = this.effectiveId;
    this.current = ctx;
    this.effectiveId = 0;
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
      this.current = saved;
      this.effectiveId = savedEffective;
      this.stopNext = false;
      this.runAfterActions();
    }
  }

  /** Runs `fn` with no effective context (the allocator: Envoy calls it outside any context). */
  outsideContext<T>(fn: () => T): T {
    const savedEffective = this.effectiveId;
    this.effectiveId = 0;
    try {
      return fn();
    } finally {
      this.effectiveId = savedEffective;
    }
  }

  /** Runs after the current callback returns. */
  defer(action: () => void): void {
    this.afterActions.push(action);
  }

  /** The callback's filter status becomes StopIteration. */
  stopNextIteration(): void {
    this.stopNext = true;
  }

  /** The context host calls act on: the one proxy_set_effective_context chose, else the one being called. */
  effective(): Context {
    if (this.effectiveId !== 0) {
      const c = this.contexts.get(this.effectiveId);
      if (c) return c;
    }
    return this.current;
  }

  setEffectiveContext(id: number): void {
    this.effectiveId = id;
  }

  /** Records a log line at or above the host's level (a critical one is kept for a trap's message). */
  log(level: LogLevel, message: string, contextId = this.effective().id): void {
    if (level === LogLevel.Critical) this.lastCritical = message;
    if (level < this.logLevel) return;
    this.logEntries.push({ level, message, contextId });
  }

  logs(level?: LogLevel): LogEntry[] {
    return this.logEntries.filter((l) => level === undefined || l.level === level).map((l) => ({ ...l }));
  }

  clearLogs(): void {
    this.logEntries.length = 0;
  }

  /** Where shared queues report data: Envoy posts it to the owning worker's event loop, never re-entrantly. */
  readonly queueOwner = {
    notify: (queueId: number, contextId: number) => {
      if (this.depth > 0) this.pendingQueueReady.push([queueId, contextId]);
      else this.deliverQueueReady(queueId, contextId);
    },
  };

  private runAfterActions(): void {
    while (this.afterActions.length) this.afterActions.shift()!();
  }

  private flushQueueReady(): void {
    while (this.pendingQueueReady.length && this.depth === 0) {
      const [queueId, contextId] = this.pendingQueueReady.shift()!;
      this.deliverQueueReady(queueId, contextId);
    }
  }

  private deliverQueueReady(queueId: number, contextId: number): void {
    const ctx = this.contexts.get(contextId);
    if (!ctx || this.failed) return;
    this.dispatch(ctx, "proxy_on_queue_ready", [ctx.id, queueId]);
  }
}
