/**
 * OCI image layouts: a folder (oci-layout, index.json, blobs/sha256/<hex>) or the same tree as a tar.
 * Writing is deterministic (canonical JSON, fixed tar metadata, sorted blobs); reading checks every digest.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PwasError } from "../errors";
import { readTar, writeTar, type TarEntry } from "./archive";
import { canonicalJson, digestOf, isDigest, type Descriptor } from "./digest";
import { parseManifest, type Image, type Index } from "./image";
import { ANNOTATION_REF_NAME, OCI_INDEX } from "./media-types";

export const LAYOUT_MARKER = "oci-layout";
export const DEFAULT_TAG = "latest";

/** The files of a layout holding one image tagged `tag`, in archive order. */
export function layoutEntries(image: Image, tag = DEFAULT_TAG): TarEntry[] {
  const index: Index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: image.mediaType, digest: image.digest, size: image.manifest.length, annotations: { [ANNOTATION_REF_NAME]: tag } }],
  };
  const blobs = new Map(image.blobs);
  blobs.set(image.digest, image.manifest);
  const sorted = [...blobs.keys()].sort();
  return [
    { name: LAYOUT_MARKER, data: canonicalJson({ imageLayoutVersion: "1.0.0" }) },
    { name: "index.json", data: canonicalJson(index) },
    { name: "blobs/" },
    { name: "blobs/sha256/" },
    ...sorted.map((d) => ({ name: `blobs/sha256/${d.slice("sha256:".length)}`, data: blobs.get(d)! })),
  ];
}

/** The layout as a tar archive (what `skopeo copy oci-archive:<file>` and `pwas push <file>` read). */
export function layoutTar(image: Image, tag = DEFAULT_TAG): Buffer {
  return writeTar(layoutEntries(image, tag));
}

/**
 * Writes the layout into `dir`, which must be missing, empty, or a layout already (its index.json is then
 * replaced, so it names only this image; blobs already there stay).
 */
export function writeLayout(image: Image, dir: string, tag = DEFAULT_TAG): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new PwasError("E_USAGE", `${dir} exists and is not a folder`);
    if (readdirSync(dir).length > 0 && !existsSync(join(dir, LAYOUT_MARKER))) {
      throw new PwasError("E_USAGE", `${dir} is not empty and not an OCI image layout; choose another --layout folder`);
    }
  }
  mkdirSync(dir, { recursive: true });
  for (const e of layoutEntries(image, tag)) {
    const path = join(dir, e.name);
    if (e.data === undefined) mkdirSync(path, { recursive: true });
    else writeFileSync(path, e.data);
  }
}

/** True when `path` is a layout folder (it has an oci-layout file). */
export function isLayoutDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, LAYOUT_MARKER));
}

/**
 * Reads one image from a layout folder or tar: the one tagged `tag`, else the only one. Every blob the
 * manifest references must be present with the right digest.
 */
export function readLayout(path: string, tag?: string): Image {
  const files = statSync(path).isDirectory() ? dirReader(path) : tarReader(path);
  const marker = files.get(LAYOUT_MARKER);
  if (!marker) throw new PwasError("E_VALIDATION", `${path} is not an OCI image layout: it has no ${LAYOUT_MARKER} file`);
  const indexBytes = files.get("index.json");
  if (!indexBytes) throw new PwasError("E_VALIDATION", `${path} is not an OCI image layout: it has no index.json`);
  let index: Index;
  try {
    index = JSON.parse(indexBytes.toString("utf8")) as Index;
  } catch (err) {
    throw new PwasError("E_VALIDATION", `${path}/index.json is not JSON: ${(err as Error).message}`);
  }
  const manifests = Array.isArray(index.manifests) ? index.manifests : [];
  const chosen = pick(manifests, tag, path);
  const blob = (d: Descriptor, what: string): Buffer => {
    if (!isDigest(d.digest)) throw new PwasError("E_VALIDATION", `${path}: ${what} has an unsupported digest ${d.digest} (only sha256)`);
    const data = files.get(`blobs/sha256/${d.digest.slice(7)}`);
    if (!data) throw new PwasError("E_VALIDATION", `${path}: ${what} ${d.digest} is missing from blobs/sha256/`);
    if (digestOf(data) !== d.digest) throw new PwasError("E_VALIDATION", `${path}: blob ${d.digest} does not match its digest (corrupt layout)`);
    return data;
  };
  const manifest = blob(chosen, "the manifest");
  const parsed = parseManifest(manifest, `${path}: manifest ${chosen.digest}`);
  const blobs = new Map<string, Buffer>();
  for (const d of [parsed.config, ...parsed.layers]) blobs.set(d.digest, blob(d, d === parsed.config ? "the config" : "a layer"));
  return { manifest, mediaType: parsed.mediaType ?? chosen.mediaType, digest: chosen.digest, blobs };
}

function pick(manifests: Descriptor[], tag: string | undefined, path: string): Descriptor {
  const names = manifests.map((m) => m.annotations?.[ANNOTATION_REF_NAME] ?? "(untagged)");
  if (tag !== undefined) {
    const found = manifests.find((m) => m.annotations?.[ANNOTATION_REF_NAME] === tag);
    if (!found) throw new PwasError("E_NOT_FOUND", `${path} has no image tagged "${tag}" (it has: ${names.join(", ") || "none"})`);
    return found;
  }
  if (manifests.length !== 1) {
    throw new PwasError("E_USAGE", `${path} holds ${manifests.length} images (${names.join(", ") || "none"}); name one with <layout>:<tag>`);
  }
  return manifests[0];
}

/** Lazily reads files of a layout folder by their layout-relative path. */
function dirReader(dir: string): { get(name: string): Buffer | undefined } {
  return {
    get(name) {
      const p = join(dir, ...name.split("/"));
      return existsSync(p) && statSync(p).isFile() ? readFileSync(p) : undefined;
    },
  };
}

function tarReader(file: string): { get(name: string): Buffer | undefined } {
  const files = new Map<string, Buffer>();
  for (const e of readTar(readFileSync(file))) {
    if (e.type === "file") files.set(e.name.replace(/^\.\//, ""), e.data);
  }
  return files;
}
