/**
 * Image references as WasmPlugin urls and registries spell them: [oci://]<registry>/<repository>[:<tag>][@sha256:<hex>].
 * A first component without a "." or ":" that is not "localhost" is a Docker Hub repository, as Docker reads it.
 */
import { PwasError } from "../errors";

export interface ImageReference {
  /** The registry as written ("docker.io" when none was). */
  registry: string;
  /** Host (and port) the registry API is served on (registry-1.docker.io for docker.io). */
  apiHost: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_REFERENCE_TAG = "latest";

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Parses a reference; a reference with neither tag nor digest gets the tag "latest". */
export function parseReference(text: string): ImageReference {
  let rest = text.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    if (scheme[1].toLowerCase() !== "oci") {
      throw new PwasError("E_USAGE", `"${text}" is not an image reference: only oci:// urls name images (${scheme[1]}:// urls are fetched over plain HTTP by istio-agent)`);
    }
    rest = rest.slice(scheme[0].length);
  }
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new PwasError("E_USAGE", `"${text}": the digest must be sha256:<64 lowercase hex digits>`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new PwasError("E_USAGE", `"${text}": "${tag}" is not a valid tag`);
  }
  const parts = rest.split("/");
  let registry = "docker.io";
  if (parts.length > 1 && (parts[0].includes(".") || parts[0].includes(":") || parts[0] === "localhost" || parts[0].startsWith("["))) {
    registry = parts.shift()!;
  }
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = "docker.io";
  if (registry === "docker.io" && parts.length === 1) parts.unshift("library");
  const repository = parts.join("/");
  if (!repository || !parts.every((p) => COMPONENT.test(p))) {
    throw new PwasError("E_USAGE", `"${text}" is not an image reference: expected <registry>/<repository>:<tag>, with lowercase repository path components`);
  }
  if (!tag && !digest) tag = DEFAULT_REFERENCE_TAG;
  return { registry, apiHost: registry === "docker.io" ? "registry-1.docker.io" : registry, repository, tag, digest };
}

/** The reference as text, without a scheme. */
export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** The host name without the port or IPv6 brackets. */
export function hostName(host: string): string {
  if (host.startsWith("[")) return host.slice(1, host.indexOf("]"));
  const colon = host.lastIndexOf(":");
  return colon >= 0 && host.indexOf(":") === colon ? host.slice(0, colon) : host;
}

/** localhost, 127.0.0.0/8 or ::1: the only hosts `--insecure` lets pwas talk plain HTTP to. */
export function isLoopbackHost(host: string): boolean {
  const name = hostName(host).toLowerCase();
  return name === "localhost" || name.endsWith(".localhost") || /^127(\.\d{1,3}){3}$/.test(name) || name === "::1";
}
