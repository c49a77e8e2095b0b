/**
 * Polling with a deadline: the only way this toolkit waits for Envoy. A probe returns a value when the
 * condition holds and `undefined` while it does not; a probe that throws counts as "not yet" and its last
 * error is reported on timeout, so a failure explains itself.
 */
export interface WaitOptions {
  timeoutMs: number;
  /** Delay between probes; defaults to 25 ms. */
  intervalMs?: number;
  /** Completes the sentence "timed out after N ms waiting for ...". */
  what: string;
  /** Checked after each unsuccessful probe: a string aborts the wait at once with that reason (e.g. "Envoy exited"). */
  abort?: () => string | undefined;
}

export class WaitTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WaitTimeoutError";
  }
}

export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 25;
  let last = "";
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    const aborted = opts.abort?.();
    if (aborted !== undefined) throw new Error(`stopped waiting for ${opts.what}: ${aborted}`);
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new WaitTimeoutError(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${last ? ` (last error: ${last})` : ""}`);
    }
    await delay(Math.min(interval, left));
  }
}

/** A promise that resolves after `ms`; used only between polls, never as a wait of its own. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
