/**
 * A bounded load generator for chaos runs: a fixed number of requests in flight, stopped by a request count,
 * a deadline or stop(), whichever comes first. Every request is recorded with its start and end time, so a
 * test can split the answers by what the chaos script was doing when each request ran.
 */
import { performance } from "node:perf_hooks";
import { waitFor } from "../../src/envoy";

export interface LoadOptions<T> {
  /** Requests in flight at once. */
  concurrency: number;
  /** No more requests than this are sent. */
  maxRequests: number;
  /** No request is started after this long. */
  maxDurationMs: number;
  /** Sends request number `i`; what it resolves to (or the error it rejects with) is recorded. */
  send: (i: number) => Promise<T>;
}

export interface Sample<T> {
  i: number;
  /** Milliseconds since the load started (performance clock). */
  startedAt: number;
  endedAt: number;
  /** The request's label from mark(): what the chaos script was doing when the request started. */
  phase: string;
  result?: T;
  error?: string;
}

export interface Load<T> {
  /** Requests answered or failed so far. */
  readonly samples: ReadonlyArray<Sample<T>>;
  /** Milliseconds since the load started. */
  now(): number;
  /** Every label given so far, in order ("start" first). */
  readonly phases: ReadonlyArray<string>;
  /** Labels the requests started from now on (and returns the time of the change). */
  mark(phase: string): number;
  /** Resolves once `n` more requests have completed than when it was called (a condition, not a sleep). */
  advance(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves once `predicate` holds for a completed sample that started after `since`; returns that sample. */
  waitForSample(predicate: (s: Sample<T>) => boolean, since: number, timeoutMs?: number, what?: string): Promise<Sample<T>>;
  /** Starts no more requests; resolves with every sample once those in flight have finished. */
  stop(): Promise<Sample<T>[]>;
  /** Resolves when the load ends by itself (count or deadline) or after stop(). */
  readonly finished: Promise<Sample<T>[]>;
}

export function startLoad<T>(opts: LoadOptions<T>): Load<T> {
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const samples: Sample<T>[] = [];
  let next = 0;
  let phase = "start";
  const phases = [phase];
  let stopped = false;

  const worker = async () => {
    while (!stopped && next < opts.maxRequests && now() < opts.maxDurationMs) {
      const sample: Sample<T> = { i: next++, startedAt: now(), endedAt: 0, phase };
      try {
        sample.result = await opts.send(sample.i);
      } catch (err) {
        sample.error = err instanceof Error ? err.message : String(err);
      }
      sample.endedAt = now();
      samples.push(sample);
    }
  };
  // Ended: every request that will ever be sent has been answered (or has failed).
  let ended = false;
  const finished = Promise.all(Array.from({ length: opts.concurrency }, worker)).then(() => {
    ended = true;
    return samples;
  });

  return {
    samples,
    now,
    finished,
    phases,
    mark(p) {
      phase = p;
      phases.push(p);
      return now();
    },
    async advance(n, timeoutMs = 20_000) {
      const target = samples.length + n;
      await waitFor(() => (samples.length >= target ? true : undefined), {
        timeoutMs,
        what: `${n} more answers from the load`,
        abort: () => (ended ? "the load ended (request count, deadline or stop())" : undefined),
      });
    },
    async waitForSample(predicate, since, timeoutMs = 20_000, what = "a matching answer") {
      let seen = 0;
      let found: Sample<T> | undefined;
      return waitFor(() => {
        for (; seen < samples.length && !found; seen++) if (samples[seen].startedAt >= since && predicate(samples[seen])) found = samples[seen];
        return found;
      }, { timeoutMs, what, abort: () => (ended ? "the load ended first" : undefined) });
    },
    async stop() {
      stopped = true;
      return finished;
    },
  };
}

/** Counts of `key(sample)`, keys sorted, for printing and comparing. */
export function countBy<T>(samples: ReadonlyArray<T>, key: (s: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    const k = key(s);
    out[k] = (out[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Latency figures of a run, in whole milliseconds. */
export function latencies(samples: ReadonlyArray<Sample<unknown>>): { p50: number; p99: number; max: number } {
  const ms = samples.map((s) => s.endedAt - s.startedAt).sort((a, b) => a - b);
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0);
  return { p50: at(0.5), p99: at(0.99), max: Math.round(ms[ms.length - 1] ?? 0) };
}
