// The proxy-wasm host: loads a real module with Node's WebAssembly API, implements every `env` and WASI
// import with Envoy's semantics (proxy-wasm-cpp-host plus Envoy's extensions/common/wasm/context.cc),
// and dispatches lifecycle, timer, queue and callout events into the module on a virtual clock.
//
// Contexts: id 0 is the VM context (_initialize runs in it), root contexts and streams count up from 1.
// This file is the plugin and VM lifecycle (start-up, configuration, root contexts, streams, shutdown) and what
// a test inspects; calling into the module is execution.ts, loading loader.ts, timers ticks.ts, callout answers
// callout-delivery.ts, and the host functions hostcalls/ (one file per ABI area).

import { AbiVersion, LogLevel } from "./abi";
import { BytesLike, toBytes } from "./bytes";
import { CalloutDelivery } from "./callout-delivery";
import { CalloutTokens, GrpcCallRecord, GrpcStreamRecord, HttpCallRecord } from "./callouts";
import { VirtualClock } from "./clock";
import { PluginStartError, WasmTrapError } from "./errors";
import { Dispatched, Execution } from "./execution";
import { ENVOY_FOREIGN_FUNCTIONS, type DeclaredProperty } from "./foreign";
import { seededRandom } from "./host-helpers";
import type { Context, ForeignFunction, GrpcResponse, HostOptions, HttpCallResponse, RootContext } from "./host-types";
import { envImports, GuestMemory, type Fn, type HostCalls } from "./hostcalls";
import { HttpStream, HttpStreamOptions } from "./http-stream";
import { CompiledModule, compileModule, guardedImports, ImportObject, instantiateModule } from "./loader";
import type { LogEntry } from "./logs";
import { Metrics, MetricValue } from "./metrics";
import { DEFAULT_PROPERTIES, PropertyOverrides, PropertyScope } from "./properties";
import { SharedData, SharedQueues } from "./shared";
import { TcpStream } from "./tcp-stream";
import { Ticks } from "./ticks";
import { wasiImports } from "./wasi";

export type { BufferBox, Context, ForeignFunction, GrpcResponse, HostOptions, HttpCallResponse, RootContext } from "./host-types";

type PublicMetric = { type: number; value: number; samples?: number[] };

export class Host {
  readonly clock: VirtualClock;
  readonly sharedData: SharedData;
  readonly queues: SharedQueues;
  readonly abiVersion: AbiVersion;
  readonly vmId: string;
  readonly pluginName: string;
  readonly rootId: string;
  readonly options: HostOptions;

  /** @internal */ readonly contexts = new Map<number, Context>();
  private readonly vm: Execution;
  private readonly callouts: CalloutDelivery;
  private readonly ticks: Ticks;
  private readonly module: WebAssembly.Module;
  private memory!: WebAssembly.Memory;
  private readonly mem = new GuestMemory(
    () => this.memory,
    (size) => this.alloc(size),
  );
  private envTable: Record<string, Fn> = {};
  private readonly vmConfig: Uint8Array;
  private readonly metricsStore = new Metrics();
  private readonly logLevel: LogLevel;
  private readonly random: (n: number) => Uint8Array;
  private readonly tokens = new CalloutTokens();
  private readonly foreign = new Map<string, ForeignFunction>();
  private readonly foreignCounts = new Map<string, number>();
  private readonly declarations = new Map<number, Map<string, DeclaredProperty>>();
  private readonly roots = new Map<string, RootContext>();
  private nextContextId = 1;
  private nextConnectionId = 1;
  private started = false;

  private constructor(compiled: CompiledModule, opts: HostOptions) {
    this.module = compiled.module;
    this.abiVersion = compiled.abi;
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
    this.contexts.set(0, { id: 0, kind: "vm", root: null, created: true });
    this.vm = new Execution(this.contexts, this.logLevel);
    this.callouts = new CalloutDelivery(this.vm);
    this.ticks = new Ticks(this.clock, this.roots, this.vm, this.callouts);
    const without = new Set(opts.withoutForeignFunctions ?? []);
    for (const [name, fn] of Object.entries(ENVOY_FOREIGN_FUNCTIONS)) if (!without.has(name)) this.foreign.set(name, fn);
    const { instance, memory } = instantiateModule(compiled, this.importObject());
    this.vm.instance = instance;
    this.memory = memory;
  }

  // ---------------------------------------------------------------- loading and lifecycle

  /**
   * Compiles and instantiates a module, refusing what Envoy refuses: no (or an unsupported) ABI marker,
   * an import the host does not provide or with another signature, no allocator export.
   */
  static async load(wasm: Uint8Array | string, opts: HostOptions = {}): Promise<Host> {
    return new Host(await compileModule(wasm), opts);
  }

  /** load + startVm + configure; throws PluginStartError (with the module's logs) if either says no. */
  static async start(wasm: Uint8Array | string, opts: HostOptions = {}): Promise<Host> {
    const host = await Host.load(wasm, opts);
    if (!host.startVm()) throw new PluginStartError("proxy_on_vm_start returned false", host.logs());
    if (!host.configure()) throw new PluginStartError("proxy_on_configure returned false", host.logs());
    return host;
  }

  /**
   * Runs the module's start-up (`_initialize`, then `main(0,0)` if exported, else `_start`), creates the
   * first root context and calls proxy_on_vm_start. Returns what proxy_on_vm_start returned.
   */
  startVm(): boolean {
    if (this.started) throw new Error("startVm() was already called");
    this.started = true;
    const vm = this.contexts.get(0)!;
    const exp = this.vm.instance.exports;
    this.vm.restricted = true;
    try {
      if (typeof exp._initialize === "function") {
        this.vm.callVm(vm, "_initialize", []);
        if (typeof exp.main === "function") this.vm.callVm(vm, "main", [0, 0]);
        else if (typeof exp.__main_void === "function") this.vm.callVm(vm, "__main_void", []);
      } else if (typeof exp._start === "function") {
        this.vm.callVm(vm, "_start", []);
      }
    } finally {
      this.vm.restricted = false;
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
    this.ticks.advance(ms);
  }

  /** Tick period a root context set, in milliseconds (0 = none). */
  tickPeriodMs(rootId: string = this.rootId): number {
    return Number(this.requireRoot(rootId).tickPeriodNs / 1_000_000n);
  }

  // ---------------------------------------------------------------- callouts (see callout-delivery.ts)

  /** Answers a pending proxy_http_call: proxy_on_http_call_response on the root that made it. */
  respondHttpCall(token: number, response: HttpCallResponse): void {
    this.callouts.respondHttpCall(token, response);
  }

  /** Fails a pending HTTP call as a reset does: 0 headers, 0 body, get_status = BrokenConnection "reset". */
  failHttpCall(token: number): void {
    this.callouts.failHttpCall(token);
  }

  /** Answers a gRPC call (receive or close) or stream (metadata, message, trailing metadata, close). */
  respondGrpcCall(token: number, res: GrpcResponse): void {
    this.callouts.respondGrpcCall(token, res);
  }

  /** Delivers data on an open gRPC stream (any of initial metadata, a message, trailing metadata). */
  grpcStreamReceive(token: number, data: Omit<GrpcResponse, "status" | "statusMessage">): void {
    this.callouts.grpcStreamReceive(token, data);
  }

  /** The remote end closes a gRPC stream: proxy_on_grpc_close(status). */
  closeGrpcStream(token: number, status: number, message = ""): void {
    this.callouts.closeGrpcStream(token, status, message);
  }

  // ---------------------------------------------------------------- foreign functions

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

  /**
   * @internal Properties declared with declare_property in a context (Envoy keeps them per context; a stream's
   * proxy_set_property follows its root's).
   */
  declaredProperties(contextId: number): Map<string, DeclaredProperty> {
    let m = this.declarations.get(contextId);
    if (!m) this.declarations.set(contextId, (m = new Map()));
    return m;
  }

  // ---------------------------------------------------------------- inspection

  /** Recorded log lines (at or above the host's log level), optionally only those of one level. */
  logs(level?: LogLevel): LogEntry[] {
    return this.vm.logs(level);
  }

  /** Log messages as text, handy for `expect(...).toContain(...)`. */
  logMessages(level?: LogLevel): string[] {
    return this.logs(level).map((l) => l.message);
  }

  clearLogs(): void {
    this.vm.clearLogs();
  }

  /** A custom metric by the name the module defined it with (no `wasmcustom.` prefix). */
  metric(name: string): PublicMetric | undefined {
    const m = this.metricsStore.byMetricName(name);
    return m && publicMetric(m);
  }

  metrics(): Record<string, PublicMetric> {
    const out: Record<string, PublicMetric> = {};
    for (const [k, m] of Object.entries(this.metricsStore.all())) out[k] = publicMetric(m);
    return out;
  }

  httpCalls(): HttpCallRecord[] {
    return [...this.callouts.httpCalls.values()].map((c) => ({ ...c, body: c.body.slice() }));
  }

  grpcCalls(): GrpcCallRecord[] {
    return [...this.callouts.grpcCalls.values()].map((c) => ({ ...c }));
  }

  grpcStreams(): GrpcStreamRecord[] {
    return [...this.callouts.grpcStreams.values()].map((c) => ({ ...c, sent: [...c.sent] }));
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
    return this.vm.failure;
  }

  get failed(): boolean {
    return this.vm.failed;
  }

  /** Root context id of a root_id. */
  rootContextId(rootId: string = this.rootId): number {
    return this.requireRoot(rootId).id;
  }

  /**
   * @internal Test hook: runs `fn` as if the module were executing in `contextId`, with the host's env
   * functions and a view of linear memory (for checking raw ABI rules without a purpose-built module).
   */
  runInContext<T>(contextId: number, fn: (env: Record<string, (...a: number[]) => number>, memory: () => Uint8Array) => T): T {
    const ctx = this.contexts.get(contextId);
    if (!ctx) throw new Error(`no context ${contextId}`);
    return this.vm.runAs(ctx, () => fn(this.envTable as unknown as Record<string, (...a: number[]) => number>, () => this.mem.u8()));
  }

  // ---------------------------------------------------------------- what the streams and host functions use

  /** @internal One callback as Envoy makes it (see Execution.dispatch). */
  dispatch(ctx: Context, name: string, args: Array<number | bigint>): Dispatched {
    return this.vm.dispatch(ctx, name, args);
  }

  /** @internal */
  defer(action: () => void): void {
    this.vm.defer(action);
  }

  /** @internal */
  get nowNs(): bigint {
    return this.clock.nowNs();
  }

  /** @internal */
  log(level: LogLevel, message: string, contextId?: number): void {
    this.vm.log(level, message, contextId);
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

  private requireRoot(rootId: string): RootContext {
    const root = this.roots.get(rootId);
    if (!root) throw new Error(`no root context with root_id "${rootId}"`);
    return root;
  }

  /** Allocates in the module: `malloc` first, then `proxy_on_memory_allocate` (Envoy's order). */
  private alloc(size: number): number {
    const exp = this.vm.instance.exports;
    const fn = (typeof exp.malloc === "function" ? exp.malloc : exp.proxy_on_memory_allocate) as Fn;
    return this.vm.outsideContext(() => Number(fn(size)) >>> 0);
  }

  // ---------------------------------------------------------------- the import object

  /** What the host functions (hostcalls/) may see and do. */
  private calls(): HostCalls {
    const vm = this.vm;
    return {
      host: this,
      mem: this.mem,
      options: this.options,
      clock: this.clock,
      logLevel: this.logLevel,
      vmId: this.vmId,
      vmConfig: this.vmConfig,
      contexts: this.contexts,
      get failed() {
        return vm.failed;
      },
      effective: () => vm.effective(),
      setEffectiveContext: (id) => vm.setEffectiveContext(id),
      log: (level, message) => vm.log(level, message),
      defer: (action) => vm.defer(action),
      stopNextIteration: () => vm.stopNextIteration(),
      deleteRoot: (root) => this.deleteRoot(root),
      tokens: this.tokens,
      httpCalls: this.callouts.httpCalls,
      grpcCalls: this.callouts.grpcCalls,
      grpcStreams: this.callouts.grpcStreams,
      sharedData: this.sharedData,
      queues: this.queues,
      queueOwner: vm.queueOwner,
      metrics: this.metricsStore,
      propertyScope: (ctx) => this.propertyScope(ctx),
      declaredProperties: (id) => this.declaredProperties(id),
      foreign: this.foreign,
      foreignCounts: this.foreignCounts,
    };
  }

  private importObject(): ImportObject {
    const env = envImports(this.calls(), this.abiVersion);
    this.envTable = env;
    const wasi = wasiImports({
      memory: () => this.memory,
      log: (level, message) => this.vm.log(level, message),
      hostError: (message) => this.vm.log(LogLevel.Trace, message),
      env: Object.entries(this.options.env ?? {}),
      clock: this.clock,
      random: this.random,
    });
    return guardedImports(env, wasi, () => this.vm.restricted);
  }
}

function publicMetric(m: MetricValue): PublicMetric {
  return { type: m.type, value: Number(m.value), ...(m.samples ? { samples: m.samples.map(Number) } : {}) };
}
