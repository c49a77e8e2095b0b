// P-256 verification (assembly/crypto/p256.ts and its generated field code): the field arithmetic
// against BigInt, ECDSA edge cases built from chosen scalars, and the exact instruction count of one
// ES256 verification with a prepared key (metered as the bench meters modules).
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import { compile } from "../../../src/build/compile";
import { meter, INSTRUCTIONS_EXPORT } from "../../../bench/src/meter";

const p = (1n << 256n) - (1n << 224n) + (1n << 192n) + (1n << 96n) - 1n;
const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const G = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

// ---- reference arithmetic in BigInt (affine, slow and obviously right) ----
const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
function powMod(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b = mod(b, m);
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
const inv = (a: bigint, m: bigint) => powMod(a, m - 2n, m);
type Pt = { x: bigint; y: bigint } | null;
function add(a: Pt, b: Pt): Pt {
  if (a === null) return b;
  if (b === null) return a;
  if (a.x === b.x && mod(a.y + b.y, p) === 0n) return null;
  const l = a.x === b.x ? mod(3n * (a.x * a.x - 1n) * inv(2n * a.y, p), p) : mod((b.y - a.y) * inv(b.x - a.x + p, p), p);
  const x = mod(l * l - a.x - b.x, p);
  return { x, y: mod(l * (a.x - x) - a.y, p) };
}
function mul(k: bigint, P: Pt): Pt {
  let r: Pt = null;
  for (let i = 255; i >= 0; i--) {
    r = add(r, r);
    if ((k >> BigInt(i)) & 1n) r = add(r, P);
  }
  return r;
}
const be = (v: bigint, len = 32) => Buffer.from(v.toString(16).padStart(2 * len, "0"), "hex");

interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  __new(size: number, id: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
  __collect(): void;
  slots(): number;
  testFeMul(): void;
  testFeAdd(): void;
  testFeSub(): void;
  testFeSqr(): void;
  testEcKey(curve: number, x: number, y: number): number;
  testEcdsaDigest(key: number, digest: number, sig: number): number;
  testEcdsaKey(key: number, msg: number, sig: number): number;
  [INSTRUCTIONS_EXPORT]?: WebAssembly.Global;
}

let x: Exports;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "pwas-p256-"));
  try {
    const { wasmPath } = await compile({
      entry: resolve(__dirname, "p256-entry.ts"),
      outFile: join(dir, "p256.wasm"),
      projectDir: resolve(__dirname, "../../.."),
      extraArgs: ["--exportRuntime"],
    });
    // The metered copy runs everything: same code and memory, plus an instruction counter.
    const metered = meter(new Uint8Array(readFileSync(wasmPath)));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(metered.bytes)), {
      env: { proxy_log: () => { throw new Error("wasm abort"); } },
      wasi_snapshot_preview1: { random_get: () => 0 },
    });
    x = instance.exports as unknown as Exports;
    x._initialize();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

afterEach(() => x.__collect());

const bytes = (b: Uint8Array) => {
  const ptr = x.__new(b.length, 1);
  new Uint8Array(x.memory.buffer, ptr, b.length).set(b);
  return ptr;
};
const instructions = () => BigInt(x[INSTRUCTIONS_EXPORT]!.value);

function key(P: Pt): number {
  const k = x.testEcKey(0, bytes(be(P!.x)), bytes(be(P!.y)));
  return k === 0 ? 0 : x.__pin(k);
}
const verifyDigest = (k: number, e: Uint8Array, r: bigint, s: bigint) =>
  x.testEcdsaDigest(k, bytes(e), bytes(Buffer.concat([be(r), be(s)]))) === 1;

/** A signature with nonce k over digest value e (any 256-bit value) for private key d. */
function signWith(d: bigint, k: bigint, e: bigint, sOverride?: bigint) {
  const r = mod(mul(k, G)!.x, n);
  const s = sOverride ?? mod(inv(k, n) * (mod(e, n) + r * d), n);
  return { r, s };
}

// First in the file, so this key is the module's first: its preparation builds G's table too, and the
// first verification is checked to pay nothing for it.
describe("p256: instructions per ES256 verification (exact, metered)", () => {
  it("node:crypto signatures verify with a prepared key, the first one too, within the budget; prints the counts", () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const kx = Buffer.from(jwk.x!, "base64url"), ky = Buffer.from(jwk.y!, "base64url");
    const before = instructions();
    const k = x.__pin(x.testEcKey(0, bytes(kx), bytes(ky)));
    const prepared = instructions() - before;
    const msg = Buffer.from("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0");
    const counts: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const sig = sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
      const m = bytes(msg), sg = bytes(sig);
      const t0 = instructions();
      expect(x.testEcdsaKey(k, m, sg)).toBe(1);
      counts.push(instructions() - t0);
      const wrong = Buffer.from(sig);
      wrong[5] ^= 1;
      expect(x.testEcdsaKey(k, m, bytes(wrong))).toBe(0);
    }
    console.log(`p256: ES256 verification ${counts.join(", ")} instructions (prepared key); preparation of the first key (with G's table) ${prepared}`);
    // Exact counts: the digits of u1 and u2 decide how many additions run, so they vary by about 1%.
    // 2.25 M when this was written (15.6 M with the generic Montgomery code before p256.ts).
    for (const c of counts) expect(c).toBeLessThan(2_500_000n);
    x.__unpin(k);
  });
});

describe("p256: field arithmetic modulo p", () => {
  it("generated/p256-field.ts is exactly what gen/p256-field.mjs writes (and the generator's own BigInt check of the reduction passes)", () => {
    const dir = mkdtempSync(join(tmpdir(), "pwas-p256-gen-"));
    try {
      const crypto = resolve(__dirname, "../assembly/crypto");
      execFileSync(process.execPath, [join(crypto, "gen/p256-field.mjs"), join(dir, "out.ts")]);
      expect(readFileSync(join(dir, "out.ts"), "utf8")).toBe(readFileSync(join(crypto, "generated/p256-field.ts"), "utf8"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("mul, sqr, add and sub agree with BigInt on edge values and 3000 random pairs", () => {
    const s = x.slots();
    const put = (at: number, v: bigint) => new Uint8Array(x.memory.buffer, at, 32).set(Buffer.from(be(v)).reverse());
    const get = (at: number) => BigInt("0x" + Buffer.from(new Uint8Array(x.memory.buffer, at, 32)).reverse().toString("hex"));
    const edges = [0n, 1n, 2n, 3n, p - 1n, p - 2n, p - 3n, 1n << 255n, (1n << 224n) - 1n, (1n << 192n), (1n << 96n) - 1n, p >> 1n, (1n << 256n) - 1n - p + 0n];
    const pairs: Array<[bigint, bigint]> = [];
    for (const a of edges) for (const b of edges) pairs.push([a, b]);
    for (let i = 0; i < 3000; i++) pairs.push([mod(BigInt("0x" + randomBytes(32).toString("hex")), p), mod(BigInt("0x" + randomBytes(32).toString("hex")), p)]);
    const bad: string[] = [];
    for (const [a, b] of pairs) {
      put(s, a);
      put(s + 32, b);
      x.testFeMul();
      if (get(s + 64) !== (a * b) % p) bad.push(`mul ${a} ${b}`);
      x.testFeAdd();
      if (get(s + 64) !== (a + b) % p) bad.push(`add ${a} ${b}`);
      x.testFeSub();
      if (get(s + 64) !== mod(a - b, p)) bad.push(`sub ${a} ${b}`);
      x.testFeSqr();
      if (get(s + 64) !== (a * a) % p) bad.push(`sqr ${a}`);
    }
    expect(bad).toEqual([]);
  });
});

describe("p256: ECDSA edge cases from chosen scalars", () => {
  const d = 0x5a1cd3f4e2b7c6a890817263544536271829abcdeffedcba0123456789abcdefn;
  const Q = mul(d, G);
  const k = 0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdefn;

  it("a digest of zero (u1 = 0) and a digest of n (reduced to 0) verify; one of n + 1 needs e = 1", () => {
    const q = key(Q);
    expect(q).not.toBe(0);
    const zero = signWith(d, k, 0n);
    expect(verifyDigest(q, be(0n), zero.r, zero.s)).toBe(true);
    expect(verifyDigest(q, be(n), zero.r, zero.s)).toBe(true);
    expect(verifyDigest(q, be(n + 1n), zero.r, zero.s)).toBe(false);
    const one = signWith(d, k, 1n);
    expect(verifyDigest(q, be(n + 1n), one.r, one.s)).toBe(true);
    expect(verifyDigest(q, be((1n << 256n) - 1n), one.r, one.s)).toBe(false);
    const top = signWith(d, k, (1n << 256n) - 1n);
    expect(verifyDigest(q, be((1n << 256n) - 1n), top.r, top.s)).toBe(true);
    x.__unpin(q);
  });

  it("s = n − 1 verifies when it is the right s; r or s of 0, n or above are refused", () => {
    const q = key(Q);
    const r = mod(mul(k, G)!.x, n);
    // Choose e so that s = n − 1: s·k = e + r·d.
    const e = mod((n - 1n) * k - r * d, n);
    expect(verifyDigest(q, be(e), r, n - 1n)).toBe(true);
    expect(verifyDigest(q, be(e), r, n - 2n)).toBe(false);
    const ok = signWith(d, k, 77n);
    expect(verifyDigest(q, be(77n), ok.r, ok.s)).toBe(true);
    for (const [rr, ss] of [[0n, ok.s], [ok.r, 0n], [n, ok.s], [ok.r, n], [ok.r + n, ok.s], [ok.r, ok.s + n], [(1n << 256n) - 1n, ok.s]]) {
      expect(verifyDigest(q, be(77n), rr, ss)).toBe(false);
    }
    x.__unpin(q);
  });

  it("a result at infinity (u1·G = −u2·Q) is refused whatever r is", () => {
    const q = key(Q);
    // u1 + u2·d ≡ 0 (mod n) exactly when e ≡ −r·d: then R = (e + r·d)·w·G = O for every s.
    for (const r of [1n, 2n, mod(Q!.x, n), n - 1n]) {
      const e = mod(-r * d, n);
      for (const s of [1n, 12345n, n - 1n]) expect(verifyDigest(q, be(e), r, s)).toBe(false);
    }
    x.__unpin(q);
  });

  it("key G with u1 = u2 (the first two additions of the chain add a point to itself) and key −G with u1 = u2 (infinity)", () => {
    const g = key(G);
    const kk = 0xabcdef0123456789n;
    const r = mod(mul(kk, G)!.x, n);
    const s = mod(inv(kk, n) * (r + r), n); // d = 1, e = r: u1 = u2 = r/s
    expect(verifyDigest(g, be(r), r, s)).toBe(true);
    expect(verifyDigest(g, be(r + 1n), r, s)).toBe(false);
    const minusG = key({ x: G.x, y: p - G.y });
    // d = n − 1 and e = r: u1·G + u2·(−G) = O for any s.
    expect(verifyDigest(minusG, be(r), r, s)).toBe(false);
    // With e ≠ r it is an ordinary signature: s = k⁻¹(e − r).
    const s2 = mod(inv(kk, n) * (5n - r), n);
    expect(verifyDigest(minusG, be(5n), r, s2)).toBe(true);
    x.__unpin(g);
    x.__unpin(minusG);
  });

  it("small multiples of G as keys and small scalars (table rows and single-window digits) verify exactly", () => {
    for (const dd of [2n, 3n, 15n, 16n, 1n << 64n, (1n << 64n) + 1n, 1n << 192n, n - 2n]) {
      const q = key(mul(dd, G));
      for (const kk of [1n, 2n, 3n, 16n, 1n << 64n, n - 1n]) {
        const { r, s } = signWith(dd, kk, 9n);
        expect(verifyDigest(q, be(9n), r, s)).toBe(true);
        expect(verifyDigest(q, be(10n), r, s)).toBe(false);
      }
      x.__unpin(q);
      x.__collect();
    }
  });
});
