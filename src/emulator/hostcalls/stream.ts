// Stream control: continue, close, local replies.

import { StreamType, WasmResult } from "../abi";
import { toText } from "../bytes";
import { decodePairsLikeEnvoy } from "../pairs";
import { HttpStream } from "../http-stream";
import { type Fn, type HostCalls, u } from "./access";

/** Envoy-side (C++ host) signatures; see wasi.ts for the notation. */
export const SIGNATURES: Record<string, string> = {
  proxy_continue_stream: "i:i",
  proxy_close_stream: "i:i",
  proxy_send_local_response: "iiiiiiii:i",
};

export function streamImports(h: HostCalls): Record<string, Fn> {
  const R = WasmResult;
  return {
    proxy_continue_stream: (type) => {
      if (u(type) > StreamType.Upstream) return R.BadArgument;
      const stream = h.effective().stream;
      if (u(type) === StreamType.Upstream) return R.Unimplemented;
      if (stream) return stream.continueFromModule(u(type) as StreamType);
      return R.Ok;
    },
    proxy_close_stream: (type) => {
      if (u(type) > StreamType.Upstream) return R.BadArgument;
      const stream = h.effective().stream;
      if (stream) stream.closeFromModule(u(type) as StreamType);
      return R.Ok;
    },
    proxy_send_local_response: (status, dptr, dlen, bptr, blen, hptr, hlen, grpc) => {
      const details = h.mem.read(u(dptr), u(dlen));
      const body = h.mem.read(u(bptr), u(blen));
      const headers = h.mem.read(u(hptr), u(hlen));
      if (!details || !body || !headers) return R.InvalidMemoryAccess;
      const stream = h.effective().stream;
      if (stream instanceof HttpStream) {
        const pairs = decodePairsLikeEnvoy(headers);
        const g = Number(grpc) | 0;
        h.defer(() =>
          stream.localReply(u(status), toText(details), body, pairs, g >= 0 && g <= 16 ? g : null),
        );
      }
      h.stopNextIteration();
      return R.Ok;
    },

  };
}
