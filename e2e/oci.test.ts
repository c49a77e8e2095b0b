/**
 * OCI packaging and the registry client against a real registry: Debian's docker-registry (the CNCF
 * distribution server) on a free loopback port, checked with skopeo, an independent client. Covers
 * deterministic packaging of both formats, push, what skopeo sees and copies, pull in istio-agent's three
 * formats (the Docker one made by skopeo's v2s2 conversion), checksum checks, basic auth with htpasswd
 * (credentials from flags, environment and ~/.docker/config.json), and the Bearer token flow against an
 * in-test stub that issues 401 challenges and tokens.
 */
import { describeRequiring } from "../src/requirements";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { buildFilter } from "../src/build/build";
import type { Io } from "../src/cli/command";
import { main } from "../src/cli/main";
import { readLayout, readTar, sha256Hex, digestOf, parseManifest, OCI_LAYER_TAR_GZIP, WASM_CONTENT_LAYER } from "../src/oci";
import { locateDockerRegistry, locateHtpasswd, locateSkopeo, REGISTRY_SETUP_COMMAND, startRegistry, type StartedRegistry } from "../src/services/registry";
import { waitFor } from "../src/envoy/wait";

const ROOT = resolve(__dirname, "..");
const TEMPLATE = join(ROOT, "templates/http-headers");

/** The tools, installed by the setup script when missing (it says why when it cannot). */
function tools(): { ok: true; skopeo: string } | { ok: false; reason: string } {
  const find = () => [locateDockerRegistry(), locateSkopeo(), locateHtpasswd()];
  let found = find();
  if (found.some((l) => !l.ok)) {
    const r = spawnSync("bash", [join(ROOT, "scripts/setup-registry.sh")], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", timeout: 600_000 });
    found = find();
    if (found.some((l) => !l.ok)) {
      const missing = found.filter((l) => !l.ok).map((l) => (l.ok ? "" : l.reason)).join("; ");
      return { ok: false, reason: `${missing}; \`${REGISTRY_SETUP_COMMAND}\` exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout || String(r.error ?? "")).trim().split("\n").slice(-3).join(" / ")}` };
    }
  }
  const skopeo = found[1];
  return skopeo.ok ? { ok: true, skopeo: skopeo.path } : { ok: false, reason: skopeo.reason };
}

const available = tools();
const describeWithRegistry = describeRequiring(available.ok ? undefined : `oci e2e: ${available.reason}`);

jest.setTimeout(120_000);

interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs a pwas command in this process, as the CLI entry does, capturing its output. */
async function pwas(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), progress: (l) => err.push(`• ${l}`) };
  const code = await main(args, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function ok(...args: string[]): Promise<CliResult> {
  const r = await pwas(...args);
  if (r.code !== 0) throw new Error(`pwas ${args.join(" ")} exited ${r.code}:\n${r.err}`);
  return r;
}

function skopeo(...args: string[]): string {
  if (!available.ok) throw new Error("no skopeo");
  return execFileSync(available.skopeo, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** The first "sha256:<hex>" a command printed. */
function digestIn(text: string): string {
  const m = /sha256:[0-9a-f]{64}/.exec(text);
  if (!m) throw new Error(`no digest in: ${text}`);
  return m[0];
}

let work: string;
let wasm: Buffer;
let wasmFile: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "pwas-oci-e2e-"));
  // Built into the test's own folder, so that concurrent builds of the template elsewhere do not interfere.
  wasmFile = join(work, "http-headers.wasm");
  await buildFilter(TEMPLATE, { outFile: wasmFile });
  wasm = readFileSync(wasmFile);
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("pwas package: deterministic OCI image layouts", () => {
  test.each(["compat", "oci"])("%s: the same module packaged twice (tar and folder) gives the same bytes and digests", async (format) => {
    const a = await ok("package", wasmFile, "--format", format, "--output", join(work, `a.${format}.tar`));
    const b = await ok("package", wasmFile, "--format", format, "--output", join(work, `b.${format}.tar`));
    const c = await ok("package", wasmFile, "--format", format, "--layout", join(work, `layout-${format}`));
    const digest = digestIn(a.out);
    expect(digestIn(b.out)).toBe(digest);
    expect(digestIn(c.out)).toBe(digest);
    expect(readFileSync(join(work, `a.${format}.tar`)).equals(readFileSync(join(work, `b.${format}.tar`)))).toBe(true);
    expect(a.out).toContain(`module sha256 ${sha256Hex(wasm)}`);
    const image = readLayout(join(work, `layout-${format}`));
    expect(image.digest).toBe(digest);
    const m = parseManifest(image.manifest, "manifest");
    if (format === "compat") {
      expect(m.layers.map((l) => l.mediaType)).toEqual([OCI_LAYER_TAR_GZIP]);
      expect(m.annotations?.["module.wasm.image/variant"]).toBe("compat");
    } else {
      expect(image.blobs.get(m.layers.find((l) => l.mediaType === WASM_CONTENT_LAYER)!.digest)!.equals(wasm)).toBe(true);
    }
  });

  test("a filter folder is built and packaged; a layout cannot be packaged again", async () => {
    const r = await ok("package", TEMPLATE, "--output", join(work, "from-dir.tar"));
    const fromFile = await ok("package", wasmFile, "--output", join(work, "from-file.tar"));
    expect(digestIn(r.out)).toBe(digestIn(fromFile.out));
    const again = await pwas("package", join(work, "from-dir.tar"));
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/E_USAGE .*is an image layout already/);
  });
});

describeWithRegistry("push and pull against docker-registry, checked with skopeo", () => {
  let registry: StartedRegistry;
  const pushed: Record<string, string> = {};

  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  test("push compat: skopeo sees the OCI manifest with the compat annotation, the tar+gzip layer and the pushed digest", async () => {
    const r = await ok("push", wasmFile, `${registry.host}/filters/http-headers:compat`, "--insecure");
    const digest = digestIn(r.out);
    pushed.compat = digest;
    expect(r.out).toBe(`${digest}  oci://${registry.host}/filters/http-headers@${digest}`);
    const raw = skopeo("inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/filters/http-headers:compat`);
    expect(digestOf(Buffer.from(raw))).toBe(digest);
    const m = JSON.parse(raw);
    expect(m.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(m.annotations).toEqual({ "module.wasm.image/variant": "compat" });
    expect(m.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    expect(m.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(["application/vnd.oci.image.layer.v1.tar+gzip"]);
    const info = JSON.parse(skopeo("inspect", "--tls-verify=false", `docker://${registry.host}/filters/http-headers:compat`));
    expect(info.Digest).toBe(digest);
    expect(info.Layers).toEqual([m.layers[0].digest]);

    // skopeo copies it out; the layer it stored holds plugin.wasm, byte for byte the module.
    const copy = join(work, "skopeo-compat");
    skopeo("copy", "--src-tls-verify=false", `docker://${registry.host}/filters/http-headers:compat`, `oci:${copy}:copied`);
    const layer = readFileSync(join(copy, "blobs/sha256", m.layers[0].digest.slice(7)));
    expect(digestOf(layer)).toBe(m.layers[0].digest);
    const entries = readTar(gunzipSync(layer));
    expect(entries.map((e) => e.name)).toEqual(["plugin.wasm"]);
    expect(sha256Hex(entries[0].data)).toBe(sha256Hex(wasm));
  });

  test("push oci: skopeo sees two layers (runtime config, raw module) and copies the module byte for byte", async () => {
    const layout = join(work, "push-oci-layout");
    await ok("package", wasmFile, "--format", "oci", "--layout", layout, "--root-id", "http_headers");
    const r = await ok("push", layout, `${registry.host}/filters/http-headers:oci`, "--insecure");
    const digest = digestIn(r.out);
    pushed.oci = digest;
    expect(digest).toBe(readLayout(layout).digest);
    const raw = skopeo("inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/filters/http-headers:oci`);
    expect(digestOf(Buffer.from(raw))).toBe(digest);
    const m = JSON.parse(raw);
    expect(m.config.mediaType).toBe("application/vnd.module.wasm.config.v1+json");
    expect(m.layers.map((l: { mediaType: string; annotations: Record<string, string> }) => [l.mediaType, l.annotations["org.opencontainers.image.title"]])).toEqual([
      ["application/vnd.module.wasm.config.v1+json", "runtime-config.json"],
      ["application/vnd.module.wasm.content.layer.v1+wasm", "filter.wasm"],
    ]);
    expect(m.layers[1].digest).toBe(`sha256:${sha256Hex(wasm)}`);

    const copy = join(work, "skopeo-oci");
    skopeo("copy", "--src-tls-verify=false", `docker://${registry.host}/filters/http-headers:oci`, `oci:${copy}:copied`);
    const copied = readFileSync(join(copy, "blobs/sha256", sha256Hex(wasm)));
    expect(copied.equals(wasm)).toBe(true);
    const config = JSON.parse(readFileSync(join(copy, "blobs/sha256", m.config.digest.slice(7)), "utf8"));
    expect(config).toEqual({ type: "envoy_proxy", abi_version: "v0.2.1", config: { root_ids: ["http_headers"] } });
  });

  test("pushing the same image again uploads nothing and gives the same digest", async () => {
    const r = await ok("push", wasmFile, `${registry.host}/filters/http-headers:compat-again`, "--insecure");
    expect(digestIn(r.out)).toBe(pushed.compat);
    expect(r.err).toContain("0 blob(s) uploaded, 2 already present");
  });

  test("pull round trip in istio-agent's three formats: Docker compat (made by skopeo --format v2s2), OCI compat, OCI artifact", async () => {
    // skopeo converts the compat layout to a Docker schema 2 image with Docker media types.
    const tar = join(work, "for-docker.tar");
    await ok("package", wasmFile, "--output", tar);
    skopeo("copy", "--format", "v2s2", "--dest-tls-verify=false", `oci-archive:${tar}`, `docker://${registry.host}/filters/http-headers:docker`);
    const docker = JSON.parse(skopeo("inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/filters/http-headers:docker`));
    expect(docker.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(docker.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(["application/vnd.docker.image.rootfs.diff.tar.gzip"]);

    for (const [tag, format] of [["docker", "docker-compat"], ["compat", "oci-compat"], ["oci", "oci-artifact"]]) {
      const out = join(work, `pulled-${tag}.wasm`);
      const r = await ok("pull", `oci://${registry.host}/filters/http-headers:${tag}`, "--insecure", "--output", out);
      expect(readFileSync(out).equals(wasm)).toBe(true);
      expect(r.out).toContain(`(${format} image oci://${registry.host}/filters/http-headers:${tag})`);
      expect(r.out).toContain(`module sha256    ${sha256Hex(wasm)}`);
      if (pushed[tag]) expect(r.out).toContain(`manifest digest  ${pushed[tag]}`);
    }
  });

  test("checksums: --sha256 is the manifest digest as Istio compares it for oci:// urls; the module's sha256 is explained", async () => {
    const ref = `oci://${registry.host}/filters/http-headers:oci`;
    const out = join(work, "checked.wasm");
    const manifestHex = pushed.oci.slice(7);
    await ok("pull", ref, "--insecure", "--output", out, "--sha256", manifestHex, "--module-sha256", sha256Hex(wasm));

    const moduleSha = await pwas("pull", ref, "--insecure", "--output", out, "--sha256", sha256Hex(wasm));
    expect(moduleSha.code).toBe(1);
    expect(moduleSha.err).toContain(`E_VALIDATION module downloaded from ${ref} has checksum ${manifestHex} (the image manifest digest), which does not match ${sha256Hex(wasm)}`);
    expect(moduleSha.err).toContain(`set sha256 to the manifest digest ${manifestHex}`);

    const wrong = "0".repeat(64);
    const mismatch = await pwas("pull", ref, "--insecure", "--output", out, "--sha256", wrong);
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toMatch(new RegExp(`E_VALIDATION .*has checksum ${manifestHex} .*does not match ${wrong}$`));

    const badModule = await pwas("pull", ref, "--insecure", "--output", out, "--module-sha256", wrong);
    expect(badModule.code).toBe(1);
    expect(badModule.err).toContain(`has sha256 ${sha256Hex(wasm)}, which does not match --module-sha256 ${wrong}`);

    // By digest: served and checked; a digest the registry does not have is not found.
    const pinned = await ok("pull", `oci://${registry.host}/filters/http-headers@${pushed.oci}`, "--insecure", "--output", out);
    expect(pinned.out).toContain(`manifest digest  ${pushed.oci}`);
    const missing = await pwas("pull", `oci://${registry.host}/filters/http-headers@sha256:${wrong}`, "--insecure", "--output", out);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/E_NOT_FOUND .*does not exist in the registry/);
    const conflicting = await pwas("pull", `oci://${registry.host}/filters/http-headers@${pushed.oci}`, "--insecure", "--sha256", wrong);
    expect(conflicting.err).toMatch(/E_USAGE the reference pins .* Istio requires them to match/);
  });

  test("an image in no Wasm format is refused with each format's reason", async () => {
    // A plain OCI image with an uncompressed tar layer: neither compat (not tar+gzip) nor artifact (one layer).
    const { RegistryClient, parseReference, canonicalJson } = await import("../src/oci");
    const ref = parseReference(`${registry.host}/filters/not-wasm:1`);
    const client = new RegistryClient(ref, { insecure: true, actions: "pull,push" });
    const layer = Buffer.from("not a tar");
    const config = Buffer.from("{}");
    for (const b of [layer, config]) await client.uploadBlob(digestOf(b), b);
    await client.putManifest("1", canonicalJson({
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(config), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: digestOf(layer), size: layer.length }],
    }), "application/vnd.oci.image.manifest.v1+json");
    const r = await pwas("pull", `oci://${registry.host}/filters/not-wasm:1`, "--insecure", "--output", join(work, "x.wasm"));
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      "E_VALIDATION the image is not in a Wasm image format: as the compat variant: invalid media type application/vnd.oci.image.layer.v1.tar (expect application/vnd.oci.image.layer.v1.tar+gzip); as the oci variant: number of layers must be 2 but got 1",
    );
  });

  test("an image index resolves to its linux/amd64 image, as istio-agent's library picks it; without one it is refused", async () => {
    const { RegistryClient, parseReference, canonicalJson } = await import("../src/oci");
    const client = new RegistryClient(parseReference(`${registry.host}/filters/http-headers`), { insecure: true, actions: "pull,push" });
    const compat = await client.getManifest(pushed.compat, ["application/vnd.oci.image.manifest.v1+json"]);
    const index = (arch: string) => canonicalJson({
      schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: pushed.compat, size: compat.bytes.length, platform: { architecture: arch, os: "linux" } }],
    });
    await client.putManifest("index", index("amd64"), "application/vnd.oci.image.index.v1+json");
    await client.putManifest("index-arm", index("arm64"), "application/vnd.oci.image.index.v1+json");
    const out = join(work, "from-index.wasm");
    const r = await ok("pull", `oci://${registry.host}/filters/http-headers:index`, "--insecure", "--output", out, "--sha256", pushed.compat.slice(7));
    expect(r.err).toContain(`image index: taking its linux/amd64 image ${pushed.compat}`);
    expect(r.out).toContain(`manifest digest  ${pushed.compat}`);
    expect(readFileSync(out).equals(wasm)).toBe(true);
    const arm = await pwas("pull", `oci://${registry.host}/filters/http-headers:index-arm`, "--insecure", "--output", out);
    expect(arm.code).toBe(1);
    expect(arm.err).toContain("is an image index without a linux/amd64 image, which istio-agent cannot use");
  });

  test("transport rules: https unless --insecure, and --insecure only for loopback registries", async () => {
    const https = await pwas("pull", `oci://${registry.host}/filters/http-headers:oci`, "--output", join(work, "x.wasm"));
    expect(https.code).toBe(1);
    expect(https.err).toMatch(/E_REGISTRY cannot reach https:\/\/127\.0\.0\.1:\d+\/v2\/filters\/http-headers\/manifests\/oci: .*add --insecure/);
    const remote = await pwas("push", wasmFile, "registry.example.com/filters/http-headers:1", "--insecure");
    expect(remote.code).toBe(2);
    expect(remote.err).toContain("E_USAGE --insecure allows plain http only to a registry on this machine (localhost, 127.0.0.1, ::1); registry.example.com must be reached over https");
  });
});

describeWithRegistry("basic auth: docker-registry behind htpasswd", () => {
  let registry: StartedRegistry;
  const auth = { username: "pwas-user", password: "s3cret:with colon" };

  beforeAll(async () => {
    registry = await startRegistry({ auth });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  test("without credentials, and with a wrong password, pushing fails with a sentence that says what to do", async () => {
    const none = await pwas("push", wasmFile, `${registry.host}/private/hh:1`, "--insecure");
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/E_REGISTRY 127\.0\.0\.1:\d+ needs a username and password for blob sha256:[0-9a-f]{64}; pass --username\/--password or --token/);
    const wrong = await pwas("push", wasmFile, `${registry.host}/private/hh:1`, "--insecure", "--username", auth.username, "--password", "nope");
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/E_REGISTRY 127\.0\.0\.1:\d+ refused the credentials from command-line flags/);
  });

  test("credentials from flags and from the environment push and pull", async () => {
    const r = await ok("push", wasmFile, `${registry.host}/private/hh:1`, "--insecure", "--username", auth.username, "--password", auth.password);
    expect(r.err).toContain(`credentials for ${registry.host} from command-line flags`);
    const saved = { u: process.env.PWAS_REGISTRY_USERNAME, p: process.env.PWAS_REGISTRY_PASSWORD };
    process.env.PWAS_REGISTRY_USERNAME = auth.username;
    process.env.PWAS_REGISTRY_PASSWORD = auth.password;
    try {
      const out = join(work, "private-env.wasm");
      const pulled = await ok("pull", `oci://${registry.host}/private/hh:1`, "--insecure", "--output", out);
      expect(pulled.err).toContain(`credentials for ${registry.host} from environment`);
      expect(readFileSync(out).equals(wasm)).toBe(true);
    } finally {
      for (const [k, v] of [["PWAS_REGISTRY_USERNAME", saved.u], ["PWAS_REGISTRY_PASSWORD", saved.p]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    // skopeo, with the same credentials, sees what was pushed.
    const info = JSON.parse(skopeo("inspect", "--tls-verify=false", "--creds", `${auth.username}:${auth.password}`, `docker://${registry.host}/private/hh:1`));
    expect(info.Digest).toBe(digestIn(r.out));
  });

  test("the bundled CLI in its own process reads credentials from $HOME/.docker/config.json", async () => {
    const bundleDir = join(work, "bundle");
    const esbuild = await import("esbuild");
    await esbuild.build({
      entryPoints: [join(ROOT, "src/cli/main.ts")], outfile: join(bundleDir, "pwas.js"), bundle: true, platform: "node", target: "node20",
      format: "cjs", external: ["assemblyscript", "jest", "ts-jest", "testcontainers", "esbuild"], logLevel: "warning",
    });
    const home = join(work, "home");
    mkdirSync(join(home, ".docker"), { recursive: true });
    writeFileSync(join(home, ".docker", "config.json"), JSON.stringify({
      auths: { [registry.host]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString("base64") } },
    }));
    const env = { PATH: process.env.PATH, HOME: home };
    const push = await run(process.execPath, [join(bundleDir, "pwas.js"), "push", wasmFile, `${registry.host}/private/hh:home`, "--format", "oci", "--insecure"], env);
    expect(push.code).toBe(0);
    expect(push.stderr).toContain(`credentials for ${registry.host} from ${join(home, ".docker", "config.json")}`);
    const out = join(work, "private-home.wasm");
    const pull = await run(process.execPath, [join(bundleDir, "pwas.js"), "pull", `oci://${registry.host}/private/hh:home`, "--insecure", "--output", out], env);
    expect(pull.code).toBe(0);
    expect(pull.stdout).toContain(`manifest digest  ${digestIn(push.stdout)}`);
    expect(readFileSync(out).equals(wasm)).toBe(true);
  });
});

/** Runs a process to completion with a timeout; never sleeps. */
async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { env, cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let exit: number | string | undefined;
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  child.on("exit", (code, signal) => (exit = code ?? signal ?? "unknown"));
  try {
    await waitFor(() => exit, { timeoutMs: 60_000, what: `${args.slice(1, 3).join(" ")} to exit` });
  } finally {
    if (exit === undefined) child.kill("SIGKILL");
  }
  return { code: exit!, stdout, stderr };
}

/**
 * A registry stub for the Bearer token flow only: every /v2/ request without a valid token gets a 401
 * challenge naming its token service, which checks basic credentials and the requested scope.
 */
class TokenRegistryStub {
  readonly log: Array<{ method: string; url: string; authorization?: string }> = [];
  private readonly blobs = new Map<string, Buffer>();
  private readonly manifests = new Map<string, { body: Buffer; type: string }>();
  private readonly tokens = new Map<string, string>(); // token → granted scope
  private server!: Server;
  port = 0;

  constructor(private readonly user: string, private readonly password: string) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => this.handle(req, res, Buffer.concat(parts)));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as { port: number }).port;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? "/", `http://${this.host}`);
    this.log.push({ method: req.method ?? "", url: url.pathname + url.search, authorization: req.headers.authorization });
    if (url.pathname === "/token") return this.token(req, res, url);
    const m = /^\/v2\/(.+?)\/(blobs|manifests)\/(uploads\/)?(.*)$/.exec(url.pathname);
    const repo = m?.[1] ?? "";
    const writing = req.method !== "GET" && req.method !== "HEAD";
    const granted = this.tokens.get((req.headers.authorization ?? "").replace(/^Bearer /, ""));
    const needed = `repository:${repo}:${writing ? "pull,push" : "pull"}`;
    if (!granted || !(granted === needed || granted === `repository:${repo}:pull,push`)) {
      res.writeHead(401, { "www-authenticate": `Bearer realm="http://${this.host}/token",service="stub-registry",scope="${needed}"`, "content-type": "application/json" });
      return void res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
    }
    if (!m) return void res.writeHead(200).end("{}");
    const [, , kind, upload, rest] = m;
    if (kind === "blobs" && upload && req.method === "POST") {
      return void res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/session-1?state=x` }).end();
    }
    if (kind === "blobs" && upload && req.method === "PUT") {
      const digest = url.searchParams.get("digest") ?? "";
      if (digestOf(body) !== digest) return void res.writeHead(400).end();
      this.blobs.set(digest, body);
      return void res.writeHead(201, { location: `/v2/${repo}/blobs/${digest}` }).end();
    }
    if (kind === "blobs") {
      const blob = this.blobs.get(rest);
      if (!blob) return void res.writeHead(404).end();
      res.writeHead(200, { "content-length": blob.length, "docker-content-digest": rest });
      return void res.end(req.method === "HEAD" ? undefined : blob);
    }
    if (req.method === "PUT") {
      this.manifests.set(`${repo}:${rest}`, { body, type: req.headers["content-type"] ?? "" });
      this.manifests.set(`${repo}:${digestOf(body)}`, { body, type: req.headers["content-type"] ?? "" });
      return void res.writeHead(201, { "docker-content-digest": digestOf(body) }).end();
    }
    const found = this.manifests.get(`${repo}:${rest}`);
    if (!found) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": found.type, "docker-content-digest": digestOf(found.body) }).end(found.body);
  }

  private token(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const expected = `Basic ${Buffer.from(`${this.user}:${this.password}`).toString("base64")}`;
    if (req.headers.authorization !== expected || url.searchParams.get("service") !== "stub-registry") {
      return void res.writeHead(401, { "content-type": "application/json" }).end('{"details":"bad credentials"}');
    }
    const scopes = url.searchParams.getAll("scope");
    const token = `tok-${this.tokens.size + 1}`;
    // Grants the widest scope asked for (a real token service would check the user's rights).
    this.tokens.set(token, scopes.find((s) => s.endsWith(":pull,push")) ?? scopes[0] ?? "");
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expires_in: 300 }));
  }
}

describe("Bearer token flow (against an in-test registry stub)", () => {
  const stub = new TokenRegistryStub("robot", "p@ss");
  let module: Buffer;

  beforeAll(async () => {
    await stub.start();
    module = wasm;
  });
  afterAll(() => stub.stop());

  test("401 challenge → token from the realm with basic credentials, service and scope → retried with the Bearer token", async () => {
    const file = join(work, "stub.wasm");
    writeFileSync(file, module);
    const r = await ok("push", file, `${stub.host}/team/hh:1`, "--format", "oci", "--insecure", "--username", "robot", "--password", "p@ss");
    const digest = digestIn(r.out);
    const first = stub.log[0];
    expect(first).toMatchObject({ method: "HEAD", authorization: undefined });
    const tokenRequest = stub.log[1];
    expect(tokenRequest.url).toBe(`/token?service=stub-registry&scope=${encodeURIComponent("repository:team/hh:pull,push")}`);
    expect(tokenRequest.authorization).toBe(`Basic ${Buffer.from("robot:p@ss").toString("base64")}`);
    expect(stub.log[2]).toMatchObject({ method: "HEAD", authorization: "Bearer tok-1" });
    // One token for the whole push: every later registry request carries it.
    const later = stub.log.slice(2).filter((e) => e.url.startsWith("/v2/"));
    expect(later.length).toBeGreaterThanOrEqual(5);
    expect(later.every((e) => e.authorization === "Bearer tok-1")).toBe(true);
    expect(stub.log.filter((e) => e.url.startsWith("/token"))).toHaveLength(1);

    const out = join(work, "stub-pulled.wasm");
    const pulled = await ok("pull", `oci://${stub.host}/team/hh@${digest}`, "--insecure", "--output", out, "--username", "robot", "--password", "p@ss");
    expect(readFileSync(out).equals(module)).toBe(true);
    expect(pulled.out).toContain("oci-artifact");
  });

  test("a token given with --token is sent as is; wrong basic credentials are refused by the token service", async () => {
    const file = join(work, "stub.wasm");
    writeFileSync(file, module);
    // tok-1 was granted pull,push on team/hh by the previous test's push.
    const before = stub.log.length;
    const r = await ok("pull", `oci://${stub.host}/team/hh:1`, "--insecure", "--token", "tok-1", "--output", join(work, "stub-token.wasm"));
    expect(r.out).toContain("oci-artifact");
    expect(stub.log.slice(before).every((e) => e.authorization === "Bearer tok-1")).toBe(true);
    const bad = await pwas("push", file, `${stub.host}/team/hh:2`, "--insecure", "--username", "robot", "--password", "wrong");
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/E_REGISTRY the token service http:\/\/127\.0\.0\.1:\d+\/token refused the credentials from command-line flags \(401\)/);
    const anonymous = await pwas("pull", `oci://${stub.host}/team/hh:1`, "--insecure", "--output", join(work, "x.wasm"));
    expect(anonymous.err).toMatch(/E_REGISTRY 127\.0\.0\.1:\d+ needs credentials for manifest 1/);
  });
});
