/**
 * A minimal gRPC server over h2c (HTTP/2 without TLS, prior knowledge) for e2e tests, built on node:http2
 * alone: it implements `conformance.Echo` and frames messages itself (1 byte compressed flag, 4-byte
 * big-endian length, then the bytes), so no gRPC library or .proto is involved.
 *
 * Methods:
 * - `/conformance.Echo/Unary`: one reply, `"pong:" + request bytes`, then grpc-status 0.
 * - `/conformance.Echo/Stream`: one reply per request message, `"pong:" + message`, sent as each arrives;
 *   grpc-status 0 once the client half-closes.
 * - `/conformance.Echo/Fail`: response headers, then grpc-status 9 (FAILED_PRECONDITION) in trailers.
 * - anything else: grpc-status 12 (UNIMPLEMENTED) in a trailers-only response, as real servers do.
 */
import { createServer, constants, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo, Socket } from "node:net";

export const GRPC_SERVICE = "conformance.Echo";

/** What the server saw of one call: which method, its metadata, and the messages in order. */
export interface GrpcCallSeen {
  path: string;
  /** Request headers (metadata), names lower-case, pseudo-headers included. */
  metadata: Record<string, string>;
  messages: Buffer[];
}

export interface GrpcServer {
  readonly port: number;
  /** Every call received so far, in arrival order. */
  readonly calls: readonly GrpcCallSeen[];
  close(): Promise<void>;
}

/** Prefixes a message with the gRPC length-prefixed framing (uncompressed). */
export function frameGrpcMessage(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/**
 * Splits gRPC framing incrementally: feed it DATA chunks as they come, it returns the messages completed so
 * far. Compressed messages (flag 1) are refused: nothing here negotiates an encoding.
 */
export class GrpcDeframer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    while (this.pending.length >= 5) {
      const compressed = this.pending.readUInt8(0);
      if (compressed !== 0) throw new Error(`gRPC message with compressed flag ${compressed}; compression is not supported`);
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + length) break;
      messages.push(Buffer.from(this.pending.subarray(5, 5 + length)));
      this.pending = this.pending.subarray(5 + length);
    }
    return messages;
  }

  /** Bytes of an incomplete message still waiting for more data. */
  get leftover(): number {
    return this.pending.length;
  }
}

const PONG = Buffer.from("pong:");

/** What conformance.Echo answers a message: "pong:" + its bytes. Shared with tests that play the server. */
export function pong(message: Uint8Array): Buffer {
  return Buffer.concat([PONG, message]);
}

/** What `/conformance.Echo/Fail` ends with, in trailers after the response headers. */
export function failedOnPurpose(): { status: number; message: string } {
  return { status: 9, message: "failed on purpose" };
}

/** The status and message the server ends a call to an unknown method with (a trailers-only response). */
export function unknownMethod(path: string): { status: number; message: string } {
  return { status: 12, message: `unknown method ${path}` };
}

export async function startGrpcServer(): Promise<GrpcServer> {
  const calls: GrpcCallSeen[] = [];
  const server: Http2Server = createServer();
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const path = String(headers[constants.HTTP2_HEADER_PATH] ?? "");
    const seen: GrpcCallSeen = { path, metadata: flatten(headers), messages: [] };
    calls.push(seen);
    if (path === `/${GRPC_SERVICE}/Fail`) {
      // A failure after response headers (status in trailers), unlike the trailers-only refusal below.
      const failure = failedOnPurpose();
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": String(failure.status), "grpc-message": failure.message }));
      stream.on("data", () => undefined);
      stream.on("end", () => stream.end());
      return;
    }
    const unary = path === `/${GRPC_SERVICE}/Unary`;
    const streaming = path === `/${GRPC_SERVICE}/Stream`;
    if (!unary && !streaming) {
      const refusal = unknownMethod(path);
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": String(refusal.status), "grpc-message": refusal.message },
        { endStream: true },
      );
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    const deframer = new GrpcDeframer();
    stream.on("data", (chunk: Buffer) => {
      for (const m of deframer.push(chunk)) {
        seen.messages.push(m);
        // Unary answers once, at the end; streaming answers each message as it arrives.
        if (streaming) stream.write(frameGrpcMessage(pong(m)));
      }
    });
    stream.on("end", () => {
      if (unary) {
        const request = seen.messages.length > 0 ? seen.messages[0] : Buffer.alloc(0);
        stream.end(frameGrpcMessage(pong(request)));
      } else {
        stream.end();
      }
    });
    stream.on("error", () => undefined); // a client reset is not the server's failure
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    calls,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Envoy keeps its HTTP/2 connection open: destroy it so close() does not wait for Envoy.
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}
