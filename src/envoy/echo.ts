import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { AddressInfo, Socket } from "node:net";

/** What the echo upstream answers: exactly what it received. */
export interface EchoReply {
  /** The `name` the server was started with, when given: tells several upstreams apart in routing tests. */
  upstream?: string;
  method: string;
  path: string;
  /** Header names lower-case, repeated headers joined by ", "; over HTTP/2 the pseudo-headers (":path", ...) too. */
  headers: Record<string, string>;
  /** The request body decoded as UTF-8 (invalid bytes become U+FFFD). */
  body: string;
}

export interface EchoOptions {
  /** Tag every reply with `"upstream": name`. */
  name?: string;
  /** Serve HTTP/2 without TLS (h2c, prior knowledge), as an upstream for an `http2` cluster; default HTTP/1.1. */
  http2?: boolean;
}

export interface EchoServer {
  readonly name?: string;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** How many requests it has answered. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * The built-in `echo` upstream: 127.0.0.1 on a free port, answering every request with 200 and a JSON
 * EchoReply (`content-type: application/json`). Close it when done (the test harness does).
 */
export async function startEcho(opts: EchoOptions = {}): Promise<EchoServer> {
  let requests = 0;
  const handle = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      requests += 1;
      const reply: EchoReply = {
        ...(opts.name !== undefined ? { upstream: opts.name } : {}),
        method: req.method ?? "",
        path: req.url ?? "",
        headers: flattenHeaders(req.headers),
        body: Buffer.concat(parts).toString("utf8"),
      };
      const body = JSON.stringify(reply);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  };

  const server = opts.http2 ? createH2Server(handle) : createHttpServer(handle);
  // Envoy keeps upstream connections open; track them so close() does not wait for Envoy to hang up.
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    name: opts.name,
    port,
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}
