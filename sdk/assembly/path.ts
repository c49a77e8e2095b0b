// Request path normalisation for matching, as Envoy's HTTP connection manager does with `normalize_path`
// (RFC 3986 §6.2.2: percent-encoded unreserved characters decoded, other escapes upper-cased, §5.2.4 dot
// segments removed, `%2e` counting as a dot) followed by `merge_slashes`. A filter that decides on a path
// prefix must match the path the upstream will resolve, not the bytes the client chose: `//admin`,
// `/./admin`, `/%61dmin` and `/x/../admin` all name `/admin`.

/** What normalizePath found. */
export enum PathNormalization {
  /** `path` holds the normalised path. */
  Ok,
  /** The path holds `%2F` or `%5C` (an escaped slash or backslash), or a literal backslash. */
  EscapedSlash,
  /** The path does not start with `/` (asterisk and authority forms, or empty). */
  NotAbsolute,
}

/** The outcome of normalizePath: a status, and the normalised path when it is Ok. */
export class NormalizedPath {
  status: PathNormalization = PathNormalization.Ok;
  path: string = "";
  get ok(): bool { return this.status == PathNormalization.Ok; }
}

// @ts-ignore: decorator
@inline function hexValue(c: u32): i32 {
  if (c >= 48 && c <= 57) return <i32>c - 48;
  if (c >= 97 && c <= 102) return <i32>c - 87;
  if (c >= 65 && c <= 70) return <i32>c - 55;
  return -1;
}

// @ts-ignore: decorator
@inline function isUnreserved(c: u32): bool {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 || c == 46 || c == 95 || c == 126;
}

/**
 * Normalises the path part of a `:path` value (everything before `?` or `#`; the query is dropped) for
 * matching: decodes percent-encoded unreserved characters (ALPHA, DIGIT, `-._~`), upper-cases the hex of
 * other escapes, removes `.` and `..` segments (never above the root), then merges runs of slashes.
 *
 * Escaped slashes and backslashes (`%2F`, `%5C`, any case) and literal backslashes are not resolved: what
 * they mean depends on the upstream (some decode them, some treat `\` as `/`), so no single normal form is
 * safe to match on. The result is then EscapedSlash and the caller decides (a filter guarding paths
 * should refuse the request, as Envoy's `path_with_escaped_slashes_action: REJECT_REQUEST` does).
 * Never traps: malformed escapes (`%`, `%4`, `%zz`) are kept as they are. Works on UTF-16 code units
 * of `:path` as the host gave it (Envoy only passes ASCII paths).
 */
export function normalizePath(raw: string, out: NormalizedPath = new NormalizedPath()): NormalizedPath {
  let end = raw.length;
  const q = raw.indexOf("?");
  if (q >= 0) end = q;
  const h = raw.indexOf("#");
  if (h >= 0 && h < end) end = h;
  if (end == 0 || raw.charCodeAt(0) != 47) { out.status = PathNormalization.NotAbsolute; out.path = ""; return out; }
  // Most paths are already normal: no escape, no backslash, no "/." and no "//". Those need no copy.
  let plain = true;
  for (let i = 0; i < end && plain; i++) {
    const c = raw.charCodeAt(i);
    if (c == 37 || c == 92) plain = false;
    else if (c == 47 && i + 1 < end) { const d = raw.charCodeAt(i + 1); if (d == 46 || d == 47) plain = false; }
  }
  if (plain) { out.status = PathNormalization.Ok; out.path = end == raw.length ? raw : raw.substring(0, end); return out; }

  // 1. Percent-decoding of unreserved characters; upper-case hex elsewhere. Escaped slashes stop here.
  const decoded = new StaticArray<u16>(end);
  let n = 0;
  for (let i = 0; i < end; i++) {
    const c = <u32>raw.charCodeAt(i);
    if (c == 92) { out.status = PathNormalization.EscapedSlash; out.path = ""; return out; }
    if (c == 37 && i + 2 < end) {
      const hi = hexValue(<u32>raw.charCodeAt(i + 1)), lo = hexValue(<u32>raw.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        const v = <u32>((hi << 4) | lo);
        if (v == 0x2F || v == 0x5C) { out.status = PathNormalization.EscapedSlash; out.path = ""; return out; }
        if (isUnreserved(v)) {
          unchecked(decoded[n++] = <u16>v);
        } else {
          unchecked(decoded[n++] = 37);
          unchecked(decoded[n++] = <u16>(hi < 10 ? 48 + hi : 55 + hi));
          unchecked(decoded[n++] = <u16>(lo < 10 ? 48 + lo : 55 + lo));
        }
        i += 2;
        continue;
      }
    }
    unchecked(decoded[n++] = <u16>c);
  }

  // 2. Dot segments (RFC 3986 §5.2.4) over the segments between slashes; `..` at the root stays at the root.
  //    Segment starts are kept on a stack so `..` pops in constant time.
  const outBuf = new StaticArray<u16>(n + 1);
  const starts = new StaticArray<i32>(n + 1);
  let depth = 0;
  let o = 0;
  let i = 0;
  while (i < n) {
    // decoded[i] is '/': read the segment after it.
    let j = i + 1;
    while (j < n && unchecked(decoded[j]) != 47) j++;
    const len = j - i - 1;
    const last = j >= n;
    const dot = len == 1 && unchecked(decoded[i + 1]) == 46;
    const dotdot = len == 2 && unchecked(decoded[i + 1]) == 46 && unchecked(decoded[i + 2]) == 46;
    if (dot || dotdot) {
      if (dotdot && depth > 0) { depth--; o = unchecked(starts[depth]); }
      // A trailing "." or ".." leaves the directory: "/a/." is "/a/".
      if (last) unchecked(outBuf[o++] = 47);
    } else {
      unchecked(starts[depth++] = o);
      for (let k = i; k < j; k++) unchecked(outBuf[o++] = unchecked(decoded[k]));
    }
    i = j;
  }
  if (o == 0) unchecked(outBuf[o++] = 47);

  // 3. merge_slashes: runs of '/' become one.
  let w = 0;
  for (let r = 0; r < o; r++) {
    const c = unchecked(outBuf[r]);
    if (c == 47 && w > 0 && unchecked(outBuf[w - 1]) == 47) continue;
    unchecked(outBuf[w++] = c);
  }
  out.status = PathNormalization.Ok;
  out.path = String.UTF16.decodeUnsafe(changetype<usize>(outBuf), <usize>w << 1);
  return out;
}
