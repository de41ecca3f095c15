/**
 * The adaptive strategy: the chunk's target size moves between the minimum and the maximum
 * with the text's information density — dense text (many distinct words, numbers) gets
 * smaller chunks, repetitive or light text larger ones. Density is the type-token ratio of
 * the next 80 content words plus the share of digits among them.
 *
 * @module
 */
import { BOUNDARY } from "../text/sentences.ts";
import { typeTokenRatio } from "./lexical.ts";
import { fit, type PackInput } from "./units.ts";

/** Type-token ratios mapped to the largest and the smallest target. */
const LOW = 0.75, HIGH = 1;

/**
 * Density of the text starting at the chunk (0 = repetitive, 1 = dense).
 *
 * @example
 * ```ts
 * import { densityOf } from "./adaptive.ts";
 * console.log(densityOf([1, 1, 1, 1]) < densityOf([1, 2, 3, 4])); // true
 * ```
 */
export function densityOf(words: number[]): number {
  const ttr = typeTokenRatio(words, 80);
  return Math.max(0, Math.min(1, (ttr - LOW) / (HIGH - LOW)));
}

/**
 * Ends the chunk at the strongest break between 60% of the density-dependent target and the
 * target.
 *
 * @example
 * ```ts
 * import { chunkText } from "./engine.ts";
 * const chunks = chunkText("Frase um. Frase dois. Frase três.", { strategy: "adaptive", maxTokens: 20 });
 * console.log(chunks.every((c) => c.tokens <= 20)); // true
 * ```
 */
export function packAdaptive(input: PackInput): number | null {
  const f = fit(input);
  if (!f) return null;
  const u = input.units;
  const words: number[] = [];
  for (let j = 0; j < f.k && words.length < 80; j++) words.push(...input.words(input.first + j));
  const target = input.budget - (input.budget - input.min) * densityOf(words);
  if (f.atEnd && f.cum[f.k - 1] <= target) return f.k;
  let best = -1;
  // the strongest break between 60% of the target and the target, else any up to the target
  const floor = Math.max(input.min, 0.6 * target);
  for (const useFloor of [true, false]) {
    let bestLevel = -1;
    for (let j = 1; j <= f.k; j++) {
      if (f.cum[j - 1] > target && j > 1) break;
      if (useFloor && f.cum[j - 1] < floor) continue;
      const level = Math.min(u.level[input.first + j - 1 - u.base], BOUNDARY.PARAGRAPH);
      if (level >= bestLevel) {
        best = j;
        bestLevel = level;
      }
    }
    if (best > 0) break;
  }
  if (best < 1) best = 1;
  return best;
}
