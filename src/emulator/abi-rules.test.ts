// Raw ABI rules checked by calling the host's env functions directly, in a stream's context.
import { Action, BufferType, Host, MapType, StreamType, WasmResult } from "./index";
import { decodePairs, encodePairs } from "./pairs";
import { buildModule, BUMP_MALLOC, HEAP_SEED, i32const, MARKER_0_2_1, returns } from "./wasm-builder.testutil";

// A minimal module: ABI marker, a bump allocator, headers Continue, body Pause.
const wasm = buildModule({
  funcs: [MARKER_0_2_1, BUMP_MALLOC, returns("proxy_on_request_headers", 3, 0), returns("proxy_on_request_body", 3, 1)],
  data: [HEAP_SEED],
});

type Env = Record<string, (...a: number[]) => number>;

/** Writes bytes at a scratch address and returns [ptr, len]. */
function put(mem: () => Uint8Array, at: number, data: Uint8Array | string): [number, number] {
  const b = typeof data === "string" ? new TextEncoder().encode(data) : data;
  mem().set(b, at);
  return [at, b.length];
}
function readOut(mem: () => Uint8Array, ptrPtr: number, sizePtr: number): Uint8Array {
  const dv = new DataView(mem().buffer);
  const p = dv.getUint32(ptrPtr, true);
  const n = dv.getUint32(sizePtr, true);
  return mem().slice(p, p + n);
}
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function pausedBodyStream() {
  const host = await Host.start(wasm);
  const s = host.newHttpStream();
  expect(s.sendRequestHeaders([[":path", "/"], ["X-A", "1"]])).toBe(Action.Continue);
  expect(s.sendRequestBody("body")).toBe(Action.Pause);
  return { host, s };
}

describe("emulator: raw ABI rules (Envoy's)", () => {
  test("buffer set: replace (0, len), append (len, 0), prepend (0, 0), anything else BadArgument", async () => {
    const { host, s } = await pausedBodyStream();
    host.runInContext(s.id, (env: Env, mem) => {
      const set = (start: number, size: number, data: string) =>
        env.proxy_set_buffer_bytes(BufferType.HttpRequestBody, start, size, ...put(mem, 100, data));
      const get = () => {
        expect(env.proxy_get_buffer_bytes(BufferType.HttpRequestBody, 0, 1000, 200, 204)).toBe(WasmResult.Ok);
        return text(readOut(mem, 200, 204));
      };
      expect(get()).toBe("body");
      expect(set(4, 0, "!")).toBe(WasmResult.Ok);
      expect(get()).toBe("body!");
      expect(set(0, 0, ">")).toBe(WasmResult.Ok);
      expect(get()).toBe(">body!");
      expect(set(0, 6, "new")).toBe(WasmResult.Ok);
      expect(get()).toBe("new");
      expect(set(1, 1, "x")).toBe(WasmResult.BadArgument);
      expect(set(0, 1, "x")).toBe(WasmResult.BadArgument);
      // start/size windows are clamped; past the end reads as empty
      expect(env.proxy_get_buffer_bytes(BufferType.HttpRequestBody, 1, 100, 200, 204)).toBe(WasmResult.Ok);
      expect(text(readOut(mem, 200, 204))).toBe("ew");
      expect(env.proxy_get_buffer_bytes(BufferType.HttpRequestBody, 10, 100, 200, 204)).toBe(WasmResult.Ok);
      expect(readOut(mem, 200, 204)).toEqual(new Uint8Array(0));
      // buffer status: length, and flags always 0 (as in Envoy)
      expect(env.proxy_get_buffer_status(BufferType.HttpRequestBody, 300, 304)).toBe(WasmResult.Ok);
      expect(new DataView(mem().buffer).getUint32(300, true)).toBe(3);
      expect(new DataView(mem().buffer).getUint32(304, true)).toBe(0);
      // plugin configuration is readable only during on_configure; VM configuration always
      expect(env.proxy_get_buffer_bytes(BufferType.PluginConfiguration, 0, 10, 200, 204)).toBe(WasmResult.NotFound);
      expect(env.proxy_get_buffer_bytes(BufferType.VmConfiguration, 0, 10, 200, 204)).toBe(WasmResult.Ok);
      expect(env.proxy_get_buffer_bytes(9, 0, 10, 200, 204)).toBe(WasmResult.BadArgument);
      // the continue is deferred until the module's call returns
      expect(env.proxy_continue_stream(StreamType.HttpRequest)).toBe(WasmResult.Ok);
    });
    expect(text(s.upstream.body)).toBe("new");
    expect(s.continued(StreamType.HttpRequest)).toBe(1);
  });

  test("header maps: availability by phase, lower-cased keys, NotFound for a missing key", async () => {
    const { host, s } = await pausedBodyStream();
    host.runInContext(s.id, (env: Env, mem) => {
      // request headers were continued: no longer available (BadArgument), like Envoy
      expect(env.proxy_get_header_map_value(MapType.HttpRequestHeaders, ...put(mem, 100, "x-a"), 200, 204)).toBe(
        WasmResult.BadArgument,
      );
      expect(env.proxy_add_header_map_value(MapType.HttpResponseHeaders, ...put(mem, 100, "k"), ...put(mem, 110, "v"))).toBe(
        WasmResult.BadArgument,
      );
      // unavailable maps read as empty pairs
      expect(env.proxy_get_header_map_pairs(MapType.HttpResponseHeaders, 200, 204)).toBe(WasmResult.Ok);
      expect(readOut(mem, 200, 204)).toEqual(new Uint8Array(0));
      // the body callback is at end of stream? no: trailers cannot be created either
      expect(env.proxy_get_header_map_size(MapType.HttpRequestTrailers, 200)).toBe(WasmResult.BadArgument);
      expect(env.proxy_get_header_map_value(8, 0, 0, 200, 204)).toBe(WasmResult.BadArgument);
    });

    // While the headers callback pauses, Envoy still holds the map: lookups are case-insensitive and
    // writes are lower-cased; pseudo-headers stay in front.
    const pausing = buildModule({
      funcs: [MARKER_0_2_1, BUMP_MALLOC, returns("proxy_on_request_headers", 3, 1)],
      data: [HEAP_SEED],
    });
    const host2 = await Host.start(pausing);
    const s2 = host2.newHttpStream();
    expect(s2.sendRequestHeaders([["X-A", "1"], [":path", "/"]])).toBe(Action.Pause);
    host2.runInContext(s2.id, (env: Env, mem) => {
      const get = (k: string) => {
        const r = env.proxy_get_header_map_value(MapType.HttpRequestHeaders, ...put(mem, 100, k), 200, 204);
        return r === WasmResult.Ok ? text(readOut(mem, 200, 204)) : r;
      };
      expect(get("X-A")).toBe("1");
      expect(get("x-missing")).toBe(WasmResult.NotFound);
      expect(env.proxy_add_header_map_value(MapType.HttpRequestHeaders, ...put(mem, 100, "New-Key"), ...put(mem, 120, "v"))).toBe(
        WasmResult.Ok,
      );
      expect(env.proxy_add_header_map_value(MapType.HttpRequestHeaders, ...put(mem, 100, ":Method"), ...put(mem, 120, "GET"))).toBe(
        WasmResult.Ok,
      );
      expect(env.proxy_replace_header_map_value(MapType.HttpRequestHeaders, ...put(mem, 100, "x-a"), ...put(mem, 120, "2"))).toBe(
        WasmResult.Ok,
      );
      // size is the byte size of keys and values, as Envoy reports it
      expect(env.proxy_get_header_map_size(MapType.HttpRequestHeaders, 300)).toBe(WasmResult.Ok);
      expect(new DataView(mem().buffer).getUint32(300, true)).toBe(":path/".length + "x-a2".length + "new-keyv".length + ":methodGET".length);
      expect(env.proxy_get_header_map_pairs(MapType.HttpRequestHeaders, 200, 204)).toBe(WasmResult.Ok);
      // replace is Envoy's setCopy: remove, then add at the end (pinned against Envoy by the conformance scenarios)
      expect(decodePairs(readOut(mem, 200, 204)).map(([k, v]) => [text(k), text(v)])).toEqual([
        [":path", "/"],
        [":method", "GET"],
        ["new-key", "v"],
        ["x-a", "2"],
      ]);
      // continue_stream drops the map at once; the headers go upstream when the call returns
      expect(env.proxy_continue_stream(StreamType.HttpRequest)).toBe(WasmResult.Ok);
      expect(get("x-a")).toBe(WasmResult.BadArgument);
      expect(s2.upstream.headers).toBeNull();
    });
    expect(s2.upstream.headers).toEqual([[":path", "/"], [":method", "GET"], ["new-key", "v"], ["x-a", "2"]]);
  });

  test("effective context: a root acts on a stream after proxy_set_effective_context", async () => {
    const { host, s } = await pausedBodyStream();
    host.runInContext(host.rootContextId(), (env: Env, mem) => {
      expect(env.proxy_get_buffer_bytes(BufferType.HttpRequestBody, 0, 10, 200, 204)).toBe(WasmResult.Ok);
      expect(readOut(mem, 200, 204)).toEqual(new Uint8Array(0));
      expect(env.proxy_set_effective_context(9999)).toBe(WasmResult.BadArgument);
      expect(env.proxy_set_effective_context(s.id)).toBe(WasmResult.Ok);
      expect(env.proxy_get_buffer_bytes(BufferType.HttpRequestBody, 0, 10, 200, 204)).toBe(WasmResult.Ok);
      expect(text(readOut(mem, 200, 204))).toBe("body");
      // a local reply from here ends the stream once the call returns
      const pairs = encodePairs([["X-Why", "test"]]);
      expect(
        env.proxy_send_local_response(429, ...put(mem, 100, "rate limited"), ...put(mem, 140, "slow down"), ...put(mem, 160, pairs), -1),
      ).toBe(WasmResult.Ok);
      expect(s.localResponse).toBeNull();
    });
    expect(s.localResponse).toMatchObject({ status: 429, details: "rate_limited", headers: [["x-why", "test"]] });
    expect(s.downstream.headers).toEqual([
      [":status", "429"],
      ["content-length", "9"],
      ["content-type", "text/plain"],
      ["x-why", "test"],
    ]);
    expect(s.sendRequestBody("more", true)).toBe(Action.Pause);
  });

  test("properties: NUL-joined paths, 8-byte integers, header maps, set_property round trip on a stream", async () => {
    const host = await Host.start(wasm, { pluginName: "p1", vmId: "vm", rootId: "r" });
    const s = host.newHttpStream("r");
    s.sendRequestHeaders([[":path", "/a?b=1"], [":method", "GET"], [":authority", "h"]]);
    host.runInContext(s.id, (env: Env, mem) => {
      const prop = (path: string) => {
        const r = env.proxy_get_property(...put(mem, 100, path.split(".").join("\0")), 200, 204);
        return r === WasmResult.Ok ? readOut(mem, 200, 204) : r;
      };
      expect(text(prop("plugin_name") as Uint8Array)).toBe("p1");
      expect(text(prop("plugin_root_id") as Uint8Array)).toBe("r");
      expect(text(prop("plugin_vm_id") as Uint8Array)).toBe("vm");
      expect(new DataView((prop("source.port") as Uint8Array).buffer).getBigUint64(0, true)).toBe(54321n);
      expect(new DataView((prop("connection.id") as Uint8Array).buffer).getBigUint64(0, true)).toBe(BigInt(s.connectionId));
      // request headers are no longer held after Continue, so header-derived attributes are gone
      expect(prop("request.path")).toBe(WasmResult.NotFound);
      expect(prop("nope")).toBe(WasmResult.NotFound);
      expect(env.proxy_set_property(...put(mem, 100, "my_key"), ...put(mem, 120, "v1"))).toBe(WasmResult.Ok);
      expect(text(prop("my_key") as Uint8Array)).toBe("v1");
    });
    expect(s.filterStateText("my_key")).toBe("v1");
    host.runInContext(host.rootContextId("r"), (env: Env, mem) => {
      expect(env.proxy_set_property(...put(mem, 100, "k"), ...put(mem, 120, "v"))).toBe(WasmResult.NotFound);
    });
    // per-stream overrides win over the defaults
    const logged: unknown[] = [];
    s.setProperty("xds.cluster_name", "api");
    host.runInContext(s.id, (env: Env, mem) => {
      env.proxy_get_property(...put(mem, 100, "xds\0cluster_name"), 200, 204);
      logged.push(text(readOut(mem, 200, 204)));
    });
    expect(logged).toEqual(["api"]);
  });
});

describe("emulator: callouts, TCP and foreign functions at the ABI level", () => {
  // on_grpc_receive copies the message (buffer 5) to 400/404; on_grpc_close stores get_status at 300/304/308.
  const grpcModule = buildModule({
    imports: [
      { module: "env", name: "proxy_get_status", params: 3, results: 1 },
      { module: "env", name: "proxy_get_buffer_bytes", params: 5, results: 1 },
    ],
    funcs: [
      MARKER_0_2_1,
      BUMP_MALLOC,
      { name: "proxy_on_grpc_close", params: 3, results: 0, body: [...i32const(300), ...i32const(304), ...i32const(308), 0x10, 0, 0x1a] },
      {
        name: "proxy_on_grpc_receive",
        params: 3,
        results: 0,
        body: [...i32const(5), ...i32const(0), 0x20, 2, ...i32const(400), ...i32const(404), 0x10, 1, 0x1a],
      },
    ],
    data: [HEAP_SEED],
  });

  test("gRPC: unary success delivers the message, failure closes with status and message readable", async () => {
    const host = await Host.start(grpcModule);
    const s = host.newHttpStream();
    const tokens: number[] = [];
    host.runInContext(s.id, (env: Env, mem) => {
      for (let i = 0; i < 2; i++) {
        expect(
          env.proxy_grpc_call(
            ...put(mem, 100, "ratelimit"),
            ...put(mem, 120, "svc.RateLimit"),
            ...put(mem, 140, "Should"),
            ...put(mem, 160, encodePairs([["x-md", "1"]])),
            ...put(mem, 200, "ping"),
            1000,
            240,
          ),
        ).toBe(WasmResult.Ok);
        tokens.push(new DataView(mem().buffer).getUint32(240, true));
      }
      expect(env.proxy_grpc_send(tokens[0], ...put(mem, 100, "x"), 0)).toBe(WasmResult.BadArgument);
    });
    expect(tokens.map((t) => t & 3)).toEqual([1, 1]);
    expect(host.grpcCalls()[0]).toMatchObject({
      upstream: "ratelimit",
      service: "svc.RateLimit",
      method: "Should",
      initialMetadata: [["x-md", "1"]],
      contextId: host.rootContextId(),
      callerContextId: s.id,
    });

    host.respondGrpcCall(tokens[0], { status: 0, message: "pong" });
    host.respondGrpcCall(tokens[1], { status: 14, statusMessage: "upstream down" });
    host.runInContext(host.rootContextId(), (_env: Env, mem) => {
      expect(text(readOut(mem, 400, 404))).toBe("pong");
      expect(new DataView(mem().buffer).getUint32(300, true)).toBe(14);
      expect(text(readOut(mem, 304, 308))).toBe("upstream down{via_upstream}"); // Envoy appends the details
    });
    expect(host.grpcCalls()).toEqual([]);
  });

  test("gRPC streams: messages both ways, remote close, and a call timing out on the virtual clock", async () => {
    const host = await Host.start(grpcModule);
    let token = 0;
    host.runInContext(host.rootContextId(), (env: Env, mem) => {
      expect(
        env.proxy_grpc_stream(...put(mem, 100, "c"), ...put(mem, 120, "svc"), ...put(mem, 140, "Watch"), 0, 0, 240),
      ).toBe(WasmResult.Ok);
      token = new DataView(mem().buffer).getUint32(240, true);
      expect(env.proxy_grpc_send(token, ...put(mem, 100, "m1"), 0)).toBe(WasmResult.Ok);
      expect(env.proxy_grpc_send(token, ...put(mem, 100, "m2"), 1)).toBe(WasmResult.Ok);
    });
    expect(token & 3).toBe(2);
    expect(host.grpcStreams()[0].sent.map(text)).toEqual(["m1", "m2"]);
    expect(host.grpcStreams()[0].localClosed).toBe(true);
    host.grpcStreamReceive(token, { message: "event" });
    host.closeGrpcStream(token, 0, "done");
    expect(host.grpcStreams()).toEqual([]);
    host.runInContext(host.rootContextId(), (env: Env, mem) => {
      expect(text(readOut(mem, 400, 404))).toBe("event");
      expect(text(readOut(mem, 304, 308))).toBe("done");
      expect(
        env.proxy_grpc_call(...put(mem, 100, "c"), ...put(mem, 120, "s"), ...put(mem, 140, "m"), 0, 0, 0, 0, 250, 240),
      ).toBe(WasmResult.Ok);
    });
    host.advanceTime(250);
    expect(host.grpcCalls()).toEqual([]);
    host.runInContext(host.rootContextId(), (_env: Env, mem) => {
      expect(new DataView(mem().buffer).getUint32(300, true)).toBe(4); // DEADLINE_EXCEEDED
    });
  });

  test("TCP: paused downstream data accumulates; continue forwards it; close runs done/log/delete", async () => {
    const tcpModule = buildModule({
      funcs: [MARKER_0_2_1, BUMP_MALLOC, returns("proxy_on_new_connection", 1, 0), returns("proxy_on_downstream_data", 3, 1)],
      data: [HEAP_SEED],
    });
    const host = await Host.start(tcpModule);
    const c = host.newTcpStream();
    expect(c.newConnectionAction).toBe(Action.Continue);
    expect(c.sendDownstreamData("ab")).toBe(Action.Pause);
    expect(c.sendDownstreamData("cd")).toBe(Action.Pause);
    expect(text(c.pendingDownstreamData)).toBe("abcd");
    host.runInContext(c.id, (env: Env, mem) => {
      expect(env.proxy_get_buffer_bytes(BufferType.DownstreamData, 0, 100, 200, 204)).toBe(WasmResult.Ok);
      expect(text(readOut(mem, 200, 204))).toBe("abcd");
      expect(env.proxy_set_buffer_bytes(BufferType.DownstreamData, 4, 0, ...put(mem, 100, "!"))).toBe(WasmResult.Ok);
      expect(env.proxy_continue_stream(StreamType.Downstream)).toBe(WasmResult.Ok);
      expect(env.proxy_continue_stream(StreamType.Upstream)).toBe(WasmResult.Unimplemented);
    });
    expect(text(c.upstreamData)).toBe("abcd!");
    expect(c.sendUpstreamData("reply", true)).toBe(Action.Continue);
    expect(text(c.downstreamData)).toBe("reply");
    c.closeDownstream();
    expect(c.closed).toBe(true);
  });

  test("foreign functions: clear_route_cache is built in and counted per stream; others can be registered", async () => {
    const host = await Host.start(wasm);
    const s = host.newHttpStream();
    host.registerForeignFunction("reverse", (args) => args.slice().reverse());
    host.runInContext(s.id, (env: Env, mem) => {
      expect(env.proxy_call_foreign_function(...put(mem, 100, "clear_route_cache"), 0, 0, 200, 204)).toBe(WasmResult.Ok);
      expect(env.proxy_call_foreign_function(...put(mem, 100, "reverse"), ...put(mem, 140, "abc"), 200, 204)).toBe(WasmResult.Ok);
      expect(text(readOut(mem, 200, 204))).toBe("cba");
      expect(env.proxy_call_foreign_function(...put(mem, 100, "missing"), 0, 0, 200, 204)).toBe(WasmResult.NotFound);
    });
    expect(s.routeCacheClears).toBe(1);
    expect(host.foreignFunctionCalls("reverse")).toBe(1);
  });
});
