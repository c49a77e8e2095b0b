// Shared by the auth filter's tests: builds the filter (and the JWS test entry) once per test file into a
// temporary folder, mints tokens with node:crypto, and drives requests through the emulator.
import { createHmac, createSign, generateKeyPairSync, KeyObject, randomBytes, sign as nodeSign, constants } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compile } from "../../../src/build/compile";
import { Host, HostOptions, HttpStream, Action } from "../../../src/emulator";
import { ENVOY_FOREIGN_FUNCTIONS } from "../../../src/emulator/foreign";

export const ROOT = resolve(__dirname, "../../..");
export const FILTER_ENTRY = join(ROOT, "filters/auth/assembly/index.ts");
export { WYCHEPROOF_DIR } from "./crypto-harness";

/** Same numbering as Status in assembly/jwt.ts. */
export enum Status {
  Ok, JwtMissed, JwtNotYetValid, JwtExpired, JwtBadFormat, JwtTooLarge, JwtHeaderParseError, JwtHeaderBadAlg,
  JwtHeaderNotImplementedAlg, JwtHeaderBadKid, JwtHeaderCrit, JwtPayloadParseError, JwtSignatureParseError,
  JwtUnknownIssuer, JwtAudienceNotAllowed, JwtVerificationFail, JwtExpirationRequired, JwksKidAlgMismatch,
  JwksAmbiguousKid, JwksFetchFail, Waiting, PathRefused, JwtKidRequired,
}

const tmpDirs: string[] = [];
afterAll(() => { for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** Compiles the filter (optimised, as shipped) and returns its bytes. */
export async function buildAuthFilter(): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), "pwas-auth-"));
  tmpDirs.push(dir);
  const { wasmPath } = await compile({ entry: FILTER_ENTRY, outFile: join(dir, "auth.wasm"), projectDir: ROOT });
  return new Uint8Array(readFileSync(wasmPath));
}

// ---------------------------------------------------------------------------------------------- JWS layer

interface JwsExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  __new(size: number, id: number): number;
  __collect(): void;
  jwksKeyCount(jwks: number): number;
  jwsVerify(token: number, jwks: number, parsePayload: number, maxBytes: number, host: number): number;
  malloc(size: number): number;
  hostVerifyRaw(alg: number, a: number, b: number, msg: number, sig: number): number;
}

export class JwsLayer {
  constructor(private readonly x: JwsExports) {}
  private bytes(data: Uint8Array | string): number {
    const b = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    const ptr = this.x.__new(b.length, 1);
    new Uint8Array(this.x.memory.buffer, ptr, b.length).set(b);
    return ptr;
  }
  /** Keys the filter keeps from a JWKS, or -1 when it refuses the set. */
  keyCount(jwks: string | Uint8Array): number {
    const n = this.x.jwksKeyCount(this.bytes(jwks));
    this.x.__collect();
    return n;
  }
  /** Host calls to verify_signature so far (the emulator's, node:crypto). */
  hostCalls = 0;
  /**
   * Status of verifying `token` (a plain JWS when parsePayload is false); -1 when the JWKS is refused. `host`:
   * RS* and ES* signatures go to the emulator's verify_signature, as in a filter whose host has it.
   */
  verify(token: string | Uint8Array, jwks: string | Uint8Array, parsePayload = false, maxBytes = 65536, host = false): number {
    const t = this.bytes(token);
    const k = this.bytes(jwks);
    const s = this.x.jwsVerify(t, k, parsePayload ? 1 : 0, maxBytes, host ? 1 : 0);
    this.x.__collect();
    return s;
  }
  /**
   * The host path alone (der.ts + native.ts + the emulator's verify_signature): "valid", "invalid" or "error".
   * `alg` RS256/384/512 with (n, e), or ES256/ES384 with (x, y) and an r‖s signature.
   */
  hostVerify(alg: "RS256" | "RS384" | "RS512" | "ES256" | "ES384", a: Uint8Array, b: Uint8Array, msg: Uint8Array, sig: Uint8Array): string {
    const code = ["RS256", "RS384", "RS512", "ES256", "ES384"].indexOf(alg);
    const s = this.x.hostVerifyRaw(code, this.bytes(a), this.bytes(b), this.bytes(msg), this.bytes(sig));
    this.x.__collect();
    return ["valid", "invalid", "error"][s];
  }
}

export async function loadJwsLayer(): Promise<JwsLayer> {
  const dir = mkdtempSync(join(tmpdir(), "pwas-jws-"));
  tmpDirs.push(dir);
  const { wasmPath } = await compile({
    entry: join(__dirname, "jws-entry.ts"), outFile: join(dir, "jws.wasm"), projectDir: ROOT, extraArgs: ["--exportRuntime"],
  });
  let memory: WebAssembly.Memory | undefined;
  let layer: JwsLayer | undefined;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasmPath)), {
    env: {
      proxy_log: (_l: number, ptr: number, len: number) => { throw new Error(`wasm: ${Buffer.from(memory!.buffer, ptr, len).toString()}`); },
      // Only verify_signature, answered by the emulator's implementation (what Envoy's would answer).
      proxy_call_foreign_function: (namePtr: number, nameLen: number, argPtr: number, argLen: number, retPtr: number, retLen: number) => {
        const name = Buffer.from(memory!.buffer, namePtr, nameLen).toString();
        if (name !== "verify_signature") return 1; // NotFound
        layer!.hostCalls++;
        const args = new Uint8Array(memory!.buffer.slice(argPtr, argPtr + argLen));
        const r = ENVOY_FOREIGN_FUNCTIONS.verify_signature(args, { host: undefined as unknown as Host, contextId: 0 });
        if (r && !(r instanceof Uint8Array)) return r.result;
        const out = r instanceof Uint8Array ? r : new Uint8Array(0);
        const ptr = x.malloc(out.length);
        new Uint8Array(memory!.buffer, ptr, out.length).set(out);
        const view = new DataView(memory!.buffer);
        view.setUint32(retPtr, ptr, true);
        view.setUint32(retLen, out.length, true);
        return 0;
      },
    },
    wasi_snapshot_preview1: { random_get: () => 0 },
  });
  const x = instance.exports as unknown as JwsExports;
  memory = x.memory;
  x._initialize();
  layer = new JwsLayer(x);
  return layer;
}

// ---------------------------------------------------------------------------------------------- tokens

export type JwsAlg = "HS256" | "HS384" | "HS512" | "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384";

export interface SigningKey {
  alg: JwsAlg;
  kid: string;
  /** Private key (asymmetric) or the secret. */
  secret?: Buffer;
  privateKey?: KeyObject;
  /** The public JWK (or the oct JWK for HMAC). */
  jwk: Record<string, unknown>;
}

export const b64u = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export function hmacKey(alg: "HS256" | "HS384" | "HS512", kid: string, secret = randomBytes(alg === "HS256" ? 32 : alg === "HS384" ? 48 : 64)): SigningKey {
  return { alg, kid, secret, jwk: { kty: "oct", kid, alg, k: b64u(secret) } };
}

const rsaCache = new Map<number, { privateKey: KeyObject; publicKey: KeyObject }>();
export function rsaKey(alg: JwsAlg, kid: string, bits = 2048, fresh = false): SigningKey {
  let pair = fresh ? undefined : rsaCache.get(bits);
  if (!pair) {
    pair = generateKeyPairSync("rsa", { modulusLength: bits });
    if (!fresh) rsaCache.set(bits, pair);
  }
  const jwk = pair.publicKey.export({ format: "jwk" }) as Record<string, unknown>;
  return { alg, kid, privateKey: pair.privateKey, jwk: { ...jwk, kid, alg, use: "sig" } };
}

export function ecKey(alg: "ES256" | "ES384", kid: string): SigningKey {
  const pair = generateKeyPairSync("ec", { namedCurve: alg === "ES256" ? "P-256" : "P-384" });
  const jwk = pair.publicKey.export({ format: "jwk" }) as Record<string, unknown>;
  return { alg, kid, privateKey: pair.privateKey, jwk: { ...jwk, kid, alg } };
}

export function jwks(...keys: SigningKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

/** Signs `signingInput` with the key's algorithm, in JWS form (r‖s for ECDSA, salt = hash length for PSS). */
export function signJws(key: SigningKey, signingInput: string, alg: string = key.alg): Buffer {
  const hash = "sha" + alg.slice(2);
  if (alg.startsWith("HS")) return createHmac(hash, key.secret!).update(signingInput).digest();
  if (alg.startsWith("RS")) return createSign(hash).update(signingInput).sign(key.privateKey!);
  if (alg.startsWith("PS")) {
    return nodeSign(hash, Buffer.from(signingInput), { key: key.privateKey!, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  }
  return nodeSign(hash, Buffer.from(signingInput), { key: key.privateKey!, dsaEncoding: "ieee-p1363" });
}

export interface MintOptions {
  header?: Record<string, unknown>;
  /** Replaces the whole header JSON text (for duplicate names and the like). */
  headerText?: string;
  payloadText?: string;
  alg?: string;
  noKid?: boolean;
}

/** A compact JWS over `claims`, signed with `key`. */
export function mint(key: SigningKey, claims: Record<string, unknown>, opts: MintOptions = {}): string {
  const alg = opts.alg ?? key.alg;
  const header = opts.headerText ?? JSON.stringify({ alg, typ: "JWT", ...(opts.noKid ? {} : { kid: key.kid }), ...opts.header });
  const payload = opts.payloadText ?? JSON.stringify(claims);
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${b64u(signJws(key, input, alg))}`;
}

// ---------------------------------------------------------------------------------------------- emulator

/** 2026-01-01T00:00:00Z: the virtual clock's start in most tests. */
export const T0 = 1767225600;

export async function startAuth(wasm: Uint8Array, config: unknown, opts: HostOptions = {}): Promise<Host> {
  return Host.start(wasm, {
    pluginConfig: typeof config === "string" ? config : JSON.stringify(config),
    startTimeNs: BigInt(T0) * 1_000_000_000n,
    ...opts,
  });
}

export interface Outcome {
  stream: HttpStream;
  action: Action;
  /** HTTP status the client saw from a local reply, or 0 when the request went upstream. */
  status: number;
  body: string;
  headers: Map<string, string>;
  upstream: Map<string, string>;
}

export function outcome(stream: HttpStream, action: Action): Outcome {
  const lr = stream.localResponse;
  return {
    stream,
    action,
    status: lr ? lr.status : 0,
    body: lr ? Buffer.from(lr.body).toString() : "",
    headers: new Map(lr ? lr.headers : []),
    upstream: new Map(stream.upstream.headers ?? []),
  };
}

/** Sends request headers (GET on example.com) and reports what happened. */
export function send(host: Host, path = "/", headers: Array<[string, string]> = []): Outcome {
  const s = host.newHttpStream();
  const action = s.sendRequestHeaders([[":method", "GET"], [":path", path], [":authority", "example.com"], [":scheme", "http"], ...headers], true);
  return outcome(s, action);
}

export const bearer = (t: string): [string, string] => ["authorization", `Bearer ${t}`];
