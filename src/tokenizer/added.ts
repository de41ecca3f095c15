/**
 * Finding added (special) tokens in a text, as Hugging Face's `AddedVocabulary::find_matches`:
 * leftmost-longest matches, `single_word` (no word character right before or after),
 * `lstrip`/`rstrip` (the token takes the whitespace on its left/right).
 *
 * @module
 */
import type { AddedToken } from "./hf_json.ts";

// Rust regex's Unicode `\w` and `\s`, which Hugging Face uses for these checks.
const WORD_AT_END = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]$/u;
const WORD_AT_START = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;
const SPACE_AT_END = /\p{White_Space}*$/u;
const SPACE_AT_START = /^\p{White_Space}*/u;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Matches a set of added tokens (each under the text it is matched as). */
export class AddedMatcher {
  private readonly regex: RegExp;
  private readonly byText: Map<string, AddedToken>;
  /** The longest text matched (for cutting a stream away from tokens). */
  readonly longest: number;
  /** Whether any token takes whitespace or needs word boundaries. */
  readonly hasFlags: boolean;

  /** `tokens`: each token with the text it is matched as (its content, or normalized). */
  constructor(tokens: { text: string; token: AddedToken }[]) {
    this.byText = new Map();
    for (const t of tokens) {
      if (t.text !== "" && !this.byText.has(t.text)) this.byText.set(t.text, t.token);
    }
    const texts = [...this.byText.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    this.regex = new RegExp(texts.map(escapeRegex).join("|"), "gu");
    this.longest = texts.length ? texts[0].length : 0;
    this.hasFlags = tokens.some((t) => t.token.lstrip || t.token.rstrip || t.token.single_word);
  }

  /** Whether there is nothing to match. */
  get empty(): boolean {
    return this.byText.size === 0;
  }

  /** The regex of all matched texts, longest first (a fresh copy). */
  pattern(): RegExp {
    return new RegExp(this.regex.source, "gu");
  }

  /**
   * Walks `text`: `onText(segment, start)` for each stretch between tokens (not called for
   * empty ones), `onAdded(id, start, end)` for each token, with the whitespace it strips.
   */
  walk(
    text: string,
    onText: (segment: string, start: number) => void,
    onAdded: (id: number, start: number, end: number) => void,
  ): void {
    const re = this.regex;
    if (this.byText.size === 0) {
      if (text.length) onText(text, 0);
      return;
    }
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      let start = m.index;
      let stop = start + m[0].length;
      const tok = this.byText.get(m[0])!;
      if (tok.single_word) {
        const startSpace = start === 0 ||
          !WORD_AT_END.test(text.slice(Math.max(0, start - 2), start));
        const stopSpace = stop === text.length ||
          !WORD_AT_START.test(text.slice(stop, stop + 2));
        if (!startSpace || !stopSpace) continue;
      }
      if (tok.lstrip) {
        const before = text.slice(last, start);
        const ws = before.match(SPACE_AT_END)![0].length;
        start = Math.max(start - ws, last);
      }
      if (tok.rstrip) stop += text.slice(stop).match(SPACE_AT_START)![0].length;
      if (last < start) onText(text.slice(last, start), last);
      onAdded(tok.id, start, stop);
      last = stop;
    }
    if (last < text.length) onText(text.slice(last), last);
  }
}
