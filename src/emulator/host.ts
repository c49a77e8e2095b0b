// The proxy-wasm host: loads a real module with Node's WebAssembly API, implements every `env` and WASI
// import with Envoy's semantics (proxy-wasm-cpp-host plus Envoy's extensions/common/wasm/context.cc),
// and dispatches lifecycle, timer, queue and callout events into the module on a virtual clock.
//
// Contexts: id 0 is the VM context (_initialize runs in it), root contexts and streams count up from 1.
// Every call into the module runs "in" one context; a host call acts on that context unless the module
// switched with proxy_set_effective_context (reset to none on each entry into the module, as Envoy does).

import { readFileSync } from "node:fs";
import { ABI_MARKERS, AbiVersion, LogLevel, WasmResult } from "./abi";
import { BytesLike, toBytes } from "./bytes";
import {
  CalloutKind,
  calloutKind,
  CalloutTokens,
  GrpcCallRecord,
  GrpcStreamRecord,
  HttpCallRecord,
} from "./callouts";
import { VirtualClock } from "./clock";
import { ModuleLoadError, PluginStartError, WasmTrapError } from "./errors";
import { HeaderMap } from "./headers";
import type { LogEntry } from "./logs";
import { Metrics, MetricValue } from "./metrics";
import { parseImports } from "./module";
import { DEFAULT_PROPERTIES, PropertyOverrides, PropertyScope } from "./properties";
import { SharedData, SharedQueues } from "./shared";
import { ENVOY_FOREIGN_FUNCTIONS, type DeclaredProperty } from "./foreign";
import { envImports, ENV_SIGNATURES, GuestMemory, type Fn, type HostCalls } from "./hostcalls";
import { HttpStream, HttpStreamOptions, TcpStream } from "./streams";
import type { Context, ForeignFunction, GrpcResponse, HostOptions, HttpCallResponse, RootContext } from "./host-types";
import { seededRandom, viaUpstream } from "./host-helpers";
import { WASI_ALLOWED_DURING_START, WASI_SIGNATURES, wasiImports } from "./wasi";

export type { BufferBox, Context, ForeignFunction, GrpcResponse, HostOptions, HttpCallResponse, RootContext } from "./host-types";

export class Host {
  readonly clock: VirtualClock;
  readonly sharedData: SharedData;
  readonly queues: SharedQueues;
  readonly abiVersion: AbiVersion;
  readonly vmId: string;
  readonly pluginName: string;
  readonly rootId: string;
  readonly options: HostOptions;

  private readonly module: WebAssembly.Module;
  private instance!: WebAssembly.Instance;
  private memory!: WebAssembly.Memory;
  private readonly mem = new GuestMemory(
    () => this.memory,
    (size) => this.alloc(size),
  );
  private readonly vmConfig: Uint8Array;
  private readonly metricsStore = new Metrics();
  private readonly logEntries: LogEntry[] = [];
  private readonly logLevel: LogLevel;
  private readonly random: (n: number) => Uint8Array;
  private readonly tokens = new CalloutTokens();
  private readonly foreign = new Map<string, ForeignFunction>();
  private readonly foreignCounts = new Map<string, number>();
  private readonly declarations = new Map<number, Map<string, DeclaredProperty>>();

  /** @internal */ readonly contexts = new Map<number, Context>();
  private readonly roots = new Map<string, RootContext>();
  private nextContextId = 1;
  private nextConnectionId = 1;

  private readonly httpCallMap = new Map<number, HttpCallRecord>();
  private readonly grpcCallMap = new Map<number, GrpcCallRecord>();
  private readonly grpcStreamMap = new Map<number, GrpcStreamRecord>();

  private current: Context;
  private effectiveId = 0;
  private depth = 0;
  private restricted = false;
  private stopNext = false;
  private afterActions: Array<() => void> = [];
  private pendingQueueReady: Array<[number, number]> = [];
  private started = false;
  private failedState: WasmTrapError | null = null;
  private lastCritical: string | undefined;

  private constructor(module: WebAssembly.Module, abi: AbiVersion, opts: HostOptions) {
    this.module = module;
    this.abiVersion = abi;
    this.options = opts;
    this.clock = new VirtualClock(opts.startTimeNs);
    this.sharedData = opts.sharedData ?? new SharedData();
    this.queues = opts.queues ?? new SharedQueues();
    this.vmId = opts.vmId ?? "";
    this.pluginName = opts.pluginName ?? "";
    this.rootId = opts.rootId ?? "";
    this.vmConfig = toBytes(opts.vmConfig ?? "");
    this.logLevel = opts.logLevel ?? LogLevel.Trace;
    this.random = opts.randomBytes ?? seededRandom(opts.seed ?? 0x5eed);
    const vm: Context = { id: 0, kind: "vm", root: null, created: true };
    this.contexts.set(0, vm);
    this.current = vm;
    const without = new Set(opts.withoutForeignFunctions ?? []);
    for (const [name, fn] of Object.entries(ENVOY_FOREIGN_FUNCTIONS)) if (!without.has(name)) this.foreign.set(name, fn);
  }

  // ---------------------------------------------------------------- loading and lifecycle

  /**
   * Compiles and instantiates a module, refusing what Envoy refuses: no (or an unsupported) ABI marker,
   * an import the host does not provide or with another signature, no allocator export.
   */
  static async load(wasm: Uint8Array | string, opts: HostOptions = {}): Promise<Host> {
    const bytes = typeof wasm === "string" ? new Uint8Array(readFileSync(wasm)) : wasm;
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(new Uint8Array(bytes));
    } catch (e) {
      throw new ModuleLoadError(`Failed to load Wasm bytecode: ${(e as Error).message}`);
    }
    const exportNames = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
    const abi = (Object.keys(ABI_MARKERS) as AbiVersion[]).reverse().find((v) => exportNames.has(ABI_MARKERS[v]));
    if (!abi) {
      throw new ModuleLoadError(
        `Missing or unknown Proxy-Wasm ABI version: export one of ${Object.values(ABI_MARKERS).join(", ")}`,
      );
    }
    if (abi === "0.1.0") throw new ModuleLoadError("Proxy-Wasm ABI 0.1.0 is not supported by this emulator");
    if (!exportNames.has("malloc") && !exportNames.has("proxy_on_memory_allocate")) {
      throw new ModuleLoadError("Wasm module is missing malloc function (export malloc or proxy_on_memory_allocate)");
    }
    const host = new Host(module, abi, opts);
    host.instantiate(bytes);
    return host;
  }

  /** load + startVm + configure; throws PluginStartError (with the module's logs) if either says no. */
  static async start(wasm: Uint8Array | string, opts: HostOptions = {}): Promise<Host> {
    const host = await Host.load(wasm, opts);
    if (!host.startVm()) throw new PluginStartError("proxy_on_vm_start returned false", host.logs());
    if (!host.configure()) throw new PluginStartError("proxy_on_configure returned false", host.logs());
    return host;
  }

  private instantiate(bytes: Uint8Array): void {
    const provided = this.importObject();
    const declared = WebAssembly.Module.imports(this.module);
    const parsed = parseImports(bytes);
    const sigs: Record<string, string> = {};
    for (const p of parsed ?? []) if (p.signature) sigs[`${p.module}.${p.name}`] = p.signature;
    for (const imp of declared) {
      const where = `${imp.module}.${imp.name}`;
      if (imp.kind === "memory" && imp.module === "env") {
        const lim = parsed?.find((p) => p.kind === "memory")?.memory;
        provided.env[imp.name] = new WebAssembly.Memory({
          initial: lim?.initial ?? 1,
          ...(lim?.maximum !== undefined ? { maximum: lim.maximum } : {}),
        });
        continue;
      }
      const fn = provided[imp.module]?.[imp.name];
      if (imp.kind !== "function" || typeof fn !== "function") {
        throw new ModuleLoadError(`Failed to load Wasm module due to a missing import: ${where}`);
      }
      const want = imp.module === "env" ? ENV_SIGNATURES[imp.name] : WASI_SIGNATURES[imp.name];
      if (sigs[where] !== undefined && want !== undefined && sigs[where] !== want) {
        throw new ModuleLoadError(
          `Failed to load Wasm module due to an import type mismatch: ${where}, want ${want}, but the module declares ${sigs[where]}`,
        );
      }
    }
    try {
      this.instance = new WebAssembly.Instance(this.module, provided as WebAssembly.Imports);
    } catch (e) {
      throw new ModuleLoadError(`Failed to instantiate Wasm module: ${(e as Error).message}`);
    }
    const mem = this.instance.exports.memory ?? Object.values(provided.env).find((v) => v instanceof WebAssembly.Memory);
    if (!(mem instanceof WebAssembly.Memory)) throw new ModuleLoadError("Wasm module exports no memory");
    this.memory = mem;
  }

  /**
   * Runs the module's start-up (`_initialize`, then `main(0,0)` if exported, else `_start`), creates the
   * first root context and calls proxy_on_vm_start. Returns what proxy_on_vm_start returned.
   */
  startVm(): boolean {
    if (this.started) throw new Error("startVm() was already called");
    this.started = true;
    const vm = this.contexts.get(0)!;
    const exp = this.instance.exports;
    this.restricted = true;
    try {
      if (typeof exp._initialize === "function") {
        this.callVm(vm, "_initialize", []);
        if (typeof exp.main === "function") this.callVm(vm, "main", [0, 0]);
        else if (typeof exp.__main_void === "function") this.callVm(vm, "__main_void", []);
      } else if (typeof exp._start === "function") {
        this.callVm(vm, "_start", []);
      }
    } finally {
      this.restricted = false;
    }
    return this.startRoot(this.rootId, toBytes(this.options.pluginConfig ?? ""));
  }

  private startRoot(rootId: string, pluginConfig: Uint8Array): boolean {
    if (this.roots.has(rootId)) throw new Error(`root context "${rootId}" already exists`);
    const root: RootContext = {
      id: this.nextContextId++,
      kind: "root",
      root: null,
      created: false,
      rootId,
      pluginConfig,
      configReadable: false,
      tickPeriodNs: 0n,
      nextTickNs: null,
      status: { code: 0, message: "" },
      httpCallResponse: null,
      grpcReceiveBuffer: null,
      grpcInitialMetadata: null,
      grpcTrailingMetadata: null,
      foreignArgs: null,
      pendingDone: false,
      deleted: false,
    };
    root.root = root;
    this.contexts.set(root.id, root);
    this.roots.set(rootId, root);
    if (this.failed) return false;
    root.configReadable = true;
    try {
      this.dispatch(root, "proxy_on_context_create", [root.id, 0]);
    } finally {
      root.configReadable = false;
    }
    root.created = true;
    const r = this.dispatch(root, "proxy_on_vm_start", [root.id, this.vmConfig.length]);
    return r.value === undefined || r.value !== 0;
  }

  /** Calls proxy_on_configure on a root context (default: the first one), optionally with a new configuration. */
  configure(pluginConfig?: BytesLike, rootId: string = this.rootId): boolean {
    const root = this.requireRoot(rootId);
    if (pluginConfig !== undefined) root.pluginConfig = toBytes(pluginConfig);
    if (this.failed) return true; // Envoy: a failed VM is not configured (its streams fail instead)
    root.configReadable = true;
    try {
      const r = this.dispatch(root, "proxy_on_configure", [root.id, root.pluginConfig.length]);
      return r.value === undefined || r.value !== 0;
    } finally {
      root.configReadable = false;
    }
  }

  /** Adds another root context (another plugin with its own root_id in this VM): create, vm_start, configure. */
  addRoot(rootId: string, pluginConfig: BytesLike = ""): boolean {
    if (!this.started) throw new Error("call startVm() first");
    if (!this.startRoot(rootId, toBytes(pluginConfig))) return false;
    return this.configure(undefined, rootId);
  }

  /** Starts an HTTP stream: proxy_on_context_create(stream, root). */
  newHttpStream(rootId: string = this.rootId, opts: HttpStreamOptions = {}): HttpStream {
    const root = this.requireRoot(rootId);
    const ctx: Context = { id: this.nextContextId++, kind: "http", root, created: false };
    const stream = new HttpStream(this, ctx, this.nextConnectionId++, opts);
    ctx.stream = stream;
    this.contexts.set(ctx.id, ctx);
    if (!this.failed) {
      this.dispatch(ctx, "proxy_on_context_create", [ctx.id, root.id]);
      ctx.created = true;
    }
    return stream;
  }

  /** Starts a TCP connection: proxy_on_context_create then proxy_on_new_connection. */
  newTcpStream(rootId: string = this.rootId, opts: { properties?: PropertyOverrides } = {}): TcpStream {
    const root = this.requireRoot(rootId);
    const ctx: Context = { id: this.nextContextId++, kind: "tcp", root, created: false };
    const stream = new TcpStream(this, ctx, this.nextConnectionId++, opts);
    ctx.stream = stream;
    this.contexts.set(ctx.id, ctx);
    stream.start();
    return stream;
  }

  /**
   * Shuts the VM down as Envoy does on drain: proxy_on_done on every root; those that return true are
   * deleted at once, the others wait for proxy_done. Returns true when every root is deleted.
   */
  shutdown(): boolean {
    for (const root of this.roots.values()) {
      if (root.deleted || root.pendingDone) continue;
      const r = this.dispatch(root, "proxy_on_done", [root.id]);
      if (r.value === undefined || r.value !== 0) this.deleteRoot(root);
      else root.pendingDone = true;
    }
    return [...this.roots.values()].every((r) => r.deleted);
  }

  private deleteRoot(root: RootContext): void {
    root.deleted = true;
    root.pendingDone = false;
    this.dispatch(root, "proxy_on_delete", [root.id]);
    this.contexts.delete(root.id);
  }

  // ---------------------------------------------------------------- time

  /**
   * Advances the virtual clock by `ms`, firing in time order every tick that falls due
   * (as many as periods elapsed) and timing out callouts whose deadline passes.
   */
  advanceTime(ms: number): void {
    if (!(ms >= 0)) throw new RangeError("advanceTime needs a non-negative number of milliseconds");
    const target = this.clock.monotonicNowNs() + BigInt(Math.round(ms * 1e6));
    for (;;) {
      let dueAt: bigint | null = null;
      let fire: (() => void) | null = null;
      for (const root of this.roots.values()) {
        if (root.nextTickNs !== null && root.nextTickNs <= target && (dueAt === null || root.nextTickNs < dueAt)) {
          dueAt = root.nextTickNs;
          fire = () => this.fireTick(root);
        }
      }
      for (const c of [...this.httpCallMap.values(), ...this.grpcCallMap.values()]) {
        if (c.deadlineMs === undefined) continue;
        const at = this.clock.monotonicAtElapsedMs(c.deadlineMs);
        if (at <= target && (dueAt === null || at < dueAt)) {
          dueAt = at;
          fire = () => this.timeoutCall(c.token);
        }
      }
      if (dueAt === null || fire === null) break;
      const now = this.clock.monotonicNowNs();
      if (dueAt > now) this.clock.advanceNs(dueAt - now);
      fire();
    }
    const now = this.clock.monotonicNowNs();
    if (target > now) this.clock.advanceNs(target - now);
  }

  private fireTick(root: RootContext): void {
    root.nextTickNs = root.tickPeriodNs > 0n ? this.clock.monotonicNowNs() + root.tickPeriodNs : null;
    if (!this.failed) this.dispatch(root, "proxy_on_tick", [root.id]);
  }

  private timeoutCall(token: number): void {
    const http = this.httpCallMap.get(token);
    if (http) {
      const body = "upstream request timeout";
      this.respondHttpCall(token, {
        headers: [[":status", "504"], ["content-length", String(body.length)], ["content-type", "text/plain"]],
        body,
      });
      return;
    }
    const call = this.grpcCallMap.get(token);
    if (!call) return;
    // Envoy's own timeout, not the upstream's answer: no "{via_upstream}" detail on the message.
    this.grpcCallMap.delete(token);
    const root = this.contexts.get(call.contextId) as RootContext | undefined;
    if (root && !this.failed) this.grpcClose(root, token, 4, "");
  }

  // ---------------------------------------------------------------- inspection

  /** Recorded log lines (at or above the host's log level), optionally only those of one level. */
  logs(level?: LogLevel): LogEntry[] {
    return this.logEntries.filter((l) => level === undefined || l.level === level).map((l) => ({ ...l }));
  }

  /** Log messages as text, handy for `expect(...).toContain(...)`. */
  logMessages(level?: LogLevel): string[] {
    return this.logs(level).map((l) => l.message);
  }

  clearLogs(): void {
    this.logEntries.length = 0;
  }

  /** A custom metric by the name the module defined it with (no `wasmcustom.` prefix). */
  metric(name: string): { type: number; value: number; samples?: number[] } | undefined {
    const m = this.metricsStore.byMetricName(name);
    return m && publicMetric(m);
  }

  metrics(): Record<string, { type: number; value: number; samples?: number[] }> {
    const out: Record<string, { type: number; value: number; samples?: number[] }> = {};
    for (const [k, m] of Object.entries(this.metricsStore.all())) out[k] = publicMetric(m);
    return out;
  }

  httpCalls(): HttpCallRecord[] {
    return [...this.httpCallMap.values()].map((c) => ({ ...c, body: c.body.slice() }));
  }

  grpcCalls(): GrpcCallRecord[] {
    return [...this.grpcCallMap.values()].map((c) => ({ ...c }));
  }

  grpcStreams(): GrpcStreamRecord[] {
    return [...this.grpcStreamMap.values()].map((c) => ({ ...c, sent: [...c.sent] }));
  }

  /** Linear memory size in bytes. */
  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  imports(): WebAssembly.ModuleImportDescriptor[] {
    return WebAssembly.Module.imports(this.module);
  }

  exports(): WebAssembly.ModuleExportDescriptor[] {
    return WebAssembly.Module.exports(this.module);
  }

  /** The trap that failed the VM, or null while it is healthy. */
  get failure(): WasmTrapError | null {
    return this.failedState;
  }

  get failed(): boolean {
    return this.failedState !== null;
  }

  /** Root context id of a root_id. */
  rootContextId(rootId: string = this.rootId): number {
    return this.requireRoot(rootId).id;
  }

  /** Tick period a root context set, in milliseconds (0 = none). */
  tickPeriodMs(rootId: string = this.rootId): number {
    return Number(this.requireRoot(rootId).tickPeriodNs / 1_000_000n);
  }

  /**
   * @internal Test hook: runs `fn` as if the module were executing in `contextId`, with the host's env
   * functions and a view of linear memory (for checking raw ABI rules without a purpose-built module).
   */
  runInContext<T>(contextId: number, fn: (env: Record<string, (...a: number[]) => number>, memory: () => Uint8Array) => T): T {
    const ctx = this.contexts.get(contextId);
    if (!ctx) throw new Error(`no context ${contextId}`);
    const saved = this.current;
    const savedEffective = this.effectiveId;
    this.current = ctx;
    this.effectiveId = 0;
    this.depth++;
    try {
      return fn(this.envTable as unknown as Record<string, (...a: number[]) => number>, () => this.mem.u8());
    } finally {
      this.depth--;
      this.current = saved;
      this.effectiveId = savedEffective;
      this.stopNext = false;
      this.runAfterActions();
    }
  }

  // ---------------------------------------------------------------- foreign functions

  /**
   * @internal Properties declared with declare_property in a context (Envoy keeps them per context; a stream's
   * proxy_set_property follows its root's).
   */
  declaredProperties(contextId: number): Map<string, DeclaredProperty> {
    let m = this.declarations.get(contextId);
    if (!m) this.declarations.set(contextId, (m = new Map()));
    return m;
  }

  /** Registers (or replaces) a foreign function; Envoy's (foreign/index.ts) are built in. */
  registerForeignFunction(name: string, fn: ForeignFunction): void {
    this.foreign.set(name, fn);
  }

  /** How many times the module called a foreign function by name. */
  foreignFunctionCalls(name: string): number {
    return this.foreignCounts.get(name) ?? 0;
  }

  /** Delivers proxy_on_foreign_function(root, id, args) with the arguments readable as buffer 8. */
  callOnForeignFunction(functionId: number, args: BytesLike, rootId: string = this.rootId): void {
    const root = this.requireRoot(rootId);
    root.foreignArgs = toBytes(args);
    try {
      this.dispatch(root, "proxy_on_foreign_function", [root.id, functionId, root.foreignArgs.length]);
    } finally {
      root.foreignArgs = null;
    }
  }

  // ---------------------------------------------------------------- callouts

  /** Answers a pending proxy_http_call: proxy_on_http_call_response on the root that made it. */
  respondHttpCall(token: number, response: HttpCallResponse): void {
    const call = this.httpCallMap.get(token);
    if (!call) throw new Error(`no pending HTTP call with token ${token}`);
    this.httpCallMap.delete(token);
    const root = this.contexts.get(call.contextId) as RootContext | undefined;
    if (!root || this.failed) return;
    const headers = HeaderMap.from(response.headers);
    const body = toBytes(response.body ?? "");
    const trailers = response.trailers && response.trailers.length ? HeaderMap.from(response.trailers) : null;
    root.httpCallResponse = { headers, body, trailers };
    try {
      this.dispatch(root, "proxy_on_http_call_response", [root.id, token, headers.size, body.length, trailers?.size ?? 0]);
    } finally {
      root.httpCallResponse = null;
    }
  }

  /** Fails a pending HTTP call as a reset does: 0 headers, 0 body, get_status = BrokenConnection "reset". */
  failHttpCall(token: number): void {
    const call = this.httpCallMap.get(token);
    if (!call) throw new Error(`no pending HTTP call with token ${token}`);
    this.httpCallMap.delete(token);
    const root = this.contexts.get(call.contextId) as RootContext | undefined;
    if (!root || this.failed) return;
    root.status = { code: WasmResult.BrokenConnection, message: "reset" };
    try {
      this.dispatch(root, "proxy_on_http_call_response", [root.id, token, 0, 0, 0]);
    } finally {
      root.status = { code: WasmResult.BrokenConnection, message: "" };
    }
  }

  /**
   * Answers a gRPC call or stream. A unary call gets proxy_on_grpc_receive when status is 0 (Envoy does
   * not deliver metadata for unary calls) or proxy_on_grpc_close(status) otherwise. A stream gets
   * initial metadata, the message, trailing metadata and then close, for whichever are given.
   * `statusMessage` is what the upstream sent; the module reads it back as Envoy reports it ("msg{via_upstream}").
   */
  respondGrpcCall(token: number, res: GrpcResponse): void {
    if (calloutKind(token) === CalloutKind.GrpcStream) {
      this.grpcStreamReceive(token, res);
      this.closeGrpcStream(token, res.status, res.statusMessage ?? "");
      return;
    }
    const call = this.grpcCallMap.get(token);
    if (!call) throw new Error(`no pending gRPC call with token ${token}`);
    this.grpcCallMap.delete(token);
    const root = this.contexts.get(call.contextId) as RootContext | undefined;
    if (!root || this.failed) return;
    if (res.status === 0) this.grpcReceive(root, token, toBytes(res.message ?? ""));
    else this.grpcClose(root, token, res.status, viaUpstream(res.statusMessage ?? ""));
  }

  /** Delivers data on an open gRPC stream (any of initial metadata, a message, trailing metadata). */
  grpcStreamReceive(token: number, data: Omit<GrpcResponse, "status" | "statusMessage">): void {
    const s = this.grpcStreamMap.get(token);
    if (!s) throw new Error(`no open gRPC stream with token ${token}`);
    const root = this.contexts.get(s.contextId) as RootContext | undefined;
    if (!root || this.failed) return;
    if (data.initialMetadata) {
      root.grpcInitialMetadata = HeaderMap.from(data.initialMetadata);
      try {
        this.dispatch(root, "proxy_on_grpc_receive_initial_metadata", [root.id, token, root.grpcInitialMetadata.size]);
      } finally {
        root.grpcInitialMetadata = null;
      }
    }
    if (data.message !== undefined) this.grpcReceive(root, token, toBytes(data.message));
    if (data.trailingMetadata) {
      root.grpcTrailingMetadata = HeaderMap.from(data.trailingMetadata);
      try {
        this.dispatch(root, "proxy_on_grpc_receive_trailing_metadata", [root.id, token, root.grpcTrailingMetadata.size]);
      } finally {
        root.grpcTrailingMetadata = null;
      }
    }
  }

  /**
   * The remote end closes a gRPC stream: proxy_on_grpc_close(status), get_status gives status and message
   * (for a failure, as Envoy reports it: "msg{via_upstream}").
   */
  closeGrpcStream(token: number, status: number, message = ""): void {
    const s = this.grpcStreamMap.get(token);
    if (!s) throw new Error(`no open gRPC stream with token ${token}`);
    s.remoteClosed = true;
    if (s.localClosed) this.grpcStreamMap.delete(token);
    const root = this.contexts.get(s.contextId) as RootContext | undefined;
    if (!root || this.failed) return;
    this.grpcClose(root, token, status, status === 0 ? message : viaUpstream(message));
  }

  private grpcReceive(root: RootContext, token: number, message: Uint8Array): void {
    root.grpcReceiveBuffer = message;
    try {
      this.dispatch(root, "proxy_on_grpc_receive", [root.id, token, message.length]);
    } finally {
      root.grpcReceiveBuffer = null;
    }
  }

  private grpcClose(root: RootContext, token: number, status: number, message: string): void {
    root.status = { code: status, message };
    try {
      this.dispatch(root, "proxy_on_grpc_close", [root.id, token, status]);
    } finally {
      root.status = { code: status, message: "" };
    }
  }

  // ---------------------------------------------------------------- calling into the module

  /** @internal Calls an export in a context; returns undefined when the module does not export it. */
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
   * @internal One callback as Envoy makes it: the call, then (like DeferAfterCallActions) whether the module
   * asked to stop the next iteration, then the deferred actions (local replies, continues).
   */
  dispatch(ctx: Context, name: string, args: Array<number | bigint>): { value: number | undefined; stopped: boolean } {
    const value = this.callVm(ctx, name, args);
    const stopped = this.stopNext;
    this.stopNext = false;
    this.runAfterActions();
    return { value, stopped };
  }

  private runAfterActions(): void {
    while (this.afterActions.length) this.afterActions.shift()!();
  }

  /** @internal */
  defer(action: () => void): void {
    this.afterActions.push(action);
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

  private readonly queueOwner = {
    notify: (queueId: number, contextId: number) => {
      // Envoy posts this to the owning worker's event loop: never re-entrantly.
      if (this.depth > 0) this.pendingQueueReady.push([queueId, contextId]);
      else this.deliverQueueReady(queueId, contextId);
    },
  };

  /** @internal */
  get nowNs(): bigint {
    return this.clock.nowNs();
  }

  private requireRoot(rootId: string): RootContext {
    const root = this.roots.get(rootId);
    if (!root) throw new Error(`no root context with root_id "${rootId}"`);
    return root;
  }

  private effective(): Context {
    if (this.effectiveId !== 0) {
      const c = this.contexts.get(this.effectiveId);
      if (c) return c;
    }
    return this.current;
  }

  /** @internal */
  log(level: LogLevel, message: string, contextId = this.effective().id): void {
    if (level === LogLevel.Critical) this.lastCritical = message;
    if (level < this.logLevel) return;
    this.logEntries.push({ level, message, contextId });
  }

  /** @internal Fails a stream closed: what Envoy's CHECK_FAIL does once the VM is failed. */
  get failOpen(): boolean {
    return this.options.failOpen ?? false;
  }

  /** @internal */
  propertyScope(ctx: Context): PropertyScope {
    const root = ctx.root;
    const stream = ctx.stream;
    return {
      pluginName: this.pluginName,
      rootId: root?.rootId ?? "",
      vmId: this.vmId,
      overrides: stream
        ? { ...DEFAULT_PROPERTIES, ...(this.options.properties ?? {}), ...stream.propertyOverrides }
        : { ...(this.options.properties ?? {}) },
      stream: stream?.facts(),
    };
  }

  // ---------------------------------------------------------------- memory

  /** Allocates in the module: `malloc` first, then `proxy_on_memory_allocate` (Envoy's order). */
  private alloc(size: number): number {
    const exp = this.instance.exports;
    const fn = (typeof exp.malloc === "function" ? exp.malloc : exp.proxy_on_memory_allocate) as Fn;
    const savedEffective = this.effectiveId;
    this.effectiveId = 0;
    try {
      return Number(fn(size)) >>> 0;
    } finally {
      this.effectiveId = savedEffective;
    }
  }

  // ---------------------------------------------------------------- the import object

  private envTable: Record<string, Fn> = {};

  /** What the host functions (hostcalls/) may see and do. */
  private calls(): HostCalls {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const host = this;
    return {
      host,
      mem: this.mem,
      options: this.options,
      clock: this.clock,
      logLevel: this.logLevel,
      vmId: this.vmId,
      vmConfig: this.vmConfig,
      contexts: this.contexts,
      get failed() {
        return host.failed;
      },
      effective: () => this.effective(),
      setEffectiveContext: (id) => {
        this.effectiveId = id;
      },
      log: (level, message) => this.log(level, message),
      defer: (action) => this.defer(action),
      stopNextIteration: () => {
        this.stopNext = true;
      },
      deleteRoot: (root) => this.deleteRoot(root),
      tokens: this.tokens,
      httpCalls: this.httpCallMap,
      grpcCalls: this.grpcCallMap,
      grpcStreams: this.grpcStreamMap,
      sharedData: this.sharedData,
      queues: this.queues,
      queueOwner: this.queueOwner,
      metrics: this.metricsStore,
      propertyScope: (ctx) => this.propertyScope(ctx),
      declaredProperties: (id) => this.declaredProperties(id),
      foreign: this.foreign,
      foreignCounts: this.foreignCounts,
    };
  }

  private importObject(): Record<string, Record<string, unknown>> {
    const env = envImports(this.calls(), this.abiVersion);
    this.envTable = env;
    const wasi = wasiImports({
      memory: () => this.memory,
      log: (level, message) => this.log(level, message),
      hostError: (message) => this.log(LogLevel.Trace, message),
      env: Object.entries(this.options.env ?? {}),
      clock: this.clock,
      random: this.random,
    });
    const guard = (module: string, table: Record<string, Fn>, allowed: (n: string) => boolean) => {
      const out: Record<string, Fn> = {};
      for (const [name, fn] of Object.entries(table)) {
        out[name] = (...args) => {
          if (this.restricted && !allowed(name)) {
            throw new Error(`restricted_callback: ${module}.${name} may not be called during VM start-up`);
          }
          return fn(...args);
        };
      }
      return out;
    };
    const envAllowed = (n: string) => n === "proxy_log" || n === "emscripten_notify_memory_growth";
    const wasiAllowed = (n: string) => WASI_ALLOWED_DURING_START.has(n);
    return {
      env: guard("env", env, envAllowed),
      wasi_snapshot_preview1: guard("wasi_snapshot_preview1", wasi, wasiAllowed),
      wasi_unstable: guard("wasi_unstable", wasi, wasiAllowed),
    };
  }

}

function publicMetric(m: MetricValue): { type: number; value: number; samples?: number[] } {
  return { type: m.type, value: Number(m.value), ...(m.samples ? { samples: m.samples.map(Number) } : {}) };
}
