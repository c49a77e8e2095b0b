// The benchmark's anchor filter written with @solo-io/proxy-runtime 0.1.8 (AssemblyScript 0.14), the same
// logic as bench/filters/headers: per request, add one to the u64 little-endian counter "bench.requests" in
// shared data (compare-and-swap, retried on CasMismatch), and add `x-bench: solo` to the response.
//
// The SDK's own get_shared_data/set_shared_data wrappers do not follow the ABI (no cas, and the value to
// write is never passed), so the counter calls the raw imports the SDK declares, as a user of it must.

export * from "@solo-io/proxy-runtime/proxy";

import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, WasmResultValues, stream_context,
} from "@solo-io/proxy-runtime";
import * as imports from "@solo-io/proxy-runtime/imports";
import { free } from "@solo-io/proxy-runtime/malloc";

const COUNTER_KEY = String.UTF8.encode("bench.requests");
const MAX_ATTEMPTS = 8;

// Return slots the host writes into: the value's pointer and size, and its cas.
const slots = new ArrayBuffer(16);

function countRequest(): void {
  const base = changetype<usize>(slots);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    store<usize>(base, 0);
    store<usize>(base, 0, 4);
    store<u32>(base, 0, 8);
    const got = imports.proxy_get_shared_data(changetype<usize>(COUNTER_KEY), COUNTER_KEY.byteLength, base, base + 4, base + 8);
    let n: u64 = 0;
    let cas: u32 = 0;
    if (got == WasmResultValues.Ok) {
      const ptr = load<usize>(base);
      if (load<usize>(base, 4) == 8) n = load<u64>(ptr);
      if (ptr != 0) free(ptr);
      cas = load<u32>(base, 8);
    } else if (got != WasmResultValues.NotFound) {
      return;
    }
    const next = new ArrayBuffer(8);
    store<u64>(changetype<usize>(next), n + 1);
    const set = imports.proxy_set_shared_data(changetype<usize>(COUNTER_KEY), COUNTER_KEY.byteLength, changetype<usize>(next), 8, cas);
    if (set != WasmResultValues.CasMismatch) return;
  }
}

class HeadersRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new HeadersStream(context_id, this);
  }
}

class HeadersStream extends Context {
  constructor(context_id: u32, root_context: HeadersRoot) {
    super(context_id, root_context);
  }

  onRequestHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    countRequest();
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.add("x-bench", "solo");
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => new HeadersRoot(context_id), "");
