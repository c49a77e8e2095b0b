import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { Host, LogLevel, PeerType } from "pwas/emulator";

let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});
const CONFIG = JSON.stringify({ refuse_prefixes: ["DELETE "], log_connections: true });

test("passes data both ways and counts it", async () => {
  const host = await Host.start(wasm, { pluginConfig: CONFIG });
  const c = host.newTcpStream();
  c.sendDownstreamData("hello", false);
  c.sendUpstreamData("world!", false);
  c.closeDownstream(PeerType.Remote);
  expect(Buffer.from(c.upstreamData).toString()).toBe("hello");
  expect(Buffer.from(c.downstreamData).toString()).toBe("world!");
  expect(host.metric("tcp.downstream_bytes")!.value).toBe(5);
  expect(host.metric("tcp.upstream_bytes")!.value).toBe(6);
  expect(host.logMessages(LogLevel.Info)).toContain("tcp: connection closed, 5 bytes in, 6 bytes out");
});

test("closes a connection that starts with a refused prefix", async () => {
  const host = await Host.start(wasm, { pluginConfig: CONFIG });
  const c = host.newTcpStream();
  c.sendDownstreamData("DELETE /everything", false);
  expect(c.upstreamData.length).toBe(0);
  expect(host.metric("tcp.refused")!.value).toBe(1);
});

test("rejects an empty prefix at configure time", async () => {
  const host = await Host.load(wasm, { pluginConfig: '{"refuse_prefixes": ["ok", ""]}' });
  host.startVm();
  expect(host.configure()).toBe(false);
  expect(host.logMessages(LogLevel.Error)).toEqual(["tcp: invalid configuration: refuse_prefixes[1]: must not be empty"]);
});
