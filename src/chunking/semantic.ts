/**
 * The semantic strategy: TextTiling-style lexical cohesion, without any model. For each
 * sentence break that keeps the chunk within the budget, it compares the words of the few
 * sentences before the break with the few after it; the chunk ends where they share the
 * fewest words (a topic shift), with a bonus for paragraph and section breaks and a small one
 * for fuller chunks. With an embedder (`ChunkOptions.embed`, e.g. a model's hidden states
 * through `modelEmbedder`), the two windows are compared by the cosine of their summed
 * embedding vectors instead of their shared words.
 *
 * @module
 */
import { BOUNDARY } from "../text/sentences.ts";
import { bagOf, cosine } from "./lexical.ts";
import { fit, type PackInput } from "./units.ts";

/** Sentences on each side of a break that are compared. */
export const COHESION_WINDOW = 3;

const LEVEL_BONUS = [-1, -1, -0.6, 0, 0.1, 0.3, 0.5];

/**
 * Picks the break with the lowest cohesion between its neighbours (see the module doc).
 *
 * @example
 * ```ts
 * import { chunkText } from "./engine.ts";
 * const text = "O gato mia. O gato dorme. O gato come. A bolsa subiu. A bolsa caiu. A bolsa fechou.";
 * console.log(chunkText(text, { strategy: "semantic", maxTokens: 60, minTokens: 10 })[0].text);
 * // "O gato mia. O gato dorme. O gato come. "
 * ```
 */
export function packSemantic(input: PackInput): number | null {
  const f = fit(input);
  if (!f) return null;
  if (f.atEnd) return f.k;
  const u = input.units;
  const w = COHESION_WINDOW;
  const first = input.first;
  // the right-hand window of the last candidate must have arrived (or the input ended)
  if (first + f.k + w > u.total && !input.ended) return null;
  const last = Math.min(u.total, first + f.k + w);
  if (input.vector) {
    let missing = false; // ask for every missing vector (one batch), then wait for them
    for (let g = first; g < last; g++) if (!input.vector(g)) missing = true;
    if (missing) return null;
  }
  let best = f.k, bestScore = -Infinity;
  for (let j = 1; j <= f.k; j++) {
    const g = first + j; // the break before unit g
    const level = u.level[g - 1 - u.base];
    if (f.cum[j - 1] < input.min && j < f.k) continue;
    const from = Math.max(first, g - w), to = Math.min(last, g + w);
    const similarity = input.vector
      ? denseCosine(sumVectors(input.vector, from, g), sumVectors(input.vector, g, to))
      : lexicalSimilarity(input, from, g, to);
    const term = u.term[g - 1 - u.base] ? 0.15 : 0; // prefer breaks after final punctuation
    const score = (1 - similarity) + LEVEL_BONUS[Math.min(level, BOUNDARY.SECTION)] +
      term +
      0.2 * f.cum[j - 1] / input.budget;
    if (score >= bestScore) {
      bestScore = score;
      best = j;
    }
  }
  return best;
}

function lexicalSimilarity(input: PackInput, from: number, g: number, to: number): number {
  const left = new Map<number, number>();
  for (let h = from; h < g; h++) bagOf(input.words(h), left);
  const right = new Map<number, number>();
  for (let h = g; h < to; h++) bagOf(input.words(h), right);
  return cosine(left, right);
}

function sumVectors(
  vector: (g: number) => Float32Array | undefined,
  from: number,
  to: number,
): Float64Array {
  let sum: Float64Array | undefined;
  for (let h = from; h < to; h++) {
    const v = vector(h)!;
    sum ??= new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) sum[i] += v[i];
  }
  return sum ?? new Float64Array(0);
}

/** Cosine similarity of two dense vectors (0 when either is empty or zero). */
export function denseCosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
