// Chaos under load, reconfiguration: while requests flow, new versions of the listener (a new plugin
// configuration, then also a new listener) are pushed to the running Envoy through file-based LDS. No
// request may be lost: each gets a complete answer from the old configuration or the new one.

import { Agent } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildFilter } from "../src/build/build";
import { cluster, envoyHarness, httpListener, wasmFilter, type HttpListener } from "../src/envoy";
import { freePort } from "../src/services";
import { httpRequest } from "./support/client";
import { writeListenerFile } from "./support/lds";
import { countBy, latencies, startLoad, type Sample } from "./support/load";

const envoys = envoyHarness();
let wasmFile: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pwas-chaos-lds-"));
  wasmFile = (await buildFilter(resolve(__dirname, "..", "templates", "http-headers"), { outFile: join(dir, "http-headers.wasm") })).wasmPath;
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
jest.setTimeout(90_000);

/** The listener at one configuration version: the plugin stamps every response with it. */
function listener(name: string, port: number, version: string, echoPort: number): { l: HttpListener; cluster: number } {
  return {
    l: httpListener(name, {
      port,
      httpFilters: [wasmFilter({ name: "headers", vmId: "headers", wasmFile, configuration: { response_headers: { "x-config": version } } })],
      virtualHosts: [{ name: "all", routes: [{ cluster: "echo" }] }],
    }),
    cluster: echoPort,
  };
}

const BODY = Buffer.alloc(16 * 1024, "chaos-");

interface Answer { connection: "fresh" | "kept"; status: number; version: string; complete: boolean }

describe("chaos e2e: plugin configuration pushed to a running Envoy under load", () => {
  test("no request is lost: every answer is complete and from the old or the new configuration", async () => {
    const echo = await envoys.startEcho();
    const ldsPath = join(dir, "lds.json");
    const [port, secondPort] = [await freePort(), await freePort()];
    const at = (version: string) => listener("dyn", port, version, echo.port).l;
    writeListenerFile(ldsPath, [at("v1")], "1");
    const envoy = await envoys.startEnvoy({ listeners: [], clusters: [cluster("echo", echo.port)], ldsPath }, { concurrency: 2, backend: "process" });

    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const load = startLoad<Answer>({
      concurrency: 8,
      maxRequests: 5000,
      maxDurationMs: 30_000,
      send: async (i) => {
        // Half the requests each on a new connection, half on kept-alive ones that outlive a push. Those
        // stay on the old filter chain while it drains (Envoy's drain time, 600 s by default); at the end of
        // the drain time Envoy closes them, requests in flight included, so a drain shorter than the run
        // would lose requests by design of the drain, not of the push.
        const connection = i % 2 ? "kept" : "fresh";
        const r = await httpRequest(`http://127.0.0.1:${port}/`, { method: "POST", body: BODY, agent: connection === "kept" ? agent : undefined, timeoutMs: 20_000 });
        let complete = false;
        try {
          complete = (JSON.parse(r.body.toString("utf8")) as { body: string }).body === BODY.toString("utf8");
        } catch { /* not the echo's JSON: incomplete */ }
        return { connection, status: r.status, version: r.headers["x-config"] ?? "(none)", complete };
      },
    });
    const fresh = (version: string) => (s: Sample<Answer>) => s.result?.connection === "fresh" && s.result.version === version;
    const pushes: string[] = [];
    try {
      await load.waitForSample(fresh("v1"), load.mark("v1"), 15_000, "an answer from v1");
      await load.advance(150);
      for (const [n, version, listeners] of [
        [2, "v2", [at("v2")]],
        // A new listener beside the changed one.
        [3, "v3", [at("v3"), listener("second", secondPort, "v3", echo.port).l]],
      ] as const) {
        const pushedAt = load.mark(`pushed ${version}`);
        writeListenerFile(ldsPath, [...listeners], String(n));
        await envoy.waitForStat("listener_manager.lds.update_success", (v) => (v ?? 0) >= n, 15_000);
        const first = await load.waitForSample(fresh(version), pushedAt, 15_000, `an answer from ${version}`);
        pushes.push(`${version}: first answer from it ${Math.round(first.startedAt - pushedAt)} ms after the push`);
        load.mark(`${version} serving`);
        await load.advance(150);
      }
    } finally {
      await load.stop();
      agent.destroy();
    }

    const samples = load.samples;
    const shown = (s: Sample<Answer>) => (s.result ? `${s.result.connection} ${s.result.status} ${s.result.version}${s.result.complete ? "" : " INCOMPLETE"}` : `error: ${s.error}`);
    const stats = await envoy.stats();
    const lm = (k: string) => stats.get(`listener_manager.${k}`) ?? 0;
    console.log([
      `reconfigure chaos: ${samples.length} requests in ${Math.round(load.now())} ms, latency ${JSON.stringify(latencies(samples))}`,
      ...Object.entries(countBy(samples, shown)).map(([k, n]) => `  ${k}: ${n}`),
      "by phase (when each request started):",
      ...load.phases.map((p) => `  ${p.padEnd(11)} ${JSON.stringify(countBy(samples.filter((s) => s.phase === p), shown))}`),
      ...pushes,
      `Envoy: lds.update_success ${lm("lds.update_success")}, lds.update_rejected ${lm("lds.update_rejected")}, ` +
        `listener_in_place_updated ${lm("listener_in_place_updated")}, listener_added ${lm("listener_added")}, listener_modified ${lm("listener_modified")}`,
    ].join("\n"));

    expect(samples.filter((s) => s.error).map(shown)).toEqual([]);
    expect(samples.filter((s) => !(s.result!.status === 200 && s.result!.complete && ["v1", "v2", "v3"].includes(s.result!.version))).map(shown)).toEqual([]);
    expect(echo.requests).toBe(samples.length);
    const versions = countBy(samples, (s) => s.result!.version);
    expect(Object.keys(versions)).toEqual(["v1", "v2", "v3"]);
    // Once the last version serves, new connections get it.
    expect(new Set(samples.filter((s) => s.result!.connection === "fresh").slice(-50).map((s) => s.result!.version))).toEqual(new Set(["v3"]));
    expect(lm("lds.update_rejected")).toBe(0);
    // The listener added by v3 serves too.
    const second = await httpRequest(`http://127.0.0.1:${secondPort}/`);
    expect([second.status, second.headers["x-config"]]).toEqual([200, "v3"]);
  });
});
