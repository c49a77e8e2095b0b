/**
 * `pwas preview` against a real Envoy: WasmPlugin YAML files (file:// modules built from templates/http-headers,
 * and templates/tcp as type NETWORK plugins) are translated as istiod would and served in front of echo upstreams. What is checked is what Envoy does and
 * what it reports in /config_dump, not what the translation intended.
 */
import { describeRequiring } from "../src/requirements";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildFilter } from "../src/build";
import type { Io } from "../src/cli/command";
import { main } from "../src/cli/main";
import { waitFor } from "../src/envoy";
import { httpGet } from "../src/envoy/instance";
import { startPreview, type RunningPreview } from "../src/mesh/preview";
import { pushImage, packageModule, parseReference } from "../src/oci";
import { locateDockerRegistry, startRegistry } from "../src/services/registry";
import { httpRequest } from "./support/client";

jest.setTimeout(120_000);

const TEMPLATE = resolve(__dirname, "../templates/http-headers");
const TCP_TEMPLATE = resolve(__dirname, "../templates/tcp");
let wasm: string;
let tcpWasm: string;
let work: string;
const running: RunningPreview[] = [];

beforeAll(async () => {
  wasm = (await buildFilter(TEMPLATE)).wasmPath;
  tcpWasm = (await buildFilter(TCP_TEMPLATE)).wasmPath;
  work = mkdtempSync(join(tmpdir(), "pwas-preview-"));
}, 120_000);
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((r) => r.stop()));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function start(files: string[], upstreams?: string[]): Promise<RunningPreview> {
  const r = await startPreview({ files, upstreams, fetch: { cacheDir: join(work, "cache") } });
  running.push(r);
  return r;
}

/** A WasmPlugin for the http-headers module; `headers` become its response_headers config. */
function plugin(name: string, headers: Record<string, string>, extra: string[] = []): string {
  return resource(name, wasm, [...extra, "pluginConfig:", "  response_headers:", ...Object.entries(headers).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)]);
}

function resource(name: string, module: string, spec: string[]): string {
  return [
    "apiVersion: extensions.istio.io/v1alpha1",
    "kind: WasmPlugin",
    "metadata:",
    `  name: ${name}`,
    "  namespace: demo",
    "spec:",
    `  url: file://${module}`,
    ...spec.map((l) => `  ${l}`),
    "",
  ].join("\n");
}

/** Writes raw bytes on a new connection to the listener; resolves with what came back once either side closed. */
function rawExchange(url: string, data: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolvePromise, reject) => {
    const c = connect(Number(port), hostname);
    let reply = "";
    c.setTimeout(10_000, () => c.destroy(new Error(`no close within 10 s after ${JSON.stringify(data)}; got ${JSON.stringify(reply)}`)));
    c.on("data", (d) => (reply += d.toString("latin1")));
    c.on("error", reject);
    c.on("close", (hadError) => (hadError ? undefined : resolvePromise(reply)));
    c.write(data);
  });
}

function write(file: string, ...docs: string[]): string {
  const path = join(work, file);
  writeFileSync(path, docs.join("---\n"));
  return path;
}

interface DumpedFilter {
  name: string;
  typed_config: { config?: { name: string; root_id?: string; failure_policy?: string; configuration?: { value: string }; vm_config: { environment_variables?: unknown } } };
}

/** The HTTP filter chain Envoy is running, from its admin /config_dump. */
async function dumpedChain(r: RunningPreview): Promise<DumpedFilter[]> {
  const dump = JSON.parse((await httpGet(`${r.adminUrl}/config_dump?resource=static_listeners`)).body) as { configs: { listener: any }[] };
  const listener = dump.configs.map((c) => c.listener).find((l) => l?.name === "preview");
  return listener.filter_chains[0].filters[0].typed_config.http_filters as DumpedFilter[];
}

describe("pwas preview in Envoy", () => {
  test("phase then priority decide the chain; each plugin got its own config, env and failure policy", async () => {
    // Files and documents deliberately out of chain order.
    const a = write("a.yaml",
      plugin("late", { "x-order": "late", "x-late": "1" }, ["priority: 1000"]),
      plugin("authz-low", { "x-order": "authz-low", "x-authz-low": "1" }, ["phase: AUTHZ", "priority: 1"]));
    const b = write("b.yaml",
      plugin("authz-high", { "x-order": "authz-high", "x-authz-high": "1" }, [
        "phase: AUTHZ", "priority: 10", "pluginName: headers_root",
        "vmConfig:", "  env:", "  - name: MODE", "    value: strict", "  - name: HOME", "    valueFrom: HOST",
      ]),
      plugin("authn", { "x-order": "authn", "x-authn": "1" }, ["phase: AUTHN", "failStrategy: FAIL_RELOAD"]));
    const r = await start([a, b]);

    const expected = ["demo.authn", "demo.authz-high", "demo.authz-low", "demo.late"];
    expect(r.chain.map((row) => row.plugin)).toEqual(expected);
    const chain = await dumpedChain(r);
    // istiod serves a WasmPlugin as the synthetic TrafficExtension <name>~istio-translated-wasmplugin, and so names its Envoy plugin.
    const served = (n: string) => `${n}~istio-translated-wasmplugin`;
    expect(chain.map((f) => f.typed_config.config?.name ?? f.name)).toEqual([...expected.map(served), "envoy.filters.http.router"]);

    const res = await httpRequest(`${r.listenerUrl}hello`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString("utf8"))).toMatchObject({ upstream: "echo", path: "/hello" });
    // Every plugin's config reached it: each set its own header.
    for (const h of ["x-late", "x-authz-low", "x-authz-high", "x-authn"]) expect(res.headers[h]).toBe("1");
    // Response headers pass the chain backwards, so the first plugin in the chain writes x-order last.
    expect(res.headers["x-order"]).toBe("authn");

    const byName = new Map(chain.map((f) => [f.typed_config.config?.name ?? f.name, f.typed_config.config]));
    expect(byName.get(served("demo.authn"))?.failure_policy).toBe("FAIL_RELOAD");
    for (const n of ["demo.authz-high", "demo.authz-low", "demo.late"]) expect(byName.get(served(n))?.failure_policy).toBe("FAIL_CLOSED");
    expect(byName.get(served("demo.authz-high"))?.root_id).toBe("headers_root");
    expect(byName.get(served("demo.authz-high"))?.configuration?.value).toBe('{"response_headers":{"x-authz-high":"1","x-order":"authz-high"}}');
    // The http-headers module does not read its environment, so the VM's env is checked in what Envoy loaded. A
    // file:// module keeps istiod's resource-version entry (empty: these files carry no resourceVersion).
    const rv = { ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION: "" };
    expect(byName.get(served("demo.authz-high"))?.vm_config.environment_variables).toEqual({ host_env_keys: ["HOME"], key_values: { ...rv, MODE: "strict" } });
    expect(byName.get(served("demo.late"))?.vm_config.environment_variables).toEqual({ key_values: rv });
  });

  test("swapping two priorities in one phase swaps which plugin answers last", async () => {
    const pair = (first: number, second: number) => write(`pair-${first}.yaml`,
      plugin("one", { "x-winner": "one" }, ["phase: STATS", `priority: ${first}`]),
      plugin("two", { "x-winner": "two" }, ["phase: STATS", `priority: ${second}`]));
    const r1 = await start([pair(20, 10)]);
    expect((await httpRequest(r1.listenerUrl)).headers["x-winner"]).toBe("one");
    const [first] = running.splice(0);
    await first.stop();
    const r2 = await start([pair(10, 20)]);
    expect(r2.chain.map((row) => row.plugin)).toEqual(["demo.two", "demo.one"]);
    expect((await httpRequest(r2.listenerUrl)).headers["x-winner"]).toBe("two");
  });

  test("type NETWORK plugins run as network filters before the HTTP connection manager, in phase order", async () => {
    // Listed STATS first: the phase, not the file, decides. Both run templates/tcp (each counts the bytes it
    // sees into the same tcp.downstream_bytes); the AUTHN one also closes connections that start with "DELETE ".
    const f = write("network.yaml",
      resource("tcp-count", tcpWasm, ["type: NETWORK", "phase: STATS"]),
      resource("tcp-refuse", tcpWasm, ["type: NETWORK", "phase: AUTHN", "pluginConfig:", "  refuse_prefixes: [\"DELETE \"]"]),
      plugin("h", { "x-seen": "yes" }));
    const r = await start([f]);
    expect(r.chain.map((row) => [row.plugin, row.type])).toEqual([["demo.tcp-refuse", "NETWORK"], ["demo.tcp-count", "NETWORK"], ["demo.h", "HTTP"]]);
    const dump = JSON.parse((await httpGet(`${r.adminUrl}/config_dump?resource=static_listeners`)).body) as { configs: { listener: any }[] };
    const filters = dump.configs.map((c) => c.listener).find((l) => l?.name === "preview").filter_chains[0].filters as DumpedFilter[];
    expect(filters.map((x) => [x.name, x.typed_config.config?.name])).toEqual([
      ["envoy.filters.network.wasm", "demo.tcp-refuse~istio-translated-wasmplugin"],
      ["envoy.filters.network.wasm", "demo.tcp-count~istio-translated-wasmplugin"],
      ["envoy.filters.network.http_connection_manager", undefined],
    ]);

    const get = "GET /through HTTP/1.1\r\nHost: preview\r\nConnection: close\r\n\r\n";
    const reply = await rawExchange(r.listenerUrl, get);
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply).toMatch(/\r\nx-seen: yes\r\n/);
    const del = "DELETE /all HTTP/1.1\r\nHost: preview\r\nConnection: close\r\n\r\n";
    // Closed by the network filter before the connection manager saw a byte: no HTTP answer at all.
    expect(await rawExchange(r.listenerUrl, del)).toBe("");
    expect(r.upstreams[0].requests).toBe(1);
    // Both plugins counted the GET; the DELETE only the first, which stopped it: so the refusing one runs first.
    const want = { refused: 1, bytes: 2 * get.length + del.length };
    let got = {};
    await waitFor(async () => {
      got = { refused: await r.envoy.counter("wasmcustom.tcp.refused"), bytes: await r.envoy.counter("wasmcustom.tcp.downstream_bytes") };
      return JSON.stringify(got) === JSON.stringify(want) ? true : undefined;
    }, { timeoutMs: 10_000, what: `the tcp counters to read ${JSON.stringify(want)} (last ${JSON.stringify(got)})` });
  });

  test("--upstreams starts named echo servers and routes on x-route-subset, the rest to the first", async () => {
    const r = await start([write("one.yaml", plugin("h", { "x-seen": "yes" }))], ["v1", "v2", "v3"]);
    const upstreamOf = async (headers: Record<string, string>) => JSON.parse((await httpRequest(r.listenerUrl, { headers })).body.toString("utf8")).upstream;
    expect(await upstreamOf({ "x-route-subset": "v2" })).toBe("v2");
    expect(await upstreamOf({ "x-route-subset": "v3" })).toBe("v3");
    expect(await upstreamOf({ "x-route-subset": "nope" })).toBe("v1");
    expect(await upstreamOf({})).toBe("v1");
    expect(r.upstreams.map((u) => u.requests)).toEqual([2, 1, 1]);
  });

  test("a module whose sha256 differs from spec.sha256 is refused before Envoy starts", async () => {
    const file = write("stale.yaml", plugin("stale", { "x-a": "1" }, [`sha256: ${"a".repeat(64)}`]));
    await expect(start([file])).rejects.toThrow(/demo.stale: spec.sha256 is a{64} but the module from file:\/\/.* has sha256 [0-9a-f]{64}/);
  });
});

function captureIo(): Io & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return { out: (l) => (out += l + "\n"), err: (l) => (err += l + "\n"), progress: (l) => (err += `• ${l}\n`), stdout: () => out, stderr: () => err };
}

describe("pwas preview, the command", () => {
  test("invalid resources are refused with the field and the reason: bad sha256, more than 16 targetRefs, unknown phase", async () => {
    const refs = Array.from({ length: 17 }, (_, i) => `  - {kind: Service, group: "", name: s${i}}`);
    const cases: [string, string, string][] = [
      ["bad-sha", 'sha256: "12345"', 'spec.sha256: must be 64 lower-case hex digits (a SHA-256 digest); got "12345"'],
      ["digits-sha", "sha256: 12345", "spec.sha256: must be a string, got an integer (quote the value: YAML reads it as a number)"],
      ["many-refs", ["targetRefs:", ...refs].join("\n  "), "spec.targetRefs: must have at most 16 items, got 17"],
      ["bad-phase", "phase: AUTHENTICATION", 'spec.phase: must be one of UNSPECIFIED_PHASE, AUTHN, AUTHZ, STATS; got "AUTHENTICATION"'],
    ];
    for (const [name, line, message] of cases) {
      // A valid plugin first: the invalid one is the second document.
      const file = write(`${name}.yaml`, plugin("fine", { "x-a": "1" }), plugin(name, { "x-a": "1" }, [line]));
      const io = captureIo();
      expect(await main(["preview", file], io)).toBe(1);
      expect(io.stderr()).toBe(`pwas preview: E_VALIDATION ${file} (document 2) is not a valid WasmPlugin (1 problem):\n  ${message}\n`);
      expect(io.stdout()).toBe("");
    }
  });

  test("deploy's YAML previews as is: served until the signal, a table of the chain, then Envoy is gone", async () => {
    const deployIo = captureIo();
    expect(await main(["deploy", TEMPLATE, "--no-build", "--image", `file://${wasm}`, "--namespace", "shop", "--phase", "AUTHN",
      "--config", '{"response_headers":{"x-deployed":"yes"}}'], deployIo)).toBe(0);
    const yamlFile = write("deployed.yaml", deployIo.stdout());

    const io = captureIo();
    const controller = new AbortController();
    const done = main(["preview", yamlFile, "--upstreams", "v1,v2", "--cache-dir", join(work, "cache")], io, { signal: controller.signal });
    await waitFor(() => (io.stdout().includes("Ctrl-C to stop") ? true : undefined), { timeoutMs: 60_000, what: `preview to start; stderr:\n${io.stderr()}` });
    const [, listener] = /^listener\s+(\S+)$/m.exec(io.stdout()) ?? [];
    const [, admin] = /^admin\s+(\S+)$/m.exec(io.stdout()) ?? [];
    expect(io.stdout()).toMatch(/^#\s+plugin\s+phase\s+priority\s+failure_policy\s+root_id\s+module sha256\s+url$/m);
    expect(io.stdout()).toMatch(/^1\s+shop\.http-headers\s+AUTHN\s+-\s+FAIL_CLOSED\s+http-headers\s+[0-9a-f]{12} \(file\)\s+file:\/\//m);
    expect(io.stdout()).toMatch(/^2\s+envoy\.filters\.http\.router/m);
    const res = await httpRequest(listener);
    expect(res.headers["x-deployed"]).toBe("yes");

    controller.abort();
    expect(await done).toBe(0);
    await expect(httpGet(`${admin}/ready`, 1000)).rejects.toThrow(/ECONNREFUSED/);
  });
});

const registry = locateDockerRegistry();
describeRequiring(registry.ok ? undefined : `preview oci:// e2e: ${registry.reason} (\`bash scripts/setup-registry.sh\` installs it)`)("pwas preview with an oci:// module", () => {
  test("pulls from a registry, checks spec.sha256 against the manifest digest, and caches by module digest", async () => {
    const reg = await startRegistry();
    try {
      const image = packageModule(readFileSync(wasm));
      const pushed = await pushImage(image, parseReference(`${reg.host}/filters/headers:1`), { insecure: true });
      const digest = pushed.digest.replace(/^sha256:/, "");
      const ok = write("oci.yaml", plugin("pulled", { "x-pulled": "yes" }).replace(`file://${wasm}`, `oci://${reg.host}/filters/headers:1`).replace("spec:\n", `spec:\n  sha256: ${digest}\n`));
      const r = await startPreview({ files: [ok], fetch: { cacheDir: join(work, "oci-cache"), insecure: true } });
      running.push(r);
      // Modules are keyed by the name istiod serves the plugin under.
      const pulled = r.modules["demo.pulled~istio-translated-wasmplugin"];
      expect(pulled).toMatchObject({ origin: "download", manifestDigest: digest });
      expect(pulled.path).toBe(join(work, "oci-cache", "sha256", `${pulled.sha256}.wasm`));
      expect((await httpRequest(r.listenerUrl)).headers["x-pulled"]).toBe("yes");

      const wrong = write("oci-wrong.yaml", readFileSync(ok, "utf8").replace(digest, pulled.sha256));
      await expect(startPreview({ files: [wrong], fetch: { cacheDir: join(work, "oci-cache"), insecure: true } }))
        .rejects.toThrow(`demo.pulled: spec.sha256 is ${pulled.sha256} but the image manifest from oci://${reg.host}/filters/headers:1 has sha256 ${digest}`);
    } finally {
      await reg.stop();
    }
  });
});
