/**
 * Images of a Wasm module in the two formats `pwas package` writes (both accepted by istio-agent):
 *   compat: an ordinary OCI image, one tar+gzip layer holding plugin.wasm, annotated
 *           module.wasm.image/variant=compat; standard tools (skopeo, crane, registries) handle it;
 *   oci:    the Wasm artifact: two layers, the runtime config JSON (application/vnd.module.wasm.config.v1+json,
 *           title runtime-config.json, also the manifest's config) and the raw module
 *           (application/vnd.module.wasm.content.layer.v1+wasm, title filter.wasm).
 * Every document is canonical JSON and every archive deterministic, so the same module gives the same digests.
 */
import { PwasError } from "../errors";
import { gzipDeterministic, writeTar } from "./archive";
import { canonicalJson, describe, digestOf, sha256Hex, type Descriptor } from "./digest";
import {
  ANNOTATION_ABI_VERSION, ANNOTATION_RUNTIME_TYPE, ANNOTATION_TITLE, ANNOTATION_VARIANT, ARTIFACT_CONFIG_TITLE,
  ARTIFACT_WASM_TITLE, COMPAT_WASM_FILE, OCI_IMAGE_CONFIG, OCI_LAYER_TAR_GZIP, OCI_MANIFEST, RUNTIME_TYPE_ENVOY,
  WASM_CONFIG, WASM_CONTENT_LAYER,
} from "./media-types";

export type ImageFormat = "compat" | "oci";
export const IMAGE_FORMATS: readonly ImageFormat[] = ["compat", "oci"];
export const DEFAULT_FORMAT: ImageFormat = "compat";

/** An image manifest (OCI or Docker schema 2: the same shape). */
export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** An image index (OCI) or manifest list (Docker). */
export interface Index {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** An image held in memory: its manifest exactly as stored and every blob it references. */
export interface Image {
  /** The manifest's bytes: its digest is the image's digest. */
  manifest: Buffer;
  /** The manifest's media type (the Content-Type a registry stores it under). */
  mediaType: string;
  digest: string;
  /** Config and layer blobs by digest. */
  blobs: Map<string, Buffer>;
}

export interface PackageOptions {
  format?: ImageFormat;
  /**
   * root_ids for the artifact variant's runtime config: the root contexts the module registers. Empty
   * (the default) when the module's root context answers any root_id, as `registerRootContext(f)` does.
   */
  rootIds?: string[];
}

export function parseFormat(value: string | undefined): ImageFormat {
  if (value === undefined) return DEFAULT_FORMAT;
  if ((IMAGE_FORMATS as readonly string[]).includes(value)) return value as ImageFormat;
  throw new PwasError("E_USAGE", `unknown image format "${value}": use ${IMAGE_FORMATS.join(" or ")}`);
}

/** Builds the image of `wasm` in the chosen format. The module must be a proxy-wasm module. */
export function packageModule(wasm: Buffer, opts: PackageOptions = {}): Image {
  const abiVersion = proxyWasmAbiVersion(wasm);
  const format = opts.format ?? DEFAULT_FORMAT;
  return format === "oci" ? artifactImage(wasm, abiVersion, opts.rootIds ?? []) : compatImage(wasm);
}

function compatImage(wasm: Buffer): Image {
  const tar = writeTar([{ name: COMPAT_WASM_FILE, data: wasm }]);
  const layer = gzipDeterministic(tar);
  // A minimal valid image config: tools that convert or inspect images (skopeo copy --format v2s2) need
  // rootfs.diff_ids; no "created" time, so that the digest does not change between builds.
  const config = canonicalJson({
    architecture: "wasm",
    os: "wasip1",
    config: {},
    rootfs: { type: "layers", diff_ids: [`sha256:${sha256Hex(tar)}`] },
  });
  return assemble(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: describe(OCI_IMAGE_CONFIG, config),
      layers: [describe(OCI_LAYER_TAR_GZIP, layer)],
      annotations: { [ANNOTATION_VARIANT]: "compat" },
    },
    [config, layer],
  );
}

function artifactImage(wasm: Buffer, abiVersion: string, rootIds: string[]): Image {
  const runtimeConfig = canonicalJson({ type: RUNTIME_TYPE_ENVOY, abi_version: abiVersion, config: { root_ids: rootIds } });
  const configDesc = describe(WASM_CONFIG, runtimeConfig, { [ANNOTATION_TITLE]: ARTIFACT_CONFIG_TITLE });
  return assemble(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: configDesc,
      // istio-agent reads exactly two layers and takes the one with the Wasm content media type.
      layers: [configDesc, describe(WASM_CONTENT_LAYER, wasm, { [ANNOTATION_TITLE]: ARTIFACT_WASM_TITLE })],
      annotations: { [ANNOTATION_RUNTIME_TYPE]: RUNTIME_TYPE_ENVOY, [ANNOTATION_ABI_VERSION]: abiVersion },
    },
    [runtimeConfig, wasm],
  );
}

function assemble(manifest: Manifest, blobs: Buffer[]): Image {
  const bytes = canonicalJson(manifest);
  return { manifest: bytes, mediaType: manifest.mediaType!, digest: digestOf(bytes), blobs: new Map(blobs.map((b) => [digestOf(b), b])) };
}

/** Parses manifest bytes; throws E_VALIDATION when they are not a manifest. */
export function parseManifest(bytes: Buffer, what: string): Manifest {
  let doc: Partial<Manifest>;
  try {
    doc = JSON.parse(bytes.toString("utf8")) as Partial<Manifest>;
  } catch (err) {
    throw new PwasError("E_VALIDATION", `${what} is not JSON: ${(err as Error).message}`);
  }
  if (doc.schemaVersion !== 2 || !doc.config || !Array.isArray(doc.layers)) {
    throw new PwasError("E_VALIDATION", `${what} is not an image manifest (schemaVersion 2 with config and layers)`);
  }
  return doc as Manifest;
}

/** The descriptors an image's manifest references, config first. */
export function referencedBlobs(image: Image): Descriptor[] {
  const m = parseManifest(image.manifest, `manifest ${image.digest}`);
  const seen = new Set<string>();
  return [m.config, ...m.layers].filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
}

const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

/** True when `data` starts like a Wasm binary (magic and version: the check istio-agent makes). */
export function looksLikeWasm(data: Buffer): boolean {
  return data.length >= 8 && data.subarray(0, 4).equals(WASM_MAGIC);
}

/**
 * The proxy-wasm ABI version a module declares with its `proxy_abi_version_X_Y_Z` export, as "vX.Y.Z".
 * Throws E_VALIDATION for a file that is not a Wasm module and E_ABI for one that is not a proxy-wasm module.
 */
export function proxyWasmAbiVersion(wasm: Buffer): string {
  if (!looksLikeWasm(wasm)) throw new PwasError("E_VALIDATION", "not a Wasm module: the file does not start with the Wasm magic number");
  let exports: WebAssembly.ModuleExportDescriptor[];
  try {
    exports = WebAssembly.Module.exports(new WebAssembly.Module(new Uint8Array(wasm)));
  } catch (err) {
    throw new PwasError("E_VALIDATION", `not a valid Wasm module: ${(err as Error).message}`);
  }
  for (const e of exports) {
    const m = /^proxy_abi_version_(\d+)_(\d+)_(\d+)$/.exec(e.name);
    if (m) return `v${m[1]}.${m[2]}.${m[3]}`;
  }
  throw new PwasError("E_ABI", "not a proxy-wasm module: it exports no proxy_abi_version_* function (was it built with `pwas build`?)");
}
