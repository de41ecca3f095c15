/**
 * Pre-tokenizers: split normalized text into pieces ("words") that BPE encodes independently.
 * Byte-level, as GPT-2: a Unicode-aware regex (GPT-2's or GPT-4's) cuts the text, then each
 * piece is seen as its UTF-8 bytes.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";

// Rust's (and Oniguruma's) `\s` is Unicode White_Space, which includes U+0085 (NEL);
// JavaScript's `\s` does not (and adds U+FEFF), so the patterns spell the property out.
/** GPT-2's pre-tokenizer pattern, with `\s` as Unicode White_Space.
 *
 * @example
 * ```ts
 * import { GPT2_PATTERN } from "./mod.ts";
 * const re = new RegExp(GPT2_PATTERN.replaceAll("\\s", "\\p{White_Space}"), "gu");
 * console.log("Olá, mundo".match(re)); // ["Olá", ",", " mundo"]
 * ```
 */
export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** GPT-4's (cl100k) pre-tokenizer pattern: case-insensitive contractions, digits in threes.
 *
 * @example
 * ```ts
 * import { GPT4_PATTERN } from "./mod.ts";
 * console.log(GPT4_PATTERN.includes("\\p{N}{1,3}")); // true
 * ```
 */
export const GPT4_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * Compiles a Hugging Face (Oniguruma) regex pattern as a global Unicode JavaScript RegExp,
 * with `\s`/`\S` meaning Unicode White_Space as they do there.
 */
export function jsRegexFromOniguruma(pattern: string, where: string): RegExp {
  const js = pattern.replace(
    /(?<!\\)((?:\\\\)*)\\([sS])/g,
    (_m, pre: string, c: string) => `${pre}${c === "s" ? "\\p{White_Space}" : "\\P{White_Space}"}`,
  );
  try {
    return new RegExp(js, "gu");
  } catch (e) {
    throw new BenteviError(
      `${where}: regex ${JSON.stringify(pattern)} is not supported (${(e as Error).message})`,
    );
  }
}

/** Splits text into pieces; each piece is later encoded on its own. */
export class PreTokenizer {
  /** Regexes applied in order; each splits every piece into matches and the gaps between. */
  readonly regexes: RegExp[];

  /**
   * @param json the Hugging Face `pre_tokenizer` object this was read from (written back as is).
   * @param patterns regex patterns (Oniguruma syntax), applied in sequence.
   * @param addPrefixSpace prepend a space to text that does not start with one (GPT-2 option).
   */
  constructor(
    readonly json: unknown,
    readonly patterns: string[],
    readonly addPrefixSpace: boolean,
  ) {
    this.regexes = patterns.map((p) => jsRegexFromOniguruma(p, "pre_tokenizer"));
  }

  /** GPT-2's byte-level pre-tokenizer (`ByteLevel`, `use_regex: true`). */
  static gpt2(): PreTokenizer {
    return new PreTokenizer(
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      [GPT2_PATTERN],
      false,
    );
  }

  /** GPT-4 (cl100k) style: a `Split` with GPT-4's regex, then `ByteLevel` without regex. */
  static gpt4(): PreTokenizer {
    return new PreTokenizer(
      {
        type: "Sequence",
        pretokenizers: [
          { type: "Split", pattern: { Regex: GPT4_PATTERN }, behavior: "Isolated", invert: false },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      [GPT4_PATTERN],
      false,
    );
  }

  /** Reads a Hugging Face `pre_tokenizer` object (ByteLevel, Split, or a Sequence of them). */
  static fromHF(json: unknown): PreTokenizer {
    const patterns: string[] = [];
    let prefix = false;
    let byteLevel = false;
    const visit = (o: unknown, where: string) => {
      if (!o || typeof o !== "object") throw new BenteviError(`${where}: expected an object`);
      const p = o as Record<string, unknown>;
      switch (p.type) {
        case "ByteLevel":
          byteLevel = true;
          if (p.add_prefix_space === true) prefix = true;
          if (p.use_regex !== false) patterns.push(GPT2_PATTERN);
          break;
        case "Split": {
          const pat = p.pattern as Record<string, unknown> | undefined;
          if (p.invert === true || (p.behavior !== undefined && p.behavior !== "Isolated")) {
            throw new BenteviError(`${where}: only Split with behavior "Isolated" is supported`);
          }
          if (pat && typeof pat.Regex === "string") patterns.push(pat.Regex);
          else if (pat && typeof pat.String === "string") {
            patterns.push(pat.String.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
          } else throw new BenteviError(`${where}: Split needs a pattern`);
          break;
        }
        case "Sequence":
          if (!Array.isArray(p.pretokenizers)) {
            throw new BenteviError(`${where}: Sequence needs "pretokenizers"`);
          }
          p.pretokenizers.forEach((q, i) => visit(q, `${where}[${i}]`));
          break;
        default:
          throw new BenteviError(
            `${where}: unsupported pre-tokenizer type ${
              JSON.stringify(p.type)
            } (Bentevi reads byte-level BPE: ByteLevel, Split, Sequence)`,
          );
      }
    };
    visit(json, "pre_tokenizer");
    if (!byteLevel) {
      throw new BenteviError("pre_tokenizer: no ByteLevel step; only byte-level BPE is supported");
    }
    return new PreTokenizer(json, patterns, prefix);
  }

  /**
   * Calls `fn(piece, start)` for each piece of `text` in order (`start` in UTF-16 units).
   * With `addPrefixSpace`, text not starting with a space is split as `" " + text`, and
   * `start` is then relative to that string.
   */
  forEachPiece(text: string, fn: (piece: string, start: number) => void): void {
    if (this.regexes.length === 1) {
      const re = this.regexes[0];
      re.lastIndex = 0;
      let last = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const s = m[0];
        if (s.length === 0) {
          re.lastIndex++;
          continue;
        }
        if (m.index > last) fn(text.slice(last, m.index), last);
        fn(s, m.index);
        last = m.index + s.length;
      }
      if (last < text.length) fn(text.slice(last), last);
      return;
    }
    if (this.regexes.length === 0) {
      if (text.length) fn(text, 0);
      return;
    }
    let pieces: [string, number][] = [[text, 0]];
    for (const re of this.regexes) {
      const next: [string, number][] = [];
      for (const [p, off] of pieces) {
        re.lastIndex = 0;
        let last = 0;
        for (let m = re.exec(p); m !== null; m = re.exec(p)) {
          if (m[0].length === 0) {
            re.lastIndex++;
            continue;
          }
          if (m.index > last) next.push([p.slice(last, m.index), off + last]);
          next.push([m[0], off + m.index]);
          last = m.index + m[0].length;
        }
        if (last < p.length) next.push([p.slice(last), off + last]);
      }
      pieces = next;
    }
    for (const [p, off] of pieces) fn(p, off);
  }

  /** Hugging Face `tokenizer.json` form. */
  toJSON(): unknown {
    return this.json;
  }
}
