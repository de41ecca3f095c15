/**
 * The semantic strategy: TextTiling-style lexical cohesion, without any model. For each
 * sentence break that keeps the chunk within the budget, it compares the words of the few
 * sentences before the break with the few after it; the chunk ends where they share the
 * fewest words (a topic shift), with a bonus for paragraph and section breaks and a small one
 * for fuller chunks.
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
  let best = f.k, bestScore = -Infinity;
  for (let j = 1; j <= f.k; j++) {
    const g = first + j; // the break before unit g
    const level = u.level[g - 1 - u.base];
    if (f.cum[j - 1] < input.min && j < f.k) continue;
    const left = new Map<number, number>();
    for (let h = Math.max(first, g - w); h < g; h++) bagOf(input.words(h), left);
    const right = new Map<number, number>();
    for (let h = g; h < Math.min(last, g + w); h++) bagOf(input.words(h), right);
    const term = u.term[g - 1 - u.base] ? 0.15 : 0; // prefer breaks after final punctuation
    const score = (1 - cosine(left, right)) + LEVEL_BONUS[Math.min(level, BOUNDARY.SECTION)] +
      term +
      0.2 * f.cum[j - 1] / input.budget;
    if (score >= bestScore) {
      bestScore = score;
      best = j;
    }
  }
  return best;
}
