// The SDK's byte codecs compiled to Wasm and fed arbitrary input: the header-map decoder, the UTF-8
// decoder and the JSON reader must never trap or hang, and must agree with Node where Node is the reference.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { compile } from "../../src/build/compile";
import { encodePairs as hostEncode } from "../../src/emulator";

const ROOT = join(__dirname, "..", "..");

interface Codecs {
  memory: WebAssembly.Memory;
  _initialize(): void;
  scratch(size: number): number;
  outPtr(): number;
  outLen(): number;
  pairsRoundTrip(len: number): number;
  utf8(len: number): number;
  json(len: number): number;
  duration(len: number): bigint;
  jsonMaxMembers(len: number, maxMembers: number): number;
  normalize(len: number): number;
  lower(len: number): number;
  headerValue(len: number): number;
}

let wasm: Codecs;

beforeAll(async () => {
  const built = await compile({
    entry: join(ROOT, "sdk/tests/entries/codecs.ts"),
    outFile: join(ROOT, "sdk/tests/build/codecs.wasm"),
    projectDir: ROOT,
  });
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(built.wasmPath)), {
    env: { proxy_log: () => 0 },
    wasi_snapshot_preview1: { random_get: () => 0 },
  });
  wasm = instance.exports as unknown as Codecs;
  wasm._initialize();
}, 120_000);

function put(bytes: Uint8Array): number {
  const ptr = wasm.scratch(bytes.length);
  new Uint8Array(wasm.memory.buffer, ptr, bytes.length).set(bytes);
  return bytes.length;
}
function output(): Uint8Array {
  return new Uint8Array(wasm.memory.buffer, wasm.outPtr(), wasm.outLen()).slice();
}

describe("header-map codec (Wasm side)", () => {
  const pairs = fc.array(fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 80 })), { maxLength: 20 });

  test("decodes what the host encodes, byte for byte, including invalid UTF-8", () => {
    fc.assert(fc.property(pairs, (ps) => {
      const encoded = hostEncode(ps.map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as [Uint8Array, Uint8Array]));
      const n = wasm.pairsRoundTrip(put(encoded));
      expect(n).toBe(ps.length);
      expect(Buffer.from(output()).equals(Buffer.from(encoded))).toBe(true);
    }), { numRuns: 500 });
  });

  test("truncated buffers are rejected, never trap", () => {
    fc.assert(fc.property(pairs.filter((p) => p.length > 0), fc.nat(), (ps, cut) => {
      const encoded = hostEncode(ps.map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as [Uint8Array, Uint8Array]));
      const len = cut % encoded.length; // strictly shorter
      const n = wasm.pairsRoundTrip(put(encoded.subarray(0, len)));
      if (len === 0) expect(n).toBe(0); // an empty buffer is an empty map
      else expect(n).toBe(-1);
    }), { numRuns: 500 });
  });

  test("arbitrary bytes never trap; a huge count is refused before allocating", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const n = wasm.pairsRoundTrip(put(bytes));
      expect(n).toBeGreaterThanOrEqual(-1);
    }), { numRuns: 2000 });
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setUint32(0, 0xffffffff, true);
    expect(wasm.pairsRoundTrip(put(huge))).toBe(-1);
  });
});

describe("UTF-8 decoding never traps and matches the WHATWG decoder", () => {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  test("arbitrary bytes decode like TextDecoder with replacement", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const valid = wasm.utf8(put(bytes));
      const units = output();
      const text = Buffer.from(units).toString("utf16le");
      let fatal = true;
      try { new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch { fatal = false; }
      expect(valid).toBe(fatal ? 1 : 0);
      expect(text).toBe(decoder.decode(bytes));
    }), { numRuns: 3000 });
  });

  test("valid text of any script round-trips", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (s) => {
      expect(wasm.utf8(put(Buffer.from(s, "utf8")))).toBe(1);
      expect(Buffer.from(output()).toString("utf16le")).toBe(s);
    }), { numRuns: 1000 });
  });
});

describe("JSON reader", () => {
  const parse = (text: string | Uint8Array) => {
    const ok = wasm.json(put(typeof text === "string" ? Buffer.from(text, "utf8") : text));
    return { ok: ok === 1, error: Buffer.from(output()).toString("utf8") };
  };

  test("accepts whatever JSON.stringify produces", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      expect(parse(JSON.stringify(v)).ok).toBe(true);
    }), { numRuns: 1000 });
  });

  test("agrees with JSON.parse on arbitrary text (duplicate keys aside)", () => {
    fc.assert(fc.property(fc.string({ maxLength: 30 }), (s) => {
      let expected = true;
      try { JSON.parse(s); } catch { expected = false; }
      expect(parse(s).ok).toBe(expected);
    }), { numRuns: 3000 });
  });

  test("errors say where and what", () => {
    expect(parse('{"a": 1,}').error).toBe("invalid JSON at byte 8: expected a string key in object");
    expect(parse('{"a": 1, "a": 2}').error).toMatch(/duplicate key "a"/);
    expect(parse("[".repeat(100)).error).toMatch(/nesting deeper than 64/);
    expect(parse(Uint8Array.from([0x22, 0xff, 0x22])).error).toMatch(/invalid UTF-8 in string/);
    expect(parse("").error).toMatch(/unexpected end of input/);
  });

  test("deep or long garbage never traps", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      parse(bytes);
    }), { numRuns: 2000 });
    expect(parse("[".repeat(100000)).ok).toBe(false);
  });
});

describe("JSON reader: duplicate keys and member bounds", () => {
  const parse = (text: string, max = 0x7fffffff) => {
    const ok = wasm.jsonMaxMembers(put(Buffer.from(text, "utf8")), max);
    return { ok: ok === 1, error: Buffer.from(output()).toString("utf8") };
  };
  const object = (n: number, extra = "") => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(",")}${extra}}`;

  test("duplicates are found in small and large objects, wherever they are", () => {
    for (const n of [2, 7, 8, 9, 100, 5000]) {
      expect(parse(object(n)).ok).toBe(true);
      expect(parse(object(n, `,"k0":1`)).error).toMatch(/duplicate key "k0"/);
      expect(parse(object(n, `,"k${n - 1}":1`)).error).toMatch(new RegExp(`duplicate key "k${n - 1}"`));
    }
    expect(parse('{"a":{"x":1},"b":{"x":1}}').ok).toBe(true); // the same key in two objects is fine
  });

  test("maxMembers bounds every object, nested ones too", () => {
    expect(parse(object(32), 32).ok).toBe(true);
    expect(parse(object(33), 32).error).toMatch(/more than 32 members in an object/);
    expect(parse(`{"a":${object(5)}}`, 4).error).toMatch(/more than 4 members/);
  });

  test("cost grows linearly with the members of one object (printed, not asserted)", () => {
    const figures: string[] = [];
    for (const n of [5000, 20000, 80000]) {
      const text = object(n);
      parse(text);
      const t0 = process.hrtime.bigint();
      expect(parse(text).ok).toBe(true);
      figures.push(`${n} members (${text.length} bytes): ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms`);
    }
    console.log(`JSON: one object of ${figures.join("; ")}`);
  });
});

describe("path normalisation (normalize_path + merge_slashes)", () => {
  enum St { Ok, EscapedSlash, NotAbsolute }
  const norm = (p: string) => {
    const st = wasm.normalize(put(Buffer.from(p, "utf8")));
    return st === St.Ok ? Buffer.from(output()).toString("utf8") : st === St.EscapedSlash ? "<escaped slash>" : "<not absolute>";
  };

  test.each([
    ["/", "/"], ["/a/b", "/a/b"], ["//a//b/", "/a/b/"], ["/./a", "/a"], ["/a/./b", "/a/b"], ["/a/../b", "/b"], ["/../a", "/a"],
    ["/a/b/..", "/a/"], ["/a/.", "/a/"], ["/a/..", "/"], ["/..", "/"], ["/.", "/"], ["/a/b/../../..", "/"], ["/a//../b", "/a/b"],
    ["/%61dmin", "/admin"], ["/%2e/a", "/a"], ["/a/%2E%2e/b", "/b"], ["/%7E%5f%2D", "/~_-"], ["/%3a%3A", "/%3A%3A"], ["/%20", "/%20"],
    ["/a?b=/../c", "/a"], ["/a#x/..", "/a"], ["/%", "/%"], ["/%4", "/%4"], ["/%zz", "/%zz"], ["/.a/..b/...", "/.a/..b/..."],
    ["/%2Fa", "<escaped slash>"], ["/%2fa", "<escaped slash>"], ["/a%5Cb", "<escaped slash>"], ["/a%5cb", "<escaped slash>"], ["/a\\b", "<escaped slash>"],
    ["", "<not absolute>"], ["*", "<not absolute>"], ["a/b", "<not absolute>"], ["?x", "<not absolute>"],
  ])("%s → %s", (input, expected) => {
    expect(norm(input)).toBe(expected);
  });

  test("never traps, and normalising twice changes nothing", () => {
    fc.assert(fc.property(fc.stringMatching(/^\/[a-zA-Z0-9./%?#\-]{0,40}$/), (p) => {
      const once = norm(p);
      if (!once.startsWith("<")) expect(norm(once)).toBe(once);
    }), { numRuns: 3000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => { wasm.normalize(put(b)); }), { numRuns: 1000 });
  });
});

describe("header helpers", () => {
  test("asciiLower changes A–Z only, so lengths stay", () => {
    for (const [s, l] of [["ABC-xyz", "abc-xyz"], ["\u212Aey", "\u212Aey"], ["\u0130X", "\u0130x"], ["", ""]]) {
      expect(wasm.lower(put(Buffer.from(s, "utf8")))).toBe(s.length);
      expect(Buffer.from(output()).toString("utf8")).toBe(l);
    }
  });

  test("isHeaderValueBytes refuses control characters but HTAB, and accepts obs-text", () => {
    const ok = (b: number[]) => wasm.headerValue(put(Uint8Array.from(b))) === 1;
    expect(ok([...Buffer.from("a b\tc~")])).toBe(true);
    expect(ok([0x80, 0xff, 0xc3, 0xa9])).toBe(true);
    for (const c of [0, 1, 8, 10, 13, 27, 31, 127]) expect([c, ok([0x61, c, 0x62])]).toEqual([c, false]);
  });
});

describe("protobuf JSON durations", () => {
  const dur = (s: string) => wasm.duration(put(Buffer.from(s, "utf8")));
  test.each([
    ["0.2s", 200_000_000n], ["1s", 1_000_000_000n], ["60s", 60_000_000_000n], ["0.000000001s", 1n], ["1.5s", 1_500_000_000n],
  ])("%s is %d ns", (s, ns) => expect(dur(s)).toBe(ns));
  test.each(["", "s", "1", "-1s", "1.s", ".s", "1.0000000001s", "1ms", "abc", "1 s"])("rejects %p", (s) => expect(dur(s)).toBe(-1n));
});
