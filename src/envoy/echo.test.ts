import { connect } from "node:http2";
import { createConnection } from "node:net";
import { startEcho, type EchoReply } from "./echo";
import { envoyHarness } from "./testing";

const harness = envoyHarness();

describe("echo upstream", () => {
  test("answers 200 with what it received, tagged with its name", async () => {
    const echo = await harness.startEcho({ name: "v2" });
    const res = await fetch(`${echo.url}/a/b?c=d`, { method: "PUT", body: "héllo", headers: { "x-one": "1" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const reply = (await res.json()) as EchoReply;
    expect(reply).toMatchObject({ upstream: "v2", method: "PUT", path: "/a/b?c=d", body: "héllo" });
    expect(reply.headers["x-one"]).toBe("1");
    expect(echo.requests).toBe(1);
  });

  test("without a name the reply has no upstream field", async () => {
    const echo = await harness.startEcho();
    const reply = (await (await fetch(echo.url)).json()) as EchoReply;
    expect("upstream" in reply).toBe(false);
  });

  test("serves h2c when asked (an upstream for http2 clusters)", async () => {
    const echo = await harness.startEcho({ http2: true, name: "h2" });
    const client = connect(echo.url);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = client.request({ ":method": "POST", ":path": "/svc/Method", "content-type": "application/grpc" });
        const parts: Buffer[] = [];
        req.on("data", (c: Buffer) => parts.push(c));
        req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
        req.on("error", reject);
        req.end("x");
      });
      const reply = JSON.parse(body) as EchoReply;
      expect(reply).toMatchObject({ upstream: "h2", method: "POST", path: "/svc/Method", body: "x" });
      expect(reply.headers["content-type"]).toBe("application/grpc");
    } finally {
      client.close();
    }
  });

  test("close() returns even while a client keeps its connection open", async () => {
    const echo = await startEcho();
    const socket = createConnection(echo.port, "127.0.0.1");
    socket.on("error", () => undefined);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    await echo.close();
    await echo.close(); // idempotent
    await new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once("close", () => resolve())));
  });
});
