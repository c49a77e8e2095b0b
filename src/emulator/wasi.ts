// The WASI functions Envoy's host provides, under both `wasi_snapshot_preview1` and `wasi_unstable`.
// The list and each behaviour follow proxy-wasm-cpp-host (exports.h FOR_ALL_WASI_FUNCTIONS, exports.cc):
// stdout/stderr become info/error logs, clocks come from the (virtual) host clock, environment
// variables from the VM config, everything file- or socket-shaped answers with a fixed errno.

import { LIMITS, LogLevel } from "./abi";
import type { VirtualClock } from "./clock";

const ESUCCESS = 0;
const EBADF = 8;
const ENOTDIR = 20;
const EFAULT = 21;
const EINVAL = 28;
const ENOENT = 44;
const ENOSYS = 52;
const ENOTSUP = 58;

export interface WasiEnv {
  memory(): WebAssembly.Memory;
  log(level: LogLevel, message: string): void;
  /** Envoy's Context::error: a trace-level host message. */
  hostError(message: string): void;
  env: ReadonlyArray<readonly [string, string]>;
  clock: VirtualClock;
  random(n: number): Uint8Array;
}

/** Wasm signatures: params, ':' then results; i = i32, I = i64. Matches cpp-host's declarations. */
export const WASI_SIGNATURES: Record<string, string> = {
  fd_write: "iiii:i",
  fd_read: "iiii:i",
  fd_seek: "iIii:i",
  fd_close: "i:i",
  fd_fdstat_get: "ii:i",
  fd_fdstat_set_flags: "ii:i",
  fd_fdstat_set_rights: "iII:i",
  environ_get: "ii:i",
  environ_sizes_get: "ii:i",
  args_get: "ii:i",
  args_sizes_get: "ii:i",
  clock_time_get: "iIi:i",
  clock_res_get: "ii:i",
  fd_advise: "iIIi:i",
  fd_allocate: "iII:i",
  fd_datasync: "i:i",
  fd_filestat_set_size: "iI:i",
  fd_filestat_set_times: "iIIi:i",
  fd_pread: "iiiIi:i",
  fd_pwrite: "iiiIi:i",
  fd_readdir: "iiiIi:i",
  fd_renumber: "ii:i",
  fd_sync: "i:i",
  fd_tell: "ii:i",
  path_create_directory: "iii:i",
  path_filestat_set_times: "iiiiIIi:i",
  // cpp-host declares path_link with 6 and path_symlink with 4 parameters (WASI has 7 and 5), so a
  // module importing the standard signatures fails to link in Envoy; the same happens here.
  path_link: "iiiiii:i",
  path_readlink: "iiiiii:i",
  path_remove_directory: "iii:i",
  path_rename: "iiiiii:i",
  path_symlink: "iiii:i",
  path_unlink_file: "iii:i",
  sock_accept: "iii:i",
  sock_recv: "iiiiii:i",
  sock_send: "iiiii:i",
  sock_shutdown: "ii:i",
  random_get: "ii:i",
  sched_yield: ":i",
  poll_oneoff: "iiii:i",
  proc_exit: "i:",
  path_open: "iiiiiIIii:i",
  fd_prestat_get: "ii:i",
  fd_prestat_dir_name: "iii:i",
  path_filestat_get: "iiiii:i",
  fd_filestat_get: "ii:i",
};

/** WASI functions Envoy lets a module call while `_initialize`/`_start` runs (WasmBase::startVm). */
export const WASI_ALLOWED_DURING_START = new Set(
  Object.keys(WASI_SIGNATURES).filter(
    (n) => !["fd_read", "fd_seek", "fd_close", "sched_yield", "proc_exit", "path_open"].includes(n),
  ),
);

type Fn = (...args: Array<number | bigint>) => number | void;

export function wasiImports(w: WasiEnv): Record<string, Fn> {
  const view = () => new DataView(w.memory().buffer);
  const bytes = () => new Uint8Array(w.memory().buffer);
  const inBounds = (ptr: number, len: number) => ptr >= 0 && len >= 0 && ptr + len <= w.memory().buffer.byteLength;
  const u32 = (x: number | bigint) => Number(x) >>> 0;
  const setU32 = (ptr: number, v: number): boolean => {
    if (!inBounds(ptr, 4)) return false;
    view().setUint32(ptr, v >>> 0, true);
    return true;
  };
  const setU64 = (ptr: number, v: bigint): boolean => {
    if (!inBounds(ptr, 8)) return false;
    view().setBigUint64(ptr, BigInt.asUintN(64, v), true);
    return true;
  };
  const stdio = (fd: number) => fd === 1 || fd === 2;
  const stdioOk = (fd: number | bigint) => (stdio(u32(fd)) ? ESUCCESS : EBADF);

  const writev = (fd: number, iovs: number, iovsLen: number): { errno: number; written?: number } => {
    let level: LogLevel;
    if (fd === 1) level = LogLevel.Info;
    else if (fd === 2) level = LogLevel.Error;
    else return { errno: EBADF };
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < iovsLen; i++) {
      const at = iovs + i * 8;
      if (!inBounds(at, 8)) return { errno: EFAULT };
      const buf = view().getUint32(at, true);
      const len = view().getUint32(at + 4, true);
      if (len === 0) continue;
      if (!inBounds(buf, len)) return { errno: EFAULT };
      chunks.push(bytes().slice(buf, buf + len));
      total += len;
    }
    if (total > 0) {
      let text = Buffer.concat(chunks).toString("utf8");
      if (text.endsWith("\n")) text = text.slice(0, -1);
      w.log(level, text);
    }
    return { errno: ESUCCESS, written: total };
  };

  const envStrings = () => w.env.map(([k, v]) => Buffer.from(`${k}=${v}\0`, "utf8"));

  return {
    fd_write(fd, iovs, iovsLen, nwrittenPtr) {
      const r = writev(u32(fd), u32(iovs), u32(iovsLen));
      if (r.errno !== ESUCCESS) return r.errno;
      return setU32(u32(nwrittenPtr), r.written!) ? ESUCCESS : EFAULT;
    },
    fd_read: () => ENOSYS,
    fd_seek() {
      w.hostError("wasi_unstable fd_seek");
      return ESUCCESS;
    },
    fd_close() {
      w.hostError("wasi_unstable fd_close");
      return ESUCCESS;
    },
    fd_fdstat_get(fd, statPtr) {
      if (!stdio(u32(fd))) return EBADF;
      const p = u32(statPtr);
      if (!inBounds(p, 24)) return EFAULT;
      setU64(p, 0n);
      setU64(p + 8, 64n); // fs_rights_base = FD_WRITE
      setU64(p + 16, 0n);
      return ESUCCESS;
    },
    fd_fdstat_set_flags: () => ENOSYS,
    fd_fdstat_set_rights: (fd) => stdioOk(fd),
    environ_get(environPtr, bufPtr) {
      let arr = u32(environPtr);
      let buf = u32(bufPtr);
      for (const s of envStrings()) {
        if (!setU32(arr, buf) || !inBounds(buf, s.length)) return EFAULT;
        bytes().set(s, buf);
        buf += s.length;
        arr += 4;
      }
      return ESUCCESS;
    },
    environ_sizes_get(countPtr, sizePtr) {
      const strs = envStrings();
      if (!setU32(u32(countPtr), strs.length)) return EFAULT;
      return setU32(u32(sizePtr), strs.reduce((n, s) => n + s.length, 0)) ? ESUCCESS : EFAULT;
    },
    args_get: () => ESUCCESS,
    args_sizes_get(argcPtr, sizePtr) {
      return setU32(u32(argcPtr), 0) && setU32(u32(sizePtr), 0) ? ESUCCESS : EFAULT;
    },
    clock_time_get(id, _precision, resultPtr) {
      let t: bigint;
      if (u32(id) === 0) t = w.clock.nowNs();
      else if (u32(id) === 1) t = w.clock.monotonicNowNs();
      else return ENOTSUP;
      return setU64(u32(resultPtr), t) ? ESUCCESS : EFAULT;
    },
    clock_res_get(id, resultPtr) {
      if (u32(id) !== 0 && u32(id) !== 1) return ENOTSUP;
      return setU64(u32(resultPtr), 1n) ? ESUCCESS : EFAULT;
    },
    fd_advise: () => ESUCCESS,
    fd_allocate: (fd) => stdioOk(fd),
    fd_datasync: (fd) => stdioOk(fd),
    fd_filestat_set_size: (fd) => stdioOk(fd),
    fd_filestat_set_times: (fd) => stdioOk(fd),
    fd_pread: () => ENOSYS,
    fd_pwrite(fd, iovs, iovsLen, _offset, nwrittenPtr) {
      if (!stdio(u32(fd))) return EBADF;
      const r = writev(u32(fd), u32(iovs), u32(iovsLen));
      if (r.errno !== ESUCCESS) return r.errno;
      return setU32(u32(nwrittenPtr), r.written!) ? ESUCCESS : EFAULT;
    },
    fd_readdir(_fd, _buf, _len, _cookie, nreadPtr) {
      return setU32(u32(nreadPtr), 0) ? ENOTDIR : EFAULT;
    },
    fd_renumber: (fd, to) => (stdio(u32(fd)) && stdio(u32(to)) ? ENOTSUP : EBADF),
    fd_sync: (fd) => stdioOk(fd),
    fd_tell(fd, resultPtr) {
      if (!stdio(u32(fd))) return EBADF;
      return setU64(u32(resultPtr), 0n) ? ESUCCESS : EFAULT;
    },
    path_create_directory: () => ENOTSUP,
    path_filestat_set_times: () => ENOTSUP,
    path_link: () => ENOTSUP,
    path_readlink(_fd, _p, _l, _b, _bl, retPtr) {
      return setU32(u32(retPtr), 0) ? ENOTSUP : EFAULT;
    },
    path_remove_directory: () => ENOTSUP,
    path_rename: () => ENOTSUP,
    path_symlink: () => ENOTSUP,
    path_unlink_file: () => ENOTSUP,
    sock_accept(_fd, _flags, retPtr) {
      return setU32(u32(retPtr), 0) ? ENOTSUP : EFAULT;
    },
    sock_recv(_fd, _d, _l, _f, retPtr, flagsPtr) {
      if (!setU32(u32(retPtr), 0)) return EFAULT;
      const p = u32(flagsPtr);
      if (!inBounds(p, 2)) return EFAULT;
      view().setUint16(p, 0, true);
      return ENOTSUP;
    },
    sock_send(_fd, _d, _l, _f, retPtr) {
      return setU32(u32(retPtr), 0) ? ENOTSUP : EFAULT;
    },
    sock_shutdown: () => ENOTSUP,
    random_get(bufPtr, len) {
      const n = u32(len);
      if (n > LIMITS.randomGetMaxBytes) return EINVAL;
      if (n === 0) return ESUCCESS;
      if (!inBounds(u32(bufPtr), n)) return EFAULT;
      bytes().set(w.random(n).subarray(0, n), u32(bufPtr));
      return ESUCCESS;
    },
    sched_yield: () => ESUCCESS,
    poll_oneoff(_in, _out, _n, neventsPtr) {
      return setU32(u32(neventsPtr), 0) ? ESUCCESS : EFAULT;
    },
    proc_exit() {
      w.hostError("wasi_unstable proc_exit");
    },
    path_open: () => ENOENT,
    fd_prestat_get: () => EBADF,
    fd_prestat_dir_name: () => ENOSYS,
    path_filestat_get: () => ENOTSUP,
    fd_filestat_get: () => EBADF,
  };
}
