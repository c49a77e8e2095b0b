import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "./main";

let work: string;
let wasm: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "pwas-cli-preview-"));
  wasm = join(work, "tiny.wasm");
  writeFileSync(wasm, Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function pwas(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => void out.push(l), err: (l) => void err.push(l), progress: () => undefined });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const plugin = (name: string, namespace: string, spec: string[] = []) => [
  "apiVersion: extensions.istio.io/v1alpha1", "kind: WasmPlugin", `metadata: {name: ${name}, namespace: ${namespace}}`,
  "spec:", `  url: file://${wasm}`, ...spec.map((l) => `  ${l}`), "",
].join("\n");

/** One plugin per way istiod can leave a plugin off a sidecar listener, and some it keeps. */
function manifests(): string {
  const file = join(work, "plugins.yaml");
  writeFileSync(file, [
    plugin("selected", "shop", ["selector: {matchLabels: {app: reviews}}"]),
    plugin("whole-namespace", "shop", ["phase: AUTHN"]),
    plugin("mesh-wide", "istio-system", ["phase: STATS"]),
    plugin("other-namespace", "bank"),
    plugin("other-app", "shop", ["selector: {matchLabels: {app: ratings}}"]),
    plugin("v2-only", "shop", ["selector: {matchLabels: {app: reviews, version: v2}}"]),
    plugin("targetref", "shop", ["targetRefs: [{kind: Service, group: \"\", name: reviews}]"]),
    plugin("this-port", "shop", ["match: [{ports: [{number: 9080}]}]"]),
    plugin("other-port", "shop", ["match: [{ports: [{number: 15000}]}]"]),
    plugin("outbound", "shop", ["match: [{mode: CLIENT}]"]),
    plugin("inbound", "shop", ["match: [{mode: SERVER}]"]),
  ].join("---\n"));
  return file;
}

/** The plugins of the chain table --dry-run prints on stderr, in order. */
const chainOf = (err: string) => err.split("\n").slice(1).map((l) => l.split(/\s+/)[1]).filter((p) => !p.startsWith("envoy."));

describe("pwas preview: which sidecar listener", () => {
  test("without --namespace every plugin applies", async () => {
    const r = await pwas("preview", manifests(), "--dry-run", "--cache-dir", join(work, "cache"));
    expect(r.code).toBe(0);
    expect(chainOf(r.err)).toHaveLength(11);
  });

  test("--namespace, --labels, --port keep what istiod attaches to that inbound listener, and preview listens on the port", async () => {
    const r = await pwas("preview", manifests(), "--namespace", "shop", "--labels", "app=reviews,version=v1", "--port", "9080", "--dry-run", "--cache-dir", join(work, "cache"));
    expect([r.code, r.err]).toEqual([0, expect.any(String)]);
    expect(chainOf(r.err)).toEqual(["shop.whole-namespace", "istio-system.mesh-wide", "shop.inbound", "shop.selected", "shop.this-port"]);
    expect(JSON.parse(r.out).static_resources.listeners[0].address.socket_address.port_value).toBe(9080);
  });

  test("--mode CLIENT is an outbound listener; --root-namespace moves the mesh-wide namespace", async () => {
    const r = await pwas("preview", manifests(), "--namespace", "shop", "--labels", "app=reviews", "--port", "15000", "--mode", "CLIENT",
      "--root-namespace", "mesh", "--dry-run", "--cache-dir", join(work, "cache"));
    expect(r.code).toBe(0);
    expect(chainOf(r.err)).toEqual(["shop.whole-namespace", "shop.other-port", "shop.outbound", "shop.selected"]);
  });

  test.each([
    [["--labels", "app=reviews"], "pwas preview: E_USAGE --labels describe the workload of a namespace: give --namespace too"],
    [["--mode", "CLIENT"], "pwas preview: E_USAGE --mode describe the workload of a namespace: give --namespace too"],
    [["--namespace", "shop"], "pwas preview: E_USAGE --namespace previews one sidecar listener: give its --port too (match.ports is compared with it, and preview listens on it)"],
    [["--namespace", "shop", "--port", "80", "--labels", "app"], 'pwas preview: E_USAGE --labels "app": expected key=value, e.g. --labels app=reviews,version=v1'],
    [["--namespace", "shop", "--port", "80", "--labels", "app=a,app=b"], "pwas preview: E_USAGE --labels: app is given twice"],
    [["--namespace", "shop", "--port", "80", "--mode", "server"], 'pwas preview: E_USAGE --mode must be one of SERVER, CLIENT, got "server"'],
  ])("%j is a usage error with a sentence", async (extra, message) => {
    const r = await pwas("preview", manifests(), ...extra, "--dry-run", "--cache-dir", join(work, "cache"));
    expect(r.code).toBe(2);
    expect(r.err.split("\n")[0]).toMatch(new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    expect(r.out).toBe("");
  });

  test("help lists the workload options", async () => {
    const r = await pwas("help", "preview");
    for (const o of ["--namespace <ns>", "--labels <k=v,...>", "--mode <SERVER|CLIENT>", "--root-namespace <ns>"]) expect(r.out).toContain(o);
  });
});
