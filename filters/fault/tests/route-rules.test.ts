// fault: per-route rules (docs/route-rules.md) in the emulator: one plugin, different faults per route.
import { join } from "node:path";
import { buildFilter } from "../../../src/build/build";
import { Action, Host, LogLevel } from "../../../src/emulator";

const FILTER_DIR = join(__dirname, "..");
let wasm: string;
beforeAll(async () => { wasm = (await buildFilter(FILTER_DIR)).wasmPath; }, 120_000);

const HEADERS: Array<[string, string]> = [[":method", "GET"], [":path", "/"], [":authority", "example.com"], [":scheme", "http"]];

async function start(config: object): Promise<Host> {
  return Host.start(wasm, { pluginConfig: JSON.stringify(config), pluginName: "fault", vmId: "fault" });
}

function send(host: Host, route: string, extra: Array<[string, string]> = []) {
  const s = host.newHttpStream(undefined, { properties: { "xds.route_name": route } });
  const action = s.sendRequestHeaders([...HEADERS, ...extra], true);
  return { s, action, status: s.localResponse?.status ?? 0 };
}

describe("fault: route rules", () => {
  test("one plugin aborts one route, delays another and leaves the rest alone", async () => {
    const host = await start({
      route_rules: [
        { match: { route_name: "orders" }, config: { abort: { http_status: 503, percentage: { numerator: 100 } } } },
        { match: { route_name: "search" }, config: { delay: { fixed_delay: "2s", percentage: { numerator: 100 } } } },
      ],
    });
    expect(send(host, "orders").status).toBe(503);
    const delayed = send(host, "search");
    expect(delayed.action).toBe(Action.Pause);
    host.advanceTime(1999);
    expect(delayed.s.upstream.headers).toBeNull();
    host.advanceTime(2);
    expect(delayed.s.upstream.headers).not.toBeNull();
    const other = send(host, "default");
    expect([other.action, other.status]).toEqual([Action.Continue, 0]);
    expect(host.metric("fault.aborts_injected")!.value).toBe(1);
    expect(host.metric("fault.delays_injected")!.value).toBe(1);
  });

  test("a rule changes one field and inherits the others; null removes a fault for its route", async () => {
    const host = await start({
      abort: { http_status: 503, percentage: { numerator: 100 } },
      headers: [{ name: "x-chaos", present_match: true }],
      route_rules: [
        { match: { route_name: "teapot" }, config: { abort: { http_status: 418 } } },
        { match: { route_name: "health" }, config: { abort: null } },
        { match: { route_name: "everyone" }, config: { headers: null } },
      ],
    });
    const chaos: Array<[string, string]> = [["x-chaos", "1"]];
    expect(send(host, "default", chaos).status).toBe(503);
    expect(send(host, "default").status).toBe(0); // the filter's header matcher still applies
    // abort is an object: http_status replaced, percentage kept (100%), headers inherited.
    expect(send(host, "teapot", chaos).status).toBe(418);
    expect(send(host, "teapot").status).toBe(0);
    expect(send(host, "health", chaos).status).toBe(0);
    expect(send(host, "everyone").status).toBe(503);
  });

  test("a rule with a fault turns the filter on even when its own configuration has none", async () => {
    const host = await start({ route_rules: [{ match: { path_prefix: "/slow/" }, config: { abort: { grpc_status: 14, percentage: { numerator: 100 } } } }] });
    const s = host.newHttpStream();
    s.sendRequestHeaders([[":method", "GET"], [":path", "//slow/./x"], [":authority", "example.com"]], true);
    expect([s.localResponse?.status, s.localResponse?.grpcStatus]).toEqual([200, 14]);
    expect(host.logMessages(LogLevel.Info).some((m) => m.includes("requests pass untouched"))).toBe(false);
  });

  test("errors and warnings in a rule name the rule", async () => {
    const bad = await Host.load(wasm, { pluginConfig: JSON.stringify({ route_rules: [{ match: { route_name: "a" }, config: { abort: { http_status: 600 } } }] }) });
    bad.startVm();
    expect(bad.configure()).toBe(false);
    expect(bad.logMessages(LogLevel.Error).join("\n")).toContain("route_rules[0].config.abort.http_status: must be between 200 and 599, got 600");
    const warned = await start({ route_rules: [{ match: { route_name: "a" }, config: { abort: { http_status: 503 } } }] });
    expect(warned.logMessages(LogLevel.Warn).join("\n")).toContain("route_rules[0].config: abort.percentage is 0%");
  });
});
