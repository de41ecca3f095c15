/**
 * Character classes for the scanners in src/text and src/chunking: one lookup table over the
 * Basic Multilingual Plane, built on first use, so hot loops do one array read per character.
 *
 * @module
 */

/** Whitespace (Unicode `White_Space`, plus BOM). */
export const SPACE = 1;
/** Line or paragraph separators (`\n`, `\r`, VT, FF, U+0085 NEL, U+2028, U+2029). */
export const NEWLINE = 2;
/** Lowercase letter (`\p{Ll}`). */
export const LOWER = 4;
/** Uppercase or titlecase letter (`\p{Lu}`, `\p{Lt}`). */
export const UPPER = 8;
/** Any letter (`\p{L}`, plus `º`/`ª`). */
export const LETTER = 16;
/** Decimal digit (`\p{Nd}`). */
export const DIGIT = 32;
/** Sentence terminator: `.`, `!`, `?`, `…` (and `‼`, `⁇`, `⁈`, `⁉`). */
export const TERM = 64;
/** Closing quote or bracket that may follow a terminator: `" ' ” ’ » ) ]` and the C1 quotes. */
export const CLOSER = 128;
/** Dash that opens dialogue or list items: `—`, `–`, `-`, `―` and U+0096/U+0097. */
export const DASH = 256;
/** Clause punctuation: `,`, `;`, `:`. */
export const CLAUSE = 512;

let table: Uint16Array | undefined;

/**
 * The class bits of every BMP code unit (see the exported constants). Code units of surrogate
 * pairs get 0.
 *
 * @example
 * ```ts
 * import { charClasses, LOWER } from "./chars.ts";
 * console.log((charClasses()["ç".charCodeAt(0)] & LOWER) !== 0); // true
 * ```
 */
export function charClasses(): Uint16Array {
  return table ?? (table = buildTable()); // small enough to inline into the scanners' loops
}

function buildTable(): Uint16Array {
  const t = new Uint16Array(65536);
  // one regex pass per class over a string of every BMP code unit (surrogates as spaces)
  const codes = new Uint16Array(65536);
  for (let c = 0; c < 65536; c++) codes[c] = c >= 0xd800 && c <= 0xdfff ? 32 : c;
  let all = "";
  for (let c = 0; c < 65536; c += 4096) all += String.fromCharCode(...codes.subarray(c, c + 4096));
  const mark = (re: RegExp, bit: number) => {
    for (const m of all.matchAll(re)) {
      for (let k = m.index!, e = k + m[0].length; k < e; k++) t[k] |= bit;
    }
  };
  mark(/\s+/gu, SPACE);
  mark(/\p{L}+/gu, LETTER);
  mark(/\p{Ll}+/gu, LOWER);
  mark(/[\p{Lu}\p{Lt}]+/gu, UPPER);
  mark(/\p{Nd}+/gu, DIGIT);
  for (let c = 0xd800; c <= 0xdfff; c++) t[c] = 0;
  t[0x85] |= SPACE;
  t[0xfeff] |= SPACE;
  for (const c of [10, 11, 12, 13, 0x85, 0x2028, 0x2029]) t[c] |= NEWLINE | SPACE;
  for (const c of ".!?\u2026\u203c\u2047\u2048\u2049") t[c.charCodeAt(0)] |= TERM;
  for (const c of "\"')]}\u201d\u2019\u00bb\u203a\u0094\u0092") t[c.charCodeAt(0)] |= CLOSER;
  for (const c of "\u2014\u2013\u2015-\u0096\u0097") t[c.charCodeAt(0)] |= DASH;
  for (const c of ",;:") t[c.charCodeAt(0)] |= CLAUSE;
  t[0xba] |= LETTER; // º (nº)
  t[0xaa] |= LETTER; // ª
  return t;
}

/**
 * Moves `pos` back by one code unit when it falls between the two halves of a surrogate pair,
 * so a cut at `pos` never splits a character outside the BMP.
 *
 * @example
 * ```ts
 * import { snapToCodePoint } from "./chars.ts";
 * console.log(snapToCodePoint("a😀b", 2)); // 1
 * ```
 */
export function snapToCodePoint(text: string, pos: number): number {
  if (pos <= 0 || pos >= text.length) return pos;
  const c = text.charCodeAt(pos);
  if (c >= 0xdc00 && c <= 0xdfff) {
    const p = text.charCodeAt(pos - 1);
    if (p >= 0xd800 && p <= 0xdbff) return pos - 1;
  }
  return pos;
}
