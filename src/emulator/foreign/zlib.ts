// compress / uncompress: zlib's compress() and uncompress() on the raw argument bytes, as Envoy's foreign.cc
// does (the zlib format, default level); a stream that does not inflate is SerializationFailure.

import { deflateSync, inflateSync } from "node:zlib";
import { WasmResult } from "../abi";
import type { ForeignFunction } from "../host-types";

export const compress: ForeignFunction = (args) => new Uint8Array(deflateSync(args));

export const uncompress: ForeignFunction = (args) => {
  try {
    // finishFlush Z_FINISH (the default): a truncated stream fails, as zlib's one-shot uncompress() does.
    return new Uint8Array(inflateSync(args));
  } catch {
    return { result: WasmResult.SerializationFailure };
  }
};
