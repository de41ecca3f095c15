/**
 * The Portuguese text analysis behind BM25 search, the same for chunks and queries: words
 * (letters and digits), lower case, accents folded (`educação` and `educacao` are one term),
 * Portuguese stop words dropped (npm `@orama/stopwords`, matched without accents too, so
 * `nao` is one), and optionally the Snowball Portuguese stemmer (npm `@orama/stemmers`) on the
 * folded word. The terms go into SQLite FTS5 (whose `unicode61 remove_diacritics 2` tokenizer
 * would fold accents again); doing the analysis here keeps indexing and querying identical.
 *
 * @module
 */
import { charClasses, DIGIT, LETTER } from "../text/chars.ts";
import { portugueseStopwords as ptStopwords, snowballPortuguese as snowballPt } from "../deps.ts";

/** Lower case, accents and other combining marks removed (NFD, marks dropped). */
export function foldAccents(text: string): string {
  return text.toLowerCase().normalize("NFD").replace(MARKS, "");
}

const MARKS = /\p{M}+/gu;
const STOP = new Set(ptStopwords.map(foldAccents));

/** Options of {@link analyzeTerms}. */
export interface AnalyzerOptions {
  /** Snowball Portuguese stemming of each (folded) term (default false). */
  stem?: boolean;
}

const stemCache = new Map<string, string>();

function stemOf(word: string): string {
  let s = stemCache.get(word);
  if (s === undefined) {
    s = snowballPt(word);
    if (stemCache.size > 200_000) stemCache.clear();
    stemCache.set(word, s);
  }
  return s;
}

/**
 * Whether a folded word is a Portuguese stop word.
 *
 * @example
 * ```ts
 * import { isStopword } from "./analyzer.ts";
 * console.log(isStopword("nao"), isStopword("capivara")); // true false
 * ```
 */
export function isStopword(folded: string): boolean {
  return STOP.has(folded);
}

/**
 * The search terms of `text`: words (runs of letters, decimal digits and combining accents —
 * the classes of the sentence scanner, `text/chars.ts`), folded, stop words dropped, stemmed
 * when asked.
 *
 * @example
 * ```ts
 * import { analyzeTerms } from "./analyzer.ts";
 * console.log(analyzeTerms("A Educação não é um privilégio")); // ["educacao", "privilegio"]
 * ```
 */
export function analyzeTerms(text: string, options: AnalyzerOptions = {}): string[] {
  const T = charClasses();
  const out: string[] = [];
  const n = text.length;
  let start = -1;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 32;
    if ((T[c] & (LETTER | DIGIT)) !== 0 || (c >= 0x300 && c <= 0x36f)) {
      if (start < 0) start = i;
      continue;
    }
    if (start < 0) continue;
    const word = text.slice(start, i);
    start = -1;
    // Words repeat: fold each distinct spelling once ("" marks a stop word).
    let w = folded.get(word);
    if (w === undefined) {
      w = foldAccents(word);
      if (STOP.has(w)) w = "";
      if (folded.size > 500_000) folded.clear();
      folded.set(word, w);
    }
    if (w === "") continue;
    out.push(options.stem ? stemOf(w) : w);
  }
  return out;
}

const folded = new Map<string, string>();

/**
 * An FTS5 `MATCH` expression for a query: its terms, quoted, joined by OR (BM25 then ranks
 * chunks that have more of them, rarer ones weighing more). `undefined` when the query has no
 * term left (empty, or only stop words).
 *
 * @example
 * ```ts
 * import { ftsQuery } from "./analyzer.ts";
 * console.log(ftsQuery("Quem descobriu o cometa?")); // "\"descobriu\" OR \"cometa\"" ("quem" is a stop word)
 * ```
 */
export function ftsQuery(query: string, options: AnalyzerOptions = {}): string | undefined {
  const terms = [...new Set(analyzeTerms(query, options))];
  return terms.length ? terms.map((t) => `"${t}"`).join(" OR ") : undefined;
}
