// headers: the benchmark's anchor filter, written identically with four SDKs (bench/sdks/ holds the others).
// For each request it adds one to a u64 counter in shared data (key "bench.requests", 8 bytes little-endian,
// read-modify-write with compare-and-swap, retried on CasMismatch) and adds `x-bench: as` to the response.

export * from "proxy-wasm-as/exports";

import {
  RootContext, HttpContext, Action, WasmResult, registerRootContext, responseHeaders,
  getSharedDataBytes, setSharedDataBytes, lastSharedDataResult, encodeUtf8,
} from "proxy-wasm-as";

const COUNTER_KEY = encodeUtf8("bench.requests");
const HEADER_NAME = encodeUtf8("x-bench");
const HEADER_VALUE = encodeUtf8("as");
const MAX_ATTEMPTS = 8;
// The value written: one 8-byte buffer reused by every request (AssemblyScript has no stack arrays; the Rust
// filter writes from a stack array, the Go one from a fresh slice).
const NEXT = new ArrayBuffer(8);

function countRequest(): void {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = getSharedDataBytes(COUNTER_KEY);
    let n: u64 = 0;
    let cas: u32 = 0;
    if (current !== null) {
      if (current.value.byteLength == 8) n = load<u64>(changetype<usize>(current.value));
      cas = current.cas;
    } else if (lastSharedDataResult != WasmResult.NotFound) {
      return;
    }
    store<u64>(changetype<usize>(NEXT), n + 1);
    if (setSharedDataBytes(COUNTER_KEY, NEXT, cas) != WasmResult.CasMismatch) return;
  }
}

class HeadersStream extends HttpContext {
  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    countRequest();
    return Action.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    responseHeaders.addBytes(HEADER_NAME, HEADER_VALUE);
    return Action.Continue;
  }
}

class HeadersRoot extends RootContext {
  newHttpContext(contextId: u32): HttpContext | null {
    return new HeadersStream(contextId, this);
  }
}

registerRootContext((id: u32): RootContext => new HeadersRoot(id));
