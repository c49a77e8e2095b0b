// Regular expressions with RE2 syntax and semantics for the subset in README.md, matched in time linear
// in the input. Compile once (in on_configure), match per request without allocating.
import { compileProgram, MAX_PROGRAM, programSize } from "./compiler";
import { RegexError, RegexErrorCode } from "./errors";
import { parse } from "./parser";
import { Machine } from "./pike";

export { RegexError, RegexErrorCode } from "./errors";
export { MAX_PROGRAM } from "./compiler";
export { MAX_NESTING, MAX_REPEAT } from "./parser";

/** The outcome of Regex.compile: a Regex, or the error explaining why the pattern was rejected. */
export class RegexResult {
  constructor(
    readonly regex: Regex | null,
    readonly error: RegexError | null,
  ) {}

  get ok(): bool {
    return this.regex !== null;
  }

  /**
   * The compiled Regex; if the pattern was rejected, aborts (trapping the VM) with the error message.
   * Use only for patterns fixed in the filter's source; report configured patterns' errors instead.
   */
  unwrap(): Regex {
    const re = this.regex;
    if (re === null) {
      abort("bad regex: " + this.error!.message);
      unreachable();
    }
    return re;
  }
}

export class Regex {
  /**
   * Parses and compiles `pattern` (RE2 syntax). Never traps: a rejected pattern gives an error with a
   * code and a message such as "unsupported: backreference \1 at 5". Valid at any time; costs
   * allocation proportional to the pattern, so compile in on_configure / on_vm_start, not per request.
   */
  static compile(pattern: string): RegexResult {
    const parsed = parse(pattern);
    if (parsed.error !== null) return new RegexResult(null, parsed.error);
    const root = parsed.node!;
    const size = programSize(root) + 1;
    if (size > f64(MAX_PROGRAM)) {
      const shown = size < 1e15 ? i64(size).toString() : "more than 10^15";
      return new RegexResult(null, new RegexError(RegexErrorCode.TooLarge, 0,
        "pattern too large: it compiles to " + shown + " instructions (the limit is " + MAX_PROGRAM.toString() + ") at 0"));
    }
    return new RegexResult(new Regex(pattern, new Machine(compileProgram(root))), null);
  }

  /** Use Regex.compile. */
  constructor(
    readonly pattern: string,
    private machine: Machine,
  ) {}

  /** Instructions in the compiled program: matching costs at most about (input units + 1) x this. */
  get programLength(): i32 {
    return this.machine.prog.length;
  }

  /** Instructions the last match visited (the work it did); grows linearly with the input. */
  get lastSteps(): i64 {
    return this.machine.steps;
  }

  /**
   * Whether the whole input matches (RE2::FullMatch; what Envoy's `safe_regex` and Istio's `regex` do).
   * `input`: a string, or UTF-8 bytes as an ArrayBuffer or Uint8Array (invalid UTF-8 is fine).
   */
  fullMatch<T>(input: T): bool {
    return this.matchAny<T>(input, true);
  }

  /** Whether some substring of the input matches (RE2::PartialMatch); input as for fullMatch. */
  partialMatch<T>(input: T): bool {
    return this.matchAny<T>(input, false);
  }

  /** fullMatch over `len` UTF-8 bytes at `ptr`, e.g. a header value still in the host's buffer. */
  fullMatchUnsafe(ptr: usize, len: usize): bool {
    return this.machine.run(ptr, len, false, true);
  }

  /** partialMatch over `len` UTF-8 bytes at `ptr`. */
  partialMatchUnsafe(ptr: usize, len: usize): bool {
    return this.machine.run(ptr, len, false, false);
  }

  private matchAny<T>(input: T, anchored: bool): bool {
    if (isString<T>()) {
      const s = changetype<string>(input);
      return this.machine.run(changetype<usize>(s), <usize>s.length << 1, true, anchored);
    } else if (input instanceof ArrayBuffer) {
      const b = changetype<ArrayBuffer>(input);
      return this.machine.run(changetype<usize>(b), <usize>b.byteLength, false, anchored);
    } else if (input instanceof Uint8Array) {
      const a = changetype<Uint8Array>(input);
      return this.machine.run(a.dataStart, <usize>a.byteLength, false, anchored);
    } else {
      ERROR("Regex matching takes a string, an ArrayBuffer or a Uint8Array");
      return false;
    }
  }
}
