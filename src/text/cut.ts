/**
 * Where a long text can be cut into pieces that are processed one at a time (counted,
 * tokenized) without changing the result — so that a huge document, or a file that is one
 * endless line, costs a bounded buffer instead of its whole size.
 *
 * @module
 */

const WHITE_SPACE = /\p{White_Space}/u;

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function isAsciiAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** How good a cut {@link findTextCut} found is. */
export type TextCutKind = "line" | "space" | "forced";

/**
 * The last offset `i` in `s` with `min <= i < s.length` where `s` can best be cut in two, and
 * what kind of cut it is.
 *
 * - `line`: after a `"\n"` with non-whitespace on both sides (`s[i - 2]` and `s[i]`);
 * - `space`: before a single space between two ASCII letters or digits (`"a b"` cut as `"a"`,
 *   `" b"`).
 *
 * Both are places where every byte-level pre-tokenizer (GPT-2's and GPT-4's regexes) starts a
 * new piece anyway, and where Unicode normalization, case mapping and whitespace folding
 * act the same on either side — so the pieces of the two parts are the pieces of the whole.
 * Only when neither exists from `min` on is the cut `forced`: between two non-whitespace
 * characters (a word longer than the window is cut in two), or, in text with no two such
 * characters side by side, anywhere — never inside a surrogate pair. `undefined` only when
 * `min >= s.length`.
 *
 * @example
 * ```ts
 * import { findTextCut } from "./cut.ts";
 * console.log(findTextCut("um dois\ntrês", 0)); // { at: 8, kind: "line" }
 * console.log(findTextCut("um dois tres", 0)); // { at: 7, kind: "space" }
 * console.log(findTextCut("umdoistres", 5)); // { at: 9, kind: "forced" }
 * ```
 */
export function findTextCut(
  s: string,
  min: number,
): { at: number; kind: TextCutKind } | undefined {
  const lo = Math.max(1, min);
  for (let nl = s.lastIndexOf("\n", s.length - 2); nl >= lo - 1 && nl >= 1;) {
    if (!WHITE_SPACE.test(s[nl - 1]) && !WHITE_SPACE.test(s[nl + 1])) {
      return { at: nl + 1, kind: "line" };
    }
    nl = s.lastIndexOf("\n", nl - 1);
  }
  for (let sp = s.lastIndexOf(" ", s.length - 2); sp >= lo;) {
    if (isAsciiAlnum(s.charCodeAt(sp - 1)) && isAsciiAlnum(s.charCodeAt(sp + 1))) {
      return { at: sp, kind: "space" };
    }
    sp = s.lastIndexOf(" ", sp - 1);
  }
  for (let i = s.length - 1; i >= lo; i--) {
    if (isLowSurrogate(s.charCodeAt(i))) continue; // cut before the pair, not inside it
    if (!WHITE_SPACE.test(s[i]) && !WHITE_SPACE.test(s[i - 1])) return { at: i, kind: "forced" };
  }
  // No two non-whitespace characters side by side at all ("a\n\nb\n\n…"): anywhere.
  let at = s.length - 1;
  if (at >= lo && isLowSurrogate(s.charCodeAt(at))) at--;
  return at >= lo ? { at, kind: "forced" } : undefined;
}
