// Fixed windows aligned to UTC calendar boundaries, as Kong aligns them: a minute starts at :00, a day at
// midnight UTC, a month on the 1st, a year on January 1st.

export const PERIODS = ['second', 'minute', 'hour', 'day', 'month', 'year'] as const;
export type Period = (typeof PERIODS)[number];

/** Index of each period in PERIODS: shorter windows first. */
export type PeriodIndex = 0 | 1 | 2 | 3 | 4 | 5;

const FIXED_LENGTH_MS = [1000, 60_000, 3_600_000, 86_400_000];

/** Start (inclusive) and end (exclusive) of the window of `period` that holds `now`, in ms since the epoch. */
export interface Window {
  start: number;
  end: number;
}

/** Sets `out` to the window of PERIODS[period] holding `now`; returns `out` (no allocation on the request path). */
export function windowAt(period: PeriodIndex, now: number, out: Window): Window {
  if (period < 4) {
    const length = FIXED_LENGTH_MS[period];
    out.start = now - (now % length);
    out.end = out.start + length;
    return out;
  }
  const d = new Date(now);
  const year = d.getUTCFullYear();
  if (period === 4) {
    const month = d.getUTCMonth();
    out.start = Date.UTC(year, month, 1);
    out.end = Date.UTC(year, month + 1, 1);
  } else {
    out.start = Date.UTC(year, 0, 1);
    out.end = Date.UTC(year + 1, 0, 1);
  }
  return out;
}

/**
 * Seconds until the window ends, at least 1: what RateLimit-Reset and Retry-After carry. Counted from the
 * current whole second, as Kong does (a request at 12:00:59.500 gets 1 for its minute).
 */
export function secondsLeft(windowEnd: number, now: number): number {
  const left = windowEnd / 1000 - Math.floor(now / 1000);
  return left < 1 ? 1 : left;
}

/** The current window of each period, recomputed only when one has ended. Indexed by PeriodIndex. */
export class CurrentWindows {
  readonly windows: Window[] = PERIODS.map(() => ({ start: 0, end: 0 }));

  at(periods: readonly PeriodIndex[], now: number): readonly Window[] {
    for (let i = 0; i < periods.length; i++) {
      const w = this.windows[periods[i]];
      if (now >= w.end || now < w.start) windowAt(periods[i], now, w);
    }
    return this.windows;
  }
}
