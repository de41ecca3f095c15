/**
 * Lexical features without any model: content words of a text (lowercased, Portuguese
 * stopwords dropped, crudely stemmed to 6 characters) as integer hashes, cosine similarity of
 * word bags, and type-token ratio. Used by the semantic (TextTiling-style) and adaptive
 * strategies and by `chunk analyze`.
 *
 * @module
 */
import { charClasses, DIGIT, LETTER, UPPER } from "../text/chars.ts";

const STOPWORDS = new Set(
  ("a o os as e é de do da dos das em no na nos nas um uma uns umas por para com sem que se não mais " +
    "mas ou como ao aos à às foi era ser ter tem há já eu ele ela eles elas nós vós você vocês " +
    "me te lhe lhes nos vos seu sua seus suas meu minha meus minhas teu tua isso isto aquilo este " +
    "esta esse essa aquele aquela pelo pela pelos pelas lo la los las quando onde muito pouco " +
    "também só até entre sobre depois antes ainda então porque qual quem cujo estava estão são " +
    "foram sido tinha tinham havia fosse disse nem lá cá aqui ali assim tão tanto outro outra " +
    "outros outras mesmo mesma todo toda todos todas nada tudo algum alguma").split(" "),
);
const STEM = 6;
const STOP_HASHES = new Set([...STOPWORDS].map((w) => hashString(w.slice(0, STEM))));

function hashString(w: string): number {
  let h = 0;
  for (let k = 0; k < w.length; k++) h = (Math.imul(h, 31) + w.charCodeAt(k)) | 0;
  return h;
}

/**
 * Hashes of the words of `text[start, end)`: lowercased, cut to their first 6 characters,
 * Portuguese stopwords and one-letter words dropped unless `keepStopwords`.
 *
 * @example
 * ```ts
 * import { wordHashes } from "./lexical.ts";
 * console.log(wordHashes("O ministro e os ministros.").length); // 2 (both "minist")
 * ```
 */
export function wordHashes(
  text: string,
  start = 0,
  end = text.length,
  keepStopwords = false,
): number[] {
  const T = charClasses();
  const out: number[] = [];
  let h = 0, len = 0;
  for (let k = start; k <= end; k++) {
    const c = k < end ? text.charCodeAt(k) : 32;
    const cls = T[c];
    if ((cls & (LETTER | DIGIT)) !== 0) {
      if (len < STEM) {
        let lc = c;
        if (c >= 65 && c <= 90) lc = c + 32;
        else if (c >= 128 && (cls & UPPER) !== 0) {
          lc = String.fromCharCode(c).toLowerCase().charCodeAt(0);
        }
        h = (Math.imul(h, 31) + lc) | 0;
      }
      len++;
    } else if (len > 0) {
      if (keepStopwords || (len > 1 && !STOP_HASHES.has(h))) out.push(h);
      h = 0;
      len = 0;
    }
  }
  return out;
}

/** A bag of words: hash → count. */
export type Bag = Map<number, number>;

/**
 * Adds `words` to `bag` (a new one when omitted).
 *
 * @example
 * ```ts
 * import { bagOf } from "./lexical.ts";
 * console.log(bagOf([1, 2, 1]).get(1)); // 2
 * ```
 */
export function bagOf(words: ArrayLike<number>, bag: Bag = new Map()): Bag {
  for (let k = 0; k < words.length; k++) bag.set(words[k], (bag.get(words[k]) ?? 0) + 1);
  return bag;
}

/**
 * Cosine similarity of two bags (0 when either is empty).
 *
 * @example
 * ```ts
 * import { bagOf, cosine } from "./lexical.ts";
 * console.log(cosine(bagOf([1, 2]), bagOf([1, 2]))); // 1
 * ```
 */
export function cosine(a: Bag, b: Bag): number {
  if (a.size === 0 || b.size === 0) return 0;
  let dot = 0, na = 0, nb = 0;
  for (const [k, v] of a) {
    na += v * v;
    const w = b.get(k);
    if (w !== undefined) dot += v * w;
  }
  for (const v of b.values()) nb += v * v;
  return dot / Math.sqrt(na * nb);
}

/**
 * Type-token ratio of the first `limit` words (distinct / total; 0 for no words). Comparing
 * equal-length samples keeps the measure independent of text length.
 *
 * @example
 * ```ts
 * import { typeTokenRatio } from "./lexical.ts";
 * console.log(typeTokenRatio([1, 1, 2, 3])); // 0.75
 * ```
 */
export function typeTokenRatio(words: ArrayLike<number>, limit = 80): number {
  const n = Math.min(words.length, limit);
  if (n === 0) return 0;
  const seen = new Set<number>();
  for (let k = 0; k < n; k++) seen.add(words[k]);
  return seen.size / n;
}
