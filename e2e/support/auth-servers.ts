// Loopback servers for the auth filter's e2e tests: a JWKS endpoint whose answer the test switches (keys,
// malformed, or down: connections reset), optionally slow, and an HTTP authorization service with a
// per-test decision.
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface LoopbackServer {
  readonly port: number;
  /** Requests answered (or reset) so far. */
  requests: number;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
}

export interface JwksServer extends LoopbackServer {
  /** What GET answers: a JWKS document, or "down" (the connection is reset). */
  serve: string | "down";
  status: number;
  /** Answers (and resets, when down) wait this long first: a slow endpoint. 0 by default. */
  delayMs: number;
}

export async function startJwksServer(initial: string | "down"): Promise<JwksServer> {
  const state = { serve: initial, status: 200, requests: 0, delayMs: 0 };
  const pending = new Set<NodeJS.Timeout>();
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    if (res.destroyed) return; // the caller gave up (timed out) first
    if (state.serve === "down") { req.socket.destroy(); return; }
    res.writeHead(state.status, { "content-type": "application/json" });
    res.end(state.serve);
  };
  const { server, port, sockets } = await listen((req, res) => {
    state.requests++;
    if (state.delayMs <= 0) { answer(req, res); return; }
    const t = setTimeout(() => { pending.delete(t); answer(req, res); }, state.delayMs);
    pending.add(t);
  });
  const close = closer(server, sockets);
  const api = {
    port,
    get serve() { return state.serve; }, set serve(v: string) { state.serve = v; },
    get status() { return state.status; }, set status(v: number) { state.status = v; },
    get requests() { return state.requests; }, set requests(v: number) { state.requests = v; },
    get delayMs() { return state.delayMs; }, set delayMs(v: number) { state.delayMs = v; },
    close: () => { for (const t of pending) clearTimeout(t); pending.clear(); return close(); },
  };
  return api as JwksServer;
}

export interface AuthzDecision {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer only after this long: a service slower than the filter's timeout. */
  delayMs?: number;
}

export interface AuthzServer extends LoopbackServer {
  /** Decides each check from its method, path and headers; "down" resets the connection. */
  decide: (req: IncomingMessage) => AuthzDecision | "down";
  /** The checks received, in order. */
  seen: Array<{ method: string; path: string; headers: IncomingMessage["headers"] }>;
}

export async function startAuthzServer(decide: AuthzServer["decide"]): Promise<AuthzServer> {
  const seen: AuthzServer["seen"] = [];
  const api = { decide, seen, requests: 0, port: 0, close: async () => {} } as AuthzServer;
  const pending = new Set<NodeJS.Timeout>();
  const { server, port, sockets } = await listen((req, res) => {
    api.requests++;
    seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers });
    const d = api.decide(req);
    if (d === "down") { req.socket.destroy(); return; }
    const answer = () => {
      if (res.destroyed) return; // the caller gave up (timed out) first
      res.writeHead(d.status, d.headers ?? {});
      res.end(d.body ?? "");
    };
    if (!d.delayMs) { answer(); return; }
    const t = setTimeout(() => { pending.delete(t); answer(); }, d.delayMs);
    pending.add(t);
  });
  const close = closer(server, sockets);
  Object.assign(api, { port, close: () => { for (const t of pending) clearTimeout(t); pending.clear(); return close(); } });
  return api;
}
