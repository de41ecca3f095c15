/**
 * The sentence strategy: whole sentences (and list items, headings) packed greedily up to the
 * budget. A sentence longer than the budget arrives already split into clauses or words.
 *
 * @module
 */
import { BOUNDARY } from "../text/sentences.ts";
import { fit, type PackInput } from "./units.ts";

/**
 * Packs as many whole sentences as fit; the chunk ends at the last sentence end that fits
 * (at a clause or word only when one sentence alone is over the budget).
 *
 * @example
 * ```ts
 * import { chunkText } from "./engine.ts";
 * const chunks = chunkText("Uma frase. Outra frase. Mais uma.", { strategy: "sentence", maxTokens: 25 });
 * console.log(chunks.map((c) => c.text)); // ["Uma frase. Outra frase. ", "Mais uma."]
 * ```
 */
export function packSentences(input: PackInput): number | null {
  const f = fit(input);
  if (!f) return null;
  if (f.atEnd) return f.k;
  const u = input.units;
  // a real sentence end in the second half of the budget, else any sentence-level break
  const half = Math.max(input.min, input.budget / 2);
  for (let j = f.k; j >= 1 && f.cum[j - 1] >= half; j--) {
    const k = input.first + j - 1 - u.base;
    if (u.level[k] >= BOUNDARY.SENTENCE && u.term[k]) return j;
  }
  for (const useMin of [true, false]) {
    for (let j = f.k; j >= 1; j--) {
      if (useMin && f.cum[j - 1] < input.min) break;
      if (u.level[input.first + j - 1 - u.base] >= BOUNDARY.SENTENCE) return j;
    }
  }
  return f.k;
}
