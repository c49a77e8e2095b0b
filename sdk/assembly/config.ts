// Reading a filter's JSON configuration with errors a user can act on. Every reader knows its path in the
// document ("abort.percentage.numerator") and records the first problem as "<path>: <what is wrong>", so
// onConfigure can log that one sentence and return false: Envoy then refuses the config.

import { JsonValue, JsonKind, parseJson } from "./json";
import { pluginConfiguration, vmConfiguration } from "./buffer";

/** Collects the first configuration error. Shared by all readers of one document. */
export class ConfigErrors {
  first: string = "";
  get ok(): bool { return this.first.length == 0; }
  add(path: string, message: string): void {
    if (this.first.length == 0) this.first = (path.length > 0 ? path + ": " : "") + message;
  }
}

/** Parses the plugin configuration (valid only inside onConfigure). An empty configuration reads as `{}`. */
export function readPluginConfig(errors: ConfigErrors): ConfigObject | null {
  return parseConfig(pluginConfiguration.read(), errors);
}

/** Parses the VM configuration (valid only inside onVmStart). */
export function readVmConfig(errors: ConfigErrors): ConfigObject | null {
  return parseConfig(vmConfiguration.read(), errors);
}

/** Parses configuration bytes that must hold a JSON object (empty bytes read as `{}`). */
export function parseConfig(bytes: ArrayBuffer, errors: ConfigErrors): ConfigObject | null {
  if (bytes.byteLength == 0) return new ConfigObject(JsonValue.ofKind(JsonKind.Object), "", errors);
  const r = parseJson(bytes);
  if (!r.ok) { errors.add("", r.error); return null; }
  const v = r.value!;
  if (!v.isObject) { errors.add("", "the configuration must be a JSON object, got " + v.typeName); return null; }
  return new ConfigObject(v, "", errors);
}

/** A JSON object being read as configuration. */
export class ConfigObject {
  constructor(public readonly json: JsonValue, public readonly path: string, public readonly errors: ConfigErrors) {}

  fieldPath(key: string): string { return this.path.length > 0 ? this.path + "." + key : key; }

  has(key: string): bool {
    const v = this.json.get(key);
    return v !== null && !v.isNull;
  }

  /** Rejects any field not in `allowed` ("unknown field"), as protobuf JSON parsing does. */
  allowOnly(allowed: string[]): bool {
    const keys = this.json.keys;
    for (let i = 0; i < keys.length; i++) {
      if (!allowed.includes(keys[i])) {
        this.errors.add(this.fieldPath(keys[i]), "unknown field (expected one of: " + allowed.join(", ") + ")");
        return false;
      }
    }
    return true;
  }

  /** At most one of `keys` may be set; with `required`, exactly one. Returns the one set, or "". */
  oneOf(keys: string[], required: bool): string {
    let found = "";
    for (let i = 0; i < keys.length; i++) {
      if (this.has(keys[i])) {
        if (found.length > 0) {
          this.errors.add(this.path, "set only one of " + keys.join(", ") + " (both " + found + " and " + keys[i] + " are set)");
          return "";
        }
        found = keys[i];
      }
    }
    if (required && found.length == 0) this.errors.add(this.path, "one of " + keys.join(", ") + " is required");
    return found;
  }

  private typed(key: string, kind: JsonKind, required: bool): JsonValue | null {
    const v = this.json.get(key);
    if (v === null || v.isNull) {
      if (required) this.errors.add(this.fieldPath(key), "is required");
      return null;
    }
    if (v.kind != kind) {
      this.errors.add(this.fieldPath(key), "must be " + JsonValue.ofKind(kind).typeName + ", got " + v.typeName);
      return null;
    }
    return v;
  }

  string(key: string, orElse: string = "", required: bool = false): string {
    const v = this.typed(key, JsonKind.String, required);
    return v !== null ? v.stringValue : orElse;
  }

  /** A non-empty string. */
  nonEmptyString(key: string, required: bool = true): string {
    const s = this.string(key, "", required);
    if (this.has(key) && s.length == 0) this.errors.add(this.fieldPath(key), "must not be empty");
    return s;
  }

  bool(key: string, orElse: bool = false): bool {
    const v = this.typed(key, JsonKind.Bool, false);
    return v !== null ? v.boolValue : orElse;
  }

  number(key: string, orElse: f64 = 0, required: bool = false): f64 {
    const v = this.typed(key, JsonKind.Number, required);
    return v !== null ? v.numberValue : orElse;
  }

  /**
   * An integer in [min, max]. Like protobuf JSON, a string holding an integer is accepted too
   * ("100" for a uint64 field).
   */
  int(key: string, orElse: i64, min: i64, max: i64, required: bool = false): i64 {
    const v = this.json.get(key);
    if (v === null || v.isNull) {
      if (required) this.errors.add(this.fieldPath(key), "is required");
      return orElse;
    }
    let n: f64;
    if (v.isNumber && v.isInteger) n = v.numberValue;
    else if (v.isString && isIntegerText(v.stringValue)) n = parseFloat(v.stringValue);
    else { this.errors.add(this.fieldPath(key), "must be an integer, got " + v.typeName); return orElse; }
    if (n < <f64>min || n > <f64>max) {
      this.errors.add(this.fieldPath(key), "must be between " + min.toString() + " and " + max.toString() + ", got " + (<i64>n).toString());
      return orElse;
    }
    return <i64>n;
  }

  object(key: string, required: bool = false): ConfigObject | null {
    const v = this.typed(key, JsonKind.Object, required);
    return v !== null ? new ConfigObject(v, this.fieldPath(key), this.errors) : null;
  }

  array(key: string, required: bool = false): ConfigArray | null {
    const v = this.typed(key, JsonKind.Array, required);
    return v !== null ? new ConfigArray(v, this.fieldPath(key), this.errors) : null;
  }

  /** Keys of this object, in document order (for maps such as jwt providers). */
  keys(): string[] { return this.json.keys; }

  /**
   * A protobuf JSON Duration ("1.5s", "0.2s", "60s"; seconds with up to 9 fractional digits) in
   * nanoseconds; `orElse` when absent. Negative durations are rejected.
   */
  duration(key: string, orElse: i64, required: bool = false): i64 {
    const v = this.typed(key, JsonKind.String, required);
    if (v === null) return orElse;
    const ns = parseDurationNanos(v.stringValue);
    if (ns < 0) {
      this.errors.add(this.fieldPath(key), "must be a duration such as \"0.2s\" or \"60s\", got \"" + v.stringValue + "\"");
      return orElse;
    }
    return ns;
  }

  /**
   * An Envoy FractionalPercent {numerator, denominator: HUNDRED|TEN_THOUSAND|MILLION} as parts per million.
   * Absent: `orElsePpm`. A numerator above its denominator is capped, as Envoy does.
   */
  percentage(key: string, orElsePpm: u32): u32 {
    const o = this.object(key);
    if (o === null) return orElsePpm;
    o.allowOnly(["numerator", "denominator"]);
    const numerator = o.int("numerator", 0, 0, u32.MAX_VALUE);
    const denominator = o.string("denominator", "HUNDRED");
    let scale: i64;
    let full: i64;
    if (denominator == "HUNDRED") { scale = 10000; full = 100; }
    else if (denominator == "TEN_THOUSAND") { scale = 100; full = 10000; }
    else if (denominator == "MILLION") { scale = 1; full = 1000000; }
    else { o.errors.add(o.fieldPath("denominator"), "must be HUNDRED, TEN_THOUSAND or MILLION, got \"" + denominator + "\""); return orElsePpm; }
    return <u32>((numerator > full ? full : numerator) * scale);
  }

  error(key: string, message: string): void { this.errors.add(key.length > 0 ? this.fieldPath(key) : this.path, message); }
}

/** A JSON array being read as configuration. */
export class ConfigArray {
  constructor(public readonly json: JsonValue, public readonly path: string, public readonly errors: ConfigErrors) {}

  get length(): i32 { return this.json.items.length; }
  itemPath(i: i32): string { return this.path + "[" + i.toString() + "]"; }

  object(i: i32): ConfigObject | null {
    const v = this.json.items[i];
    if (!v.isObject) { this.errors.add(this.itemPath(i), "must be an object, got " + v.typeName); return null; }
    return new ConfigObject(v, this.itemPath(i), this.errors);
  }

  string(i: i32): string {
    const v = this.json.items[i];
    if (!v.isString) { this.errors.add(this.itemPath(i), "must be a string, got " + v.typeName); return ""; }
    return v.stringValue;
  }

  /** All items as strings. */
  strings(): string[] {
    const out = new Array<string>();
    for (let i = 0; i < this.length; i++) out.push(this.string(i));
    return out;
  }
}

function isIntegerText(s: string): bool {
  const n = s.length;
  if (n == 0) return false;
  let i = s.charCodeAt(0) == 45 ? 1 : 0;
  if (i == n) return false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Parses "1.5s" into nanoseconds; -1 when malformed. */
export function parseDurationNanos(s: string): i64 {
  const n = s.length;
  if (n < 2 || s.charCodeAt(n - 1) != 115 /* s */) return -1;
  let secs: i64 = 0;
  let frac: i64 = 0;
  let fracDigits = 0;
  let seenDot = false;
  let digits = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = s.charCodeAt(i);
    if (c == 46 && !seenDot) { seenDot = true; continue; }
    if (c < 48 || c > 57) return -1;
    if (seenDot) {
      if (fracDigits == 9) return -1;
      frac = frac * 10 + (c - 48);
      fracDigits++;
    } else {
      if (++digits > 12) return -1; // over 31 000 years: certainly a mistake
      secs = secs * 10 + (c - 48);
    }
  }
  if (digits == 0 && fracDigits == 0) return -1;
  if (seenDot && fracDigits == 0) return -1;
  for (let i = fracDigits; i < 9; i++) frac *= 10;
  return secs * 1_000_000_000 + frac;
}
