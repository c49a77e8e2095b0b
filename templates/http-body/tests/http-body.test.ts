import { join } from "node:path";
import { buildFilter } from "pwas/build";
import { Host, Action, LogLevel } from "pwas/emulator";

let wasm: string;
beforeAll(async () => {
  wasm = (await buildFilter(join(__dirname, ".."))).wasmPath;
});

const start = (config: object) => Host.start(wasm, { pluginConfig: JSON.stringify(config) });

test("replaces across chunk boundaries once the body is complete", async () => {
  const host = await start({ replace: { "internal.example": "public.example", secret: "******" } });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":path", "/"]], true);
  s.sendResponseHeaders([[":status", "200"], ["content-length", "52"]], false);
  expect(s.sendResponseBody("see https://inter", false)).toBe(Action.Pause);
  expect(s.sendResponseBody("nal.example/a and the secret, internal.example", true)).toBe(Action.Continue);
  expect(Buffer.from(s.downstream.body).toString()).toBe("see https://public.example/a and the ******, public.example");
  expect(new Map(s.downstream.headers!).has("content-length")).toBe(false);
});

test("bytes that are not UTF-8 pass through untouched", async () => {
  const host = await start({ replace: { a: "b" } });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":path", "/"]], true);
  s.sendResponseHeaders([[":status", "200"]], false);
  s.sendResponseBody(Uint8Array.from([0xff, 0x61, 0xfe]), true);
  expect([...s.downstream.body]).toEqual([0xff, 0x62, 0xfe]);
});

test("reports the request body size on the response, across chunks", async () => {
  const host = await start({});
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":path", "/"], [":method", "POST"]], false);
  expect(s.sendRequestBody("123", false)).toBe(Action.Continue);
  s.sendRequestBody("45", true);
  s.sendResponseHeaders([[":status", "200"]], true);
  expect(new Map(s.downstream.headers!).get("x-request-body-bytes")).toBe("5");
});

test("a body over max_body_bytes gets a 502, not a partial rewrite", async () => {
  const host = await start({ replace: { a: "b" }, max_body_bytes: 4 });
  const s = host.newHttpStream();
  s.sendRequestHeaders([[":path", "/"]], true);
  s.sendResponseHeaders([[":status", "200"]], false);
  s.sendResponseBody("aaaaaa", true);
  expect(s.localResponse!.status).toBe(502);
});

test("rejects an empty search string at configure time", async () => {
  const host = await Host.load(wasm, { pluginConfig: '{"replace": {"": "x"}}' });
  host.startVm();
  expect(host.configure()).toBe(false);
  expect(host.logMessages(LogLevel.Error)).toEqual(["http-body: invalid configuration: replace: a key (the text to replace) must not be empty"]);
});
