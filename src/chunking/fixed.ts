/**
 * The fixed strategy: windows of exactly the budget (N characters, or N tokens cut at token
 * offsets), optionally snapped back to the last sentence or word boundary in the window
 * (`preserve: "sentences" | "words"`).
 *
 * @module
 */
import { charClasses, SPACE } from "../text/chars.ts";
import { BOUNDARY } from "../text/sentences.ts";
import { OWN_TOKENS, type TokenCounter } from "./types.ts";
import type { Units } from "./units.ts";

/** What {@link fixedCut} needs from the engine. */
export interface FixedInput {
  /** Start of the window. */
  pos: number;
  /** End of the text received so far. */
  textEnd: number;
  /** True when no more text will arrive. */
  ended: boolean;
  /** Every boundary before this offset is known. */
  scanned: number;
  /** Window size in the counter's unit. */
  budget: number;
  /** Snap mode. */
  preserve: "none" | "words" | "sentences";
  /** Units (for sentence boundaries). */
  units: Units;
  /** Text between two absolute offsets. */
  text(a: number, b: number): string;
  /** Code unit at an absolute offset. */
  charAt(k: number): number;
  /** The counter. */
  counter: TokenCounter;
  /** True when the counter is {@link import("./types.ts").charCounter} (one per code unit). */
  isChars: boolean;
  /** Characters per token seen so far (sizes the first token window; 4 to start). */
  charsPerToken: number;
  /** Receives an exact count the cut search already made (`tokens` of `[pos, cut)`). */
  counted?: (cut: number, tokens: number) => void;
  /** Largest end in `(p, hi]` whose span fits the budget. */
  largestFit(p: number, hi: number): number;
}

/** Characters per token the token window looks at (beyond that a window is cut short). */
const WINDOW_CHARS_PER_TOKEN = 16;

/**
 * Where the window starting at `pos` ends, or null when more text is needed to know.
 *
 * @example
 * ```ts
 * import { chunkText } from "./engine.ts";
 * const chunks = chunkText("abcdefghij", { strategy: "fixed", maxTokens: 4 });
 * console.log(chunks.map((c) => c.text)); // ["abcd", "efgh", "ij"]
 * ```
 */
export function fixedCut(f: FixedInput): number | null {
  const { pos, budget } = f;
  let raw: number;
  if (f.isChars) {
    if (f.textEnd <= pos + budget) {
      if (!f.ended) return null;
      return f.textEnd;
    }
    raw = f.largestFit(pos, pos + budget);
  } else {
    // grow the window until it holds more than `budget` tokens (or reaches the end / the cap)
    let r: number | null = null;
    for (let chars = Math.ceil(budget * f.charsPerToken * 1.15) + 16;; chars *= 2) {
      const cap = budget * WINDOW_CHARS_PER_TOKEN + 1;
      const want = pos + Math.min(chars, cap);
      if (f.textEnd < want && !f.ended) return null;
      const hi = Math.min(want, f.textEnd);
      const atEnd = f.ended && hi >= f.textEnd;
      r = tokenCut(f, pos, hi, atEnd || chars >= cap, atEnd);
      if (r !== null) break;
    }
    raw = r;
    if (f.ended && raw >= f.textEnd) return f.textEnd;
  }
  if (f.preserve === "none") return raw;
  if (raw > f.scanned && !f.ended) return null;
  let cut = -1;
  if (f.preserve === "sentences") cut = lastSentenceEnd(f.units, pos, raw);
  if (cut < 0) cut = lastWordStart(f, pos, raw);
  return cut > pos ? cut : raw;
}

/**
 * The end of the first `budget` tokens of `text[pos, hi)`, checked exactly; null when the
 * window holds `budget` tokens or fewer and is not the `last` try.
 */
function tokenCut(
  f: FixedInput,
  pos: number,
  hi: number,
  last: boolean,
  atEnd: boolean,
): number | null {
  const window = f.text(pos, hi);
  if (f.counter.encodeWithOffsets) {
    const { ids, offsets } = f.counter.encodeWithOffsets(window, OWN_TOKENS);
    if (ids.length <= f.budget) {
      if (!last) return null;
      if (atEnd) return f.textEnd;
    } else {
      // the start of token budget+1, checked exactly (then one token earlier: a multi-byte
      // character split between tokens is cut before the whole character)
      for (const k of [f.budget, f.budget - 1]) {
        const cut = pos + offsets[k][0];
        if (cut <= pos) continue;
        const n = f.counter.countTokens(f.text(pos, cut), OWN_TOKENS);
        if (n <= f.budget) {
          f.counted?.(cut, n);
          return cut;
        }
      }
    }
  } else if (!last && f.counter.countTokens(window, OWN_TOKENS) <= f.budget) return null;
  return f.largestFit(pos, hi);
}

function lastSentenceEnd(u: Units, pos: number, raw: number): number {
  let lo = u.base, hi = u.total - 1;
  if (hi < lo) return -1;
  while (lo < hi) { // last unit whose end <= raw
    const mid = (lo + hi + 1) >> 1;
    if (u.end[mid - u.base] <= raw) lo = mid;
    else hi = mid - 1;
  }
  for (let g = lo; g >= u.base; g--) {
    const e = u.end[g - u.base];
    if (e <= pos) break;
    if (e <= raw && u.level[g - u.base] >= BOUNDARY.SENTENCE) return e;
  }
  return -1;
}

function lastWordStart(f: FixedInput, pos: number, raw: number): number {
  const T = charClasses();
  for (let k = raw; k > pos; k--) {
    if ((T[f.charAt(k - 1)] & SPACE) !== 0 && (T[f.charAt(k)] & SPACE) === 0) return k;
  }
  return -1;
}
