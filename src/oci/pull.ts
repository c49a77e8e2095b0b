/**
 * Fetching a Wasm module from a registry the way istio-agent does (pkg/wasm/imagefetcher.go):
 *   - a manifest whose mediaType is Docker's schema 2: the last layer must be
 *     application/vnd.docker.image.rootfs.diff.tar.gzip, a tar.gz holding plugin.wasm;
 *   - otherwise the OCI compat variant: the last layer application/vnd.oci.image.layer.v1.tar+gzip holding plugin.wasm;
 *   - otherwise the OCI Wasm artifact: exactly two layers, the module being the one of media type
 *     application/vnd.module.wasm.content.layer.v1+wasm, raw;
 * and then the module must start with the Wasm magic number. An image index resolves to its linux/amd64
 * entry, as go-containerregistry's default platform does.
 * Checksums follow istio-agent too: for an oci:// url, WasmPlugin.spec.sha256 is compared with the image's
 * manifest digest (not with the module's own sha256, which is what it compares for http(s):// urls).
 */
import { PwasError } from "../errors";
import { gunzip, readTar } from "./archive";
import { RegistryClient } from "./client";
import { sha256Hex, type Descriptor } from "./digest";
import { looksLikeWasm, parseManifest, type Index, type Manifest } from "./image";
import {
  COMPAT_WASM_FILE, DOCKER_LAYER_TAR_GZIP, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_LAYER_TAR_GZIP,
  OCI_MANIFEST, WASM_CONTENT_LAYER,
} from "./media-types";
import type { RegistryOptions } from "./push";
import { formatReference, type ImageReference } from "./reference";

/** Which of istio-agent's three formats the image was read as. */
export type PulledFormat = "docker-compat" | "oci-compat" | "oci-artifact";

export interface PullOptions extends RegistryOptions {
  /** 64 hex digits: what WasmPlugin.spec.sha256 would hold for this oci:// url (the manifest digest). */
  sha256?: string;
  /** 64 hex digits: the sha256 of the module itself. */
  moduleSha256?: string;
}

export interface PullResult {
  module: Buffer;
  /** sha256 of the module, hex. */
  moduleSha256: string;
  /** The image manifest's digest, "sha256:<hex>" (istio-agent's checksum for oci:// urls). */
  manifestDigest: string;
  format: PulledFormat;
}

const ACCEPT = [DOCKER_MANIFEST, OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_LIST];
const HEX64 = /^[0-9a-f]{64}$/;

export async function pullModule(ref: ImageReference, opts: PullOptions = {}): Promise<PullResult> {
  for (const [flag, value] of [["--sha256", opts.sha256], ["--module-sha256", opts.moduleSha256]] as const) {
    if (value !== undefined && !HEX64.test(value)) throw new PwasError("E_USAGE", `${flag} takes 64 lowercase hex digits, got "${value}"`);
  }
  if (opts.sha256 && ref.digest && ref.digest !== `sha256:${opts.sha256}`) {
    throw new PwasError("E_USAGE", `the reference pins ${ref.digest} but --sha256 is ${opts.sha256}: Istio requires them to match`);
  }
  const progress = opts.progress ?? (() => undefined);
  const client = new RegistryClient(ref, { insecure: opts.insecure, credentials: opts.credentials, actions: "pull", signal: opts.signal });
  progress(`fetching manifest of ${formatReference(ref)}`);
  let fetched = await client.getManifest(ref.digest ?? ref.tag!, ACCEPT);
  const doc = parseJson(fetched.bytes, `the manifest of ${formatReference(ref)}`);
  if (isIndex(doc, fetched.contentType)) {
    const child = choosePlatform(doc as unknown as Index, formatReference(ref));
    progress(`image index: taking its linux/amd64 image ${child.digest}`);
    fetched = await client.getManifest(child.digest, ACCEPT);
  }
  const manifest = parseManifest(fetched.bytes, `the manifest of ${formatReference(ref)}`);
  const manifestHex = fetched.digest.slice("sha256:".length);
  const where = `oci://${formatReference(ref)}`;
  const { module, format } = await extractModule(manifest, (d) => {
    progress(`fetching layer ${d.digest.slice(0, 19)} (${d.mediaType}, ${d.size} bytes)`);
    return client.getBlob(d.digest);
  });
  const moduleSha256 = sha256Hex(module);
  if (opts.sha256 && opts.sha256 !== manifestHex) {
    // istio-agent stops here, before fetching layers; pwas fetches them to tell the common mix-up apart.
    const hint = opts.sha256 === moduleSha256
      ? `: ${opts.sha256} is the sha256 of the module itself, which Istio compares only for http(s):// urls; for this oci:// url set sha256 to the manifest digest ${manifestHex}`
      : "";
    throw new PwasError("E_VALIDATION", `module downloaded from ${where} has checksum ${manifestHex} (the image manifest digest), which does not match ${opts.sha256}${hint}`);
  }
  if (opts.moduleSha256 && opts.moduleSha256 !== moduleSha256) {
    throw new PwasError("E_VALIDATION", `the module in ${where} has sha256 ${moduleSha256}, which does not match --module-sha256 ${opts.moduleSha256}`);
  }
  return { module, moduleSha256, manifestDigest: fetched.digest, format };
}

/**
 * istio-agent's extraction rules on a manifest, with `blob` fetching (and checking) a layer. The module is
 * also checked to start like a Wasm binary. Throws E_VALIDATION with every format's reason on failure.
 */
export async function extractModule(manifest: Manifest, blob: (d: Descriptor) => Promise<Buffer>): Promise<{ module: Buffer; format: PulledFormat }> {
  const layers = manifest.layers;
  let module: Buffer;
  let format: PulledFormat;
  if (manifest.mediaType === DOCKER_MANIFEST) {
    // Docker images go only this way: istio-agent does not try the OCI variants on them.
    const last = lastLayer(layers, DOCKER_LAYER_TAR_GZIP);
    if (typeof last === "string") throw new PwasError("E_VALIDATION", `the image is not in a Wasm image format: as a Docker image: ${last}`);
    module = pluginWasm(await blob(last), last);
    format = "docker-compat";
  } else {
    const last = lastLayer(layers, OCI_LAYER_TAR_GZIP);
    const artifact = layers.length !== 2 ? `number of layers must be 2 but got ${layers.length}` : layers.find((l) => l.mediaType === WASM_CONTENT_LAYER) ?? `no layer of type ${WASM_CONTENT_LAYER}`;
    if (typeof last !== "string") {
      module = pluginWasm(await blob(last), last);
      format = "oci-compat";
    } else if (typeof artifact !== "string") {
      module = await blob(artifact);
      format = "oci-artifact";
    } else {
      throw new PwasError("E_VALIDATION", `the image is not in a Wasm image format: as the compat variant: ${last}; as the oci variant: ${artifact}`);
    }
  }
  if (!looksLikeWasm(module)) throw new PwasError("E_VALIDATION", `the image's ${format} module is not a Wasm binary (no Wasm magic number)`);
  return { module, format };
}

function lastLayer(layers: Descriptor[], mediaType: string): Descriptor | string {
  if (layers.length === 0) return "number of layers must be greater than zero";
  const last = layers[layers.length - 1];
  return last.mediaType === mediaType ? last : `invalid media type ${last.mediaType} (expect ${mediaType})`;
}

/** The first tar entry whose base name is plugin.wasm, as istio-agent reads the compat layer. */
function pluginWasm(layer: Buffer, d: Descriptor): Buffer {
  const entries = readTar(gunzip(layer, `layer ${d.digest}`));
  const found = entries.find((e) => e.name.split("/").pop() === COMPAT_WASM_FILE);
  if (!found) throw new PwasError("E_VALIDATION", `${COMPAT_WASM_FILE} not found in layer ${d.digest}`);
  return found.data;
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    return JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new PwasError("E_VALIDATION", `${what} is not JSON: ${(err as Error).message}`);
  }
}

function isIndex(doc: Record<string, unknown>, contentType: string): boolean {
  const mt = typeof doc.mediaType === "string" ? doc.mediaType : contentType;
  return mt === OCI_INDEX || mt === DOCKER_MANIFEST_LIST || (Array.isArray(doc.manifests) && !("layers" in doc));
}

function choosePlatform(index: Index, what: string): Descriptor {
  const found = (index.manifests ?? []).find((m) => m.platform?.os === "linux" && m.platform?.architecture === "amd64");
  if (!found) throw new PwasError("E_VALIDATION", `${what} is an image index without a linux/amd64 image, which istio-agent cannot use; push a single image instead`);
  return found;
}
