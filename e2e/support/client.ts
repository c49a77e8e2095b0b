/**
 * A plain HTTP/1.1 client for e2e tests, on node:http rather than fetch: it can send header values with bytes
 * ≥ 0x80 (written as latin1, i.e. as raw bytes), sets no headers of its own beyond Host and Connection, and
 * returns header values as the bytes received (latin1 decoding keeps every byte).
 */
import { request, type Agent, type IncomingMessage } from "node:http";

export interface ClientRequest {
  method?: string;
  /** Header values are sent byte for byte (each char code below 256 is one byte). */
  headers?: Record<string, string>;
  /** Sent with an explicit content-length. */
  body?: string | Buffer;
  timeoutMs?: number;
  /** A keep-alive agent to reuse connections; by default every request has a connection of its own. */
  agent?: Agent;
}

export interface ClientResponse {
  status: number;
  /** Names lower-case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export function httpRequest(url: string, req: ClientRequest = {}): Promise<ClientResponse> {
  const timeoutMs = req.timeoutMs ?? 10_000;
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, "utf8");
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (body !== undefined) headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const r = request(url, { method: req.method ?? (body ? "POST" : "GET"), headers, agent: req.agent ?? false, timeout: timeoutMs }, (res) => {
      readResponse(res).then(resolve, reject);
    });
    r.on("timeout", () => r.destroy(new Error(`${req.method ?? "GET"} ${url}: no response within ${timeoutMs} ms`)));
    r.on("error", reject);
    r.end(body);
  });
}

/** Reads a whole response: names lower-cased, repeated headers joined with ", ", the body as received. */
export function readResponse(res: IncomingMessage): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on("data", (c: Buffer) => parts.push(c));
    res.on("end", () => {
      const out: Record<string, string> = {};
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const name = res.rawHeaders[i].toLowerCase();
        const value = res.rawHeaders[i + 1];
        out[name] = name in out ? `${out[name]}, ${value}` : value;
      }
      resolve({ status: res.statusCode ?? 0, headers: out, body: Buffer.concat(parts) });
    });
    res.on("error", reject);
  });
}
