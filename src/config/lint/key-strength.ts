export const MIN_KEY_LENGTH = 16;
export const MIN_KEY_BITS = 64;
/** A repeat of at least this many characters seen before counts as one character. */
const MIN_REPEAT = 4;
/** Keys are judged by their first characters: enough to tell, and the scan stays cheap whatever the length. */
const MAX_JUDGED = 256;

/** Size of the character classes a key draws from: digits, lower case, upper case, other ASCII, the rest. */
function poolSize(chars: readonly string[]): number {
  let digit = 0, lower = 0, upper = 0, other = 0, wide = 0;
  for (const c of chars) {
    if (c >= '0' && c <= '9') digit = 10;
    else if (c >= 'a' && c <= 'z') lower = 26;
    else if (c >= 'A' && c <= 'Z') upper = 26;
    else if (c.length === 1 && c.charCodeAt(0) < 128) other = 33;
    else wide = 100;
  }
  return digit + lower + upper + other + wide;
}

/** Length of the longest run starting at `i` that also starts at an earlier position (overlap allowed). */
function longestRepeat(chars: readonly string[], i: number): number {
  let best = 0;
  for (let j = 0; j < i; j++) {
    let n = 0;
    while (i + n < chars.length && chars[j + n] === chars[i + n]) n++;
    if (n > best) best = n;
  }
  return best;
}

/** chars[i] continues a run: the same step as the one before it, a step of -1, 0 or +1 (aaa, abc, 321). */
function continuesRun(chars: readonly string[], i: number): boolean {
  if (i < 2) return false;
  const step = chars[i].codePointAt(0)! - chars[i - 1].codePointAt(0)!;
  return Math.abs(step) <= 1 && step === chars[i - 1].codePointAt(0)! - chars[i - 2].codePointAt(0)!;
}

/**
 * The key's entropy in bits, estimated from the key itself: log2 of the character classes it uses, for each
 * character that is neither part of a repeat of something earlier (4 characters or more, counted once) nor the
 * continuation of a run. A random key scores its true entropy; repeated words and sequences score little.
 */
export function estimatedBits(key: string): number {
  const chars = Array.from(key).slice(0, MAX_JUDGED);
  let counted = 0;
  for (let i = 0; i < chars.length; ) {
    const repeat = longestRepeat(chars, i);
    if (repeat >= MIN_REPEAT) {
      counted++;
      i += repeat;
    } else {
      if (!continuesRun(chars, i)) counted++;
      i++;
    }
  }
  return counted === 0 ? 0 : counted * Math.log2(poolSize(chars));
}

/** Why a key-auth key is easy to guess, or undefined. Never quotes the key. */
export function keyWeakness(key: string): string | undefined {
  const advice = 'use a random key, e.g. the output of `openssl rand -hex 20`';
  if (Array.from(key).length < MIN_KEY_LENGTH) return `key is shorter than ${MIN_KEY_LENGTH} characters: ${advice}`;
  const bits = Math.floor(estimatedBits(key));
  if (bits < MIN_KEY_BITS) {
    return `key is low-entropy: about ${bits} bits, estimated from its character classes with repeats and runs counted once, under ${MIN_KEY_BITS}: ${advice}`;
  }
  return undefined;
}
