/**
 * Pre-tokenizers: split normalized text into pieces ("words") that BPE encodes independently.
 * Hugging Face's steps, each a small class: `Split` (a regex or a string, every `behavior`,
 * `invert`), `ByteLevel` (GPT-2: optional prefix space and GPT-2 regex; the pieces are then seen
 * as UTF-8 bytes by the model), `Metaspace` (SentencePiece: spaces become `▁`, a `▁` prepended
 * by `prepend_scheme`, split before each `▁`) and `Sequence`.
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

/**
 * Receives one piece: its text, the offset (UTF-16 units, in the text given to the
 * pre-tokenizer) of its first source character, and how many of its leading units were
 * inserted by a step (a prefix space or `▁`) and so have no source.
 */
export type PieceSink = (piece: string, start: number, inserted: number) => void;

/** How a `Split` treats the matches (Hugging Face `SplitDelimiterBehavior`). */
export type SplitBehavior =
  | "Removed"
  | "Isolated"
  | "MergedWithPrevious"
  | "MergedWithNext"
  | "Contiguous";

const BEHAVIORS: readonly SplitBehavior[] = [
  "Removed",
  "Isolated",
  "MergedWithPrevious",
  "MergedWithNext",
  "Contiguous",
];

/** One pre-tokenization step. */
interface Step {
  /**
   * Splits `text` (`inserted` leading units without source; the rest starts at source offset
   * `start`; `atStart`: the text begins the whole input) and passes each piece on.
   */
  run(text: string, start: number, inserted: number, atStart: boolean, out: StepSink): void;
}
type StepSink = (piece: string, start: number, inserted: number, atStart: boolean) => void;

/** Passes `text.slice(from, to)` on, with its source offset and inserted units. */
function emitSlice(
  text: string,
  from: number,
  to: number,
  start: number,
  inserted: number,
  atStart: boolean,
  out: StepSink,
): void {
  if (to <= from) return; // Hugging Face drops empty pieces
  const src = start + Math.max(0, from - inserted);
  out(
    text.slice(from, to),
    src,
    Math.max(0, Math.min(inserted - from, to - from)),
    atStart && src === start && from <= inserted,
  );
}

/** A regex's matches over `text` as [start, end) pairs (empty matches included, as Oniguruma). */
function findMatches(re: RegExp, text: string): number[] {
  const out: number[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const s = m.index, e = s + m[0].length;
    out.push(s, e);
    if (e === s) {
      const c = text.charCodeAt(e);
      re.lastIndex = e + (c >= 0xd800 && c <= 0xdbff ? 2 : 1);
      if (re.lastIndex > text.length) break;
    }
  }
  return out;
}

/** Hugging Face `Split`: a pattern's matches cut the text, kept or removed by `behavior`. */
class SplitStep implements Step {
  private readonly re: RegExp;
  constructor(pattern: RegExp, readonly behavior: SplitBehavior, readonly invert: boolean) {
    this.re = pattern;
  }
  run(text: string, start: number, inserted: number, atStart: boolean, out: StepSink): void {
    const re = this.re;
    if (this.behavior === "Isolated") {
      // The common case (GPT-2/Llama-3/Qwen regexes): matches and gaps alike become pieces.
      re.lastIndex = 0;
      let last = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const s = m[0];
        if (s.length === 0) {
          const c = text.charCodeAt(re.lastIndex);
          re.lastIndex += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
          if (re.lastIndex > text.length) break;
          continue;
        }
        if (m.index > last) emitSlice(text, last, m.index, start, inserted, atStart, out);
        emitSlice(text, m.index, m.index + s.length, start, inserted, atStart, out);
        last = m.index + s.length;
      }
      if (last < text.length) emitSlice(text, last, text.length, start, inserted, atStart, out);
      return;
    }
    if (text.length === 0) return;
    // (from, to, isMatch) covering the text, as Hugging Face's Pattern::find_matches.
    const m = findMatches(re, text);
    const parts: [number, number, boolean][] = [];
    let prev = 0;
    for (let i = 0; i < m.length; i += 2) {
      if (prev !== m[i]) parts.push([prev, m[i], false]);
      parts.push([m[i], m[i + 1], true]);
      prev = m[i + 1];
    }
    if (prev !== text.length) parts.push([prev, text.length, false]);
    if (this.invert) { for (const p of parts) p[2] = !p[2]; }
    const keep: [number, number][] = [];
    switch (this.behavior) {
      case "Removed":
        for (const [f, t, isMatch] of parts) if (!isMatch) keep.push([f, t]);
        break;
      case "Contiguous": {
        let previous = false;
        for (const [f, t, isMatch] of parts) {
          if (isMatch === previous && keep.length) keep[keep.length - 1][1] = t;
          else keep.push([f, t]);
          previous = isMatch;
        }
        break;
      }
      case "MergedWithPrevious": {
        let previous = false;
        for (const [f, t, isMatch] of parts) {
          if (isMatch && !previous && keep.length) keep[keep.length - 1][1] = t;
          else keep.push([f, t]);
          previous = isMatch;
        }
        break;
      }
      case "MergedWithNext": {
        let previous = false;
        for (let i = parts.length - 1; i >= 0; i--) {
          const [f, t, isMatch] = parts[i];
          if (isMatch && !previous && keep.length) keep[keep.length - 1][0] = f;
          else keep.push([f, t]);
          previous = isMatch;
        }
        keep.reverse();
        break;
      }
    }
    for (const [f, t] of keep) emitSlice(text, f, t, start, inserted, atStart, out);
  }
}

/** Hugging Face `ByteLevel` as a pre-tokenizer: optional prefix space, optional GPT-2 regex. */
class ByteLevelStep implements Step {
  private readonly split: SplitStep | undefined;
  constructor(readonly addPrefixSpace: boolean, useRegex: boolean) {
    this.split = useRegex
      ? new SplitStep(jsRegexFromOniguruma(GPT2_PATTERN, "ByteLevel"), "Isolated", false)
      : undefined;
  }
  run(text: string, start: number, inserted: number, atStart: boolean, out: StepSink): void {
    if (this.addPrefixSpace && text.charCodeAt(0) !== 32) {
      text = " " + text;
      inserted++;
    }
    if (this.split) this.split.run(text, start, inserted, atStart, out);
    else if (text.length) out(text, start, inserted, atStart);
  }
}

/** When Metaspace prepends its replacement character. */
export type PrependScheme = "always" | "first" | "never";

/** Hugging Face `Metaspace`: spaces become `▁`, one is prepended, the text is cut before each. */
class MetaspaceStep implements Step {
  private readonly split: SplitStep | undefined;
  constructor(
    readonly replacement: string,
    readonly prependScheme: PrependScheme,
    split: boolean,
  ) {
    this.split = split
      ? new SplitStep(new RegExp(escapeRegex(replacement), "gu"), "MergedWithNext", false)
      : undefined;
  }
  run(text: string, start: number, inserted: number, atStart: boolean, out: StepSink): void {
    const r = this.replacement;
    text = text.replaceAll(" ", r);
    if (
      !text.startsWith(r) &&
      (this.prependScheme === "always" || (this.prependScheme === "first" && atStart))
    ) {
      text = r + text;
      inserted += r.length;
    }
    if (this.split) this.split.run(text, start, inserted, atStart, out);
    else if (text.length) out(text, start, inserted, atStart);
  }
}

/** Cuts before each `c` that follows another character (see {@link PreTokenizer.withCutBefore}). */
class CutBeforeStep implements Step {
  constructor(readonly c: string) {}
  run(text: string, start: number, inserted: number, atStart: boolean, out: StepSink): void {
    const c = this.c;
    let from = 0;
    for (let i = text.indexOf(c, 1); i > 0; i = text.indexOf(c, i + 1)) {
      if (text.charCodeAt(i - 1) === c.charCodeAt(0)) continue;
      emitSlice(text, from, i, start, inserted, atStart, out);
      from = i;
    }
    emitSlice(text, from, text.length, start, inserted, atStart, out);
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Splits text into pieces; each piece is later encoded on its own. Built from Hugging Face's
 * `pre_tokenizer` object (written back as read) or one of the presets.
 */
export class PreTokenizer {
  /**
   * Whether a `ByteLevel` step is present: the model then sees each piece as its UTF-8 bytes
   * (GPT-2's byte characters).
   */
  readonly byteLevel: boolean;
  /** The Metaspace replacement character when a `Metaspace` step is present. */
  readonly metaspace: string | undefined;
  /**
   * Where a long text may be cut into parts encoded one at a time with the same pieces:
   * `"line"` after a line break or before a space between ASCII letters/digits (GPT-2/GPT-4
   * style regexes), `"space"` only the latter (Metaspace, a prefix space), `"model"` the latter
   * if the model never joins a character to a following space mark (no pre-tokenizer), or
   * `"none"` (a regex Bentevi does not know: the text is encoded whole).
   */
  readonly cutKind: "line" | "space" | "model" | "none";

  private constructor(
    /** The Hugging Face `pre_tokenizer` object this was read from (`null`: none). */
    readonly json: unknown,
    private readonly steps: Step[],
    flags: { byteLevel: boolean; metaspace?: string; cutKind: PreTokenizer["cutKind"] },
  ) {
    this.byteLevel = flags.byteLevel;
    this.metaspace = flags.metaspace;
    this.cutKind = flags.cutKind;
  }

  /** GPT-2's byte-level pre-tokenizer (`ByteLevel`, `use_regex: true`). */
  static gpt2(): PreTokenizer {
    return PreTokenizer.fromHF({
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    });
  }

  /** GPT-4 (cl100k) style: a `Split` with GPT-4's regex, then `ByteLevel` without regex. */
  static gpt4(): PreTokenizer {
    return PreTokenizer.fromHF({
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: GPT4_PATTERN }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    });
  }

  /**
   * SentencePiece style (`Metaspace`): spaces become `replacement`, one is prepended per
   * `prependScheme`, and with `split` the text is cut before each.
   *
   * @example
   * ```ts
   * import { PreTokenizer } from "./mod.ts";
   * const pieces: string[] = [];
   * PreTokenizer.metaspace().forEachPiece("Olá mundo", (p) => pieces.push(p));
   * console.log(pieces); // ["▁Olá", "▁mundo"]
   * ```
   */
  static metaspace(
    replacement = "\u2581",
    prependScheme: PrependScheme = "always",
    split = true,
  ): PreTokenizer {
    return PreTokenizer.fromHF({
      type: "Metaspace",
      replacement,
      prepend_scheme: prependScheme,
      split,
    });
  }

  /** No pre-tokenization: each text is one piece (`pre_tokenizer: null`). */
  static none(): PreTokenizer {
    return new PreTokenizer(null, [], { byteLevel: false, cutKind: "model" });
  }

  /**
   * Reads a Hugging Face `pre_tokenizer` object (`ByteLevel`, `Split`, `Metaspace`,
   * `Sequence`; `null` for none). Anything else is refused with a {@link BenteviError} naming
   * the field.
   */
  static fromHF(json: unknown, where = "pre_tokenizer"): PreTokenizer {
    if (json === null || json === undefined) return PreTokenizer.none();
    const steps: Step[] = [];
    let byteLevel = false;
    let metaspace: string | undefined;
    // Regexes whose pieces always end at a line break between non-spaces and before a space
    // between ASCII letters/digits (GPT-2's, GPT-4's/Llama-3's, Qwen's).
    const known = [GPT2_PATTERN, GPT4_PATTERN, GPT4_PATTERN.replace("\\p{N}{1,3}", "\\p{N}")];
    let cut = "line" as "line" | "space" | "model" | "none";
    let splits = false;
    const weaken = (k: "space" | "none") => {
      if (cut === "none" || k === "none") cut = "none";
      else cut = "space";
    };
    const bool = (p: Record<string, unknown>, k: string, d: boolean, w: string): boolean => {
      const v = p[k];
      if (v === undefined || v === null) return d;
      if (typeof v !== "boolean") throw new BenteviError(`${w}.${k} must be true or false`);
      return v;
    };
    const visit = (o: unknown, w: string) => {
      if (!o || typeof o !== "object" || Array.isArray(o)) {
        throw new BenteviError(`${w}: expected an object`);
      }
      const p = o as Record<string, unknown>;
      if (byteLevel) {
        throw new BenteviError(
          `${w}: a pre-tokenizer step after ByteLevel is not supported (it would see byte characters)`,
        );
      }
      switch (p.type) {
        case "ByteLevel":
          byteLevel = true;
          steps.push(
            new ByteLevelStep(
              bool(p, "add_prefix_space", false, w),
              bool(p, "use_regex", true, w),
            ),
          );
          if (bool(p, "add_prefix_space", false, w)) weaken("space");
          if (bool(p, "use_regex", true, w)) splits = true;
          break;
        case "Split": {
          const pat = p.pattern as Record<string, unknown> | undefined;
          const behavior = p.behavior as SplitBehavior;
          if (!BEHAVIORS.includes(behavior)) {
            throw new BenteviError(
              `${w}.behavior ${JSON.stringify(p.behavior)} is not supported (${
                BEHAVIORS.join(", ")
              })`,
            );
          }
          let re: RegExp;
          const invert = bool(p, "invert", false, w);
          if (
            behavior !== "Isolated" || invert ||
            !(pat && typeof pat === "object" && known.includes(pat.Regex as string))
          ) weaken("none");
          if (pat && typeof pat === "object" && typeof pat.Regex === "string") {
            re = jsRegexFromOniguruma(pat.Regex, `${w}.pattern`);
          } else if (pat && typeof pat === "object" && typeof pat.String === "string") {
            if (pat.String === "") throw new BenteviError(`${w}.pattern.String is empty`);
            re = new RegExp(escapeRegex(pat.String), "gu");
          } else throw new BenteviError(`${w}.pattern must be {"Regex": …} or {"String": …}`);
          steps.push(new SplitStep(re, behavior, invert));
          splits = true;
          break;
        }
        case "Metaspace": {
          const r = p.replacement;
          if (typeof r !== "string" || [...r].length !== 1) {
            throw new BenteviError(`${w}.replacement must be one character`);
          }
          let scheme: PrependScheme = "always";
          if (p.prepend_scheme !== undefined && p.prepend_scheme !== null) {
            if (!["always", "first", "never"].includes(p.prepend_scheme as string)) {
              throw new BenteviError(
                `${w}.prepend_scheme ${
                  JSON.stringify(p.prepend_scheme)
                } is not supported (always, first, never)`,
              );
            }
            scheme = p.prepend_scheme as PrependScheme;
          }
          // The older spelling: add_prefix_space false means "never" (and contradicts any other).
          if (p.add_prefix_space === false) {
            if (p.prepend_scheme !== undefined && p.prepend_scheme !== "never") {
              throw new BenteviError(
                `${w}: add_prefix_space false contradicts prepend_scheme ${
                  JSON.stringify(p.prepend_scheme)
                }`,
              );
            }
            scheme = "never";
          }
          metaspace = r;
          const split = bool(p, "split", true, w);
          steps.push(new MetaspaceStep(r, scheme, split));
          if (split) {
            weaken("space");
            splits = true;
          } else cut = cut === "line" ? "model" : "none";
          break;
        }
        case "Sequence":
          if (!Array.isArray(p.pretokenizers)) {
            throw new BenteviError(`${w}: Sequence needs "pretokenizers"`);
          }
          p.pretokenizers.forEach((q, i) => visit(q, `${w}.pretokenizers[${i}]`));
          break;
        default:
          throw new BenteviError(
            `${w}: pre-tokenizer type ${
              JSON.stringify(p.type)
            } is not supported (Bentevi reads ByteLevel, Split, Metaspace, Sequence)`,
          );
      }
    };
    visit(json, where);
    if (!splits && cut !== "none") cut = "model";
    return new PreTokenizer(json, steps, { byteLevel, metaspace, cutKind: cut });
  }

  /**
   * This pre-tokenizer followed by a cut before each `c` that follows another character — for
   * a model whose vocabulary never joins a character to a following `c` (checked by the
   * caller), so that the cut cannot change the ids but keeps pieces short (and cacheable).
   */
  withCutBefore(c: string): PreTokenizer {
    return new PreTokenizer(this.json, [...this.steps, new CutBeforeStep(c)], {
      byteLevel: this.byteLevel,
      metaspace: this.metaspace,
      cutKind: this.cutKind,
    });
  }

  /**
   * Calls `fn(piece, start, inserted)` for each piece of `text` in order: `start` is the
   * offset (UTF-16 units) in `text` of the piece's first source character, `inserted` the
   * number of leading units a step added (a prefix space, a `▁`). `atStart` tells whether
   * `text` begins the whole input (Metaspace's `prepend_scheme: "first"`).
   */
  forEachPiece(text: string, fn: PieceSink, atStart = true): void {
    const steps = this.steps;
    if (steps.length === 0) {
      if (text.length) fn(text, 0, 0);
      return;
    }
    const sinks: StepSink[] = new Array(steps.length);
    sinks[steps.length - 1] = (p, s, ins) => fn(p, s, ins);
    for (let i = steps.length - 2; i >= 0; i--) {
      const next = steps[i + 1], sink = sinks[i + 1];
      sinks[i] = (p, s, ins, at) => next.run(p, s, ins, at, sink);
    }
    steps[0].run(text, 0, 0, atStart, sinks[0]);
  }

  /** Hugging Face `tokenizer.json` form. */
  toJSON(): unknown {
    return this.json;
  }
}
