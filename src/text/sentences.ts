/**
 * Sentence, line, paragraph and section boundaries for Brazilian Portuguese text.
 *
 * One left-to-right scanner finds every place where a new unit starts and how strong the break
 * is ({@link BOUNDARY}). It knows Portuguese abbreviations (`Sr.`, `Dra.`, `V. Exa.`, `art.`, `nº`,
 * `p. ex.`, `etc.`), decimals (`3,14`, `1.000`), ellipses, closing quotes, dialogue dashes
 * (`— Não sei! — disse ele.` stays one sentence), list items, headings, and hard-wrapped prose
 * (a single newline inside a paragraph is not a break). Its decisions only look a bounded
 * distance back (≤ 200 characters) and ahead (to the next non-space character or the end of the
 * next line), so it runs incrementally over a stream and gives the same boundaries as on the
 * whole text. `Intl.Segmenter` is available as a second engine (`engine: "intl"`): it proposes
 * breaks and the same Portuguese rules accept or reject them (ICU proposes no break before a
 * dialogue dash in the middle of a line, so that engine keeps `— Sim. — Não.` together; it is
 * also about 3× slower, which is why the chunkers use the scanner).
 *
 * @module
 */
import {
  charClasses,
  CLAUSE,
  CLOSER,
  DASH,
  DIGIT,
  LETTER,
  LOWER,
  NEWLINE,
  SPACE,
  TERM,
  UPPER,
} from "./chars.ts";

/**
 * Strength of a break, weakest to strongest. A unit boundary carries the level of the break
 * that starts the next unit.
 */
export const BOUNDARY = {
  /** Between two characters (last resort when splitting an over-long word). */
  CHAR: 0,
  /** Between two words. */
  WORD: 1,
  /** After `,` `;` `:` inside a sentence, and after a heading line (a heading stays with its text). */
  CLAUSE: 2,
  /** Between two sentences. */
  SENTENCE: 3,
  /** At a line that starts a list item or a dialogue turn. */
  LINE: 4,
  /** At a blank line. */
  PARAGRAPH: 5,
  /** Before a heading, or at two or more blank lines. */
  SECTION: 6,
} as const;

/** One of the {@link BOUNDARY} values. */
export type BoundaryLevel = typeof BOUNDARY[keyof typeof BOUNDARY];

/**
 * Abbreviations (lowercase, without the final period) after which a period does not end a
 * sentence. Single letters (initials, `V.`, `p.`) never end a sentence either.
 */
export const PT_ABBREVIATIONS: ReadonlySet<string> = new Set([
  "sr",
  "sra",
  "srs",
  "sras",
  "srta",
  "srª",
  "sr.ª",
  "dr",
  "dra",
  "drs",
  "dras",
  "prof",
  "profa",
  "profs",
  "exmo",
  "exma",
  "exmos",
  "exmas",
  "ilmo",
  "ilma",
  "exa",
  "excia",
  "revmo",
  "sto",
  "sta",
  "pe",
  "fr",
  "d",
  "dom",
  "mons",
  "gen",
  "cel",
  "cap",
  "ten",
  "sgt",
  "maj",
  "alm",
  "gov",
  "pres",
  "min",
  "dep",
  "sen",
  "des",
  "eng",
  "arq",
  "adv",
  "me",
  "jr",
  "art",
  "arts",
  "inc",
  "par",
  "cf",
  "nº",
  "n",
  "no",
  "nos",
  "núm",
  "num",
  "pág",
  "pag",
  "págs",
  "pp",
  "p",
  "ex",
  "etc",
  "vol",
  "vols",
  "cap",
  "caps",
  "fl",
  "fls",
  "ed",
  "eds",
  "obs",
  "tel",
  "av",
  "r",
  "pça",
  "lt",
  "ltda",
  "cia",
  "s.a",
  "séc",
  "sec",
  "a.c",
  "d.c",
  "aprox",
  "op",
  "cit",
  "ibid",
  "id",
  "trad",
  "org",
  "coord",
  "i.e",
  "e.g",
  "sp",
  "rj",
  "mg",
  "jan",
  "fev",
  "mar",
  "abr",
  "mai",
  "jun",
  "jul",
  "ago",
  "set",
  "out",
  "nov",
  "dez",
  "seg",
  "qua",
  "qui",
  "sex",
  "sáb",
  "dom",
  "km",
  "kg",
  "cm",
  "mm",
  "hab",
  "lat",
  "long",
  "ref",
  "refs",
  "doc",
  "docs",
  "dept",
  "depto",
  "séc",
  "v",
  "vv",
  "q",
]);

/** Abbreviations that end a sentence when the next word is capitalised (`… e assim por diante, etc. Depois…`). */
const CAN_END: ReadonlySet<string> = new Set(["etc", "jr", "ltda", "cia", "inc"]);

/** How far the scanner looks back (at most); a streaming caller must keep this much text. */
export const SCAN_LOOKBEHIND = 256;
const LINE_CAP = 200;
const NEED_MORE = -2;
// Every code unit with the TERM or NEWLINE class (see chars.ts).
// deno-lint-ignore no-control-regex
const INTEREST = /[.!?\u2026\u203c\u2047-\u2049\n\r\u000b\u000c\u0085\u2028\u2029]/g;
const MAX_ABBREV = Math.max(...[...PT_ABBREVIATIONS].map((w) => w.length));
const ABBREV_HASHES = new Set([...PT_ABBREVIATIONS].map(hashWord));

function hashWord(w: string): number {
  let h = 0;
  for (let k = 0; k < w.length; k++) h = (Math.imul(h, 31) + w.charCodeAt(k)) | 0;
  return h;
}

/** Receives one boundary: `pos` is where the next unit starts (offset into the scanned text). */
export type BoundarySink = (pos: number, level: BoundaryLevel) => void;

/**
 * Scans `text` from `from` and reports every boundary, in order. Returns where to resume: the
 * end of `text` when `final`, otherwise the first position whose decision needs text that has
 * not arrived yet (call again with more text appended and `from` set to the returned value;
 * keep at least {@link SCAN_LOOKBEHIND} characters before it).
 *
 * @example
 * ```ts
 * import { scanBoundaries } from "./sentences.ts";
 * const found: number[] = [];
 * scanBoundaries("O Sr. Silva chegou. Depois saiu.", 0, true, (pos) => found.push(pos));
 * console.log(found); // [20]
 * ```
 */
export function scanBoundaries(
  text: string,
  from: number,
  final: boolean,
  sink: BoundarySink,
): number {
  const T = charClasses();
  const n = text.length;
  let i = from;
  while (i < n) {
    // jump to the next terminator or newline (the regex engine scans much faster than a JS loop)
    INTEREST.lastIndex = i;
    if (!INTEREST.test(text)) break;
    i = INTEREST.lastIndex - 1;
    const cls = T[text.charCodeAt(i)];
    const r = (cls & TERM) !== 0
      ? afterTerminator(text, i, final, sink)
      : atNewline(text, i, final, sink);
    if (r === NEED_MORE) return i;
    i = r;
  }
  return n;
}

/** Counts newlines in `text[a, b)` (CRLF counts once). */
function newlinesIn(text: string, a: number, b: number, T: Uint16Array): number {
  let nl = 0;
  for (let k = a; k < b; k++) {
    const c = text.charCodeAt(k);
    if ((T[c] & NEWLINE) !== 0 && !(c === 13 && text.charCodeAt(k + 1) === 10)) nl++;
  }
  return nl;
}

function skipSpace(text: string, from: number, T: Uint16Array): number {
  let w = from;
  const n = text.length;
  while (w < n && (T[text.charCodeAt(w)] & SPACE) !== 0) w++;
  return w;
}

/** Handles a terminator run starting at `i`; returns where to continue or NEED_MORE. */
function afterTerminator(text: string, i: number, final: boolean, sink: BoundarySink): number {
  const T = charClasses();
  const n = text.length;
  let j = i + 1;
  while (j < n && (T[text.charCodeAt(j)] & TERM) !== 0) j++;
  const termEnd = j;
  while (j < n && (T[text.charCodeAt(j)] & CLOSER) !== 0) j++;
  if (j >= n) return final ? n : NEED_MORE;
  if ((T[text.charCodeAt(j)] & SPACE) === 0) return j; // "3.14", "a.C.", "www.x.br", "?»,"
  const w = skipSpace(text, j, T);
  if (w >= n) return final ? n : NEED_MORE;
  const nl = newlinesIn(text, j, w, T);
  if (nl >= 2) {
    // a line ending in punctuation is neither a heading nor a title, unless it is "XII."
    const roman = "IVXLCDM".indexOf(text[i - 1] ?? "") >= 0;
    const level = paragraphLevel(text, j, w, nl, final, roman);
    if (level === NEED_MORE) return NEED_MORE;
    sink(w, level as BoundaryLevel);
    return w;
  }
  const nc = text.charCodeAt(w);
  const ncls = T[nc];
  if ((ncls & LOWER) !== 0 || (ncls & CLAUSE) !== 0) return w; // "disse ele... e saiu"
  if ((ncls & DASH) !== 0) {
    // "— Não sei! — disse ele." : a dash followed by a lowercase word is the narrator's tag.
    let k = w + 1;
    while (k < n && (T[text.charCodeAt(k)] & (DASH | SPACE)) !== 0 && k - w < 8) k++;
    if (k >= n && !final) return NEED_MORE;
    if (k < n && (T[text.charCodeAt(k)] & LOWER) !== 0 && newlinesIn(text, j, k, T) === 0) return w;
  }
  if (termEnd === i + 1 && j === termEnd && text.charCodeAt(i) === 46 && !periodEnds(text, i, nc)) {
    return w;
  }
  let level: number = BOUNDARY.SENTENCE;
  if (nl === 1) {
    const line = lineStartLevel(text, w, final);
    if (line === NEED_MORE) return NEED_MORE;
    if (line > level) level = line;
  }
  sink(w, level as BoundaryLevel);
  return w;
}

/** Whether a single period at `i`, followed after spaces by `next`, ends a sentence. */
function periodEnds(text: string, i: number, next: number): boolean {
  const T = charClasses();
  let ws = i;
  while (ws > 0 && i - ws < 24 && (T[text.charCodeAt(ws - 1)] & LETTER) !== 0) ws--;
  const len = i - ws;
  if (len === 1) return false; // initials and one-letter abbreviations: "J. Silva", "V. Exa.", "p. ex."
  if (len > 0 && len < 24) {
    const chained = ws >= 2 && text.charCodeAt(ws - 1) === 46 &&
      (T[text.charCodeAt(ws - 2)] & LETTER) !== 0;
    if (chained) {
      // chains such as "a.C." or "S.A.": include the previous letter-period pair
      if (PT_ABBREVIATIONS.has(text.slice(ws - 2, i).toLowerCase())) return false;
    }
    if (len > MAX_ABBREV) return true;
    let h = 0;
    for (let k = ws; k < i; k++) {
      let c = text.charCodeAt(k);
      if (c >= 65 && c <= 90) c += 32;
      else if (c >= 128 && (T[c] & UPPER) !== 0) {
        c = String.fromCharCode(c).toLowerCase().charCodeAt(0);
      }
      h = (Math.imul(h, 31) + c) | 0;
    }
    if (!ABBREV_HASHES.has(h)) return true;
    const word = text.slice(ws, i).toLowerCase();
    if (PT_ABBREVIATIONS.has(word)) {
      return CAN_END.has(word) && (T[next] & UPPER) !== 0;
    }
    return true;
  }
  if (len === 0 && ws > 0 && (T[text.charCodeAt(ws - 1)] & DIGIT) !== 0) {
    // "1. Primeiro item" at the start of a line is a list number, not a sentence end.
    let d = ws - 1;
    while (d > 0 && ws - d < 10 && (T[text.charCodeAt(d - 1)] & DIGIT) !== 0) d--;
    let s = d;
    while (s > 0 && (text.charCodeAt(s - 1) === 32 || text.charCodeAt(s - 1) === 9)) s--;
    if (s === 0 || (T[text.charCodeAt(s - 1)] & NEWLINE) !== 0) return false;
  }
  return true;
}

/** Handles newline(s) at `i` that no terminator consumed. */
function atNewline(text: string, i: number, final: boolean, sink: BoundarySink): number {
  const T = charClasses();
  const n = text.length;
  // fast path for wrapped prose: a lowercase letter (or comma) before a single "\n" and a
  // lowercase letter after it is never a break (nor a heading, list item or dialogue turn)
  if (i > 0 && i + 2 < n && text.charCodeAt(i) === 10) {
    const next = T[text.charCodeAt(i + 1)];
    if ((next & LOWER) !== 0 && text.charCodeAt(i + 2) !== 41) { // not "a) item"
      const p = text.charCodeAt(i - 1);
      if ((T[p] & LOWER) !== 0 || p === 44) return i + 1;
    }
  }
  const w = skipSpace(text, i, T);
  if (w >= n) return final ? n : NEED_MORE;
  const nl = newlinesIn(text, i, w, T);
  if (nl >= 2) {
    const level = paragraphLevel(text, i, w, nl, final);
    if (level === NEED_MORE) return NEED_MORE;
    sink(w, level as BoundaryLevel);
    return w;
  }
  if (nl === 0) return w;
  const line = lineStartLevel(text, w, final);
  if (line === NEED_MORE) return NEED_MORE;
  // (a Markdown heading is looked for only before blank lines: checking every wrapped line of
  // prose for a "#" at its start would cost a second pass over the text)
  if (line >= 0 || lineBeforeIsHeading(text, i, false)) {
    // a heading line goes with what follows it (also a heading written over two lines)
    sink(w, (line === BOUNDARY.LINE ? line : BOUNDARY.CLAUSE) as BoundaryLevel);
  }
  return w;
}

/** Level of a blank-line break whose whitespace is `text[a, w)`. */
function paragraphLevel(
  text: string,
  a: number,
  w: number,
  nl: number,
  final: boolean,
  checkBefore = true,
): number {
  // keep a heading, or a title-like one-line paragraph ("A Poesia", "12 de maio"), with its text
  if (checkBefore && headingOrTitleBefore(text, a)) return BOUNDARY.CLAUSE;
  const heading = nextLineIsHeading(text, w, final);
  if (heading === NEED_MORE) return NEED_MORE;
  // (a title-like line after the break is only a guess: it does not make the break a section)
  return heading === 1 || nl >= 3 ? BOUNDARY.SECTION : BOUNDARY.PARAGRAPH;
}

const TITLE_CAP = 60;

/** A short line that starts with a capital or digit and ends without punctuation. */
function isTitle(text: string, s: number, e: number): boolean {
  const T = charClasses();
  while (e > s && (T[text.charCodeAt(e - 1)] & SPACE) !== 0) e--;
  if (e <= s || e - s > TITLE_CAP) return false;
  if ((T[text.charCodeAt(s)] & (UPPER | DIGIT)) === 0) return false;
  if ((T[text.charCodeAt(e - 1)] & (TERM | CLAUSE | DASH | CLOSER)) !== 0) return false;
  for (let k = s; k < e; k++) { // no clause or sentence punctuation inside either
    const c = text.charCodeAt(k);
    if ((T[c] & (CLAUSE | TERM)) !== 0 && c !== 46) return false;
  }
  return true;
}

/**
 * Whether the line ending at the newline `a` is a heading, or a title-like line that is a
 * paragraph of its own (one backward scan of the line).
 */
function headingOrTitleBefore(text: string, a: number): boolean {
  const T = charClasses();
  let ls = a;
  let lower = false;
  while (ls > 0 && a - ls <= LINE_CAP && (T[text.charCodeAt(ls - 1)] & NEWLINE) === 0) {
    if ((T[text.charCodeAt(ls - 1)] & LOWER) !== 0) lower = true;
    ls--;
  }
  if (a - ls > LINE_CAP) return false;
  if ((!lower || text.charCodeAt(ls) === 35) && isHeading(text, ls, a)) return true;
  return titleBefore(text, ls, a);
}

/** Whether the line `[ls, a)` is title-like and a paragraph of its own. */
function titleBefore(text: string, ls: number, a: number): boolean {
  const T = charClasses();
  if (a - ls > TITLE_CAP || !isTitle(text, ls, a)) return false;
  if (ls === 0) return true;
  // the line before it must be blank (or the text start)
  let k = ls - 1;
  if (text.charCodeAt(k) === 10 && k > 0 && text.charCodeAt(k - 1) === 13) k--;
  while (
    k > 0 && (T[text.charCodeAt(k - 1)] & SPACE) !== 0 &&
    (T[text.charCodeAt(k - 1)] & NEWLINE) === 0
  ) k--;
  return k === 0 || (T[text.charCodeAt(k - 1)] & NEWLINE) !== 0;
}

/**
 * Level of a single-newline break before the line starting at `w`: LINE for list items and
 * dialogue turns, SECTION before a heading, -1 for a soft wrap.
 */
function lineStartLevel(text: string, w: number, final: boolean): number {
  const T = charClasses();
  const n = text.length;
  if (w + 3 > n && !final) return NEED_MORE;
  const c = text.charCodeAt(w);
  const c1 = w + 1 < n ? text.charCodeAt(w + 1) : 0;
  if ((T[c] & DASH) !== 0 || c === 0x2022 || c === 0x2023 || c === 0x25e6) {
    if (c !== 45 || c1 === 32) return BOUNDARY.LINE; // "— Fala.", "• item", "- item" (not "-5")
  }
  if (c === 42 || c === 43) {
    if (c1 === 32) return BOUNDARY.LINE; // "* item"
  }
  if ((T[c] & DIGIT) !== 0) {
    let k = w;
    while (k < n && k - w < 10 && (T[text.charCodeAt(k)] & DIGIT) !== 0) k++;
    if (k + 1 >= n && !final) return NEED_MORE;
    const p = text.charCodeAt(k);
    if ((p === 46 || p === 41) && (T[text.charCodeAt(k + 1)] & SPACE) !== 0) return BOUNDARY.LINE;
  }
  if ((T[c] & LETTER) !== 0 && c1 === 41 && (T[text.charCodeAt(w + 2)] & SPACE) !== 0) {
    return BOUNDARY.LINE; // "a) item"
  }
  const heading = nextLineIsHeading(text, w, final);
  if (heading === NEED_MORE) return NEED_MORE;
  return heading === 1 ? BOUNDARY.SECTION : -1;
}

/** Whether `text[s, e)` (one line, trimmed) looks like a heading. */
function isHeading(text: string, s: number, e: number): boolean {
  const T = charClasses();
  while (s < e && (T[text.charCodeAt(s)] & SPACE) !== 0) s++;
  while (e > s && (T[text.charCodeAt(e - 1)] & SPACE) !== 0) e--;
  if (e <= s || e - s > 120) return false;
  if (text.charCodeAt(s) === 35) return true; // "# Título"
  const last = text.charCodeAt(e - 1);
  let letters = 0;
  let roman = true;
  for (let k = s; k < e; k++) {
    const c = text.charCodeAt(k);
    const cls = T[c];
    if ((cls & LOWER) !== 0) return false;
    if ((cls & LETTER) !== 0) {
      letters++;
      if ("IVXLCDM".indexOf(text[k]) < 0) roman = false;
    }
  }
  if (letters === 0) return false;
  if ((T[last] & (TERM | CLAUSE)) !== 0) return roman && last === 46; // "XII."
  return letters >= 2 || roman;
}

/** 1 when the line starting at `w` is a heading, 0 when not, NEED_MORE when undecidable yet. */
function nextLineIsHeading(text: string, w: number, final: boolean): number {
  const T = charClasses();
  const n = text.length;
  let e = w;
  const hash = text.charCodeAt(w) === 35; // "# Título"
  while (e < n && e - w <= LINE_CAP && (T[text.charCodeAt(e)] & NEWLINE) === 0) {
    if (!hash && (T[text.charCodeAt(e)] & LOWER) !== 0) return 0; // most lines: decided at once
    e++;
  }
  if (e >= n && !final) return NEED_MORE;
  if (e - w > LINE_CAP) return 0;
  return isHeading(text, w, e) ? 1 : 0;
}

/**
 * Whether the line ending just before the newline at `i` is a heading (a Markdown `#` heading
 * only when `markdown`: finding its start costs a scan of the whole line).
 */
function lineBeforeIsHeading(text: string, i: number, markdown = true): boolean {
  const T = charClasses();
  let s = i;
  while (s > 0 && i - s <= LINE_CAP && (T[text.charCodeAt(s - 1)] & NEWLINE) === 0) {
    if ((T[text.charCodeAt(s - 1)] & LOWER) !== 0) {
      // lowercase: a heading only in Markdown form ("# Título")
      if (!markdown) return false;
      let ls = s - 1;
      while (ls > 0 && i - ls <= LINE_CAP && (T[text.charCodeAt(ls - 1)] & NEWLINE) === 0) ls--;
      return i - ls <= LINE_CAP && text.charCodeAt(ls) === 35 && isHeading(text, ls, i);
    }
    s--;
  }
  if (i - s > LINE_CAP) return false;
  return isHeading(text, s, i);
}

/** Boundaries of a whole text: `pos[k]` starts a unit, broken at strength `level[k]`. */
export interface Boundaries {
  /** Start offsets (UTF-16) of every unit but the first, ascending. */
  pos: number[];
  /** The {@link BOUNDARY} of each boundary. */
  level: BoundaryLevel[];
}

/**
 * Every boundary of `text` (see {@link scanBoundaries}).
 *
 * @example
 * ```ts
 * import { findBoundaries, BOUNDARY } from "./sentences.ts";
 * const b = findBoundaries("Título\n\nPrimeira frase. Segunda.");
 * console.log(b.pos, b.level[1] === BOUNDARY.SENTENCE); // [8, 24] true
 * ```
 */
export function findBoundaries(text: string): Boundaries {
  const pos: number[] = [];
  const level: BoundaryLevel[] = [];
  scanBoundaries(text, 0, true, (p, l) => {
    pos.push(p);
    level.push(l);
  });
  return { pos, level };
}

/** A sentence (or list item, heading, paragraph without final punctuation) of a text. */
export interface Sentence {
  /** Offset of its first character (UTF-16 code units). */
  start: number;
  /** Offset just past it, trailing whitespace included (the next sentence starts here). */
  end: number;
  /** `text.slice(start, end)`. */
  text: string;
  /** Strength of the break after it ({@link BOUNDARY}; SECTION for the last one). */
  level: BoundaryLevel;
}

/** Options for {@link segmentSentences}. */
export interface SegmentOptions {
  /** "fast" (default): Bentevi's scanner; "intl": `Intl.Segmenter("pt-BR")` filtered by the same rules. */
  engine?: "fast" | "intl";
}

/**
 * Splits Portuguese text into sentences. Lossless: the sentences concatenate to `text`
 * (leading whitespace of the text belongs to the first one, trailing whitespace to each).
 *
 * @example
 * ```ts
 * import { segmentSentences } from "./sentences.ts";
 * const s = segmentSentences("O Dr. Souza pagou R$ 3,14 etc. e saiu... Ninguém viu. — Não sei, disse ele.");
 * console.log(s.map((x) => x.text.trim()));
 * // ["O Dr. Souza pagou R$ 3,14 etc. e saiu...", "Ninguém viu.", "— Não sei, disse ele."]
 * ```
 */
export function segmentSentences(text: string, options: SegmentOptions = {}): Sentence[] {
  const { pos, level } = findBoundaries(text);
  let keep = pos.map(() => true);
  if (options.engine === "intl") {
    const proposed = new Set<number>();
    const seg = new Intl.Segmenter("pt-BR", { granularity: "sentence" });
    for (const s of seg.segment(text)) proposed.add(s.index);
    // Intl breaks after the whitespace that follows a sentence, as the scanner does
    keep = pos.map((p) => proposed.has(p));
  }
  const out: Sentence[] = [];
  let start = 0;
  for (let k = 0; k < pos.length; k++) {
    if (!keep[k]) continue;
    out.push({ start, end: pos[k], text: text.slice(start, pos[k]), level: level[k] });
    start = pos[k];
  }
  if (start < text.length || out.length === 0 && text.length > 0) {
    out.push({ start, end: text.length, text: text.slice(start), level: BOUNDARY.SECTION });
  }
  return out;
}
