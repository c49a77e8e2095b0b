// CEL expressions evaluated natively by the host (Envoy's expr_create / expr_evaluate / expr_delete foreign
// functions), over Envoy's attribute vocabulary: request.*, response.*, source.*, destination.*, connection.*,
// upstream.*, xds.*, metadata, filter_state. Compile once in onConfigure, evaluate per request.

import { WasmResult } from "./abi/enums";
import { callForeignFunction, lastForeignFunctionResult } from "./foreign";
import { ConfigErrors } from "./config";
import { decodeUtf8 } from "./utf8";

/** Result of the last Expression.compile, evaluate or delete. */
export let lastExpressionResult: WasmResult = WasmResult.Ok;

/**
 * A compiled CEL expression, held by the host for the root context that compiled it. Envoy returns no error text
 * to the module (it logs "expr_create parse error" at info), so compile failures are a status:
 * BadArgument for text that does not parse or compile, NotFound for a host without CEL.
 */
export class Expression {
  /** The 4-byte token argument expr_evaluate and expr_delete take, built once. */
  private readonly arg: ArrayBuffer;
  private live: bool = true;

  private constructor(readonly token: u32, readonly text: string) {
    this.arg = new ArrayBuffer(4);
    store<u32>(changetype<usize>(this.arg), token);
  }

  /**
   * Compiles `text`. Valid in onConfigure (any callback works, but compiling per request wastes the host's time).
   * Null on failure, with lastExpressionResult BadArgument (parse or compile error) or NotFound (no CEL).
   */
  static compile(text: string): Expression | null {
    const out = callForeignFunction("expr_create", String.UTF8.encode(text));
    lastExpressionResult = lastForeignFunctionResult;
    if (out === null || out.byteLength != 4) {
      if (lastExpressionResult == WasmResult.Ok) lastExpressionResult = WasmResult.SerializationFailure;
      return null;
    }
    return new Expression(load<u32>(changetype<usize>(out)), text);
  }

  /**
   * Compiles the expression a configuration field holds; on failure adds an error naming the field (the
   * configuration should then be refused) and returns null.
   */
  static compileField(errors: ConfigErrors, field: string, text: string): Expression | null {
    const e = Expression.compile(text);
    if (e === null) {
      errors.add(field, lastExpressionResult == WasmResult.NotFound
        ? "CEL expressions need a host that evaluates them (Envoy's expr_create), and this one does not"
        : "not a valid CEL expression: " + text);
    }
    return e;
  }

  /**
   * Evaluates against the current stream's attributes; the value's bytes in the property encoding (strings and
   * bytes as themselves, int/uint/double as 8 little-endian bytes, bool as 1 byte, maps as header pairs), or null:
   * lastExpressionResult InternalFailure when evaluation failed (a type error such as `1 + "a"`, a missing
   * attribute, no such overload), NotFound after delete. Valid in stream callbacks.
   */
  evaluate(): ArrayBuffer | null {
    if (!this.live) { lastExpressionResult = WasmResult.NotFound; return null; }
    const out = callForeignFunction("expr_evaluate", this.arg);
    lastExpressionResult = lastForeignFunctionResult;
    return out;
  }

  /** evaluate() as a bool: `orElse` when evaluation fails or the value is not one byte. */
  evaluateBool(orElse: bool = false): bool {
    const v = this.evaluate();
    if (v === null || v.byteLength != 1) return orElse;
    return load<u8>(changetype<usize>(v)) != 0;
  }

  /** evaluate() as an int (or uint) value: `orElse` when evaluation fails or the value is not 8 bytes. */
  evaluateInt(orElse: i64 = 0): i64 {
    const v = this.evaluate();
    if (v === null || v.byteLength != 8) return orElse;
    return load<i64>(changetype<usize>(v));
  }

  /** evaluate() as a string (UTF-8 decoded), or null when evaluation fails. */
  evaluateString(): string | null {
    const v = this.evaluate();
    return v === null ? null : decodeUtf8(v);
  }

  /**
   * Frees the host's copy. Call it for every expression when the configuration changes (in onConfigure, before
   * compiling the new ones); later evaluate() calls return null with NotFound.
   */
  delete(): void {
    if (!this.live) return;
    this.live = false;
    callForeignFunction("expr_delete", this.arg);
    lastExpressionResult = lastForeignFunctionResult;
  }
}
