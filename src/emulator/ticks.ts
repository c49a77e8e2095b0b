// The virtual clock's timers: each root context's tick (armed by proxy_set_tick_period_milliseconds) and the
// callouts' deadlines, fired in time order as a test advances the clock.

import type { CalloutDelivery } from "./callout-delivery";
import type { VirtualClock } from "./clock";
import type { Execution } from "./execution";
import type { RootContext } from "./host-types";

export class Ticks {
  constructor(
    private readonly clock: VirtualClock,
    private readonly roots: Map<string, RootContext>,
    private readonly vm: Execution,
    private readonly callouts: CalloutDelivery,
  ) {}

  /**
   * Advances the clock by `ms`, firing in time order every tick that falls due (as many as periods elapsed)
   * and timing out callouts whose deadline passes.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError("advanceTime needs a non-negative number of milliseconds");
    const target = this.clock.monotonicNowNs() + BigInt(Math.round(ms * 1e6));
    for (;;) {
      let dueAt: bigint | null = null;
      let fire: (() => void) | null = null;
      for (const root of this.roots.values()) {
        if (root.nextTickNs !== null && root.nextTickNs <= target && (dueAt === null || root.nextTickNs < dueAt)) {
          dueAt = root.nextTickNs;
          fire = () => this.tick(root);
        }
      }
      for (const c of this.callouts.deadlines()) {
        const at = this.clock.monotonicAtElapsedMs(c.deadlineMs);
        if (at <= target && (dueAt === null || at < dueAt)) {
          dueAt = at;
          fire = () => this.callouts.timeOut(c.token);
        }
      }
      if (dueAt === null || fire === null) break;
      const now = this.clock.monotonicNowNs();
      if (dueAt > now) this.clock.advanceNs(dueAt - now);
      fire();
    }
    const now = this.clock.monotonicNowNs();
    if (target > now) this.clock.advanceNs(target - now);
  }

  /** Envoy re-arms the timer for the next period before the callback (which may change the period again). */
  private tick(root: RootContext): void {
    root.nextTickNs = root.tickPeriodNs > 0n ? this.clock.monotonicNowNs() + root.tickPeriodNs : null;
    if (!this.vm.failed) this.vm.dispatch(root, "proxy_on_tick", [root.id]);
  }
}
