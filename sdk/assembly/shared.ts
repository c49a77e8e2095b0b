// Shared data and shared queues: the only state the VMs of Envoy's worker threads share.
//
// Two host rules shape this API (proxy-wasm-cpp-host, which Envoy uses):
//  - A write with cas 0 always succeeds; with another cas it fails with CasMismatch unless the key's current
//    cas equals it. BUT a write to a key that does not exist succeeds whatever the cas is, so two workers
//    that both read "missing" can both "create" the key and one update is lost.
//  - Keys can never be deleted. Bound the key space yourself (a fixed slot table, not one key per client).
// `atomicUpdate` handles the first rule; the cas values the host hands out are unique across all keys,
// which is what makes its creation step safe (see createCas below).

import * as abi from "./abi/imports";
import { WasmResult } from "./abi/enums";
import { RET_PTR, RET_LEN, RET_U32, clearReturnSlots, takeReturnedBuffer } from "./internal/memory";
import { encodeUtf8 } from "./utf8";

/** A shared value and its cas (the version to pass to setSharedData for a compare-and-swap). */
export class SharedValue {
  constructor(public readonly value: ArrayBuffer, public readonly cas: u32) {}
}

/** Result of the last getSharedData: Ok, or NotFound when the key has never been written. */
export let lastSharedDataResult: WasmResult = WasmResult.Ok;

/** Reads a key. Null when it does not exist (lastSharedDataResult tells NotFound from other errors). */
export function getSharedData(key: string): SharedValue | null {
  return getSharedDataBytes(encodeUtf8(key));
}

export function getSharedDataBytes(key: ArrayBuffer): SharedValue | null {
  clearReturnSlots();
  store<u32>(RET_U32, 0);
  lastSharedDataResult = <WasmResult>abi.proxy_get_shared_data(changetype<usize>(key), <usize>key.byteLength, RET_PTR, RET_LEN, RET_U32);
  if (lastSharedDataResult != WasmResult.Ok) return null;
  const value = takeReturnedBuffer();
  return new SharedValue(value, load<u32>(RET_U32));
}

/**
 * Writes a key. cas 0 writes unconditionally; otherwise the write succeeds only when the key's cas still
 * equals `cas` (CasMismatch if another writer won) — except for a key that does not exist yet (see above).
 */
export function setSharedData(key: string, value: ArrayBuffer, cas: u32 = 0): WasmResult {
  return setSharedDataBytes(encodeUtf8(key), value, cas);
}

export function setSharedDataBytes(key: ArrayBuffer, value: ArrayBuffer, cas: u32): WasmResult {
  return <WasmResult>abi.proxy_set_shared_data(changetype<usize>(key), <usize>key.byteLength, changetype<usize>(value), <usize>value.byteLength, cas);
}

/** Computes the next value of a shared key from its current one. */
export abstract class SharedDataUpdater {
  /**
   * `current` is null when the key does not exist yet. Return the new value, or null to leave the key as
   * it is (atomicUpdate then returns Ok without writing). May run several times under contention: keep it
   * free of side effects, and read the final outcome from fields you set on the last call.
   */
  abstract update(current: ArrayBuffer | null): ArrayBuffer | null;
}

// A cas the host gave to a write of our private probe key. The host's cas counter is global and each
// write takes the next value, so no other key can hold this cas (until the 32-bit counter wraps). Writing
// a missing key with it therefore creates the key, while writing an existing key with it always fails with
// CasMismatch, which turns "two workers create the same key" into an ordinary compare-and-swap retry.
let probeCas: u32 = 0;
const PROBE_KEY = "proxy-wasm-as.cas-probe";

function createCas(): u32 {
  if (probeCas != 0) return probeCas;
  const key = encodeUtf8(PROBE_KEY);
  setSharedDataBytes(key, new ArrayBuffer(0), 0);
  const v = getSharedDataBytes(key);
  probeCas = v !== null && v.cas != 0 ? v.cas : 1;
  return probeCas;
}

/**
 * Read-modify-write of one key with compare-and-swap, retried on contention (up to `maxAttempts` times).
 * Exact across all worker VMs, including the first creation of the key. Returns Ok, CasMismatch when every
 * attempt lost the race, or the host's error.
 */
// atomicUpdate's last key and its UTF-8 bytes: a filter updates the same key (a bucket, a counter) request
// after request, so the bytes are encoded once. Compared by identity: the kept reference stops the string
// from being freed, and a string's contents never change.
let lastUpdateKey: string = "";
let lastUpdateKeyBytes: ArrayBuffer = new ArrayBuffer(0);

export function atomicUpdate(key: string, updater: SharedDataUpdater, maxAttempts: i32 = 32): WasmResult {
  let k = lastUpdateKeyBytes;
  if (changetype<usize>(key) != changetype<usize>(lastUpdateKey)) {
    k = encodeUtf8(key);
    lastUpdateKey = key;
    lastUpdateKeyBytes = k;
  }
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const cur = getSharedDataBytes(k);
    let status: WasmResult;
    if (cur === null) {
      if (lastSharedDataResult != WasmResult.NotFound) return lastSharedDataResult;
      const next = updater.update(null);
      if (next === null) return WasmResult.Ok;
      status = setSharedDataBytes(k, next, createCas());
    } else {
      const next = updater.update(cur.value);
      if (next === null) return WasmResult.Ok;
      status = setSharedDataBytes(k, next, cur.cas);
    }
    if (status != WasmResult.CasMismatch) return status;
  }
  return WasmResult.CasMismatch;
}

// ---- Shared queues ----

/** Result of the last queue call that returns a value. */
export let lastQueueResult: WasmResult = WasmResult.Ok;

/**
 * Registers (or re-opens) a queue owned by the current root context, which receives onQueueReady when
 * data arrives. Returns the queue id, or 0 with lastQueueResult set on failure.
 */
export function registerSharedQueue(name: string): u32 {
  const n = encodeUtf8(name);
  store<u32>(RET_U32, 0);
  lastQueueResult = <WasmResult>abi.proxy_register_shared_queue(changetype<usize>(n), <usize>n.byteLength, RET_U32);
  return lastQueueResult == WasmResult.Ok ? load<u32>(RET_U32) : 0;
}

/** Finds a queue registered by the VM `vmId`. Returns its id, or 0 (NotFound) when it does not exist. */
export function resolveSharedQueue(vmId: string, name: string): u32 {
  const v = encodeUtf8(vmId);
  const n = encodeUtf8(name);
  store<u32>(RET_U32, 0);
  lastQueueResult = <WasmResult>abi.proxy_resolve_shared_queue(changetype<usize>(v), <usize>v.byteLength, changetype<usize>(n), <usize>n.byteLength, RET_U32);
  return lastQueueResult == WasmResult.Ok ? load<u32>(RET_U32) : 0;
}

/** Appends a message to a queue. NotFound when the queue does not exist. */
export function enqueueSharedQueue(queueId: u32, data: ArrayBuffer): WasmResult {
  return <WasmResult>abi.proxy_enqueue_shared_queue(queueId, changetype<usize>(data), <usize>data.byteLength);
}

/** Takes the oldest message, or null when the queue is empty (lastQueueResult Empty) or missing (NotFound). */
export function dequeueSharedQueue(queueId: u32): ArrayBuffer | null {
  clearReturnSlots();
  lastQueueResult = <WasmResult>abi.proxy_dequeue_shared_queue(queueId, RET_PTR, RET_LEN);
  if (lastQueueResult != WasmResult.Ok) return null;
  return takeReturnedBuffer();
}
