/**
 * The parts of the trainer specific to the SentencePiece style (`tokenizer train --style
 * sentencepiece`), the BPE that Llama-2-family models ship: text is split into words at spaces,
 * each word carrying the space before it as `▁` (U+2581, the first word of a text gets one
 * too), the symbols are Unicode characters (the most frequent ones, covering 99.95 % of the
 * text), and a character outside that alphabet falls back to its UTF-8 bytes as the 256 tokens
 * `<0x00>`…`<0xFF>`, which never merge. The counting and merging are the shared ones of
 * `trainer.ts`; this module only cuts lines into pieces, builds the initial alphabet and writes
 * the `tokenizer.json`.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { normalizerFromSpec } from "./normalizer.ts";

/** The word-boundary mark SentencePiece writes for a space. */
export const METASPACE = "\u2581";

/** The special tokens every SentencePiece-style tokenizer starts with (ids 0, 1, 2, as Llama-2). */
export const SPM_BASE_SPECIALS: readonly string[] = ["<unk>", "<s>", "</s>"];

/** The byte-fallback token of byte `b` (`<0x0A>`). */
export function byteFallbackToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** Character class for cutting training words as `spm_train` does: letter/mark, digit, other. */
const LETTER = /[\p{L}\p{M}]/u;
const DIGIT = /\p{N}/u;
function charClass(c: number, ch: string): number {
  if (c < 0x80) {
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) return 1;
    if (c >= 0x30 && c <= 0x39) return 2;
    return 3;
  }
  return LETTER.test(ch) ? 1 : DIGIT.test(ch) ? 2 : 3;
}

/**
 * Calls `fn` for each training piece of one line of text. Words are cut as the written
 * file's `Metaspace` pre-tokenizer (`prepend_scheme: "always"`, `split: true`) cuts them: the
 * line break is left out (a line is a sentence, as `spm_train` reads it; a newline in encoded
 * text becomes the byte token `<0x0A>`), spaces become `▁`, a `▁` is put first unless the line
 * starts with one, and each word begins at a `▁`. As `spm_train` does by default
 * (`split_by_unicode_script`, `split_by_number`), a word is further cut where it changes
 * between letters (with marks), digits and other characters, the `▁` staying with what follows
 * it — so no merge joins a letter to punctuation or a digit. Encoding the whole word gives the
 * same tokens as encoding its pieces, since no merge spans such a change.
 *
 * @example
 * ```ts
 * import { spmPieces } from "./sentencepiece.ts";
 * const pieces: string[] = [];
 * spmPieces("Olá,  mundo 2026!\n", (w) => pieces.push(w));
 * console.log(pieces); // ["▁Olá", ",", "▁", "▁mundo", "▁2026", "!"]
 * ```
 */
export function spmPieces(line: string, fn: (piece: string) => void): void {
  let end = line.length;
  if (end > 0 && line.charCodeAt(end - 1) === 10) end--;
  if (end > 0 && line.charCodeAt(end - 1) === 13) end--;
  if (end === 0) return;
  let s = (end === line.length ? line : line.slice(0, end)).replaceAll(" ", METASPACE);
  if (!s.startsWith(METASPACE)) s = METASPACE + s;
  let start = 0;
  let prev = 0; // class of the previous character (0: the word's ▁)
  for (let i = 0; i < s.length;) {
    const c = s.codePointAt(i)!;
    const n = c > 0xffff ? 2 : 1;
    if (c === 0x2581) {
      if (i > start) fn(s.slice(start, i));
      start = i;
      prev = 0;
    } else {
      const k = charClass(c, n === 1 ? s[i] : s.slice(i, i + n));
      if (prev !== 0 && k !== prev) {
        fn(s.slice(start, i));
        start = i;
      }
      prev = k;
    }
    i += n;
  }
  fn(s.slice(start));
}

/** The initial vocabulary and the words as symbol ids (see {@link spmInitialSymbols}). */
export interface InitialSymbols {
  /** Tokens so far: specials, the 256 byte tokens, the alphabet. */
  tokens: string[];
  /** Length of each token in characters (code points). */
  lengths: number[];
  /** Each word (a run of alphabet characters) as token ids. */
  words: Int32Array[];
  /** How often each word occurs. */
  counts: Float64Array;
}

/**
 * The SentencePiece-style starting point for merging: `specials`, the byte tokens
 * `<0x00>`…`<0xFF>`, then the alphabet — the most frequent characters that together make up
 * `coverage` of all characters (ties by code point; `▁` always; sorted by code point) — and
 * each counted word as alphabet ids. A character outside the alphabet becomes byte tokens when
 * encoding, and these never merge, so it cuts its word in two here.
 */
export function spmInitialSymbols(
  pieces: Map<string, number>,
  specials: readonly string[],
  coverage: number,
): InitialSymbols {
  if (!(coverage > 0 && coverage <= 1)) {
    throw new BenteviError(`character coverage must be in (0, 1], got ${coverage}`);
  }
  const freq = new Map<string, number>();
  let total = 0;
  for (const [piece, c] of pieces) {
    for (const ch of piece) {
      freq.set(ch, (freq.get(ch) ?? 0) + c);
      total += c;
    }
  }
  const byFreq = [...freq].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const alphabet = new Set<string>([METASPACE]);
  let covered = 0;
  for (const [ch, c] of byFreq) {
    if (covered >= coverage * total) break;
    alphabet.add(ch);
    covered += c;
  }
  const tokens: string[] = [];
  const lengths: number[] = [];
  const ids = new Map<string, number>();
  const add = (t: string, len: number) => {
    if (ids.has(t)) throw new BenteviError(`special token ${JSON.stringify(t)} is listed twice`);
    ids.set(t, tokens.length);
    tokens.push(t);
    lengths.push(len);
  };
  for (const s of specials) add(s, [...s].length);
  for (let b = 0; b < 256; b++) add(byteFallbackToken(b), 1);
  const sorted = [...alphabet].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  for (const ch of sorted) {
    if (ids.has(ch)) throw new BenteviError(`special token ${JSON.stringify(ch)} is a character`);
    add(ch, 1);
  }
  const words: Int32Array[] = [];
  const counts: number[] = [];
  const run: number[] = [];
  const flush = (c: number) => {
    if (run.length) {
      words.push(Int32Array.from(run));
      counts.push(c);
      run.length = 0;
    }
  };
  for (const [piece, c] of pieces) {
    for (const ch of piece) {
      const id = alphabet.has(ch) ? ids.get(ch)! : -1;
      if (id < 0) flush(c);
      else run.push(id);
    }
    flush(c);
  }
  return { tokens, lengths, words, counts: Float64Array.from(counts) };
}

/**
 * The `tokenizer.json` of a SentencePiece-style BPE, in the shape Llama-2-family files have:
 * BPE with `byte_fallback`, `fuse_unk` and `unk_token` `<unk>`; a `Metaspace` pre-tokenizer
 * (`▁`, `prepend_scheme: "always"`, `split: true`); decoders `Replace ▁→" "`, `ByteFallback`,
 * `Fuse`, `Strip` (the first space); a `TemplateProcessing` post-processor that puts `<s>`
 * first; `normalize` as in the byte-level style (none by default).
 */
export function spmTokenizerJson(
  tokens: readonly string[],
  merges: readonly [string, string][],
  specials: readonly string[],
  normalize?: string,
): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => vocab[t] = i);
  const bos = specials.indexOf("<s>");
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: normalizerFromSpec(normalize)?.toJSON() ?? null,
    pre_tokenizer: {
      type: "Metaspace",
      replacement: METASPACE,
      prepend_scheme: "always",
      split: true,
    },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<s>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<s>": { id: "<s>", ids: [bos], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: METASPACE }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => [a, b]),
    },
  };
}
