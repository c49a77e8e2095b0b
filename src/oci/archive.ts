/**
 * A tar writer and reader and a gzip wrapper, enough for image layers and image layout archives.
 * Writing is deterministic: ustar headers with mtime 0, uid/gid 0, no user or group names, fixed modes,
 * entries in the order given; gzip with a fixed header (mtime 0, no file name, OS "unknown") at level 9.
 * With the same input and the same Node.js (its bundled zlib) the bytes, and so the digests, are the same.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { PwasError } from "../errors";

export interface TarEntry {
  /** Path inside the archive, "/"-separated, no leading "/"; directories end with "/". */
  name: string;
  /** File contents; absent for directories. */
  data?: Buffer;
}

const BLOCK = 512;
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

/** A tar archive of `entries`, in the order given, ending with the two zero blocks tar readers expect. */
export function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const isDir = e.name.endsWith("/");
    const data = isDir ? Buffer.alloc(0) : (e.data ?? Buffer.alloc(0));
    parts.push(tarHeader(e.name, isDir, data.length));
    if (data.length > 0) {
      parts.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function tarHeader(name: string, isDir: boolean, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  let base = name;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    // ustar splits long paths at a "/" into prefix (155 bytes) and name (100 bytes).
    const cut = name.lastIndexOf("/", name.length - 2);
    prefix = cut > 0 ? name.slice(0, cut) : "";
    base = cut > 0 ? name.slice(cut + 1) : name;
    if (!prefix || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(base) > 100) {
      throw new PwasError("E_USAGE", `tar entry name too long for ustar: ${name}`);
    }
  }
  h.write(base, 0, 100, "utf8");
  octal(h, 100, 8, isDir ? DIR_MODE : FILE_MODE);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0); // mtime: the epoch, so that archives do not depend on when they were made
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h.write(isDir ? "5" : "0", 156, 1, "ascii");
  h.write("ustar\u000000", 257, 8, "binary");
  octal(h, 329, 8, 0); // devmajor
  octal(h, 337, 8, 0); // devminor
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\u0000 ", 148, 8, "binary");
  return h;
}

function octal(h: Buffer, offset: number, width: number, value: number): void {
  const text = value.toString(8).padStart(width - 1, "0");
  if (text.length > width - 1) throw new PwasError("E_USAGE", `value ${value} does not fit a ${width}-byte tar field`);
  h.write(text + "\u0000", offset, width, "ascii");
}

/** One entry read from a tar archive. */
export interface ReadTarEntry {
  name: string;
  /** "file", "dir", or "other" (links, devices: listed, never followed). */
  type: "file" | "dir" | "other";
  data: Buffer;
}

/**
 * Reads a tar archive (ustar, with PAX `path`/`size` records and GNU long names, as other tools write
 * them). Throws E_VALIDATION on a truncated or corrupt archive.
 */
export function readTar(tar: Buffer): ReadTarEntry[] {
  const out: ReadTarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  while (off + BLOCK <= tar.length) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    if (!checksumOk(h)) throw new PwasError("E_VALIDATION", `corrupt tar archive: bad header checksum at byte ${off}`);
    const type = String.fromCharCode(h[156] || 0x30);
    const size = pax.size !== undefined ? Number(pax.size) : parseOctal(h.subarray(124, 136));
    const start = off + BLOCK;
    const end = start + size;
    if (!Number.isSafeInteger(size) || end > tar.length) throw new PwasError("E_VALIDATION", `corrupt tar archive: entry at byte ${off} runs past the end`);
    const data = tar.subarray(start, end);
    off = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x") {
      pax = { ...pax, ...parsePax(data) };
      continue;
    }
    if (type === "g") continue;
    if (type === "L") {
      longName = cString(data);
      continue;
    }
    const prefix = cString(h.subarray(345, 500));
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${cString(h.subarray(0, 100))}` : cString(h.subarray(0, 100)));
    out.push({ name, type: type === "0" || type === "7" ? "file" : type === "5" ? "dir" : "other", data: Buffer.from(data) });
    longName = undefined;
    pax = {};
  }
  return out;
}

function checksumOk(h: Buffer): boolean {
  const stored = parseOctal(h.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return sum === stored;
}

function parseOctal(field: Buffer): number {
  if (field[0] & 0x80) throw new PwasError("E_VALIDATION", "tar entries over 8 GiB (base-256 sizes) are not supported");
  const text = cString(field).trim();
  return text ? parseInt(text, 8) : 0;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString("utf8");
}

/** PAX extended header records: "<len> <key>=<value>\n". */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    if (space < 0) break;
    const len = parseInt(data.subarray(off, space).toString("ascii"), 10);
    if (!(len > 0)) break;
    const record = data.subarray(space + 1, off + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    off += len;
  }
  return out;
}

/** gzip at level 9 with a fixed header: mtime 0 and no file name (zlib writes neither), OS byte 255. */
export function gzipDeterministic(data: Buffer): Buffer {
  const gz = gzipSync(data, { level: 9 });
  // Bytes 4-7 are the mtime and byte 9 the OS that zlib was built for; the trailer's CRC covers only the
  // uncompressed data, so fixing them keeps the stream valid and the same on every platform.
  gz.writeUInt32LE(0, 4);
  gz[9] = 0xff;
  return gz;
}

/** Gunzips a layer; throws E_VALIDATION with `what` when the data is not gzip. */
export function gunzip(data: Buffer, what: string): Buffer {
  try {
    return gunzipSync(data);
  } catch (err) {
    throw new PwasError("E_VALIDATION", `${what} is not a valid gzip stream: ${(err as Error).message}`);
  }
}
