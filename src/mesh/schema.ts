/**
 * Checks a value against a Kubernetes CRD structural schema (the OpenAPI v3 subset CRDs use), the way the API
 * server and `kubectl apply` (strict field validation) would: types, enums, patterns, lengths, limits, required
 * fields, unknown fields, map-list keys, and the CEL rules (`x-kubernetes-validations`), which the caller
 * implements in TypeScript because this toolkit carries no CEL interpreter.
 *
 * A CEL rule without an implementation is a programming error, not a user error: it throws, so a schema
 * regenerated from a newer CRD with a new rule cannot be silently half-checked.
 */

export interface CelValidation {
  rule: string;
  message: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
}

export interface CrdSchema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  properties?: Record<string, CrdSchema>;
  additionalProperties?: CrdSchema | boolean;
  items?: CrdSchema;
  required?: string[];
  enum?: (string | number)[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  nullable?: boolean;
  anyOf?: CrdSchema[];
  oneOf?: CrdSchema[];
  not?: CrdSchema;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: CelValidation[];
}

/** One problem, at a path written as users read YAML: `spec.targetRefs[3].kind`. */
export interface Violation {
  path: string;
  message: string;
}

/** A CEL rule's TypeScript form: true when `self` satisfies it. */
export type CelCheck = (self: unknown) => boolean;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

export class MissingCelRuleError extends Error {
  constructor(rule: string, path: string) {
    super(`schema rule at ${path} has no TypeScript implementation: ${rule}`);
  }
}

/** Every violation of `schema` by `value` (empty when valid), in document order. */
export function checkSchema(schema: CrdSchema, value: unknown, rules: Readonly<Record<string, CelCheck>>, path = ""): Violation[] {
  const out: Violation[] = [];
  walk(schema, value, path, rules, out);
  return out;
}

/** Plain-words names for the CRD's regular expressions, so a message says what is expected, not the regex. */
const PATTERN_NAMES: Readonly<Record<string, string>> = {
  "(^$|^[a-f0-9]{64}$)": "64 lower-case hex digits (a SHA-256 digest)",
  "^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$": "empty or a DNS subdomain (lower-case letters, digits, '-' and '.')",
  "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$": "a kind name (a letter, then letters, digits and '-')",
};

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function walk(s: CrdSchema, v: unknown, path: string, rules: Readonly<Record<string, CelCheck>>, out: Violation[]): void {
  const at = path || "(root)";
  if (v === null) {
    if (!s.nullable) out.push({ path: at, message: `must not be null` });
    return;
  }
  if (s.anyOf && !s.type) {
    if (!s.anyOf.some((alt) => checkSchema(alt, v, rules, path).length === 0)) {
      out.push({ path: at, message: `must be one of: ${s.anyOf.map((a) => a.type).join(", ")}` });
    }
    return;
  }
  if (s.type && !typeMatches(s.type, v)) {
    // YAML turns unquoted 12345, 1.0, yes/no into numbers and booleans: say so where a string was meant.
    const hint = s.type === "string" && (typeof v === "number" || typeof v === "boolean") ? ` (quote the value: YAML reads it as a ${typeof v})` : "";
    out.push({ path: at, message: `must be ${article(s.type)}, got ${article(typeName(v))}${hint}` });
    return;
  }
  if (s.enum && !s.enum.includes(v as string | number)) {
    out.push({ path: at, message: `must be one of ${s.enum.join(", ")}; got ${JSON.stringify(v)}` });
  }
  if (typeof v === "string") checkString(s, v, at, out);
  if (typeof v === "number") checkNumber(s, v, at, out);
  if (Array.isArray(v)) checkArray(s, v, path, rules, out);
  if (isObject(v)) checkObject(s, v, path, rules, out);
  checkJunctors(s, v, at, out);
  for (const cel of s["x-kubernetes-validations"] ?? []) {
    const check = rules[cel.rule];
    if (!check) throw new MissingCelRuleError(cel.rule, at);
    if (!check(v)) out.push({ path: at, message: cel.message });
  }
}

/**
 * oneOf / anyOf / not beside a type: value validations whose branches only constrain (in a structural schema
 * they hold `required`, nested junctors and the like, never new fields), as TrafficExtension's "at most one
 * of wasm and lua" is written.
 */
function checkJunctors(s: CrdSchema, v: unknown, at: string, out: Violation[]): void {
  if (s.oneOf) {
    const n = s.oneOf.filter((b) => satisfies(b, v)).length;
    if (n !== 1) out.push({ path: at, message: `must match exactly one of ${s.oneOf.length} alternatives (${s.oneOf.map(describeBranch).join("; ")}), matches ${n}` });
  }
  if (s.anyOf && s.type && !s.anyOf.some((b) => satisfies(b, v))) {
    out.push({ path: at, message: `must match at least one of: ${s.anyOf.map(describeBranch).join("; ")}` });
  }
  if (s.not && satisfies(s.not, v)) out.push({ path: at, message: `must not match: ${describeBranch(s.not)}` });
}

/** Whether a junctor branch holds for v: its own keywords only (no unknown-field checks, which belong to the parent). */
function satisfies(b: CrdSchema, v: unknown): boolean {
  if (b.type && !typeMatches(b.type, v)) return false;
  if (b.enum && !b.enum.includes(v as string | number)) return false;
  if (b.required && !(isObject(v) && b.required.every((k) => k in v))) return false;
  if (b.properties && isObject(v)) {
    for (const [k, child] of Object.entries(b.properties)) if (k in v && !satisfies(child, v[k])) return false;
  }
  if (b.anyOf && !b.anyOf.some((x) => satisfies(x, v))) return false;
  if (b.oneOf && b.oneOf.filter((x) => satisfies(x, v)).length !== 1) return false;
  if (b.not && satisfies(b.not, v)) return false;
  return true;
}

function describeBranch(b: CrdSchema): string {
  const parts: string[] = [];
  if (b.required) parts.push(`has ${b.required.join(", ")}`);
  if (b.anyOf) parts.push(`any of (${b.anyOf.map(describeBranch).join("; ")})`);
  if (b.oneOf) parts.push(`one of (${b.oneOf.map(describeBranch).join("; ")})`);
  if (b.not) parts.push(`not (${describeBranch(b.not)})`);
  return parts.join(" and ") || "anything";
}

function typeMatches(type: NonNullable<CrdSchema["type"]>, v: unknown): boolean {
  switch (type) {
    case "object": return isObject(v);
    case "array": return Array.isArray(v);
    case "string": return typeof v === "string";
    case "integer": return typeof v === "number" && Number.isInteger(v);
    case "number": return typeof v === "number" && Number.isFinite(v);
    case "boolean": return typeof v === "boolean";
  }
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function checkString(s: CrdSchema, v: string, at: string, out: Violation[]): void {
  // Lengths count code points, as Kubernetes does (Go counts runes).
  const len = [...v].length;
  if (s.minLength !== undefined && len < s.minLength) {
    out.push({ path: at, message: s.minLength === 1 ? "must not be empty" : `must be at least ${s.minLength} characters` });
  }
  if (s.maxLength !== undefined && len > s.maxLength) out.push({ path: at, message: `must be at most ${s.maxLength} characters, got ${len}` });
  if (s.pattern !== undefined && !new RegExp(s.pattern, "u").test(v)) {
    out.push({ path: at, message: `must be ${PATTERN_NAMES[s.pattern] ?? `a match of ${s.pattern}`}; got ${JSON.stringify(v)}` });
  }
}

function checkNumber(s: CrdSchema, v: number, at: string, out: Violation[]): void {
  if (s.format === "int32" && (v < INT32_MIN || v > INT32_MAX)) {
    out.push({ path: at, message: `must be a 32-bit integer (${INT32_MIN}..${INT32_MAX}), got ${v}` });
  }
  if (s.minimum !== undefined && v < s.minimum) out.push({ path: at, message: `must be at least ${s.minimum}, got ${v}` });
  if (s.maximum !== undefined && v > s.maximum) out.push({ path: at, message: `must be at most ${s.maximum}, got ${v}` });
}

function checkArray(s: CrdSchema, v: unknown[], path: string, rules: Readonly<Record<string, CelCheck>>, out: Violation[]): void {
  const at = path || "(root)";
  if (s.minItems !== undefined && v.length < s.minItems) out.push({ path: at, message: `must have at least ${s.minItems} items` });
  if (s.maxItems !== undefined && v.length > s.maxItems) out.push({ path: at, message: `must have at most ${s.maxItems} items, got ${v.length}` });
  if (s.items) v.forEach((item, i) => walk(s.items!, item, `${path}[${i}]`, rules, out));
  const keys = s["x-kubernetes-list-map-keys"];
  if (s["x-kubernetes-list-type"] === "map" && keys) {
    const seen = new Map<string, number>();
    v.forEach((item, i) => {
      if (!isObject(item)) return;
      const key = keys.map((k) => `${k}=${JSON.stringify(item[k])}`).join(",");
      const first = seen.get(key);
      if (first !== undefined) out.push({ path: `${path}[${i}]`, message: `duplicate entry for ${key} (first at ${path}[${first}])` });
      else seen.set(key, i);
    });
  }
}

function checkObject(s: CrdSchema, v: Record<string, unknown>, path: string, rules: Readonly<Record<string, CelCheck>>, out: Violation[]): void {
  const at = path || "(root)";
  for (const name of s.required ?? []) {
    if (!(name in v)) out.push({ path: join(path, name), message: "is required" });
  }
  const n = Object.keys(v).length;
  if (s.maxProperties !== undefined && n > s.maxProperties) out.push({ path: at, message: `must have at most ${s.maxProperties} entries, got ${n}` });
  const preserve = s["x-kubernetes-preserve-unknown-fields"] === true;
  for (const [key, child] of Object.entries(v)) {
    const known = s.properties?.[key];
    if (known) walk(known, child, join(path, key), rules, out);
    else if (isObject(s.additionalProperties)) walk(s.additionalProperties, child, join(path, key), rules, out);
    else if (!preserve && s.additionalProperties !== true) {
      const hint = nearest(key, Object.keys(s.properties ?? {}));
      out.push({ path: join(path, key), message: `unknown field${hint ? ` (did you mean ${hint}?)` : ""}` });
    }
  }
}

/** The known field a misspelt one most likely meant (case-insensitive match or edit distance ≤ 2). */
function nearest(key: string, known: string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    if (k.toLowerCase() === lower) return k;
    const d = distance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** Every CEL rule text in a schema, for checking that each has an implementation. */
export function celRulesIn(s: CrdSchema): string[] {
  const found: string[] = [];
  const visit = (n: CrdSchema | undefined) => {
    if (!n) return;
    for (const v of n["x-kubernetes-validations"] ?? []) found.push(v.rule);
    for (const p of Object.values(n.properties ?? {})) visit(p);
    if (typeof n.additionalProperties === "object") visit(n.additionalProperties);
    visit(n.items);
    n.anyOf?.forEach(visit);
    n.oneOf?.forEach(visit);
    visit(n.not);
  };
  visit(s);
  return found;
}
