import fc from "fast-check";
import { Codec, loadCodec } from "./harness";
import { Code, decodeRequest, encodeResponse, RlsResponse } from "./rls-proto";

let codec: Codec;
beforeAll(async () => {
  codec = await loadCodec();
}, 120_000);

const hex = (b: Uint8Array | string) => Buffer.from(b as Uint8Array).toString("hex");

describe("ratelimit codec: RateLimitRequest encoding", () => {
  test("encodes domain, descriptors with entries and hits_addend, read back by an independent decoder", () => {
    const bytes = codec.encodeRequest("edge", [
      [["remote_address", Buffer.from("10.0.0.1")]],
      [["user", Buffer.from("alice")], ["path", Buffer.from("/api")]],
    ], 3);
    expect(decodeRequest(bytes)).toEqual({
      domain: "edge",
      descriptors: [
        [{ key: "remote_address", value: "10.0.0.1" }],
        [{ key: "user", value: "alice" }, { key: "path", value: "/api" }],
      ],
      hitsAddend: 3,
    });
  });

  test("matches the canonical protobuf bytes for a small request", () => {
    // domain "d" (0a 01 64), one descriptor (12 ..) with one entry (0a ..) key "k" (0a 01 6b) value "v" (12 01 76)
    expect(hex(codec.encodeRequest("d", [[["k", Buffer.from("v")]]]))).toBe("0a0164" + "1208" + "0a06" + "0a016b" + "120176");
  });

  test("an empty value is omitted, as proto3 does; invalid UTF-8 in a value becomes U+FFFD", () => {
    const bytes = codec.encodeRequest("d", [[["k", new Uint8Array(0)]], [["k", Uint8Array.from([0x61, 0xff, 0x62])]]]);
    const r = decodeRequest(bytes);
    expect(r.descriptors[0]).toEqual([{ key: "k", value: "" }]);
    expect(r.descriptors[1]).toEqual([{ key: "k", value: "a\uFFFDb" }]);
  });

  test("round trip: any domain and descriptors come back unchanged", () => {
    const text = fc.string({ unit: "grapheme", maxLength: 20 });
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 30 }),
        fc.array(fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), text), { minLength: 1, maxLength: 4 }), { maxLength: 5 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (domain, ds, hits) => {
          const bytes = codec.encodeRequest(domain, ds.map((d) => d.map(([k, v]) => [k, Buffer.from(v, "utf8")] as [string, Uint8Array])), hits);
          const back = decodeRequest(bytes);
          expect(back.domain).toBe(domain);
          expect(back.hitsAddend).toBe(hits);
          expect(back.descriptors).toEqual(ds.map((d) => d.map(([key, value]) => ({ key, value }))));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("ratelimit codec: RateLimitResponse decoding", () => {
  const full: Partial<RlsResponse> = {
    overallCode: Code.OVER_LIMIT,
    statuses: [
      { code: Code.OK, currentLimit: { requestsPerUnit: 10, unit: 2, name: "per-user" }, limitRemaining: 7, durationUntilReset: { seconds: 42, nanos: 5 } },
      { code: Code.OVER_LIMIT, currentLimit: { requestsPerUnit: 3, unit: 1 }, limitRemaining: 0, durationUntilReset: { seconds: 0, nanos: 250_000_000 } },
    ],
    responseHeadersToAdd: [["x-a", "1"]],
    requestHeadersToAdd: [["x-b", "2"]],
    rawBody: Buffer.from("slow down"),
  };

  test("reads overall code, statuses, limits, reset durations, headers and raw body", () => {
    const d = codec.decodeResponse(encodeResponse(full))!;
    expect(d.overallCode).toBe(2);
    expect(d.statuses).toHaveLength(2);
    expect(d.statuses[0]).toMatchObject({ code: 1, hasLimit: true, requestsPerUnit: 10, unit: 2, name: hex("per-user"), limitRemaining: 7, resetSeconds: 42, resetNanos: 5, resetCeil: 43 });
    expect(d.statuses[1]).toMatchObject({ code: 2, requestsPerUnit: 3, unit: 1, limitRemaining: 0, resetCeil: 1 });
    expect(d.responseHeaders).toEqual([[hex("x-a"), hex("1")]]);
    expect(d.requestHeaders).toEqual([[hex("x-b"), hex("2")]]);
    expect(d.rawBody).toBe(hex("slow down"));
  });

  test("an empty message is a response with overall_code UNKNOWN", () => {
    expect(codec.decodeResponse(new Uint8Array(0))).toMatchObject({ overallCode: 0, statuses: [] });
  });

  test("unknown fields of every wire type are skipped", () => {
    const base = encodeResponse({ overallCode: Code.OK });
    // field 15 varint, field 16 fixed64, field 17 length-delimited, field 18 fixed32
    const extra = Uint8Array.from([0x78, 0x96, 0x01, 0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x8a, 0x01, 0x02, 0xaa, 0xbb, 0x95, 0x01, 1, 2, 3, 4]);
    const d = codec.decodeResponse(Buffer.concat([extra, base, extra]));
    expect(d).toMatchObject({ overallCode: 1 });
  });

  test("malformed input is refused as a value, never a trap", () => {
    const cases: Array<[string, number[]]> = [
      ["truncated varint", [0x08, 0x80]],
      ["length past the end", [0x12, 0x05, 0x08]],
      ["field number 0", [0x00, 0x01]],
      ["group wire type", [0x0b]],
      ["eleven-byte varint", [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
      ["ten-byte varint overflowing 64 bits", [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]],
      ["truncated fixed64", [0x81, 0x01, 1, 2]],
      ["status with a truncated inner message", [0x12, 0x02, 0x12, 0x05]],
      ["huge length", [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    ];
    for (const [, bytes] of cases) expect(codec.decodeResponse(Uint8Array.from(bytes))).toBeNull();
  });

  test("fuzz: random bytes never trap and are either decoded or refused", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const d = codec.decodeResponse(b);
        const walked = codec.walk(b);
        // The decoder refuses exactly what the generic walk refuses, or a message whose known fields
        // carry the wrong wire type or a malformed embedded message.
        if (walked < 0) expect(d).toBeNull();
      }),
      { numRuns: 3000 },
    );
  });

  test("fuzz: mutations of valid responses never trap", () => {
    const valid = encodeResponse(full);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(valid.length),
        (edits, cut) => {
          const b = valid.slice(0, Math.max(cut, 1));
          for (const [i, v] of edits) if (i < b.length) b[i] = v;
          const d = codec.decodeResponse(b);
          if (d !== null) expect(typeof d.overallCode).toBe("number");
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("round trip: any response the JS encoder writes decodes to the same values", () => {
    const status = fc.record({
      code: fc.integer({ min: 0, max: 2 }),
      currentLimit: fc.option(fc.record({ requestsPerUnit: fc.integer({ min: 0, max: 0xffffffff }), unit: fc.integer({ min: 0, max: 7 }), name: fc.string({ maxLength: 10 }) }), { nil: undefined }),
      limitRemaining: fc.integer({ min: 0, max: 0xffffffff }),
      durationUntilReset: fc.option(fc.record({ seconds: fc.integer({ min: 0, max: 1e9 }), nanos: fc.integer({ min: 0, max: 999_999_999 }) }), { nil: undefined }),
    });
    const header = fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 10 }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.array(status, { maxLength: 4 }), fc.array(header, { maxLength: 3 }), (overall, statuses, headers) => {
        const d = codec.decodeResponse(encodeResponse({ overallCode: overall, statuses, responseHeadersToAdd: headers }))!;
        expect(d.overallCode).toBe(overall);
        expect(d.statuses.map((s) => [s.code, s.hasLimit, s.requestsPerUnit, s.unit, s.name, s.limitRemaining, s.hasReset, s.resetSeconds, s.resetNanos])).toEqual(
          statuses.map((s) => [
            s.code,
            s.currentLimit !== undefined,
            s.currentLimit?.requestsPerUnit ?? 0,
            s.currentLimit?.unit ?? 0,
            hex(s.currentLimit?.name ?? ""),
            s.limitRemaining,
            s.durationUntilReset !== undefined,
            s.durationUntilReset?.seconds ?? 0,
            s.durationUntilReset?.nanos ?? 0,
          ]),
        );
        expect(d.responseHeaders).toEqual(headers.map(([k, v]) => [hex(k), hex(v)]));
      }),
      { numRuns: 500 },
    );
  });
});

describe("ratelimit codec: SipHash-2-4", () => {
  // The reference vectors of the SipHash paper: key 00..0f, messages 00..(n-1).
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const msg = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
  test("matches the reference vectors", () => {
    expect(codec.sipHash(key, msg(0)).toString(16)).toBe("726fdb47dd0e0e31");
    expect(codec.sipHash(key, msg(1)).toString(16)).toBe("74f839c593dc67fd");
    expect(codec.sipHash(key, msg(8)).toString(16)).toBe("93f5f5799a932462");
    expect(codec.sipHash(key, msg(15)).toString(16)).toBe("a129ca6149be45e5");
  });
});

describe("ratelimit codec: exact a * b / c for the token arithmetic", () => {
  const MAX = (1n << 64n) - 1n;
  const u64 = fc.bigInt({ min: 0n, max: MAX });
  const expected = (a: bigint, b: bigint, c: bigint, ceil: boolean) => {
    const q = ceil ? (a * b + c - 1n) / c : (a * b) / c;
    return q > MAX ? MAX : q;
  };
  test("matches BigInt arithmetic on any u64 operands, including products beyond 64 bits", () => {
    fc.assert(
      fc.property(u64, u64, fc.bigInt({ min: 1n, max: MAX }), (a, b, c) => {
        expect(codec.mulDiv(a, b, c)).toBe(expected(a, b, c, false));
        expect(codec.mulDiv(a, b, c, true)).toBe(expected(a, b, c, true));
      }),
      { numRuns: 5000 },
    );
  });
  test("edge cases", () => {
    for (const [a, b, c] of [[MAX, MAX, MAX], [MAX, 2n, 3n], [1n << 63n, 4n, 2n], [0n, MAX, 1n], [10n ** 18n, 4_000_000_000n, 8_640_000n * 10n ** 9n]]) {
      expect(codec.mulDiv(a, b, c)).toBe(expected(a, b, c, false));
      expect(codec.mulDiv(a, b, c, true)).toBe(expected(a, b, c, true));
    }
  });
});
