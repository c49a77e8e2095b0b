/**
 * The conformance scenarios' HTTP/1.1 client for Envoy: like support/client's httpRequest, but a header may be
 * sent several times (an array of values, one header line each) and a body may go out in chunks
 * (transfer-encoding: chunked), each chunk written only once the caller saw Envoy process the previous one.
 */
import { request } from "node:http";
import { readResponse, type ClientResponse } from "./client";

export interface ConformanceRequest {
  /** Header values are sent byte for byte (each char code below 256 is one byte); an array repeats the header. */
  headers: Record<string, string | string[]>;
  /** A body sent with an explicit content-length. */
  body?: string;
  /** A body sent chunked: chunk i is written, then `afterChunk(i)` is awaited; the end goes out last, alone. */
  chunks?: string[];
  afterChunk?: (index: number) => Promise<unknown>;
  timeoutMs?: number;
}

export function conformanceRequest(url: string, req: ConformanceRequest): Promise<ClientResponse> {
  const timeoutMs = req.timeoutMs ?? 10_000;
  const headers: Record<string, string | string[]> = { ...req.headers };
  if (req.body !== undefined) headers["content-length"] = String(Buffer.byteLength(req.body));
  const method = req.body !== undefined || req.chunks !== undefined ? "POST" : "GET";
  return new Promise((resolve, reject) => {
    const r = request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      readResponse(res).then(resolve, reject);
    });
    r.on("timeout", () => r.destroy(new Error(`${method} ${url}: no response within ${timeoutMs} ms`)));
    r.on("error", reject);
    if (req.chunks === undefined) {
      r.end(req.body);
      return;
    }
    const chunks = req.chunks;
    void (async () => {
      for (let i = 0; i < chunks.length; i++) {
        r.write(chunks[i]);
        await req.afterChunk?.(i);
      }
      r.end();
    })().catch((e: unknown) => r.destroy(e as Error));
  });
}
