/**
 * Deterministic weight initialisation from a small seeded random generator, following each
 * weight's initialiser in the family's weight list (GPT-2/nanoGPT: N(0, 0.02), residual
 * projections scaled by 1/√(2L); RWKV-4: BlinkDL's init).
 *
 * @module
 */
import type { NamedTensor } from "../io/safetensors.ts";
import type { ModelConfig } from "./config.ts";
import { weightSpecs } from "./weights.ts";

/**
 * A small seeded generator (xoshiro128**) with a serialisable state, so a run's randomness
 * can be saved in a checkpoint and resumed exactly.
 *
 * @example
 * ```ts
 * import { Xoshiro128 } from "./init.ts";
 * const a = new Xoshiro128(42), b = new Xoshiro128(42);
 * console.log(a.next() === b.next()); // true
 * ```
 */
export class Xoshiro128 {
  #s: Uint32Array;

  /** Seeds the generator (splitmix32 expansion of `seed`). */
  constructor(seed: number) {
    this.#s = new Uint32Array(4);
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

  /** A standard normal sample (Box–Muller). */
  normal(): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
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

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Fresh weights for `config`, deterministic in `seed`, under canonical names.
 *
 * @example
 * ```ts
 * import { initWeights } from "./init.ts";
 * import { presetConfig } from "./config.ts";
 * const w = initWeights(presetConfig("gpt-micro", 256), 1);
 * console.log(w.get("h.0.ln_1.weight")!.data[0]); // 1
 * ```
 */
export function initWeights(config: ModelConfig, seed: number): Map<string, NamedTensor> {
  const rng = new Xoshiro128(seed);
  const out = new Map<string, NamedTensor>();
  for (const spec of weightSpecs(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    let data: Float32Array = new Float32Array(size);
    const init = spec.init;
    switch (init.kind) {
      case "normal":
        for (let i = 0; i < size; i++) data[i] = rng.normal() * init.std;
        break;
      case "uniform":
        for (let i = 0; i < size; i++) data[i] = (rng.next() * 2 - 1) * init.limit;
        break;
      case "const":
        data.fill(init.value);
        break;
      case "computed":
        data = init.values();
        break;
    }
    out.set(spec.name, { shape: [...spec.shape], data });
  }
  return out;
}
