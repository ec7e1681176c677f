import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/** Longest rest after one slice: a slice stretched by a preemption or a GC does not stall the work for long. */
const MAX_REST_MS = 50;

/**
 * Cuts long work on the event loop's thread into slices of about `sliceMs`, each followed by a turn of the loop.
 * With `rest`, the loop then also stays free for as long as the slice took: the work gets at most about half of
 * the thread, so a request, which needs several turns (read, forward, answer), meets a slice in few of them.
 */
export class Pacer {
  private sliceStart: number;

  constructor(
    private readonly sliceMs: number,
    private readonly rest: boolean,
    private readonly now: () => number = () => performance.now(),
    private readonly wait: (ms: number) => Promise<unknown> = (ms) => (ms > 0 ? sleep(ms) : nextTurn()),
  ) {
    this.sliceStart = now();
  }

  /** Called between small pieces of work: resolves at once inside a slice, after the break once it is used up. */
  async between(): Promise<void> {
    const worked = this.now() - this.sliceStart;
    if (worked < this.sliceMs) return;
    await this.wait(this.rest ? Math.min(worked, MAX_REST_MS) : 0);
    this.sliceStart = this.now();
  }
}
