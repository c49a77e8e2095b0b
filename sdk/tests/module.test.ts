// The example module as Envoy sees it: it imports only ABI 0.2.1 `env` functions and WASI, and exports
// everything the ABI names (checked against the one list in src/abi/spec.ts and spelled out here).
import { join } from "node:path";
import { buildFilter } from "../../src/build/build";
import { ENV_IMPORTS, WASI_MODULES, ABI_0_1_0_ONLY, checkImports } from "../../src/abi/spec";

test("templates/http-headers imports only proxy-wasm 0.2.1 and WASI, and exports the whole ABI", async () => {
  const r = await buildFilter(join(__dirname, "..", "..", "templates/http-headers"));
  console.log(`templates/http-headers release module: ${r.bytes} bytes, imports: ${r.imports.map((i) => i.name).join(", ")}`);
  for (const imp of r.imports) {
    if (imp.module === "env") expect(ENV_IMPORTS as readonly string[]).toContain(imp.name);
    else expect(WASI_MODULES as readonly string[]).toContain(imp.module);
    expect(ABI_0_1_0_ONLY as readonly string[]).not.toContain(imp.name);
  }
  const exported = r.exports.map((e) => e.name);
  for (const name of [
    "proxy_abi_version_0_2_1", "malloc", "proxy_on_memory_allocate", "_initialize", "memory",
    "proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure", "proxy_on_tick", "proxy_on_done",
    "proxy_on_log", "proxy_on_delete", "proxy_on_new_connection", "proxy_on_downstream_data",
    "proxy_on_upstream_data", "proxy_on_downstream_connection_close", "proxy_on_upstream_connection_close",
    "proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers", "proxy_on_response_headers",
    "proxy_on_response_body", "proxy_on_response_trailers", "proxy_on_http_call_response",
    "proxy_on_grpc_receive_initial_metadata", "proxy_on_grpc_receive", "proxy_on_grpc_receive_trailing_metadata",
    "proxy_on_grpc_close", "proxy_on_queue_ready", "proxy_on_foreign_function",
  ]) expect(exported).toContain(name);
  expect(exported.filter((n) => n.startsWith("proxy_abi_version"))).toEqual(["proxy_abi_version_0_2_1"]);
});

test("the import check names what Envoy would refuse and how to fix it", () => {
  const problems = checkImports([
    { module: "env", name: "abort", kind: "function" },
    { module: "env", name: "Date.now", kind: "function" },
    { module: "env", name: "proxy_get_configuration", kind: "function" },
    { module: "env", name: "proxy_log", kind: "function" },
    { module: "wasi_snapshot_preview1", name: "fd_write", kind: "function" },
    { module: "other", name: "x", kind: "function" },
  ]);
  expect(problems).toEqual([
    "env.abort is not a proxy-wasm host function, so Envoy refuses to load the module (build with pwas build, which routes abort to the SDK's handler)",
    "env.Date.now is not a proxy-wasm host function, so Envoy refuses to load the module (use nowMillis() from proxy-wasm-as instead of Date.now())",
    "env.proxy_get_configuration belongs to proxy-wasm ABI 0.1.0; Envoy will not provide it to a 0.2.1 module",
    'other.x: Envoy provides only "env" (proxy-wasm) and WASI imports',
  ]);
});
