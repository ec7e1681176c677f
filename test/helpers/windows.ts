import { setTimeout as sleep } from 'node:timers/promises';

const LENGTH_MS = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * Waits, if need be, until the current fixed window of `period` has at least `needMs` left, so a test's
 * requests all fall in one window (a boundary crossed mid-test would reset its counters).
 */
export async function roomInWindow(period: keyof typeof LENGTH_MS, needMs: number): Promise<void> {
  const length = LENGTH_MS[period];
  const left = length - (Date.now() % length);
  if (left < needMs) await sleep(left + 20);
}

/** Waits until the next window of `period` has begun. */
export async function nextWindow(period: keyof typeof LENGTH_MS): Promise<void> {
  const length = LENGTH_MS[period];
  await sleep(length - (Date.now() % length) + 20);
}
