// OCI core without a registry: archives, image formats, layouts, references, credentials, challenges and
// istio-agent's extraction rules on hand-made manifests.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  canonicalJson, digestOf, extractModule, gzipDeterministic, layoutTar, packageModule, parseChallenge, parseManifest,
  parseReference, readLayout, readTar, resolveCredentials, sha256Hex, writeLayout, writeTar, isLoopbackHost,
  DOCKER_LAYER_TAR_GZIP, DOCKER_MANIFEST, OCI_LAYER_TAR_GZIP, OCI_MANIFEST, WASM_CONFIG, WASM_CONTENT_LAYER, type Descriptor, type Manifest,
} from ".";
import { PwasError } from "../errors";

/** The smallest proxy-wasm-looking module: one exported function proxy_abi_version_0_2_1. */
const MODULE = Buffer.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
  0x03, 0x02, 0x01, 0x00, // function section
  0x07, 0x1b, 0x01, 0x17, ...Buffer.from("proxy_abi_version_0_2_1"), 0x00, 0x00, // export section
  0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code section
]);

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "pwas-oci-unit-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function pwasError(fn: () => unknown): PwasError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PwasError) return err;
    throw err;
  }
  throw new Error("expected a PwasError");
}

describe("archives", () => {
  test("tar: entries round-trip, with fixed metadata and a valid ustar header", () => {
    const tar = writeTar([{ name: "d/" }, { name: "d/a.txt", data: Buffer.from("hello") }, { name: "empty" }, { name: "x".repeat(60) + "/" + "y".repeat(60), data: Buffer.from("long") }]);
    expect(tar.length % 512).toBe(0);
    expect(tar.subarray(257, 263).toString("binary")).toBe("ustar\u0000");
    const entries = readTar(tar);
    expect(entries.map((e) => [e.name, e.type, e.data.toString()])).toEqual([
      ["d/", "dir", ""], ["d/a.txt", "file", "hello"], ["empty", "file", ""], ["x".repeat(60) + "/" + "y".repeat(60), "file", "long"],
    ]);
    expect(tar.subarray(512 + 136, 512 + 147).toString("ascii")).toBe("00000000000"); // mtime 0
    expect(writeTar([{ name: "a", data: Buffer.from("1") }]).equals(writeTar([{ name: "a", data: Buffer.from("1") }]))).toBe(true);
  });

  test("tar: a corrupt header is refused", () => {
    const tar = writeTar([{ name: "a", data: Buffer.from("1") }]);
    tar[0] = 0x62;
    expect(pwasError(() => readTar(tar)).message).toMatch(/bad header checksum/);
  });

  test("gzip: header has mtime 0, no name, OS 255, and decompresses to the input", () => {
    const gz = gzipDeterministic(Buffer.from("payload"));
    expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
    expect(gunzipSync(gz).toString()).toBe("payload");
  });

  test("canonical JSON sorts keys at every level", () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 3 } }).toString()).toBe('{"a":{"c":3,"d":[{"y":2,"z":1}]},"b":1}');
  });
});

describe("image formats", () => {
  test("compat: one tar+gzip layer holding plugin.wasm, the variant annotation, an image config with its diff_id", () => {
    const image = packageModule(MODULE, { format: "compat" });
    const m = parseManifest(image.manifest, "m");
    expect(m.mediaType).toBe(OCI_MANIFEST);
    expect(m.annotations).toEqual({ "module.wasm.image/variant": "compat" });
    expect(m.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    expect(m.layers.map((l) => l.mediaType)).toEqual([OCI_LAYER_TAR_GZIP]);
    const tar = gunzipSync(image.blobs.get(m.layers[0].digest)!);
    expect(readTar(tar).map((e) => [e.name, e.data.equals(MODULE)])).toEqual([["plugin.wasm", true]]);
    const config = JSON.parse(image.blobs.get(m.config.digest)!.toString());
    expect(config.rootfs).toEqual({ type: "layers", diff_ids: [`sha256:${sha256Hex(tar)}`] });
    expect(config.created).toBeUndefined();
    expect(image.digest).toBe(digestOf(image.manifest));
  });

  test("oci: runtime config and raw module layers, titled, the config also the manifest's config", () => {
    const image = packageModule(MODULE, { format: "oci", rootIds: ["my_root"] });
    const m = parseManifest(image.manifest, "m");
    expect(m.layers.map((l) => [l.mediaType, l.annotations?.["org.opencontainers.image.title"]])).toEqual([
      [WASM_CONFIG, "runtime-config.json"], [WASM_CONTENT_LAYER, "filter.wasm"],
    ]);
    expect(m.config).toEqual(m.layers[0]);
    expect(JSON.parse(image.blobs.get(m.config.digest)!.toString())).toEqual({ type: "envoy_proxy", abi_version: "v0.2.1", config: { root_ids: ["my_root"] } });
    expect(image.blobs.get(m.layers[1].digest)!.equals(MODULE)).toBe(true);
  });

  test("the same module gives the same digests; a different one does not", () => {
    for (const format of ["compat", "oci"] as const) {
      expect(packageModule(MODULE, { format }).digest).toBe(packageModule(Buffer.from(MODULE), { format }).digest);
      expect(layoutTar(packageModule(MODULE, { format })).equals(layoutTar(packageModule(MODULE, { format })))).toBe(true);
    }
    const other = Buffer.from(MODULE);
    other[other.indexOf("0_2_1") + 4] = "2".charCodeAt(0); // another module: exports proxy_abi_version_0_2_2
    for (const format of ["compat", "oci"] as const) expect(packageModule(other, { format }).digest).not.toBe(packageModule(MODULE, { format }).digest);
    expect(JSON.parse(packageModule(other, { format: "oci" }).blobs.get(digestOf(canonicalJson({ abi_version: "v0.2.2", config: { root_ids: [] }, type: "envoy_proxy" })))!.toString()).abi_version).toBe("v0.2.2");
  });

  test("refuses modules that are not proxy-wasm modules", () => {
    const other = Buffer.from(MODULE);
    other[other.indexOf("proxy_abi")] = "q".charCodeAt(0);
    expect(pwasError(() => packageModule(other)).code).toBe("E_ABI");
  });

  test("refuses files that are not Wasm", () => {
    expect(pwasError(() => packageModule(Buffer.from("not wasm at all"))).code).toBe("E_VALIDATION");
  });
});

describe("image layouts", () => {
  test("a layout folder and a layout tar read back as the same image", () => {
    const image = packageModule(MODULE, { format: "oci" });
    writeLayout(image, join(dir, "layout"), "v1");
    writeFileSync(join(dir, "image.tar"), layoutTar(image, "v1"));
    for (const p of [join(dir, "layout"), join(dir, "image.tar")]) {
      const back = readLayout(p);
      expect(back.digest).toBe(image.digest);
      expect(back.manifest.equals(image.manifest)).toBe(true);
      expect([...back.blobs.keys()].sort()).toEqual([...image.blobs.keys()].sort());
    }
    const index = JSON.parse(readFileSync(join(dir, "layout", "index.json"), "utf8"));
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("v1");
    expect(readFileSync(join(dir, "layout", "oci-layout"), "utf8")).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(() => readLayout(join(dir, "layout"), "v2")).toThrow(/no image tagged "v2"/);
  });

  test("a corrupt blob is refused by digest", () => {
    const image = packageModule(MODULE, { format: "oci" });
    writeLayout(image, join(dir, "layout"));
    writeFileSync(join(dir, "layout", "blobs", "sha256", sha256Hex(MODULE)), Buffer.concat([MODULE, Buffer.from([0])]));
    expect(() => readLayout(join(dir, "layout"))).toThrow(/does not match its digest/);
  });

  test("refuses to write into a folder that is not a layout", () => {
    mkdirSync(join(dir, "busy"));
    writeFileSync(join(dir, "busy", "file"), "x");
    expect(() => writeLayout(packageModule(MODULE), join(dir, "busy"))).toThrow(/not an OCI image layout/);
  });
});

describe("references", () => {
  test.each([
    ["oci://ghcr.io/acme/fault:1.0", { registry: "ghcr.io", apiHost: "ghcr.io", repository: "acme/fault", tag: "1.0" }],
    ["127.0.0.1:5000/a/b", { registry: "127.0.0.1:5000", repository: "a/b", tag: "latest" }],
    ["localhost/x@sha256:" + "a".repeat(64), { registry: "localhost", repository: "x", digest: "sha256:" + "a".repeat(64), tag: undefined }],
    ["fault:2", { registry: "docker.io", apiHost: "registry-1.docker.io", repository: "library/fault", tag: "2" }],
    ["acme/fault", { registry: "docker.io", repository: "acme/fault", tag: "latest" }],
  ])("%s", (text, expected) => {
    expect(parseReference(text)).toMatchObject(expected);
  });

  test("refuses other schemes, bad digests and upper-case repositories", () => {
    expect(() => parseReference("https://example.com/x.wasm")).toThrow(/only oci:\/\//);
    expect(() => parseReference("r.io/x@sha256:abc")).toThrow(/64 lowercase hex/);
    expect(() => parseReference("r.io/Fault:1")).toThrow(/lowercase/);
  });

  test("loopback hosts", () => {
    expect(["localhost:5000", "127.0.0.1:1", "127.9.9.9", "[::1]:5000"].every(isLoopbackHost)).toBe(true);
    expect(["example.com", "10.0.0.1:5000", "128.0.0.1", "localhost.example.com"].some(isLoopbackHost)).toBe(false);
  });
});

describe("credentials", () => {
  const dockerConfig = (auths: object) => {
    mkdirSync(join(dir, ".docker"), { recursive: true });
    writeFileSync(join(dir, ".docker", "config.json"), JSON.stringify(auths));
  };

  test("flags, then environment, then ~/.docker/config.json", () => {
    dockerConfig({ auths: { "https://r.io": { auth: Buffer.from("fileuser:file:pass").toString("base64") } } });
    const env = { HOME: dir, PWAS_REGISTRY_USERNAME: "envuser", PWAS_REGISTRY_PASSWORD: "envpass" };
    expect(resolveCredentials("r.io", { username: "u", password: "p" }, env)).toMatchObject({ kind: "basic", username: "u", password: "p" });
    expect(resolveCredentials("r.io", {}, env)).toMatchObject({ kind: "basic", username: "envuser", source: "environment" });
    expect(resolveCredentials("r.io", {}, { HOME: dir })).toMatchObject({ kind: "basic", username: "fileuser", password: "file:pass" });
    expect(resolveCredentials("other.io", {}, { HOME: dir })).toEqual({ kind: "anonymous" });
    expect(resolveCredentials("r.io", { token: "t" }, env)).toMatchObject({ kind: "token", token: "t" });
  });

  test("DOCKER_CONFIG, Docker Hub's key, and a credential helper explained", () => {
    dockerConfig({ auths: { "https://index.docker.io/v1/": { username: "hub", password: "pw" } }, credHelpers: { "gcr.io": "gcloud" } });
    expect(resolveCredentials("docker.io", {}, { DOCKER_CONFIG: join(dir, ".docker") })).toMatchObject({ kind: "basic", username: "hub" });
    const c = resolveCredentials("gcr.io", {}, { HOME: dir });
    expect(c.kind === "anonymous" && c.hint).toMatch(/credential helper "gcloud"/);
  });

  test("half a pair is a usage error", () => {
    expect(pwasError(() => resolveCredentials("r.io", { username: "u" }, {})).code).toBe("E_USAGE");
    expect(() => resolveCredentials("r.io", {}, { PWAS_REGISTRY_TOKEN: "t", PWAS_REGISTRY_USERNAME: "u" })).toThrow(/not both/);
  });
});

test("WWW-Authenticate challenges: quoted values with commas, bare values, scheme case", () => {
  expect(parseChallenge('Bearer realm="https://auth.io/token",service="reg.io",scope="repository:a/b:pull,push"')).toEqual({
    scheme: "bearer", params: { realm: "https://auth.io/token", service: "reg.io", scope: "repository:a/b:pull,push" },
  });
  expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: "basic", params: { realm: "x" } });
  expect(parseChallenge(null)).toBeUndefined();
});

describe("istio-agent's extraction rules", () => {
  const blobs = new Map<string, Buffer>();
  const add = (mediaType: string, data: Buffer): Descriptor => {
    blobs.set(digestOf(data), data);
    return { mediaType, digest: digestOf(data), size: data.length };
  };
  const get = async (d: Descriptor) => blobs.get(d.digest)!;
  const tgz = (files: Record<string, Buffer>) => gzipDeterministic(writeTar(Object.entries(files).map(([name, data]) => ({ name, data }))));
  const config = add("application/vnd.oci.image.config.v1+json", Buffer.from("{}"));
  const manifest = (layers: Descriptor[], mediaType = OCI_MANIFEST): Manifest => ({ schemaVersion: 2, mediaType, config, layers });

  test("Docker schema 2: the last layer's plugin.wasm, found by base name", async () => {
    const m = manifest([add(DOCKER_LAYER_TAR_GZIP, tgz({ "other.txt": Buffer.from("x") })), add(DOCKER_LAYER_TAR_GZIP, tgz({ "a/b/plugin.wasm": MODULE }))], DOCKER_MANIFEST);
    expect(await extractModule(m, get)).toEqual({ module: MODULE, format: "docker-compat" });
  });

  test("Docker schema 2 is not tried as OCI: an OCI layer in it fails", async () => {
    const m = manifest([add(OCI_LAYER_TAR_GZIP, tgz({ "plugin.wasm": MODULE }))], DOCKER_MANIFEST);
    await expect(extractModule(m, get)).rejects.toThrow(/as a Docker image: invalid media type application\/vnd.oci.image.layer.v1.tar\+gzip/);
  });

  test("OCI compat wins over the artifact reading; the artifact needs exactly two layers", async () => {
    expect((await extractModule(manifest([add(OCI_LAYER_TAR_GZIP, tgz({ "plugin.wasm": MODULE }))]), get)).format).toBe("oci-compat");
    const artifact = [add(WASM_CONFIG, Buffer.from("{}")), add(WASM_CONTENT_LAYER, MODULE)];
    expect(await extractModule(manifest(artifact), get)).toEqual({ module: MODULE, format: "oci-artifact" });
    await expect(extractModule(manifest([...artifact, add(WASM_CONFIG, Buffer.from("[]"))]), get)).rejects.toThrow(
      /as the compat variant: invalid media type application\/vnd.module.wasm.config.v1\+json .*; as the oci variant: number of layers must be 2 but got 3/,
    );
  });

  test("a compat layer without plugin.wasm, and a module without the Wasm magic, are refused", async () => {
    await expect(extractModule(manifest([add(OCI_LAYER_TAR_GZIP, tgz({ "filter.wasm": MODULE }))]), get)).rejects.toThrow(/plugin.wasm not found/);
    await expect(extractModule(manifest([add(WASM_CONFIG, Buffer.from("{}")), add(WASM_CONTENT_LAYER, Buffer.from("notwasm!!"))]), get)).rejects.toThrow(/not a Wasm binary/);
  });
});
