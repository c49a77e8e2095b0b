import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { envoyHarness, httpListener, wasmFilter, cluster } from "pwas/envoy";

const harness = envoyHarness();

test("Envoy rewrites the echo upstream's response body", async () => {
  const wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
  const echo = await harness.startEcho();
  const envoy = await harness.startEnvoy({
    listeners: [httpListener("main", {
      httpFilters: [wasmFilter({ name: "http-body", wasmFile: wasm, configuration: '{"replace":{"/hello":"/HELLO"}}' })],
      virtualHosts: [{ name: "all", routes: [{ match: { prefix: "/" }, cluster: "echo" }] }],
    })],
    clusters: [cluster("echo", echo.port)],
  });
  const res = await fetch(envoy.url("/hello"), { method: "POST", body: "abc" });
  expect(res.headers.get("x-request-body-bytes")).toBe("3");
  const body = await res.json();
  expect(body.path).toBe("/HELLO");
  expect(body.body).toBe("abc");
});
