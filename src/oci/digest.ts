/** Content addressing: sha256 digests, descriptors, and the canonical JSON every document is written in. */
import { createHash } from "node:crypto";

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  /** "sha256:<64 hex>". */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export function digestOf(data: Buffer): string {
  return `sha256:${sha256Hex(data)}`;
}

export function describe(mediaType: string, data: Buffer, annotations?: Record<string, string>): Descriptor {
  return annotations ? { mediaType, digest: digestOf(data), size: data.length, annotations } : { mediaType, digest: digestOf(data), size: data.length };
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/**
 * JSON with object keys sorted at every level and no whitespace: the same document always gives the same
 * bytes, whatever order the code that built it used.
 */
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(sortKeys(value)), "utf8");
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}
