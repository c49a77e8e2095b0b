import fc from "fast-check";
import { decodePairs, decodePairsLikeEnvoy, encodePairs, Pair } from "./pairs";
import { PairsDecodeError } from "./errors";

const bytes = fc.uint8Array({ maxLength: 64 });
const pairs = fc.array(fc.tuple(bytes, bytes), { maxLength: 20 });

describe("pairs codec", () => {
  test("round-trips arbitrary byte keys and values, invalid UTF-8 and NULs included", () => {
    fc.assert(
      fc.property(pairs, (ps) => {
        const decoded = decodePairs(encodePairs(ps));
        expect(decoded).toEqual(ps.map(([k, v]) => [new Uint8Array(k), new Uint8Array(v)]));
      }),
      { numRuns: 500 },
    );
  });

  test("lays out the count, the sizes, then NUL-terminated keys and values (little-endian)", () => {
    const out = encodePairs([["ab", "c"]]);
    expect([...out]).toEqual([1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0x61, 0x62, 0, 0x63, 0]);
    expect(decodePairs(new Uint8Array(0))).toEqual([]);
    expect(decodePairs(encodePairs([]))).toEqual([]);
  });

  test("decoding garbage throws only PairsDecodeError and is bounded by the input size", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (buf) => {
        try {
          const ps: Pair[] = decodePairs(buf);
          expect(encodePairs(ps)).toEqual(buf.length === 0 ? encodePairs([]) : buf);
        } catch (e) {
          expect(e).toBeInstanceOf(PairsDecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("every truncation and every single-byte corruption of a valid map is handled", () => {
    fc.assert(
      fc.property(pairs, fc.nat(), fc.integer({ min: 0, max: 255 }), (ps, at, byte) => {
        const good = encodePairs(ps);
        for (let n = 1; n < good.length; n++) {
          expect(() => decodePairs(good.subarray(0, n))).toThrow(PairsDecodeError);
        }
        const bad = good.slice();
        bad[at % bad.length] = byte;
        try {
          decodePairs(bad);
        } catch (e) {
          expect(e).toBeInstanceOf(PairsDecodeError);
        }
      }),
      { numRuns: 100 },
    );
  });

  test("a huge claimed count fails fast instead of allocating or looping", () => {
    const buf = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    const t0 = Date.now();
    expect(() => decodePairs(buf)).toThrow(/does not fit/);
    const sizes = new Uint8Array([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0]);
    expect(() => decodePairs(sizes)).toThrow(/overruns/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  test("the host reads a malformed or oversized map as empty, like Envoy", () => {
    expect(decodePairsLikeEnvoy(new Uint8Array([1, 2, 3]))).toEqual([]);
    const tooMany = encodePairs(Array.from({ length: 1025 }, () => ["k", "v"] as [string, string]));
    expect(decodePairsLikeEnvoy(tooMany)).toEqual([]);
    expect(decodePairsLikeEnvoy(encodePairs([["k", "v"]]))).toHaveLength(1);
  });
});
