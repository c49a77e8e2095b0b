// The routing filter's textbook case: end-user jason → v2, everyone else → v3.
import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { Host } from "pwas/emulator";

const CONFIG = JSON.stringify({
  http: [
    { name: "jason", match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
    { name: "default", route: [{ destination: { host: "reviews", subset: "v3" } }] },
  ],
});
let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});

test.each([["jason", "v2"], ["kim", "v3"]])("end-user %s is routed to %s", async (user, subset) => {
  const host = await Host.start(wasm, { pluginConfig: CONFIG });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":method", "GET"], [":path", "/reviews/1"], [":authority", "reviews"], ["end-user", user]], true);
  expect(new Map(s.upstream.headers!).get("x-route-subset")).toBe(subset);
  expect(s.routeCacheClears).toBe(1);
});
