// Matchers (sdk/assembly/matchers.ts): Envoy's HeaderMatcher / StringMatcher semantics, checked through a
// filter (sdk/tests/entries/matchers.ts) in the host emulator: 200 when every configured matcher matches.
import { join } from "node:path";
import fc from "fast-check";
import { compile } from "../../src/build/compile";
import { Host, LogLevel } from "../../src/emulator";

const ROOT = join(__dirname, "..", "..");
let wasm: string;

beforeAll(async () => {
  const out = await compile({
    entry: join(ROOT, "sdk/tests/entries/matchers.ts"),
    outFile: join(ROOT, "sdk/tests/build/matchers.wasm"),
    projectDir: ROOT,
  });
  wasm = out.wasmPath;
}, 120_000);

type Header = [string | Uint8Array, string | Uint8Array];

async function matcher(headers: unknown[]): Promise<(...h: Header[]) => boolean> {
  const host = await Host.start(wasm, { pluginConfig: JSON.stringify({ headers }) });
  return (...h: Header[]) => {
    const s = host.newHttpStream();
    s.sendRequestHeaders([[":method", "GET"], [":path", "/api/v1/items"], [":authority", "example.com"], ...h], true);
    const status = s.localResponse?.status;
    s.complete();
    if (status !== 200 && status !== 403) throw new Error(`unexpected reply ${status}`);
    return status === 200;
  };
}

async function configError(headers: unknown[]): Promise<string> {
  const host = await Host.load(wasm, { pluginConfig: JSON.stringify({ headers }) });
  host.startVm();
  expect(host.configure()).toBe(false);
  return host.logMessages(LogLevel.Error).join("\n");
}

describe("matchers: string_match", () => {
  test("exact, prefix, suffix, contains, with and without ignore_case (ASCII only)", async () => {
    const cases: Array<[object, string, boolean]> = [
      [{ exact: "Test" }, "Test", true],
      [{ exact: "Test" }, "test", false],
      [{ exact: "Test", ignore_case: true }, "tEST", true],
      [{ exact: "" }, "", true],
      [{ exact: "" }, "x", false],
      [{ prefix: "ab" }, "abc", true],
      [{ prefix: "ab" }, "a", false],
      [{ prefix: "AB", ignore_case: true }, "abc", true],
      [{ suffix: "yz" }, "xyz", true],
      [{ suffix: "yz" }, "yzx", false],
      [{ suffix: "YZ", ignore_case: true }, "xyz", true],
      [{ contains: "mid" }, "amidst", true],
      [{ contains: "MID", ignore_case: true }, "aMiDst", true],
      [{ contains: "mid" }, "mi", false],
      [{ exact: "É", ignore_case: true }, "é", false], // only ASCII letters fold, as in Envoy
      [{ safe_regex: { regex: "v[0-9]+" } }, "v12", true],
      [{ safe_regex: { regex: "v[0-9]+" } }, "xv12", false], // full match, not search
      [{ safe_regex: { regex: "(?i)abc" } }, "ABC", true],
      [{ safe_regex: { google_re2: {}, regex: "a.c" } }, "abc", true],
    ];
    for (const [string_match, value, want] of cases) {
      const m = await matcher([{ name: "x-v", string_match }]);
      expect([string_match, value, m(["x-v", value])]).toEqual([string_match, value, want]);
    }
  });

  test("agrees with JavaScript string semantics on random ASCII (property)", async () => {
    const ascii = fc.string({ unit: fc.constantFrom(..."abcAB-._ 01"), maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("exact", "prefix", "suffix", "contains"), ascii, ascii, fc.boolean(), async (kind, pattern, value, ignoreCase) => {
        fc.pre(kind === "exact" || pattern.length > 0);
        const m = await matcher([{ name: "x-v", string_match: { [kind]: pattern, ignore_case: ignoreCase } }]);
        const p = ignoreCase ? pattern.toLowerCase() : pattern;
        const v = ignoreCase ? value.toLowerCase() : value;
        const want = kind === "exact" ? v === p : kind === "prefix" ? v.startsWith(p) : kind === "suffix" ? v.endsWith(p) : v.includes(p);
        return m(["x-v", value]) === want;
      }),
      { numRuns: 150 },
    );
  });
});

describe("matchers: HeaderMatcher", () => {
  test("a missing header matches only present_match false (or inverted true), unless treated as empty", async () => {
    expect((await matcher([{ name: "x-a", present_match: true }]))()).toBe(false);
    expect((await matcher([{ name: "x-a", present_match: false }]))()).toBe(true);
    expect((await matcher([{ name: "x-a", present_match: true, invert_match: true }]))()).toBe(true);
    expect((await matcher([{ name: "x-a", present_match: false }]))(["x-a", "1"])).toBe(false);
    expect((await matcher([{ name: "x-a" }]))(["x-a", ""])).toBe(true); // no specifier: presence
    // invert_match does not turn "missing" into a match for value matchers (Envoy's behaviour).
    const inverted = await matcher([{ name: "x-a", string_match: { exact: "1" }, invert_match: true }]);
    expect(inverted()).toBe(false);
    expect(inverted(["x-a", "2"])).toBe(true);
    expect(inverted(["x-a", "1"])).toBe(false);
    const empty = await matcher([{ name: "x-a", string_match: { exact: "" }, treat_missing_header_as_empty: true }]);
    expect(empty()).toBe(true);
    expect(empty(["x-a", "1"])).toBe(false);
  });

  test("repeated headers are joined with ',' before matching, as Envoy does", async () => {
    const m = await matcher([{ name: "x-a", string_match: { exact: "1,2,3" } }]);
    expect(m(["x-a", "1"], ["x-b", "z"], ["x-a", "2"], ["x-a", "3"])).toBe(true);
    expect(m(["x-a", "1"])).toBe(false);
    const long = "v".repeat(5000);
    expect((await matcher([{ name: "x-a", string_match: { exact: `${long},${long}` } }]))(["x-a", long], ["x-a", long])).toBe(true);
  });

  test("deprecated forms: exact_match (\"\" matches any value), prefix_match, suffix_match, contains_match", async () => {
    expect((await matcher([{ name: "x-a", exact_match: "" }]))(["x-a", "anything"])).toBe(true);
    expect((await matcher([{ name: "x-a", exact_match: "" }]))()).toBe(false);
    expect((await matcher([{ name: "x-a", exact_match: "v" }]))(["x-a", "v"])).toBe(true);
    expect((await matcher([{ name: "x-a", prefix_match: "ab" }]))(["x-a", "abc"])).toBe(true);
    expect((await matcher([{ name: "x-a", suffix_match: "bc" }]))(["x-a", "abc"])).toBe(true);
    expect((await matcher([{ name: "x-a", contains_match: "b" }]))(["x-a", "abc"])).toBe(true);
    expect((await matcher([{ name: "x-a", safe_regex_match: { regex: "a+" } }]))(["x-a", "aaa"])).toBe(true);
  });

  test("range_match is [start, end) over a decimal integer (whitespace and sign allowed)", async () => {
    const m = await matcher([{ name: "x-n", range_match: { start: -10, end: "20" } }]);
    const cases: Array<[string, boolean]> = [
      ["-10", true], ["19", true], ["20", false], ["-11", false], [" 15 ", true], ["+15", true],
      ["1.5", false], ["abc", false], ["", false], ["99999999999999999999", false], ["-0", true],
    ];
    for (const [v, want] of cases) expect([v, m(["x-n", v])]).toEqual([v, want]);
  });

  test("names are case-insensitive in config; pseudo-headers match; all matchers must match", async () => {
    const m = await matcher([
      { name: "X-User", string_match: { prefix: "test-" } },
      { name: ":path", safe_regex_match: { regex: "/api/v[12]/.*" } },
    ]);
    expect(m(["x-user", "test-1"])).toBe(true);
    expect(m(["x-user", "prod-1"])).toBe(false);
    expect(m()).toBe(false);
  });

  test("values are bytes: invalid UTF-8 never traps and matches byte for byte", async () => {
    const bad = new Uint8Array([0x61, 0xff, 0xfe, 0x62]);
    expect((await matcher([{ name: "x-a", string_match: { prefix: "a" } }]))(["x-a", bad])).toBe(true);
    expect((await matcher([{ name: "x-a", string_match: { suffix: "b" } }]))(["x-a", bad])).toBe(true);
    expect((await matcher([{ name: "x-a", safe_regex_match: { regex: "a.*b" } }]))(["x-a", bad])).toBe(true);
    expect((await matcher([{ name: "x-a", string_match: { exact: "a\ufffd\ufffdb" } }]))(["x-a", bad])).toBe(false);
  });

  test("matching 20 000 requests does not grow linear memory (no per-request leak)", async () => {
    const host = await Host.start(wasm, {
      pluginConfig: JSON.stringify({ headers: [{ name: "x-a", string_match: { contains: "z" } }, { name: "x-a", safe_regex_match: { regex: ".*z.*" } }] }),
    });
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        const s = host.newHttpStream();
        s.sendRequestHeaders([[":method", "GET"], [":path", "/"], [":authority", "h"], ["x-a", `a${i}z`], ["x-a", "b"]], true);
        expect(s.localResponse?.status).toBe(200);
        s.complete();
      }
    };
    run(2000);
    const before = host.memoryBytes();
    run(20_000);
    expect(host.memoryBytes()).toBe(before);
  });
});

describe("matchers: configuration errors name the field", () => {
  test.each([
    [[{ name: "x", string_match: { exect: "a" } }], "headers[0].string_match.exect: unknown field"],
    [[{ name: "x", string_match: {} }], "headers[0].string_match: one of exact, prefix, suffix, contains, safe_regex is required"],
    [[{ name: "x", string_match: { exact: "a", prefix: "b" } }], "headers[0].string_match: set only one of"],
    [[{ name: "x", string_match: { suffix: "" } }], "headers[0].string_match.suffix: must not be empty"],
    [[{ name: "x", string_match: { safe_regex: { regex: "a{2,1}" } } }], "headers[0].string_match.safe_regex.regex: invalid regex"],
    [[{ name: "x", string_match: { safe_regex: { regex: "" } } }], "headers[0].string_match.safe_regex.regex: must not be empty"],
    [[{ name: "x", safe_regex_match: { regex: "(a)\\1" } }], "headers[0].safe_regex_match.regex: invalid regex"],
    [[{ name: "x", range_match: { start: 5, end: 5 } }], "headers[0].range_match.end: must be greater than start"],
    [[{ name: "x", range_match: { start: 1.5, end: 5 } }], "headers[0].range_match.start: must be an integer"],
    [[{ name: "x", present_match: "yes" }], "headers[0].present_match: must be a boolean"],
    [[{ name: "x", invert_match: 1 }], "headers[0].invert_match: must be a boolean"],
    [[{ name: "" }], "headers[0].name: must not be empty"],
    [[{ name: "a:b" }], "headers[0].name: \"a:b\" is not a valid header name"],
    [[{ name: "x" }, "y"], "headers[1]: must be an object, got a string"],
    [[{ name: "x", prefix_match: "" }], "headers[0].prefix_match: must not be empty"],
  ])("%j is rejected", async (headers, message) => {
    expect(await configError(headers as unknown[])).toContain(message);
  });
});
