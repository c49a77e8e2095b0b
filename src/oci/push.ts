/** Pushing an image: blobs the registry lacks (HEAD, then POST + PUT), then the manifest under its tag. */
import { PwasError } from "../errors";
import { RegistryClient } from "./client";
import type { Credentials } from "./credentials";
import { referencedBlobs, type Image } from "./image";
import { formatReference, type ImageReference } from "./reference";

export interface RegistryOptions {
  /** Plain http to a loopback registry. */
  insecure?: boolean;
  credentials?: Credentials;
  signal?: AbortSignal;
  progress?(step: string): void;
}

export interface PushResult {
  /** The manifest digest, "sha256:<hex>": what oci://<registry>/<repo>@<digest> and WasmPlugin sha256 pin. */
  digest: string;
  /** <registry>/<repo>@<digest>. */
  pinned: string;
  uploaded: number;
  alreadyPresent: number;
}

export async function pushImage(image: Image, ref: ImageReference, opts: RegistryOptions = {}): Promise<PushResult> {
  if (ref.digest && ref.digest !== image.digest) {
    throw new PwasError("E_USAGE", `${formatReference(ref)} names digest ${ref.digest}, but the image's manifest is ${image.digest}`);
  }
  const client = new RegistryClient(ref, { insecure: opts.insecure, credentials: opts.credentials, actions: "pull,push", signal: opts.signal });
  const progress = opts.progress ?? (() => undefined);
  let uploaded = 0;
  let alreadyPresent = 0;
  for (const d of referencedBlobs(image)) {
    const data = image.blobs.get(d.digest);
    if (!data) throw new PwasError("E_VALIDATION", `the image lacks blob ${d.digest} that its manifest references`);
    if (await client.blobExists(d.digest)) {
      alreadyPresent++;
      progress(`blob ${short(d.digest)} (${d.mediaType}) already in ${ref.registry}`);
      continue;
    }
    progress(`uploading ${short(d.digest)} (${d.mediaType}, ${data.length} bytes)`);
    await client.uploadBlob(d.digest, data);
    uploaded++;
  }
  const target = ref.tag ?? image.digest;
  progress(`putting manifest ${short(image.digest)} (${image.mediaType}) as ${target}`);
  const digest = await client.putManifest(target, image.manifest, image.mediaType);
  return { digest, pinned: formatReference({ ...ref, tag: undefined, digest }), uploaded, alreadyPresent };
}

function short(digest: string): string {
  return digest.slice(0, 19);
}
