// The four ways an upstream picks a target, as pure state machines over target indexes: none knows about health
// or sockets. `eligible(i)` says whether target i may be picked now (healthy, weight above 0, not already failed
// for this request); each returns the chosen index, or -1 when no target is eligible.

export type Eligible = (index: number) => boolean;

export interface Picker {
  pick(eligible: Eligible, hashKey: string | undefined): number;
}

/**
 * Smooth weighted round-robin (nginx's): each pick adds every eligible target's weight to its running score, takes
 * the highest and subtracts the total from it. Over sum(weights) picks each target gets exactly its weight, spread
 * out (weights 5,1,1 give a a b a c a a, not a a a a a b c).
 */
export class RoundRobin implements Picker {
  private readonly current: Float64Array;

  constructor(private readonly weights: readonly number[]) {
    this.current = new Float64Array(weights.length);
  }

  pick(eligible: Eligible): number {
    let best = -1;
    let total = 0;
    const current = this.current;
    for (let i = 0; i < current.length; i++) {
      if (!eligible(i)) continue;
      current[i] += this.weights[i];
      total += this.weights[i];
      if (best === -1 || current[i] > current[best]) best = i;
    }
    if (best !== -1) current[best] -= total;
    return best;
  }
}

/** 32-bit FNV-1a, then murmur3's finalizer so that near keys land far apart on the ring. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The most points one ring holds, whatever the weights: bounds memory and build time. */
const MAX_POINTS = 1 << 20;

/**
 * Consistent hashing on a ring: a target of weight w owns round(w × slots / 1000) points (1,000 for Kong's default
 * weight 100 and slots 10000), each at hash(address#n). A key goes to the first point at or after its own hash.
 * A target's points depend only on its address and weight, never on the other targets: adding or removing one
 * moves only the keys on its points. A key whose target is not eligible walks on to the next eligible point.
 */
export class ConsistentHashing implements Picker {
  private readonly positions: Uint32Array;
  private readonly owners: Uint32Array;
  private lastRoundRobin: RoundRobin;

  constructor(addresses: readonly string[], weights: readonly number[], slots: number) {
    const per = weights.map((w) => (w <= 0 ? 0 : Math.max(1, Math.round((w * slots) / 1000))));
    let total = per.reduce((a, b) => a + b, 0);
    if (total > MAX_POINTS) {
      const scale = MAX_POINTS / total;
      for (let i = 0; i < per.length; i++) if (per[i] > 0) per[i] = Math.max(1, Math.floor(per[i] * scale));
      total = per.reduce((a, b) => a + b, 0);
    }
    const points: Array<[number, number]> = [];
    for (let i = 0; i < addresses.length; i++) for (let n = 0; n < per[i]; n++) points.push([hash32(`${addresses[i]}#${n}`), i]);
    points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.positions = Uint32Array.from(points, (p) => p[0]);
    this.owners = Uint32Array.from(points, (p) => p[1]);
    this.lastRoundRobin = new RoundRobin(weights);
  }

  pick(eligible: Eligible, hashKey: string | undefined): number {
    // No value to hash on (neither hash_on nor hash_fallback gave one): spread as round-robin does.
    if (hashKey === undefined || this.positions.length === 0) return this.lastRoundRobin.pick(eligible);
    const h = hash32(hashKey);
    let lo = 0;
    let hi = this.positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.positions[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    const n = this.owners.length;
    const tried = new Set<number>();
    for (let k = 0; k < n; k++) {
      const owner = this.owners[(lo + k) % n];
      if (tried.has(owner)) continue;
      if (eligible(owner)) return owner;
      tried.add(owner);
    }
    return -1;
  }

  /** The target that owns `hashKey` when every target is eligible (for explain and tests). */
  ownerOf(hashKey: string): number {
    return this.pick(() => true, hashKey);
  }
}

/**
 * Least connections, weighted: the eligible target with the fewest requests in flight per unit of weight
 * ((active + 1) / weight, as Kong scores it). Ties go round the targets so that an idle upstream is not all sent
 * to its first target.
 */
export class LeastConnections implements Picker {
  private next = 0;

  constructor(
    private readonly weights: readonly number[],
    private readonly active: (index: number) => number,
  ) {}

  pick(eligible: Eligible): number {
    const n = this.weights.length;
    let best = -1;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      if (!eligible(i)) continue;
      const score = (this.active(i) + 1) / this.weights[i];
      if (score < bestScore) {
        bestScore = score;
        best = i;
      }
    }
    if (best !== -1) this.next = (best + 1) % n;
    return best;
  }
}

/** How much a new latency sample counts in a target's moving average. */
export const LATENCY_ALPHA = 0.3;

/** A moving average updated with one more sample (the first sample is taken as it is). */
export function nextAverage(previous: number | undefined, sample: number): number {
  return previous === undefined ? sample : LATENCY_ALPHA * sample + (1 - LATENCY_ALPHA) * previous;
}

/**
 * Latency: the eligible target with the lowest moving average of its response times (EWMA), weighted by the
 * requests it has in flight; a target with no sample yet comes first, so every target is measured.
 */
export class Latency implements Picker {
  private next = 0;

  constructor(
    private readonly weights: readonly number[],
    private readonly active: (index: number) => number,
    private readonly average: (index: number) => number | undefined,
  ) {}

  pick(eligible: Eligible): number {
    const n = this.weights.length;
    let best = -1;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      if (!eligible(i)) continue;
      const avg = this.average(i);
      const score = avg === undefined ? -1 : ((avg + 1) * (this.active(i) + 1)) / this.weights[i];
      if (score < bestScore) {
        bestScore = score;
        best = i;
      }
    }
    if (best !== -1) this.next = (best + 1) % n;
    return best;
  }
}
