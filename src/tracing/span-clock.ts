import { performance } from 'node:perf_hooks';

/**
 * Span times as plain numbers: nanoseconds since ORIGIN_MS (the wall clock when this module loaded), read off the
 * monotonic clock. Exact integers for 104 days of uptime, then within a few nanoseconds; no BigInt per timestamp.
 * The encoder adds ORIGIN_NS back when it writes a time (otlp.ts).
 */
export const ORIGIN_MS = Date.now();
const ORIGIN_PERF = performance.now();
/** ORIGIN_MS in nanoseconds since epoch, as the two 32-bit halves of a fixed64. */
const ORIGIN_NS = BigInt(ORIGIN_MS) * 1_000_000n;
export const ORIGIN_NS_HIGH = Number(ORIGIN_NS >> 32n);
export const ORIGIN_NS_LOW = Number(ORIGIN_NS & 0xffffffffn);

/** Now, in nanoseconds since ORIGIN_MS. */
export const nowNs = (): number => Math.round((performance.now() - ORIGIN_PERF) * 1e6);

/** A wall-clock time in milliseconds since epoch (Date.now()), in nanoseconds since ORIGIN_MS. */
export const msToNs = (ms: number): number => (ms - ORIGIN_MS) * 1e6;
