import { PERIODS, secondsLeft, type PeriodIndex, type Window } from './windows';

const capitalized = (p: string) => p[0].toUpperCase() + p.slice(1);
export const LIMIT_HEADER = PERIODS.map((p) => `X-RateLimit-Limit-${capitalized(p)}`);
export const REMAINING_HEADER = PERIODS.map((p) => `X-RateLimit-Remaining-${capitalized(p)}`);

// RateLimit-Reset changes at most once a second (always 1 for a per-second limit): the last value's text is kept.
let lastReset = 1;
let lastResetText = '1';

function resetText(seconds: number): string {
  if (seconds !== lastReset) {
    lastReset = seconds;
    lastResetText = String(seconds);
  }
  return lastResetText;
}

/** What the headers are computed from, fixed per plugin instance. */
export interface HeaderPlan {
  periods: readonly PeriodIndex[];
  limits: readonly number[];
  /** String(limit), once. */
  limitValues: readonly string[];
}

/**
 * Appends Kong's rate-limit headers for one request to `out`, a flat [name, value, …] list (the request's
 * responseHeaders), and returns RateLimit-Reset (what Retry-After repeats).
 * For each period: X-RateLimit-Limit-<Period> and X-RateLimit-Remaining-<Period>, the remaining count after
 * this request (limit − usage − 1); on a refused request a period with room left keeps limit − usage and a used
 * up one shows 0. RateLimit-Limit/-Remaining/-Reset describe the period with the fewest remaining (a tie goes
 * to the longer window); Reset is the seconds until that window ends.
 */
export function writeRateLimitHeaders(
  out: string[],
  plan: HeaderPlan,
  usage: readonly number[],
  /** Indexed by PeriodIndex. */
  windows: readonly Window[],
  allowed: boolean,
  now: number,
): number {
  let chosen = 0;
  let chosenRemaining = Infinity;
  let chosenText = '';
  for (let i = 0; i < plan.periods.length; i++) {
    let remaining = plan.limits[i] - usage[i];
    if (allowed || remaining <= 0) remaining -= 1;
    if (remaining < 0) remaining = 0;
    const p = plan.periods[i];
    const text = String(remaining);
    out.push(LIMIT_HEADER[p], plan.limitValues[i], REMAINING_HEADER[p], text);
    if (remaining <= chosenRemaining) {
      chosen = i;
      chosenRemaining = remaining;
      chosenText = text;
    }
  }
  const reset = secondsLeft(windows[plan.periods[chosen]].end, now);
  out.push('RateLimit-Limit', plan.limitValues[chosen], 'RateLimit-Remaining', chosenText, 'RateLimit-Reset', resetText(reset));
  return reset;
}
