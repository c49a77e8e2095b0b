// HTTP and gRPC callouts, always made by the root context of the calling context.

import { WasmResult } from "../abi";
import { toBytes, toText } from "../bytes";
import { CalloutKind, calloutKind } from "../callouts";
import { HeaderMap } from "../headers";
import { decodePairsLikeEnvoy } from "../pairs";
import { type Fn, type HostCalls, u } from "./access";

/** Envoy-side (C++ host) signatures; see wasi.ts for the notation. */
export const SIGNATURES: Record<string, string> = {
  proxy_http_call: "iiiiiiiiii:i",
  proxy_grpc_call: "iiiiiiiiiiii:i",
  proxy_grpc_stream: "iiiiiiiii:i",
  proxy_grpc_send: "iiii:i",
  proxy_grpc_close: "i:i",
  proxy_grpc_cancel: "i:i",
};

export function calloutImports(h: HostCalls): Record<string, Fn> {
  const R = WasmResult;
  return {
    proxy_http_call: (uptr, ulen, hptr, hlen, bptr, blen, tptr, tlen, timeout, tokenPtr) => {
      const caller = h.effective();
      const root = caller.root;
      const upstream = h.mem.read(u(uptr), u(ulen));
      const body = h.mem.read(u(bptr), u(blen));
      const hdr = h.mem.read(u(hptr), u(hlen));
      const trl = h.mem.read(u(tptr), u(tlen));
      if (!upstream || !body || !hdr || !trl) return R.InvalidMemoryAccess;
      if (!h.mem.setU32(u(tokenPtr), 0)) return R.InvalidMemoryAccess;
      if (!root) return R.BadArgument;
      const timeoutMs = Number(timeout) | 0;
      if (timeoutMs < 0) return R.BadArgument;
      const cluster = toText(upstream);
      if (h.options.clusters && !h.options.clusters.includes(cluster)) return R.BadArgument;
      const headers = HeaderMap.from(decodePairsLikeEnvoy(hdr));
      if (!headers.get(toBytes(":path")) || !headers.get(toBytes(":method")) || !headers.get(toBytes(":authority"))) {
        return R.BadArgument;
      }
      if (body.length) headers.replace(toBytes("content-length"), toBytes(String(body.length)));
      const token = h.tokens.take(CalloutKind.Http);
      const trailers = HeaderMap.from(decodePairsLikeEnvoy(trl));
      h.httpCalls.set(token, {
        token,
        upstream: cluster,
        headers: headers.text(),
        headerBytes: headers.pairs(),
        body,
        trailers: trailers.text(),
        timeoutMs,
        contextId: root.id,
        callerContextId: caller.id,
        ...(timeoutMs > 0 ? { deadlineMs: h.clock.elapsedMs() + timeoutMs } : {}),
      });
      h.mem.setU32(u(tokenPtr), token);
      return R.Ok;
    },
    proxy_grpc_call: (uptr, ulen, sptr, slen, mptr, mlen, iptr, ilen, rptr, rlen, timeout, tokenPtr) => {
      const caller = h.effective();
      const root = caller.root;
      const upstream = h.mem.read(u(uptr), u(ulen));
      const service = h.mem.read(u(sptr), u(slen));
      const method = h.mem.read(u(mptr), u(mlen));
      const meta = h.mem.read(u(iptr), u(ilen));
      const message = h.mem.read(u(rptr), u(rlen));
      if (!upstream || !service || !method || !meta || !message) return R.InvalidMemoryAccess;
      if (!root) return R.BadArgument;
      const cluster = toText(upstream);
      if (h.options.clusters && !h.options.clusters.includes(cluster)) return R.ParseFailure;
      const token = h.tokens.take(CalloutKind.GrpcCall);
      const timeoutMs = u(timeout);
      h.grpcCalls.set(token, {
        token,
        upstream: cluster,
        service: toText(service),
        method: toText(method),
        initialMetadata: HeaderMap.from(decodePairsLikeEnvoy(meta)).text(),
        message,
        timeoutMs,
        contextId: root.id,
        callerContextId: caller.id,
        ...(timeoutMs > 0 ? { deadlineMs: h.clock.elapsedMs() + timeoutMs } : {}),
      });
      return h.mem.setU32(u(tokenPtr), token) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_grpc_stream: (uptr, ulen, sptr, slen, mptr, mlen, iptr, ilen, tokenPtr) => {
      const caller = h.effective();
      const root = caller.root;
      const upstream = h.mem.read(u(uptr), u(ulen));
      const service = h.mem.read(u(sptr), u(slen));
      const method = h.mem.read(u(mptr), u(mlen));
      const meta = h.mem.read(u(iptr), u(ilen));
      if (!upstream || !service || !method || !meta) return R.InvalidMemoryAccess;
      if (!root) return R.BadArgument;
      const cluster = toText(upstream);
      if (h.options.clusters && !h.options.clusters.includes(cluster)) return R.ParseFailure;
      const token = h.tokens.take(CalloutKind.GrpcStream);
      h.grpcStreams.set(token, {
        token,
        upstream: cluster,
        service: toText(service),
        method: toText(method),
        initialMetadata: HeaderMap.from(decodePairsLikeEnvoy(meta)).text(),
        sent: [],
        localClosed: false,
        remoteClosed: false,
        contextId: root.id,
        callerContextId: caller.id,
      });
      return h.mem.setU32(u(tokenPtr), token) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_grpc_send: (token, ptr, len, endStream) => {
      const msg = h.mem.read(u(ptr), u(len));
      if (!msg) return R.InvalidMemoryAccess;
      if (calloutKind(u(token)) !== CalloutKind.GrpcStream) return R.BadArgument;
      const s = h.grpcStreams.get(u(token));
      if (!s) return R.NotFound;
      s.sent.push(msg);
      if (u(endStream) !== 0) s.localClosed = true;
      return R.Ok;
    },
    proxy_grpc_close: (token) => {
      const t = u(token);
      if (calloutKind(t) === CalloutKind.GrpcCall) return h.grpcCalls.delete(t) ? R.Ok : R.NotFound;
      if (calloutKind(t) === CalloutKind.GrpcStream) {
        const s = h.grpcStreams.get(t);
        if (!s) return R.NotFound;
        s.localClosed = true;
        if (s.remoteClosed) h.grpcStreams.delete(t);
        return R.Ok;
      }
      return R.BadArgument;
    },
    proxy_grpc_cancel: (token) => {
      const t = u(token);
      if (calloutKind(t) === CalloutKind.GrpcCall) return h.grpcCalls.delete(t) ? R.Ok : R.NotFound;
      if (calloutKind(t) === CalloutKind.GrpcStream) return h.grpcStreams.delete(t) ? R.Ok : R.NotFound;
      return R.BadArgument;
    },

  };
}
