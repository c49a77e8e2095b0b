import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { envoyHarness, tcpListener, cluster, waitFor } from "pwas/envoy";

const harness = envoyHarness();
let upstream: Server;
const sockets = new Set<Socket>();
beforeAll(async () => {
  // A TCP echo upstream.
  upstream = createServer((s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); s.pipe(s); });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => upstream.close(r));
});

function exchange(port: number, data: string): Promise<{ reply: string; closedByPeer: boolean }> {
  return new Promise((resolve, reject) => {
    const c = connect(port, "127.0.0.1");
    let reply = "";
    c.on("data", (d) => {
      reply += d.toString();
      if (reply.length >= data.length) c.end();
    });
    c.on("error", reject);
    c.on("close", () => resolve({ reply, closedByPeer: reply.length < data.length }));
    c.write(data);
  });
}

test("Envoy's TCP proxy runs the filter: data flows, a refused prefix closes the connection", async () => {
  const wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
  const envoy = await harness.startEnvoy({
    listeners: [tcpListener("tcp", {
      networkFilters: [{ name: "tcp", wasmFile: wasm, configuration: '{"refuse_prefixes":["DELETE "]}' }],
      cluster: "upstream",
    })],
    clusters: [cluster("upstream", (upstream.address() as AddressInfo).port)],
  });
  expect(await exchange(envoy.port("tcp"), "ping over tcp")).toEqual({ reply: "ping over tcp", closedByPeer: false });
  expect((await exchange(envoy.port("tcp"), "DELETE /all")).closedByPeer).toBe(true);
  await waitFor(async () => (await envoy.counter("wasmcustom.tcp.refused")) === 1, { timeoutMs: 5000, what: "tcp.refused to reach 1" });
  expect(await envoy.counter("wasmcustom.tcp.downstream_bytes")).toBe("ping over tcp".length + "DELETE /all".length);
});
