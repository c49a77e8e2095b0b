// Virtual time. Nothing in the emulator reads the wall clock, so tests are deterministic and never sleep.

export class VirtualClock {
  private realtimeNs: bigint;
  /** Starts above zero: runtimes such as Go's refuse a monotonic clock that reads 0. */
  private monotonicNs = 1_000_000_000n;
  private readonly monotonicStartNs = 1_000_000_000n;

  /** `startTimeNs`: the Unix time in nanoseconds the clock starts at (default 2024-01-01T00:00:00Z). */
  constructor(startTimeNs: bigint = 1_704_067_200_000_000_000n) {
    this.realtimeNs = startTimeNs;
  }

  /** Wall-clock time, what proxy_get_current_time_nanoseconds and WASI clock 0 return. */
  nowNs(): bigint {
    return this.realtimeNs;
  }

  /** Monotonic time since the clock was created, what WASI clock 1 returns. */
  monotonicNowNs(): bigint {
    return this.monotonicNs;
  }

  /** Elapsed virtual milliseconds since creation. */
  elapsedMs(): number {
    return Number((this.monotonicNs - this.monotonicStartNs) / 1_000_000n);
  }

  /** The monotonic reading at `ms` elapsed virtual milliseconds. */
  monotonicAtElapsedMs(ms: number): bigint {
    return this.monotonicStartNs + BigInt(Math.round(ms * 1e6));
  }

  advanceNs(ns: bigint): void {
    if (ns < 0n) throw new RangeError("time cannot go backwards");
    this.realtimeNs += ns;
    this.monotonicNs += ns;
  }
}
