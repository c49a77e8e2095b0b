// Byte buffers the host owns: HTTP bodies, TCP data, callout responses, configuration.
// Each is an object bound to one ABI buffer type and acts on the effective context.

import * as abi from "./abi/imports";
import { BufferType, BufferFlags, WasmResult } from "./abi/enums";
import { RET_U32, RET_U64 } from "./internal/memory";
import { getBuffer } from "./internal/hostcalls";
import { decodeUtf8, encodeUtf8 } from "./utf8";

export class Buffer {
  constructor(public readonly bufferType: BufferType) {}

  /** Current size in bytes, or -1 when this buffer is not available now. */
  size(): i64 {
    const r = abi.proxy_get_buffer_status(this.bufferType, RET_U32, RET_U64);
    return r == WasmResult.Ok ? <i64>load<u32>(RET_U32) : -1;
  }

  /** True when the host reports this is the end of the stream (where it tracks that). */
  endOfStream(): bool {
    store<u32>(RET_U64, 0);
    const r = abi.proxy_get_buffer_status(this.bufferType, RET_U32, RET_U64);
    return r == WasmResult.Ok && (load<u32>(RET_U64) & BufferFlags.EndOfStream) != 0;
  }

  /** Up to `maxSize` bytes from `start` (all by default); an empty buffer when there is nothing or it is not available. */
  read(start: u32 = 0, maxSize: u32 = u32.MAX_VALUE): ArrayBuffer {
    const b = getBuffer(this.bufferType, start, maxSize);
    return b !== null ? b : new ArrayBuffer(0);
  }

  /** The bytes decoded as UTF-8 (invalid bytes become U+FFFD). */
  readString(start: u32 = 0, maxSize: u32 = u32.MAX_VALUE): string {
    return decodeUtf8(this.read(start, maxSize));
  }

  /** Replaces the whole content. */
  replace(data: ArrayBuffer): WasmResult {
    const current = this.size();
    return this.set(0, current < 0 ? 0 : <u32>current, data);
  }
  replaceString(data: string): WasmResult { return this.replace(encodeUtf8(data)); }

  /** Appends after the current content. */
  append(data: ArrayBuffer): WasmResult {
    const current = this.size();
    return this.set(current < 0 ? 0 : <u32>current, 0, data);
  }
  appendString(data: string): WasmResult { return this.append(encodeUtf8(data)); }

  /** Inserts before the current content. */
  prepend(data: ArrayBuffer): WasmResult { return this.set(0, 0, data); }
  prependString(data: string): WasmResult { return this.prepend(encodeUtf8(data)); }

  /** The raw ABI operation: replace `size` bytes at `start` with `data`. */
  set(start: u32, size: u32, data: ArrayBuffer): WasmResult {
    return <WasmResult>abi.proxy_set_buffer_bytes(this.bufferType, start, size, changetype<usize>(data), <usize>data.byteLength);
  }
}

/** The request body seen so far (valid in onRequestBody). */
export const requestBody = new Buffer(BufferType.HttpRequestBody);
/** The response body seen so far (valid in onResponseBody). */
export const responseBody = new Buffer(BufferType.HttpResponseBody);
/** Data from the client on a TCP connection (valid in onDownstreamData). */
export const downstreamData = new Buffer(BufferType.DownstreamData);
/** Data from the upstream on a TCP connection (valid in onUpstreamData). */
export const upstreamData = new Buffer(BufferType.UpstreamData);
/** The body of an HTTP callout's response (valid only inside HttpCallHandler.onResponse). */
export const httpCallResponseBody = new Buffer(BufferType.HttpCallResponseBody);
/** The message received on a gRPC callout (valid only inside GrpcHandler.onMessage). */
export const grpcReceiveBuffer = new Buffer(BufferType.GrpcReceiveBuffer);
/** The VM configuration (valid only inside RootContext.onVmStart). */
export const vmConfiguration = new Buffer(BufferType.VmConfiguration);
/** The plugin configuration (valid only inside RootContext.onConfigure). */
export const pluginConfiguration = new Buffer(BufferType.PluginConfiguration);
/** Arguments of a foreign function call into the plugin (valid only inside onForeignFunction). */
export const foreignFunctionArguments = new Buffer(BufferType.ForeignFunctionArguments);
