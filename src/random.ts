/**
 * The seeded random generators of Bentevi, in one place. Each keeps the exact stream it had
 * where it was first written, so runs, tests and checkpoints stay reproducible:
 *
 * - {@link Xoshiro128} (xoshiro128**, splitmix32-seeded, serialisable state): weight
 *   initialisation and the training batch sampler, whose state goes into checkpoints.
 * - {@link Mulberry32}: token sampling during generation.
 * - {@link Lcg32}: a linear congruential generator for throwaway test and benchmark inputs
 *   (backend self-test values, benchmark tokens).
 *
 * @example
 * ```ts
 * import { Xoshiro128 } from "./random.ts";
 * const a = new Xoshiro128(42), b = new Xoshiro128(42);
 * console.log(a.next() === b.next()); // true
 * ```
 *
 * @module
 */

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A standard normal draw (Box–Muller) from two uniform draws of `next`. */
function boxMuller(next: () => number): number {
  const u1 = 1 - next();
  const u2 = next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * A small seeded generator (xoshiro128**) with a serialisable state, so a run's randomness
 * can be saved in a checkpoint and resumed exactly.
 *
 * @example
 * ```ts
 * import { Xoshiro128 } from "./random.ts";
 * const a = new Xoshiro128(42), b = new Xoshiro128(42);
 * console.log(a.next() === b.next()); // true
 * ```
 */
export class Xoshiro128 {
  #s = new Uint32Array(4);

  /** Seeds the generator (splitmix32 expansion of `seed`; non-finite seeds count as 0). */
  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [0, m), from 53 random bits (two draws). */
  below(m: number): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return Math.floor(((hi * 67108864 + lo) / 9007199254740992) * m);
  }

  /** A standard normal sample (Box–Muller). */
  normal(): number {
    return boxMuller(() => this.next());
  }

  /** The state as four numbers (for checkpoints). */
  getState(): number[] {
    return [...this.#s];
  }

  /** Restores a state from {@link Xoshiro128.getState}. */
  setState(state: number[]): void {
    if (!Array.isArray(state) || state.length !== 4) throw new Error("bad RNG state");
    for (let i = 0; i < 4; i++) this.#s[i] = state[i] >>> 0;
  }
}

/**
 * A small, fast, seedable PRNG (mulberry32): the same seed gives the same sequence.
 *
 * @example
 * ```ts
 * import { Mulberry32 } from "./random.ts";
 * const a = new Mulberry32(7), b = new Mulberry32(7);
 * console.log(a.next() === b.next()); // true
 * ```
 */
export class Mulberry32 {
  #s: number;
  /** @param seed any integer; only its low 32 bits matter. */
  constructor(seed: number) {
    this.#s = (seed >>> 0) ^ 0x9e3779b9;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** A standard normal draw (Box–Muller). */
  normal(): number {
    return boxMuller(() => this.next());
  }
  /** The generator's internal state, to resume the same sequence later. */
  get state(): number {
    return this.#s;
  }
  set state(s: number) {
    this.#s = s | 0;
  }
}

/**
 * A 32-bit linear congruential generator, `s ← (a·s + c) mod 2³²` (by default Numerical
 * Recipes' `a = 1664525, c = 1013904223`): fast and good enough for test and benchmark
 * inputs, not for anything statistical.
 *
 * @example
 * ```ts
 * import { Lcg32 } from "./random.ts";
 * console.log(new Lcg32(0).nextUint32()); // 1013904223
 * ```
 */
export class Lcg32 {
  #s: number;
  readonly #a: number;
  readonly #c: number;
  /** Starts from state `seed` (low 32 bits) with multiplier `a` and increment `c`. */
  constructor(seed: number, a = 1664525, c = 1013904223) {
    this.#s = seed >>> 0;
    this.#a = a;
    this.#c = c;
  }
  /** Advances and returns the new 32-bit state. */
  nextUint32(): number {
    return (this.#s = (Math.imul(this.#s, this.#a) + this.#c) >>> 0);
  }
  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
}
