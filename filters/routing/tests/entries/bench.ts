// Benchmark entry for tests/routing-cost.test.ts: the filter's own config parser and matcher, driven
// without a host, so the time measured is the matching alone. The test writes a configuration or a
// serialized request header map into scratch(n), then passes its byte length.
import "proxy-wasm-as/assembly/runtime";
import { ConfigErrors, parseConfig } from "proxy-wasm-as";
import { parseSettings } from "../../assembly/config";
import { RequestView } from "../../assembly/request";
import { Settings, firstMatch, chooseDestination } from "../../assembly/rules";

let buffer = new ArrayBuffer(4096);
let settings: Settings | null = null;
let request = new ArrayBuffer(0);
const view = new RequestView();

/** A buffer of at least `size` bytes for the next call's argument; returns its address. */
export function scratch(size: i32): usize {
  if (buffer.byteLength < size) buffer = new ArrayBuffer(size);
  return changetype<usize>(buffer);
}

/** Parses the configuration in scratch; 1 when accepted. */
export function configure(len: i32): i32 {
  const errors = new ConfigErrors();
  const cfg = parseConfig(buffer.slice(0, len), errors);
  settings = cfg !== null ? parseSettings(cfg) : null;
  return settings !== null && errors.ok ? 1 : 0;
}

/** Keeps the header map in scratch (ABI pairs format) as the request to route. */
export function setRequest(len: i32): void {
  request = buffer.slice(0, len);
}

/**
 * Routes the request `iterations` times (load the header view, first matching rule, sticky side) and
 * returns the destination label's first byte of the last decision, or 0 when no rule matched.
 */
export function run(iterations: i32): i32 {
  const s = settings!;
  let out = 0;
  for (let i = 0; i < iterations; i++) {
    view.beginWith(request);
    const rule = firstMatch(s, view, -1);
    out = rule === null ? 0 : <i32>load<u8>(changetype<usize>(chooseDestination(s, rule, view).value));
    view.end();
  }
  return out;
}

export function collect(): void { __collect(); }
