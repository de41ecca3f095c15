/**
 * Picking the next token from a row of logits: repetition penalty → temperature → top-k →
 * top-p (nucleus) → a draw from a seeded PRNG. Pure TypeScript on a `Float32Array`, so the
 * same seed gives the same text on every backend.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { Mulberry32 } from "../random.ts";

/** The sampling knobs. Every field is optional; {@link resolveSampling} fills defaults. */
export interface SamplingOptions {
  /** Softmax temperature; 0 means greedy (always the most likely token). Default 0.8. */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 disables. Default 0. */
  topK?: number;
  /** Keep the smallest set of tokens whose probability adds up to p, in (0, 1]. Default 1. */
  topP?: number;
  /** Divide positive logits (multiply negative ones) of tokens already seen by this; ≥ 1 penalises. Default 1. */
  repetitionPenalty?: number;
  /** How many of the most recent context tokens the repetition penalty looks at (0 = all). Default 64. */
  repetitionWindow?: number;
  /** PRNG seed; the same seed and inputs give the same tokens. Default: random. */
  seed?: number;
}

/** {@link SamplingOptions} with every field set and validated. */
export type ResolvedSampling = Required<SamplingOptions>;

/**
 * Fills defaults and checks ranges, throwing a {@link BenteviError} that names the bad knob.
 *
 * @example
 * ```ts
 * import { resolveSampling } from "./sampler.ts";
 * console.log(resolveSampling({ temperature: 0, seed: 1 }).topP); // 1
 * ```
 */
export function resolveSampling(options: SamplingOptions = {}): ResolvedSampling {
  const r: ResolvedSampling = {
    temperature: options.temperature ?? 0.8,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
    repetitionPenalty: options.repetitionPenalty ?? 1,
    repetitionWindow: options.repetitionWindow ?? 64,
    seed: options.seed ?? Math.floor(Math.random() * 2 ** 32),
  };
  checkSamplingValue("temperature", r.temperature);
  checkSamplingValue("topK", r.topK);
  checkSamplingValue("topP", r.topP);
  checkSamplingValue("repetitionPenalty", r.repetitionPenalty);
  checkSamplingValue("repetitionWindow", r.repetitionWindow);
  if (!Number.isInteger(r.seed) || r.seed < 0) {
    throw new BenteviError(`seed must be a non-negative integer, got ${r.seed}`);
  }
  return r;
}

const KNOB_LABEL: Record<string, string> = {
  temperature: "temperature",
  topK: "top-k",
  topP: "top-p",
  repetitionPenalty: "repetition penalty",
  repetitionWindow: "repetition window",
};

/**
 * Checks one sampling knob, throwing a {@link BenteviError} that says the allowed range.
 *
 * @example
 * ```ts
 * import { checkSamplingValue } from "./sampler.ts";
 * checkSamplingValue("topP", 0.9); // fine
 * try { checkSamplingValue("topP", 1.5); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkSamplingValue(
  knob: "temperature" | "topK" | "topP" | "repetitionPenalty" | "repetitionWindow",
  value: number,
): void {
  const label = KNOB_LABEL[knob];
  const bad = (range: string) => new BenteviError(`${label} must be ${range}, got ${value}`);
  if (!Number.isFinite(value)) throw bad("a finite number");
  switch (knob) {
    case "temperature":
      if (value < 0) throw bad("≥ 0 (0 = greedy)");
      break;
    case "topK":
    case "repetitionWindow":
      if (!Number.isInteger(value) || value < 0) throw bad("an integer ≥ 0 (0 = off)");
      break;
    case "topP":
      if (!(value > 0 && value <= 1)) throw bad("in (0, 1]");
      break;
    case "repetitionPenalty":
      if (!(value > 0)) throw bad("> 0 (1 = off)");
      break;
  }
}

/** The sampler's PRNG (mulberry32), under its historical name; see {@link Mulberry32}. */
export { Mulberry32 as Rng };

/** One candidate token with its probability under the plain softmax of the logits. */
export interface Candidate {
  /** Token id. */
  id: number;
  /** Raw logit. */
  logit: number;
  /** Softmax probability (temperature 1, no filtering). */
  prob: number;
}

/**
 * The `n` most likely tokens of a logits row, most likely first, with softmax probabilities.
 *
 * @example
 * ```ts
 * import { topCandidates } from "./sampler.ts";
 * const top = topCandidates(new Float32Array([0, 2, 1]), 2);
 * console.log(top.map((c) => c.id)); // [1, 2]
 * ```
 */
export function topCandidates(logits: Float32Array, n: number): Candidate[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp(logits[i] - max);
  return topIndices(logits, Math.min(n, logits.length)).map((id) => ({
    id,
    logit: logits[id],
    prob: Math.exp(logits[id] - max) / z,
  }));
}

/** Indices of the k largest values, descending (ties: lower index first). */
function topIndices(x: ArrayLike<number>, k: number): number[] {
  if (k <= 0) return [];
  // A sorted buffer of the best k seen so far: O(V·k) worst case but O(V) typically.
  const idx: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (idx.length === k && v <= x[idx[k - 1]]) continue;
    let j = idx.length < k ? idx.length : k - 1;
    if (idx.length < k) idx.push(i);
    while (j > 0 && x[idx[j - 1]] < v) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = i;
  }
  return idx;
}

/**
 * Applies the repetition penalty in place (Keskar et al., as in Hugging Face): for every
 * distinct token in `recent`, a positive logit is divided by `penalty`, a negative one
 * multiplied by it.
 *
 * @example
 * ```ts
 * import { applyRepetitionPenalty } from "./sampler.ts";
 * const l = new Float32Array([2, -2, 1]);
 * applyRepetitionPenalty(l, [0, 1], 2);
 * console.log(Array.from(l)); // [1, -4, 1]
 * ```
 */
export function applyRepetitionPenalty(
  logits: Float32Array,
  recent: Iterable<number>,
  penalty: number,
): void {
  if (penalty === 1) return;
  for (const id of new Set(recent)) {
    if (id < 0 || id >= logits.length) continue;
    const l = logits[id];
    logits[id] = l > 0 ? l / penalty : l * penalty;
  }
}

/**
 * Draws next tokens from logits with the configured knobs and its own seeded PRNG.
 *
 * @example
 * ```ts
 * import { Sampler } from "./sampler.ts";
 * const s = new Sampler({ temperature: 0 });
 * console.log(s.sample(new Float32Array([0.1, 3, 0.2]))); // 1
 * ```
 */
export class Sampler {
  /** The validated knobs in use. */
  readonly options: ResolvedSampling;
  /** The PRNG (its state advances with every non-greedy draw). */
  readonly rng: Mulberry32;
  /** The penalized copy of the logits, one array reused draw after draw. */
  #penalized: Float32Array | null = null;
  /** Every token id, the candidates when there is no top-k (kept between draws). */
  #everyId: number[] | null = null;
  /** The candidates' weights (kept between draws). */
  #probs: Float64Array | null = null;

  /** @param options sampling knobs; bad values throw a {@link BenteviError}. */
  constructor(options: SamplingOptions = {}) {
    this.options = resolveSampling(options);
    this.rng = new Mulberry32(this.options.seed);
  }

  /**
   * Picks the next token. `context` is the token history the repetition penalty looks at;
   * `logits` is not modified.
   */
  sample(logits: Float32Array, context: readonly number[] = []): number {
    return this.#pick(logits, context, undefined);
  }

  /**
   * Picks the next token exactly as {@link sample} does (same PRNG draw) and says how: the
   * knobs, how many candidates each cut-off kept, the draw, and for each id of `watch` its
   * probability under the final (penalised, tempered, cut, renormalised) distribution.
   *
   * @example
   * ```ts
   * import { Sampler } from "./sampler.ts";
   * const s = new Sampler({ temperature: 1, topK: 2, seed: 3 });
   * const { id, trace } = s.sampleTraced(new Float32Array([0, 2, 1]), [], [1, 2, 0]);
   * console.log(trace.keptAfterTopK, trace.final.map((c) => c.kept)); // 2 [true, true, false]
   * console.log(trace.final.find((c) => c.id === id)!.prob > 0); // true
   * ```
   */
  sampleTraced(
    logits: Float32Array,
    context: readonly number[] = [],
    watch: readonly number[] = [],
  ): { id: number; trace: SamplingTrace } {
    const trace: SamplingTrace = {
      temperature: this.options.temperature,
      topK: this.options.topK,
      topP: this.options.topP,
      repetitionPenalty: this.options.repetitionPenalty,
      greedy: this.options.temperature === 0,
      penalized: [],
      candidates: logits.length,
      keptAfterTopK: logits.length,
      keptAfterTopP: logits.length,
      draw: null,
      final: [],
    };
    const id = this.#pick(logits, context, { trace, watch });
    return { id, trace };
  }

  #pick(
    logits: Float32Array,
    context: readonly number[],
    t: { trace: SamplingTrace; watch: readonly number[] } | undefined,
  ): number {
    const o = this.options;
    let l = logits;
    if (o.repetitionPenalty !== 1 && context.length > 0) {
      // A copy, so the caller's logits stay as they are; the same array every draw (a fresh
      // one of a 50k vocabulary per token costs page faults until the collector runs).
      if (this.#penalized?.length !== logits.length) {
        this.#penalized = new Float32Array(logits.length);
      }
      l = this.#penalized;
      l.set(logits);
      const recent = o.repetitionWindow > 0 ? context.slice(-o.repetitionWindow) : context;
      applyRepetitionPenalty(l, recent, o.repetitionPenalty);
      if (t) t.trace.penalized = [...new Set(recent)].filter((i) => i >= 0 && i < l.length);
    }
    if (o.temperature === 0) {
      const id = topIndices(l, 1)[0];
      if (t) {
        t.trace.keptAfterTopK = t.trace.keptAfterTopP = 1;
        t.trace.final = t.watch.map((w) => ({ id: w, prob: w === id ? 1 : 0, kept: w === id }));
      }
      return id;
    }
    // Candidates: the top-k when set, else every token, sorted by logit (descending). Every
    // token's list and the probabilities are kept from draw to draw: a new 50k-entry array per
    // token cost more than the token's forward pass. (Sorting the kept list, in whatever order
    // the last draw left it, gives the same order: the comparison is total.)
    let ids: number[];
    if (o.topK > 0 && o.topK < l.length) ids = topIndices(l, o.topK);
    else {
      if (this.#everyId?.length !== l.length) {
        this.#everyId = Array.from({ length: l.length }, (_, i) => i);
      }
      ids = this.#everyId;
      if (o.topP < 1) ids.sort((a, b) => l[b] - l[a] || a - b);
    }
    let max = -Infinity;
    for (let j = 0; j < ids.length; j++) max = Math.max(max, l[ids[j]]);
    if (this.#probs?.length !== ids.length) this.#probs = new Float64Array(ids.length);
    const probs = this.#probs;
    let z = 0;
    for (let j = 0; j < ids.length; j++) {
      probs[j] = Math.exp((l[ids[j]] - max) / o.temperature);
      z += probs[j];
    }
    let n = ids.length;
    if (o.topP < 1) {
      // ids are sorted descending: keep the shortest prefix reaching mass topP.
      let cum = 0;
      for (let j = 0; j < ids.length; j++) {
        cum += probs[j] / z;
        if (cum >= o.topP) {
          n = j + 1;
          break;
        }
      }
      z = 0;
      for (let j = 0; j < n; j++) z += probs[j];
    }
    const u = this.rng.next();
    let r = u * z;
    let chosen = ids[n - 1];
    for (let j = 0; j < n; j++) {
      r -= probs[j];
      if (r < 0) {
        chosen = ids[j];
        break;
      }
    }
    if (t) {
      t.trace.keptAfterTopK = ids.length;
      t.trace.keptAfterTopP = n;
      t.trace.draw = u;
      const at = new Map<number, number>();
      const wanted = new Set(t.watch);
      for (let j = 0; j < ids.length && at.size < wanted.size; j++) {
        if (wanted.has(ids[j])) at.set(ids[j], j);
      }
      t.trace.final = t.watch.map((w) => {
        const j = at.get(w);
        const kept = j !== undefined && j < n;
        return { id: w, prob: kept ? probs[j] / z : 0, kept };
      });
    }
    return chosen;
  }
}

/** One token's fate in the sampling step (see {@link Sampler.sampleTraced}). */
export interface SampledCandidate {
  /** Token id. */
  id: number;
  /** Probability under the distribution actually drawn from (0 when a cut-off removed it). */
  prob: number;
  /** Whether it survived top-k and top-p. */
  kept: boolean;
}

/**
 * How the sampler chose a token: the knobs in force, how many candidates survived each
 * cut-off, and the uniform draw. The order is repetition penalty → temperature → top-k →
 * top-p → draw (a greedy step, temperature 0, takes the largest penalised logit).
 */
export interface SamplingTrace {
  /** Temperature (0 = greedy). */
  temperature: number;
  /** Top-k cut-off (0 = off). */
  topK: number;
  /** Top-p (nucleus) cut-off (1 = off). */
  topP: number;
  /** Repetition penalty (1 = off). */
  repetitionPenalty: number;
  /** Whether the step was greedy (temperature 0). */
  greedy: boolean;
  /** Ids whose logits the repetition penalty changed (the distinct recent tokens). */
  penalized: number[];
  /** Candidates before any cut-off (the vocabulary). */
  candidates: number;
  /** Candidates left after top-k. */
  keptAfterTopK: number;
  /** Candidates left after top-p: the ones the draw could pick. */
  keptAfterTopP: number;
  /** The uniform number in [0, 1) the draw used (null when greedy). */
  draw: number | null;
  /** The watched ids (the step's top candidates) under the final distribution. */
  final: SampledCandidate[];
}
