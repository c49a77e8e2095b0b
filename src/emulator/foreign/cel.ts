// expr_create / expr_evaluate / expr_delete: CEL as Envoy 1.40 runs it (foreign.cc), with @bufbuild/cel as the
// evaluator. Chosen because it is Buf's implementation, tested against the cel-spec conformance suite
// (@bufbuild/cel-spec), keeps CEL's int/uint/double distinction and error values, and is pure ECMAScript (no
// native build); pinned in package.json. Envoy's attribute vocabulary comes from the emulator's properties, so
// an expression sees what proxy_get_property would. Like Envoy, expressions are not type-checked: a type error
// such as `1 + "a"` fails at evaluation (InternalFailure), text that does not parse fails expr_create
// (BadArgument). Tokens count from 0 per root context, as Envoy's do.

import { celMap, celUint, isCelError, isCelList, isCelMap, isCelUint, parse, plan, celEnv, type CelInput } from "@bufbuild/cel";
// @bufbuild/cel's peer dependency: CEL timestamps and durations are its well-known-type messages.
import { create, toBinary } from "@bufbuild/protobuf";
import { isReflectMessage } from "@bufbuild/protobuf/reflect";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { WasmResult } from "../abi";
import type { Host } from "../host";
import type { ForeignFunction } from "../host-types";
import { decodePairs, encodePairs } from "../pairs";
import { getProperty } from "../properties";
import { emptyMetadata, METADATA_ATTRIBUTES, metadataRegistry, nodeMessage } from "./cel-metadata";

type Program = ReturnType<typeof plan>;
type Expr = NonNullable<ReturnType<typeof parse>["expr"]>;

interface Compiled {
  program: Program;
  /** The variables (request, source, ...) the expression names: only those are read per evaluation. */
  names: Set<string>;
}

interface Store {
  next: number;
  programs: Map<number, Compiled>;
}

const stores = new WeakMap<Host, Map<number, Store>>();
const env = celEnv({ registry: metadataRegistry });

function store(call: Parameters<ForeignFunction>[1]): Store {
  let byRoot = stores.get(call.host);
  if (!byRoot) stores.set(call.host, (byRoot = new Map()));
  const root = call.host.contexts.get(call.contextId)?.root?.id ?? call.contextId;
  let s = byRoot.get(root);
  if (!s) byRoot.set(root, (s = { next: 0, programs: new Map() }));
  return s;
}

/** Operators the planner handles itself, not through the function registry. */
const SPECIAL = new Set(["_&&_", "_||_", "_?_:_", "_[_]", "@not_strictly_false"]);

/**
 * Walks an expression: the functions it calls that no overload exists for (Envoy refuses these at expr_create)
 * and the identifiers it names.
 */
function scan(e: Expr | undefined, out: { unknown: string[]; names: Set<string> }): typeof out {
  const k = e?.exprKind;
  if (!k) return out;
  if (k.case === "identExpr") out.names.add(k.value.name);
  else if (k.case === "callExpr") {
    if (!SPECIAL.has(k.value.function) && !env.funcs.find(k.value.function)) out.unknown.push(k.value.function);
    scan(k.value.target, out);
    for (const a of k.value.args) scan(a, out);
  } else if (k.case === "selectExpr") scan(k.value.operand, out);
  else if (k.case === "listExpr") for (const a of k.value.elements) scan(a, out);
  else if (k.case === "structExpr") {
    for (const en of k.value.entries) {
      scan(en.value, out);
      if (en.keyKind.case === "mapKey") scan(en.keyKind.value, out);
    }
  } else if (k.case === "comprehensionExpr") {
    for (const part of [k.value.iterRange, k.value.accuInit, k.value.loopCondition, k.value.loopStep, k.value.result]) scan(part, out);
  }
  return out;
}

export const exprCreate: ForeignFunction = (args, call) => {
  let compiled: Compiled;
  try {
    const parsed = parse(Buffer.from(args).toString("utf8"));
    const found = scan(parsed.expr, { unknown: [], names: new Set() });
    // CEL-C++'s builder resolves function names when it plans; @bufbuild/cel only when it calls them.
    if (found.unknown.length) return { result: WasmResult.BadArgument };
    compiled = { program: plan(env, parsed), names: found.names };
  } catch {
    return { result: WasmResult.BadArgument };
  }
  const s = store(call);
  let token = s.next++ >>> 0;
  while (s.programs.has(token)) token = s.next++ >>> 0;
  s.programs.set(token, compiled);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, token, true);
  return out;
};

export const exprDelete: ForeignFunction = (args, call) => {
  if (args.length !== 4) return { result: WasmResult.BadArgument };
  store(call).programs.delete(new DataView(args.buffer, args.byteOffset, 4).getUint32(0, true));
  return { result: WasmResult.Ok };
};

export const exprEvaluate: ForeignFunction = (args, call) => {
  if (args.length !== 4) return { result: WasmResult.BadArgument };
  const compiled = store(call).programs.get(new DataView(args.buffer, args.byteOffset, 4).getUint32(0, true));
  if (!compiled) return { result: WasmResult.NotFound };
  const ctx = call.host.contexts.get(call.contextId);
  if (!ctx) return { result: WasmResult.InternalFailure };
  let value: unknown;
  try {
    value = compiled.program(activation(call.host, ctx, compiled.names));
  } catch {
    return { result: WasmResult.InternalFailure };
  }
  if (isCelError(value)) return { result: WasmResult.InternalFailure };
  const bytes = serialise(value);
  return bytes ? bytes : { result: WasmResult.SerializationFailure };
};

/**
 * The value bytes as Envoy's serializeValue writes them (the property encoding): timestamps (since the epoch) and
 * durations as int64 nanoseconds; a map as a header map of its serialised keys and values, a list likewise with
 * each element as a key and an empty value (what Envoy 1.40 answers for `{'a': 'b'}` and `['a', 'b']`); other
 * messages (xds.node, metadata) as their protobuf bytes. Anything else is not serialised (SerializationFailure).
 */
function serialise(v: unknown): Uint8Array | null {
  if (typeof v === "string") return new Uint8Array(Buffer.from(v, "utf8"));
  if (v instanceof Uint8Array) return v;
  const eight = (write: (d: DataView) => void) => {
    const out = new Uint8Array(8);
    write(new DataView(out.buffer));
    return out;
  };
  if (typeof v === "bigint") return eight((d) => d.setBigInt64(0, v, true));
  if (isCelUint(v)) return eight((d) => d.setBigUint64(0, v.value, true));
  if (typeof v === "number") return eight((d) => d.setFloat64(0, v, true));
  if (typeof v === "boolean") return Uint8Array.of(v ? 1 : 0);
  if (isReflectMessage(v) && (v.desc.typeName === TimestampSchema.typeName || v.desc.typeName === DurationSchema.typeName)) {
    const t = v.message as unknown as { seconds: bigint; nanos: number };
    return eight((d) => d.setBigInt64(0, t.seconds * 1_000_000_000n + BigInt(t.nanos), true));
  }
  if (isReflectMessage(v)) return toBinary(v.desc, v.message);
  const pairs: Array<[Uint8Array, Uint8Array]> = [];
  if (isCelMap(v)) {
    for (const [k, x] of v.entries()) {
      const kb = serialise(k);
      const xb = serialise(x);
      if (!kb || !xb) return null;
      pairs.push([kb, xb]);
    }
    return encodePairs(pairs);
  }
  if (isCelList(v)) {
    for (const x of v) {
      const xb = serialise(x);
      if (!xb) return null;
      pairs.push([xb, new Uint8Array(0)]);
    }
    return encodePairs(pairs);
  }
  return null;
}

/** Kinds of the attributes an expression can read, by dotted name (what proxy_get_property's bytes mean). */
const ATTRIBUTES: Record<string, "string" | "int" | "uint" | "bool" | "map" | "timestamp" | "duration"> = {
  "request.path": "string", "request.url_path": "string", "request.host": "string", "request.scheme": "string",
  "request.method": "string", "request.headers": "map", "request.referer": "string", "request.useragent": "string",
  "request.id": "string", "request.query": "string", "request.protocol": "string", "request.size": "int",
  "request.total_size": "int", "request.time": "timestamp", "request.duration": "duration",
  "response.code": "int", "response.code_details": "string", "response.flags": "int", "response.size": "int",
  "response.headers": "map", "response.trailers": "map", "response.grpc_status": "int", "response.total_size": "int",
  "source.address": "string", "source.port": "int", "destination.address": "string", "destination.port": "int",
  "connection.id": "uint", "connection.mtls": "bool", "connection.requested_server_name": "string",
  "upstream.address": "string", "upstream.port": "int",
  "xds.cluster_name": "string", "xds.route_name": "string", "xds.virtual_host_name": "string",
  "xds.listener_direction": "int", "xds.filter_chain_name": "string",
};


const seconds = (ns: bigint) => ({ seconds: ns / 1_000_000_000n, nanos: Number(ns % 1_000_000_000n) });

const TOP_LEVEL = ["plugin_name", "plugin_root_id", "plugin_vm_id"];

/** The CEL variables of one evaluation: request, response, source, ..., read through the property rules. */
function activation(host: Host, ctx: NonNullable<ReturnType<Host["contexts"]["get"]>>, names: Set<string>): Record<string, CelInput> {
  const scope = host.propertyScope(ctx);
  const read = (segs: string[]) => getProperty(scope, new Uint8Array(Buffer.from(segs.join("\u0000"))));
  const out: Record<string, CelInput> = {};
  for (const [name, kind] of Object.entries(ATTRIBUTES)) {
    const segs = name.split(".");
    if (!names.has(segs[0]!)) continue;
    const r = read(segs);
    if (r.result !== WasmResult.Ok || !r.value) continue;
    const b = Buffer.from(r.value);
    let v: CelInput;
    if (kind === "string") v = b.toString("utf8");
    else if (kind === "int") v = b.length === 8 ? b.readBigInt64LE(0) : 0n;
    else if (kind === "uint") v = celUint(b.length === 8 ? b.readBigUint64LE(0) : 0n);
    else if (kind === "bool") v = b.length > 0 && b[0] !== 0;
    else if (kind === "timestamp") v = create(TimestampSchema, seconds(b.length === 8 ? b.readBigInt64LE(0) : 0n));
    else if (kind === "duration") v = create(DurationSchema, seconds(b.length === 8 ? b.readBigInt64LE(0) : 0n));
    else v = new Map(decodePairs(r.value).map(([k, x]) => [Buffer.from(k).toString("utf8"), Buffer.from(x).toString("utf8")]));
    const group = (out[segs[0]!] ??= new Map<string, CelInput>()) as Map<string, CelInput>;
    group.set(segs[1]!, v);
  }
  if (names.has("xds")) {
    const xds = (out.xds ??= new Map<string, CelInput>()) as Map<string, CelInput>;
    // A Node message whose fields are read one by one, as proxy_get_property reaches into it.
    const field = (f: string) => {
      const r = read(["xds", "node", f]);
      return r.result === WasmResult.Ok && r.value ? Buffer.from(r.value).toString("utf8") : "";
    };
    xds.set("node", nodeMessage(field("id"), field("cluster")));
  }
  if (ctx.stream) {
    for (const name of METADATA_ATTRIBUTES) {
      const segs = name.split(".");
      if (!names.has(segs[0]!)) continue;
      if (segs.length === 1) out[name] = emptyMetadata();
      else ((out[segs[0]!] ??= new Map<string, CelInput>()) as Map<string, CelInput>).set(segs[1]!, emptyMetadata());
    }
  }
  for (const name of TOP_LEVEL) {
    if (!names.has(name)) continue;
    const r = read([name]);
    if (r.result === WasmResult.Ok && r.value) out[name] = Buffer.from(r.value).toString("utf8");
  }
  // Envoy's filter_state is a map even when nothing is set; it looks objects up by key but lists none, so its
  // size is 0 whatever is set (Envoy 1.40's FilterStateWrapper).
  const fs = ctx.stream?.envoyFilterState;
  if (fs && names.has("filter_state")) out.filter_state = celMap(lookupOnly(new Map([...fs].map(([k, o]) => [k, new Uint8Array(Buffer.from(o.value))]))));
  return out;
}

/** A map that answers lookups but has no size and lists nothing, as Envoy's filter_state map. */
function lookupOnly(m: Map<string, CelInput>): ReadonlyMap<string, CelInput> {
  const none = new Map<string, CelInput>();
  return {
    size: 0,
    get: (k) => m.get(k),
    has: (k) => m.has(k),
    forEach: (cb, thisArg) => none.forEach(cb, thisArg),
    entries: () => none.entries(),
    keys: () => none.keys(),
    values: () => none.values(),
    [Symbol.iterator]: () => none.entries(),
  };
}
