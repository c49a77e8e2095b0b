/**
 * A hand-assembled proxy-wasm (ABI 0.2.1) module that lets every request and connection through and logs
 * `message` at info level from proxy_on_configure. It lets the Envoy layer test Wasm filter configs against
 * the real Envoy without depending on the SDK or the compiler. Test fixture only: its allocator hands out
 * one fixed scratch address, which is enough because the module never asks the host for a buffer.
 */
export function passthroughWasm(message = "passthrough configured"): Uint8Array {
  const I32 = 0x7f;
  const types = [
    [[], []], // 0: ()
    [[I32], [I32]], // 1: (i32) -> i32
    [[I32, I32], []], // 2: (i32, i32)
    [[I32, I32], [I32]], // 3: (i32, i32) -> i32
    [[I32, I32, I32], [I32]], // 4: (i32, i32, i32) -> i32
    [[I32], []], // 5: (i32)
  ];
  const LOG_LEVEL_INFO = 2;
  const MESSAGE_AT = 16;
  const text = [...new TextEncoder().encode(message)];

  // Function 0 is the import env.proxy_log (type 4); defined functions follow, as [type, body].
  const i32 = (v: number) => [0x41, ...sleb(v)];
  const fns: Array<[number, number[]]> = [
    [0, []], // 1: ABI marker, _initialize
    [1, i32(1024)], // 2: malloc / proxy_on_memory_allocate
    [2, []], // 3: proxy_on_context_create
    [3, i32(1)], // 4: proxy_on_vm_start -> true
    [3, [...i32(LOG_LEVEL_INFO), ...i32(MESSAGE_AT), ...i32(text.length), 0x10, 0, 0x1a, ...i32(1)]], // 5: proxy_on_configure: log, true
    [4, i32(0)], // 6: header and data callbacks -> Continue
    [1, i32(1)], // 7: proxy_on_done -> true
    [5, []], // 8: proxy_on_log, proxy_on_delete
    [1, i32(0)], // 9: proxy_on_new_connection -> Continue
  ];
  const exports: Array<[string, number, number]> = [
    ["memory", 2, 0],
    ["proxy_abi_version_0_2_1", 0, 1],
    ["_initialize", 0, 1],
    ["malloc", 0, 2],
    ["proxy_on_memory_allocate", 0, 2],
    ["proxy_on_context_create", 0, 3],
    ["proxy_on_vm_start", 0, 4],
    ["proxy_on_configure", 0, 5],
    ["proxy_on_request_headers", 0, 6],
    ["proxy_on_response_headers", 0, 6],
    ["proxy_on_downstream_data", 0, 6],
    ["proxy_on_upstream_data", 0, 6],
    ["proxy_on_done", 0, 7],
    ["proxy_on_log", 0, 8],
    ["proxy_on_delete", 0, 8],
    ["proxy_on_new_connection", 0, 9],
  ];

  const name = (s: string) => vec([...new TextEncoder().encode(s)]);
  const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vecOf(types.map(([p, r]) => [0x60, ...vec(p), ...vec(r)]))),
    ...section(2, vecOf([[...name("env"), ...name("proxy_log"), 0x00, 4]])),
    ...section(3, vecOf(fns.map(([t]) => [t]))),
    ...section(5, [1, 0x00, 1]), // one memory, min 1 page
    ...section(7, vecOf(exports.map(([n, kind, index]) => [...name(n), kind, index]))),
    ...section(10, vecOf(fns.map(([, body]) => vec([0, ...body, 0x0b])))), // no locals
    ...section(11, vecOf([[0x00, ...i32(MESSAGE_AT), 0x0b, ...vec(text)]])),
  ];
  return Uint8Array.from(bytes);
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** A length-prefixed byte vector. */
function vec(items: number[]): number[] {
  return [...uleb(items.length), ...items];
}

/** A length-prefixed vector of already-encoded entries. */
function vecOf(entries: number[][]): number[] {
  return [...uleb(entries.length), ...entries.flat()];
}
