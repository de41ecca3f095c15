/**
 * The recursive strategy, for text of unknown shape: the separator hierarchy of LangChain's
 * and semchunk's recursive splitters (sections → paragraphs → lines → sentences → clauses →
 * words → characters), done in one pass: the chunk ends at the strongest break that fits, the
 * latest one among equals (a break after sentence punctuation beats one without). Unlike a splitter that cuts at every newline, a newline that only
 * wraps a line of prose is not a break here.
 *
 * @module
 */
import { fit, type PackInput } from "./units.ts";

/**
 * Ends the chunk at the strongest boundary within the budget (at or past `min` when possible).
 *
 * @example
 * ```ts
 * import { chunkText } from "./engine.ts";
 * const text = "Primeiro parágrafo. Curto.\n\nSegundo parágrafo, com mais texto.";
 * console.log(chunkText(text, { strategy: "recursive", maxTokens: 50 }).map((c) => c.end)); // [28, 62]
 * ```
 */
export function packRecursive(input: PackInput): number | null {
  const f = fit(input);
  if (!f) return null;
  if (f.atEnd) return f.k;
  const u = input.units;
  let best = f.k, bestLevel = -1;
  for (let j = f.k; j >= 1; j--) {
    if (f.cum[j - 1] < input.min && bestLevel >= 0) break;
    const k = input.first + j - 1 - u.base;
    const level = 2 * u.level[k] + u.term[k]; // among equal breaks, prefer a sentence end
    if (level > bestLevel) {
      best = j;
      bestLevel = level;
    }
  }
  return best;
}
