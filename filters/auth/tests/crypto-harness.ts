// Loads filters/auth/assembly/crypto into Node through crypto-entry.ts, built with the project's asc flags.
// Bytes cross the boundary as AssemblyScript ArrayBuffers allocated with the exported `__new`.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compile } from "../../../src/build/compile";

/** The Wycheproof vectors, kept in the repository with their licence and source commit (testdata/wycheproof/SOURCE.md). */
export const WYCHEPROOF_DIR = resolve(__dirname, "../../../testdata/wycheproof");

/** Same numbering as HashAlg in assembly/crypto/digest.ts. */
export enum Hash { SHA256 = 0, SHA384 = 1, SHA512 = 2 }
/** Same numbering as EcCurve in assembly/crypto/ec.ts. */
export enum Curve { P256 = 0, P384 = 1 }

/** What a one-shot verification returned: the key was refused, the signature was refused, or it verified. */
export enum Verdict { BadKey = -1, Rejected = 0, Verified = 1 }

interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  __new(size: number, id: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
  __collect(): void;
  testDigest(alg: number, data: number): number;
  testHmac(alg: number, key: number, msg: number): number;
  testHmacVerify(alg: number, key: number, msg: number, tag: number, tagLen: number): number;
  testConstantTimeEqual(a: number, b: number): number;
  testRsaKey(n: number, e: number, minBits: number): number;
  testRsaPkcs1(alg: number, n: number, e: number, msg: number, sig: number, minBits: number): number;
  testRsaPss(alg: number, n: number, e: number, msg: number, sig: number, saltLen: number, minBits: number): number;
  testRsaPkcs1Key(key: number, alg: number, msg: number, sig: number): number;
  testRsaPssKey(key: number, alg: number, msg: number, sig: number, saltLen: number): number;
  testEcKey(curve: number, x: number, y: number): number;
  testEcdsa(curve: number, x: number, y: number, msg: number, sig: number): number;
  testEcdsaKey(key: number, msg: number, sig: number): number;
}

const ARRAY_BUFFER_ID = 1; // AssemblyScript's fixed runtime id for ArrayBuffer

/** A prepared key or pinned buffer living in the module; release it with `CryptoModule.release`. */
export type Handle = number;

export class CryptoModule {
  constructor(private readonly x: Exports) {}

  /** Copies bytes into a new module ArrayBuffer. Unpinned: valid until the next `collect()`. */
  bytes(data: Uint8Array | string): number {
    const b = typeof data === "string" ? Buffer.from(data, "hex") : data;
    const ptr = this.x.__new(b.length, ARRAY_BUFFER_ID);
    new Uint8Array(this.x.memory.buffer, ptr, b.length).set(b);
    return ptr;
  }

  /** Like `bytes`, but survives `collect()` until released. */
  pinned(data: Uint8Array | string): Handle {
    return this.x.__pin(this.bytes(data));
  }

  release(handle: Handle): void {
    this.x.__unpin(handle);
  }

  /** Frees everything not pinned (the minimal runtime never collects on its own). */
  collect(): void {
    this.x.__collect();
  }

  private read(ptr: number): Buffer {
    const len = new Uint32Array(this.x.memory.buffer, ptr - 4, 1)[0]; // rtSize in the object header
    return Buffer.from(new Uint8Array(this.x.memory.buffer, ptr, len));
  }

  digest(alg: Hash, data: Uint8Array): Buffer {
    return this.read(this.x.testDigest(alg, this.bytes(data)));
  }

  hmac(alg: Hash, key: Uint8Array, msg: Uint8Array): Buffer {
    return this.read(this.x.testHmac(alg, this.bytes(key), this.bytes(msg)));
  }

  /** tagLen -1: the full digest length, as JWS requires. */
  hmacVerify(alg: Hash, key: Uint8Array | string, msg: Uint8Array | string, tag: Uint8Array | string, tagLen = -1): boolean {
    return this.x.testHmacVerify(alg, this.bytes(key), this.bytes(msg), this.bytes(tag), tagLen) === 1;
  }

  constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
    return this.x.testConstantTimeEqual(this.bytes(a), this.bytes(b)) === 1;
  }

  /** Prepares and pins an RSA key; 0 when refused. */
  rsaKey(n: Uint8Array | string, e: Uint8Array | string, minBits = 2048): Handle {
    const key = this.x.testRsaKey(this.bytes(n), this.bytes(e), minBits);
    return key === 0 ? 0 : this.x.__pin(key);
  }

  rsaPkcs1(alg: Hash, n: Uint8Array | string, e: Uint8Array | string, msg: Uint8Array | string, sig: Uint8Array | string, minBits = 2048): Verdict {
    return this.x.testRsaPkcs1(alg, this.bytes(n), this.bytes(e), this.bytes(msg), this.bytes(sig), minBits);
  }

  /** saltLen -1: the hash length, as JWS requires. */
  rsaPss(alg: Hash, n: Uint8Array | string, e: Uint8Array | string, msg: Uint8Array | string, sig: Uint8Array | string, saltLen = -1, minBits = 2048): Verdict {
    return this.x.testRsaPss(alg, this.bytes(n), this.bytes(e), this.bytes(msg), this.bytes(sig), saltLen, minBits);
  }

  /** Verification with a prepared key; `msg`/`sig` may be pinned handles (numbers) to keep copying out of timings. */
  rsaPkcs1WithKey(key: Handle, alg: Hash, msg: Uint8Array | number, sig: Uint8Array | number): boolean {
    return this.x.testRsaPkcs1Key(key, alg, this.ptr(msg), this.ptr(sig)) === 1;
  }

  rsaPssWithKey(key: Handle, alg: Hash, msg: Uint8Array | number, sig: Uint8Array | number, saltLen = -1): boolean {
    return this.x.testRsaPssKey(key, alg, this.ptr(msg), this.ptr(sig), saltLen) === 1;
  }

  /** Prepares and pins an EC key; 0 when refused. */
  ecKey(curve: Curve, x: Uint8Array | string, y: Uint8Array | string): Handle {
    const key = this.x.testEcKey(curve, this.bytes(x), this.bytes(y));
    return key === 0 ? 0 : this.x.__pin(key);
  }

  ecdsa(curve: Curve, x: Uint8Array | string, y: Uint8Array | string, msg: Uint8Array | string, sig: Uint8Array | string): Verdict {
    return this.x.testEcdsa(curve, this.bytes(x), this.bytes(y), this.bytes(msg), this.bytes(sig));
  }

  ecdsaWithKey(key: Handle, msg: Uint8Array | number, sig: Uint8Array | number): boolean {
    return this.x.testEcdsaKey(key, this.ptr(msg), this.ptr(sig)) === 1;
  }

  /** Raw calls for timing loops, where the wrappers' copying would dominate HMAC. */
  get raw(): Exports {
    return this.x;
  }

  private ptr(data: Uint8Array | number): number {
    return typeof data === "number" ? data : this.bytes(data);
  }
}

/**
 * Compiles crypto-entry.ts (optimised, as a filter would be) into a temporary folder and instantiates it.
 * The module imports only env.proxy_log (for abort messages) and, possibly, WASI random_get; both are stubbed.
 */
export async function loadCryptoModule(): Promise<CryptoModule> {
  const dir = mkdtempSync(join(tmpdir(), "pwas-crypto-"));
  try {
    const { wasmPath } = await compile({
      entry: resolve(__dirname, "crypto-entry.ts"),
      outFile: join(dir, "crypto.wasm"),
      projectDir: resolve(__dirname, "../../.."),
      extraArgs: ["--exportRuntime"],
    });
    const module = new WebAssembly.Module(readFileSync(wasmPath));
    let memory: WebAssembly.Memory | undefined;
    const instance = new WebAssembly.Instance(module, {
      env: {
        proxy_log: (_level: number, ptr: number, len: number) => {
          throw new Error(`wasm: ${Buffer.from(memory!.buffer, ptr, len).toString()}`);
        },
      },
      wasi_snapshot_preview1: { random_get: () => 0 },
    });
    const x = instance.exports as unknown as Exports;
    memory = x.memory;
    x._initialize();
    return new CryptoModule(x);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Wycheproof files (only the fields these tests read) ----

export type WycheproofResult = "valid" | "invalid" | "acceptable";

export interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: WycheproofResult;
  [field: string]: unknown;
}

export interface WycheproofFile<G> {
  algorithm: string;
  numberOfTests: number;
  testGroups: Array<G & { tests: WycheproofTest[] }>;
}

export function readWycheproof<G>(file: string): WycheproofFile<G> {
  return JSON.parse(readFileSync(join(WYCHEPROOF_DIR, file), "utf8")) as WycheproofFile<G>;
}

/** A line for the CI log: how many vectors of each result a file has and that all ran. */
export function countLine(file: string, tests: WycheproofTest[]): string {
  const by = (r: WycheproofResult) => tests.filter((t) => t.result === r).length;
  return `wycheproof ${file}: ${tests.length} vectors (${by("valid")} valid, ${by("invalid")} invalid, ${by("acceptable")} acceptable) checked`;
}
