// Buffers: bodies, TCP data, callout and gRPC responses, configurations and foreign function arguments.

import { BufferType, WasmResult } from "../abi";
import { concatBytes } from "../bytes";
import type { BufferBox, Context } from "../host-types";
import { HttpStream } from "../http-stream";
import { TcpStream } from "../tcp-stream";
import { type Fn, type HostCalls, u } from "./access";

/** Envoy-side (C++ host) signatures; see wasi.ts for the notation. */
export const SIGNATURES: Record<string, string> = {
  proxy_get_buffer_bytes: "iiiii:i",
  proxy_get_buffer_status: "iii:i",
  proxy_set_buffer_bytes: "iiiii:i",
};

export function bufferImports(h: HostCalls): Record<string, Fn> {
  const R = WasmResult;
  return {
    proxy_get_buffer_bytes: (type, start, max, ptrPtr, sizePtr) => {
      if (u(type) > BufferType.ForeignFunctionArguments) return R.BadArgument;
      const buf = selectBuffer(h, h.effective(), u(type));
      if (!buf) return R.NotFound;
      const s = u(start);
      let len = u(max);
      if (s > buf.data.length) len = 0;
      else if (s + len > buf.data.length) len = buf.data.length - s;
      if (len === 0) return h.mem.setU32(u(ptrPtr), 0) && h.mem.setU32(u(sizePtr), 0) ? R.Ok : R.InvalidMemoryAccess;
      return h.mem.copyOut(buf.data.subarray(s, s + len), u(ptrPtr), u(sizePtr)) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_get_buffer_status: (type, lenPtr, flagsPtr) => {
      if (u(type) > BufferType.ForeignFunctionArguments) return R.BadArgument;
      const buf = selectBuffer(h, h.effective(), u(type));
      if (!buf) return R.NotFound;
      // Envoy always reports flags 0 (end of stream is only passed to the body callbacks).
      return h.mem.setU32(u(lenPtr), buf.data.length) && h.mem.setU32(u(flagsPtr), 0) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_buffer_bytes: (type, start, size, ptr, len) => {
      if (u(type) > BufferType.ForeignFunctionArguments) return R.BadArgument;
      const buf = selectBuffer(h, h.effective(), u(type));
      if (!buf) return R.NotFound;
      const data = h.mem.read(u(ptr), u(len));
      if (!data) return R.InvalidMemoryAccess;
      if (!buf.mutable) return R.BadArgument;
      const s = u(start);
      const n = u(size);
      const cur = buf.data;
      if (s === 0) {
        if (n === 0) buf.data = concatBytes(data, cur);
        else if (n >= cur.length) buf.data = data;
        else return R.BadArgument;
      } else if (s >= cur.length) buf.data = concatBytes(cur, data);
      else return R.BadArgument;
      return R.Ok;
    },

  };
}


/** The buffer a buffer type names in a context, or null where there is none. */
export function selectBuffer(h: HostCalls, ctx: Context, type: number): BufferBox | null {
  const root = ctx.root;
  switch (type) {
    case BufferType.HttpRequestBody:
    case BufferType.HttpResponseBody:
      return ctx.stream instanceof HttpStream
        ? ctx.stream.bodyBuffer(type)
        : { data: new Uint8Array(0), mutable: false };
    case BufferType.DownstreamData:
    case BufferType.UpstreamData:
      return ctx.stream instanceof TcpStream
        ? ctx.stream.dataBuffer(type)
        : { data: new Uint8Array(0), mutable: false };
    case BufferType.HttpCallResponseBody:
      return root?.httpCallResponse ? { data: root.httpCallResponse.body, mutable: false } : null;
    case BufferType.GrpcReceiveBuffer:
      return { data: root?.grpcReceiveBuffer ?? new Uint8Array(0), mutable: false };
    case BufferType.VmConfiguration:
      return { data: h.vmConfig, mutable: false };
    case BufferType.PluginConfiguration:
      return root?.configReadable ? { data: root.pluginConfig, mutable: false } : null;
    case BufferType.ForeignFunctionArguments:
      return { data: root?.foreignArgs ?? new Uint8Array(0), mutable: false };
  }
  return null;
}
