import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { main } from "../cli/main";
import type { Io } from "../cli/command";
import { newFilter } from "../scaffold/new";
import { findKubeconfig, kubectlApply, planDeploy, parseTargetRef } from "./deploy";
import { sha256Hex } from "./module";
import { parseWasmPluginYaml } from "./wasmplugin";
import { validateWasmPlugin } from "./validate";

const WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
const WASM_SHA = sha256Hex(WASM);
const MANIFEST = "d".repeat(64);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pwas-deploy-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function wasmFile(name: string): string {
  const f = join(dir, `${name}.wasm`);
  writeFileSync(f, WASM);
  return f;
}

/** A filter folder with a prebuilt module, so --no-build needs no compiler. */
function filterFolder(name: string, pkg: object = { name }): string {
  const d = join(dir, name);
  mkdirSync(join(d, "assembly"), { recursive: true });
  mkdirSync(join(d, "build"));
  writeFileSync(join(d, "assembly", "index.ts"), "");
  writeFileSync(join(d, "package.json"), JSON.stringify(pkg));
  writeFileSync(join(d, "build", `${name}.wasm`), WASM);
  return d;
}

function captureIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), progress: (l) => stderr.push(`• ${l}`) };
}

describe("pwas deploy", () => {
  test("prints the WasmPlugin for a filter: every option lands in its field, the YAML is stable", async () => {
    const io = captureIo();
    const code = await main([
      "deploy", wasmFile("headers"), "--image", "https://filters.example.com/headers.wasm", "--namespace", "demo",
      "--selector", "app=reviews", "--selector", "version=v2", "--phase", "authz", "--priority", "50",
      "--fail-strategy", "FAIL_RELOAD", "--config", '{"response_headers":{"x-demo":"yes"},"log_requests":true}',
      "--env", "MODE=strict", "--host-env", "POD_NAME",
    ], io);
    expect(io.stderr).toEqual([]);
    expect(code).toBe(0);
    const yaml = io.stdout.join("\n") + "\n";
    expect(yaml).toMatchSnapshot();
    const [doc] = parseWasmPluginYaml(yaml, "stdout");
    expect(validateWasmPlugin(doc.resource)).toEqual([]);
    expect(doc.resource).toMatchObject({ spec: { sha256: WASM_SHA, phase: "AUTHZ", priority: 50, pluginName: "headers" } });
  });

  test("oci:// urls: sha256 is the manifest digest from --sha256 or the reference, never the module's", async () => {
    const f = wasmFile("headers");
    const bare = await planDeploy({ target: f, image: "ghcr.io/me/headers:1.0" });
    expect(bare.plugin.spec.url).toBe("oci://ghcr.io/me/headers:1.0");
    expect(bare.plugin.spec.sha256).toBeUndefined();
    expect(bare.plugin.metadata.annotations).toEqual({ "proxy-wasm-as/module-sha256": WASM_SHA });
    expect(bare.notes.join("\n")).toMatch(/spec.sha256 left out: for oci:\/\/ it is the image manifest digest/);
    expect((await planDeploy({ target: f, image: "oci://ghcr.io/me/headers:1.0", sha256: `sha256:${MANIFEST}` })).plugin.spec.sha256).toBe(MANIFEST);
    expect((await planDeploy({ target: f, image: `oci://ghcr.io/me/headers@sha256:${MANIFEST}` })).plugin.spec.sha256).toBe(MANIFEST);
    await expect(planDeploy({ target: f, image: `oci://ghcr.io/me/headers@sha256:${MANIFEST}`, sha256: "e".repeat(64) })).rejects.toThrow(/differs from the digest in --image/);
    await expect(planDeploy({ target: f, image: "https://h/x.wasm", sha256: MANIFEST })).rejects.toThrow(/is not the sha256 of/);
  });

  test("refuses FAIL_OPEN for the stock auth filter (its package.json forbids it), quoting Istio, unless forced", async () => {
    // A prebuilt folder carrying the stock filter's own package.json (the facts it declares), so no build is needed.
    const f = filterFolder("auth", JSON.parse(readFileSync(resolve(__dirname, "../../filters/auth/package.json"), "utf8")));
    await expect(planDeploy({ target: f, image: "oci://r/auth:1", failStrategy: "FAIL_OPEN", noBuild: true })).rejects.toMatchObject({
      code: "E_CONFIG",
      message: expect.stringContaining('not recommended for the authentication or the authorization plugins'),
    });
    const forced = await planDeploy({ target: f, image: "oci://r/auth:1", failStrategy: "fail-open", force: true, noBuild: true });
    expect(forced.plugin.spec.failStrategy).toBe("FAIL_OPEN");
    expect(forced.notes.join("\n")).toMatch(/FAIL_OPEN on auth \(forced\)/);
    expect((await planDeploy({ target: f, image: "oci://r/auth:1", failStrategy: "FAIL_CLOSE", noBuild: true })).plugin.spec.failStrategy).toBe("FAIL_CLOSE");
    // The fact is data, not a name: a module file called auth.wasm, with no package.json beside it, is not guarded.
    expect((await planDeploy({ target: wasmFile("auth"), image: "oci://r/auth:1", failStrategy: "FAIL_OPEN" })).plugin.spec.failStrategy).toBe("FAIL_OPEN");
  });

  test("pwas new --template auth writes the stock filter's \"pwas\": {\"failOpen\": \"forbidden\"}, and deploy refuses FAIL_OPEN for the project by that fact", async () => {
    const project = await newFilter({ name: "gate", template: "auth", dir: join(dir, "gate"), install: false });
    expect(JSON.parse(readFileSync(join(project, "package.json"), "utf8")).pwas).toEqual({ failOpen: "forbidden" });
    mkdirSync(join(project, "build"), { recursive: true });
    writeFileSync(join(project, "build", "gate.wasm"), WASM);
    await expect(planDeploy({ target: project, image: "oci://r/gate:1", failStrategy: "FAIL_OPEN", noBuild: true })).rejects.toThrow(/gate refuses --fail-strategy FAIL_OPEN/);
    // A project from another stock filter declares nothing of the kind.
    const fault = await newFilter({ name: "slow", template: "fault", dir: join(dir, "slow"), install: false });
    expect(JSON.parse(readFileSync(join(fault, "package.json"), "utf8")).pwas).toBeUndefined();
  });

  test("a package.json with \"pwas\": {\"failOpen\": \"forbidden\"} opts any filter into the same guard; other values are refused", async () => {
    const odd = filterFolder("odd", { name: "odd", pwas: { failOpen: "never" } });
    await expect(planDeploy({ target: odd, image: "oci://r/o:1", noBuild: true })).rejects.toThrow(/"failOpen": \.\.\.\} must be one of "allowed", "forbidden"; got "never"/);
    const guarded = filterFolder("gatekeeper", { name: "gatekeeper", pwas: { failOpen: "forbidden" } });
    await expect(planDeploy({ target: guarded, image: "oci://r/g:1", failStrategy: "FAIL_OPEN", noBuild: true })).rejects.toThrow(/gatekeeper refuses --fail-strategy FAIL_OPEN/);
    const plain = filterFolder("headers");
    const plan = await planDeploy({ target: plain, image: "oci://r/h:1", failStrategy: "FAIL_OPEN", phase: "AUTHN", noBuild: true });
    expect(plan.plugin.spec.failStrategy).toBe("FAIL_OPEN");
    expect(plan.notes.join("\n")).toMatch(/FAIL_OPEN in phase AUTHN/);
  });

  test("usage errors: bad phase, bad scheme, bad target ref, config that is not an object, invalid result", async () => {
    const f = wasmFile("headers");
    await expect(planDeploy({ target: f, image: "oci://r/h:1", phase: "LAST" })).rejects.toThrow("--phase must be one of UNSPECIFIED_PHASE, AUTHN, AUTHZ, STATS; got LAST");
    await expect(planDeploy({ target: f, image: "ftp://h/x.wasm" })).rejects.toThrow(/Istio fetches oci:\/\//);
    expect(() => parseTargetRef("Deployment/x")).toThrow(/kind must be one of Gateway, GatewayClass, Service, ServiceEntry/);
    expect(parseTargetRef("gateway/ingress")).toEqual({ group: "gateway.networking.k8s.io", kind: "Gateway", name: "ingress" });
    expect(parseTargetRef("Service/reviews")).toEqual({ group: "", kind: "Service", name: "reviews" });
    await expect(planDeploy({ target: f, image: "oci://r/h:1", config: "[1,2]" })).rejects.toThrow(/--config must be a JSON object/);
    await expect(planDeploy({ target: f, image: "oci://r/h:1", selector: ["app=x"], targetRefs: ["Gateway/g"] }))
      .rejects.toThrow(/spec: only one of targetRefs or selector can be set/);
    await expect(planDeploy({ target: f, image: "oci://r/h:1", targetRefs: Array.from({ length: 17 }, (_, i) => `Service/s${i}`) }))
      .rejects.toThrow(/spec.targetRefs: must have at most 16 items, got 17/);
  });

  test("builds a filter folder and records the built module's sha256", async () => {
    const plan = await planDeploy({ target: resolve(__dirname, "../../templates/http-headers"), image: "https://h/http-headers.wasm" });
    expect(plan.wasmFile).toMatch(/templates\/http-headers\/build\/http-headers.wasm$/);
    expect(plan.plugin.spec.sha256).toBe(sha256Hex(readFileSync(plan.wasmFile)));
    expect(plan.plugin.metadata.name).toBe("http-headers");
  }, 120_000);
});

describe("pwas deploy --apply", () => {
  function fakeKubectl(exit = 0): { bin: string; stdin: string } {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const stdin = join(dir, "applied.yaml");
    writeFileSync(join(bin, "kubectl"), `#!/bin/sh\necho "$@" > ${dir}/args\ncat > ${stdin}\n${exit === 0 ? 'echo "wasmplugin.extensions.istio.io/headers created"' : 'echo "error: the server rejected it" >&2'}\nexit ${exit}\n`);
    chmodSync(join(bin, "kubectl"), 0o755);
    return { bin, stdin };
  }

  test("pipes exactly the printed YAML to kubectl apply -f -", async () => {
    const { bin, stdin } = fakeKubectl();
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\n");
    const plan = await planDeploy({ target: wasmFile("headers"), image: "oci://r/h:1" });
    const out = await kubectlApply(plan.yaml, { env: { PATH: `${bin}:/usr/bin:/bin`, KUBECONFIG: kubeconfig, HOME: dir } });
    expect(out).toBe("wasmplugin.extensions.istio.io/headers created");
    expect(readFileSync(stdin, "utf8")).toBe(plan.yaml);
    expect(readFileSync(join(dir, "args"), "utf8").trim()).toBe("apply -f -");
  });

  test("kubectl's refusal becomes an E_CONFIG error with its message", async () => {
    const { bin } = fakeKubectl(1);
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, "");
    await expect(kubectlApply("x: 1\n", { env: { PATH: `${bin}:/usr/bin:/bin`, KUBECONFIG: kubeconfig, HOME: dir } })).rejects.toMatchObject({
      code: "E_CONFIG", message: "kubectl apply failed (exit 1):\nerror: the server rejected it",
    });
  });

  test("no kubectl, or no kubeconfig: a clear E_NOT_FOUND before anything runs", async () => {
    await expect(kubectlApply("x: 1\n", { env: { PATH: join(dir, "empty"), HOME: dir } })).rejects.toMatchObject({
      code: "E_NOT_FOUND", message: expect.stringContaining("--apply needs kubectl on PATH"),
    });
    const { bin } = fakeKubectl();
    await expect(kubectlApply("x: 1\n", { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, KUBECONFIG: join(dir, "missing") } })).rejects.toMatchObject({
      code: "E_NOT_FOUND", message: expect.stringContaining("--apply found kubectl but no kubeconfig"),
    });
    expect(findKubeconfig({ HOME: dir })).toBeUndefined();
    mkdirSync(join(dir, ".kube"));
    writeFileSync(join(dir, ".kube", "config"), "");
    expect(findKubeconfig({ HOME: dir })).toBe(join(dir, ".kube", "config"));
  });
});
