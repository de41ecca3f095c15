/**
 * Where to cut a token stream into training and validation parts when there are too few
 * documents to hold whole ones out: at a paragraph break (a blank line) near the wanted
 * size, failing that at a line break, failing that at a plain token boundary. Pure and
 * deterministic: the same tokens always give the same cut.
 *
 * @module
 */

/** What a cut fell on. */
export type SplitBoundary = "document" | "paragraph" | "line" | "token";

/** A cut of a token stream: `tokens[0, cut)` train, `tokens[cut, n)` validation. */
export interface TailSplit {
  /** First validation token. */
  cut: number;
  /** What the cut fell on. */
  boundary: SplitBoundary;
}

/** Bit 0: the token's text ends with "\n"; bit 1: with "\n\n"; bit 2: it is only "\n"s. */
export type NewlineFlags = Uint8Array;

/**
 * Newline flags of every id of a vocabulary, from a function decoding one id (a byte-level
 * token's text; partial UTF-8 does not matter, only "\n" is looked at).
 *
 * @example
 * ```ts
 * import { newlineFlags } from "./split.ts";
 * const flags = newlineFlags(3, (id) => ["a", "\n", "b\n\n"][id]);
 * console.log([...flags]); // [0, 5, 3]
 * ```
 */
export function newlineFlags(vocabSize: number, decodeId: (id: number) => string): NewlineFlags {
  const flags = new Uint8Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    const s = decodeId(id);
    if (!s.endsWith("\n")) continue;
    let f = 1;
    if (s.endsWith("\n\n")) f |= 2;
    if (/^\n+$/.test(s)) f |= 4;
    flags[id] = f;
  }
  return flags;
}

/** What {@link splitTail} may cut at, besides plain token boundaries. */
export interface SplitMarks {
  /** Newline flags of the vocabulary (paragraph and line breaks). */
  flags?: NewlineFlags;
  /** The end-of-text id that follows each document (a cut right after one is preferred). */
  endOfTextId?: number;
}

/**
 * The cut that leaves about `valTokens` tokens at the end of `tokens` for validation: the
 * document end (`endOfTextId`) nearest the wanted position, searched up to half of
 * `valTokens` either way, else the nearest paragraph break, else the nearest line break,
 * else exactly `tokens.length − valTokens`. Both parts keep at least one token when
 * `tokens.length ≥ 2`.
 *
 * @example
 * ```ts
 * import { newlineFlags, splitTail } from "./split.ts";
 * const text = "aaaa\n\nbbbbbb"; // one token per character
 * const ids = [...text].map((c) => c.charCodeAt(0));
 * const flags = newlineFlags(128, (id) => String.fromCharCode(id));
 * console.log(splitTail(ids, 5, { flags })); // { cut: 6, boundary: "paragraph" }
 * ```
 */
export function splitTail(
  tokens: ArrayLike<number>,
  valTokens: number,
  marks: SplitMarks = {},
): TailSplit {
  const n = tokens.length;
  const want = Math.min(n - 1, Math.max(1, n - Math.max(1, Math.round(valTokens))));
  if (n < 2) return { cut: Math.max(0, want), boundary: "token" };
  const { flags, endOfTextId } = marks;
  const flag = (i: number) => (flags && i >= 0 && i < n ? flags[tokens[i]] ?? 0 : 0);
  const documentAt = (i: number) => endOfTextId !== undefined && tokens[i - 1] === endOfTextId;
  const paragraphAt = (i: number) => {
    const a = flag(i - 1);
    return (a & 2) !== 0 || ((a & 4) !== 0 && (flag(i - 2) & 1) !== 0);
  };
  const lineAt = (i: number) => (flag(i - 1) & 1) !== 0;
  const reach = Math.max(1, Math.floor(valTokens / 2));
  let paragraph = -1, line = -1;
  for (let d = 0; d <= reach; d++) {
    for (const i of d === 0 ? [want] : [want - d, want + d]) {
      if (i < 1 || i > n - 1) continue;
      if (documentAt(i)) return { cut: i, boundary: "document" };
      if (endOfTextId === undefined && paragraphAt(i)) return { cut: i, boundary: "paragraph" };
      if (paragraph < 0 && paragraphAt(i)) paragraph = i;
      if (line < 0 && lineAt(i)) line = i;
    }
  }
  if (paragraph >= 0) return { cut: paragraph, boundary: "paragraph" };
  if (line >= 0) return { cut: line, boundary: "line" };
  return { cut: want, boundary: "token" };
}
