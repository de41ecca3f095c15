/**
 * Normalizers: the first stage of the pipeline. Each one is a small step (Unicode
 * normalization, lowercase, accent stripping, whitespace folding) that can also map every
 * output character back to its span in the input, so offsets stay exact after normalization.
 * Steps are stored in `tokenizer.json` in Hugging Face's format.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { jsRegexFromOniguruma } from "./pre_tokenizer.ts";

/** A normalized string with, for every UTF-16 unit, the span of the source it came from. */
export interface Aligned {
  /** The normalized text. */
  text: string;
  /** `starts[i]`/`ends[i]`: source span (UTF-16 units) of `text[i]`. */
  starts: Int32Array;
  /** See {@link Aligned.starts}. */
  ends: Int32Array;
}

/** One normalization step. */
export interface Normalizer {
  /**
   * Normalizes `text`. `continuation`: the text continues one already begun (a later part of a
   * text encoded in parts), so steps that act on a text's start (`Prepend`, `Strip` left) skip it.
   */
  normalize(text: string, continuation?: boolean): string;
  /** Normalizes `aligned`, keeping the map back to the source. */
  normalizeAligned(aligned: Aligned): Aligned;
  /** Hugging Face `tokenizer.json` form. */
  toJSON(): unknown;
}

/** The identity alignment of `text`. */
export function identityAligned(text: string): Aligned {
  const n = text.length;
  const starts = new Int32Array(n);
  const ends = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    starts[i] = i;
    ends[i] = i + 1;
  }
  return { text, starts, ends };
}

// Base character plus its combining marks: the unit that Unicode normalization, case mapping
// and accent stripping act on, so each output unit maps to the whole cluster it came from.
const CLUSTER = /\P{M}\p{M}*|\p{M}+/gsu;

function mapClusters(a: Aligned, fn: (s: string) => string): Aligned {
  const starts: number[] = [];
  const ends: number[] = [];
  let out = "";
  CLUSTER.lastIndex = 0;
  for (let m = CLUSTER.exec(a.text); m; m = CLUSTER.exec(a.text)) {
    const i = m.index;
    const j = i + m[0].length;
    const r = fn(m[0]);
    out += r;
    const s = a.starts[i];
    const e = a.ends[j - 1];
    for (let k = 0; k < r.length; k++) {
      starts.push(s);
      ends.push(e);
    }
  }
  return { text: out, starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
}

export class UnicodeForm implements Normalizer {
  constructor(readonly form: "NFC" | "NFD" | "NFKC" | "NFKD") {}
  normalize(text: string): string {
    return text.normalize(this.form);
  }
  normalizeAligned(a: Aligned): Aligned {
    return mapClusters(a, (s) => s.normalize(this.form));
  }
  toJSON(): unknown {
    return { type: this.form };
  }
}

// Character by character, as Rust's `char::to_lowercase` (JavaScript's `toLowerCase` of a whole
// string makes a word-final Σ a ς; Hugging Face always gives σ).
function lower(text: string): string {
  const l = text.toLowerCase();
  return l.includes("\u03c2") && text.includes("\u03a3")
    ? text.replace(/\p{Lu}|\p{Lt}/gu, (c) => c.toLowerCase())
    : l;
}

export class Lowercase implements Normalizer {
  normalize(text: string): string {
    return lower(text);
  }
  normalizeAligned(a: Aligned): Aligned {
    return mapClusters(a, (s) => lower(s));
  }
  toJSON(): unknown {
    return { type: "Lowercase" };
  }
}

const MARKS = /\p{M}/gu;
export class StripAccents implements Normalizer {
  normalize(text: string): string {
    return text.replace(MARKS, "");
  }
  normalizeAligned(a: Aligned): Aligned {
    return mapClusters(a, (s) => s.replace(MARKS, ""));
  }
  toJSON(): unknown {
    return { type: "StripAccents" };
  }
}

export class Replace implements Normalizer {
  readonly regex: RegExp;
  constructor(readonly pattern: { String: string } | { Regex: string }, readonly content: string) {
    if ("String" in pattern) {
      this.regex = new RegExp(pattern.String.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gu");
    } else {
      this.regex = jsRegexFromOniguruma(pattern.Regex, "Replace normalizer");
    }
  }
  normalize(text: string): string {
    // A literal pattern needs no regex (the function keeps "$" in the content literal).
    if ("String" in this.pattern && this.pattern.String !== "") {
      return text.replaceAll(this.pattern.String, () => this.content);
    }
    return text.replace(this.regex, () => this.content);
  }
  normalizeAligned(a: Aligned): Aligned {
    const starts: number[] = [];
    const ends: number[] = [];
    let out = "";
    let last = 0;
    const copy = (from: number, to: number) => {
      out += a.text.slice(from, to);
      for (let k = from; k < to; k++) {
        starts.push(a.starts[k]);
        ends.push(a.ends[k]);
      }
    };
    this.regex.lastIndex = 0;
    for (let m = this.regex.exec(a.text); m; m = this.regex.exec(a.text)) {
      if (m[0].length === 0) {
        this.regex.lastIndex++;
        continue;
      }
      copy(last, m.index);
      const s = a.starts[m.index];
      const e = a.ends[m.index + m[0].length - 1];
      out += this.content;
      for (let k = 0; k < this.content.length; k++) {
        starts.push(s);
        ends.push(e);
      }
      last = m.index + m[0].length;
    }
    copy(last, a.text.length);
    return { text: out, starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
  }
  toJSON(): unknown {
    return { type: "Replace", pattern: this.pattern, content: this.content };
  }
}

export class Prepend implements Normalizer {
  constructor(readonly prepend: string) {}
  normalize(text: string, continuation = false): string {
    return text.length && !continuation ? this.prepend + text : text;
  }
  normalizeAligned(a: Aligned): Aligned {
    if (!a.text.length) return a;
    const n = this.prepend.length;
    const starts = new Int32Array(n + a.text.length);
    const ends = new Int32Array(n + a.text.length);
    starts.fill(a.starts[0], 0, n);
    ends.fill(a.starts[0], 0, n);
    starts.set(a.starts, n);
    ends.set(a.ends, n);
    return { text: this.prepend + a.text, starts, ends };
  }
  toJSON(): unknown {
    return { type: "Prepend", prepend: this.prepend };
  }
}

const WS = /\p{White_Space}/u;

/** Hugging Face `Strip`: removes leading and/or trailing whitespace (Unicode White_Space). */
export class Strip implements Normalizer {
  constructor(readonly left: boolean, readonly right: boolean) {}
  private bounds(t: string, continuation = false): [number, number] {
    let s = 0, e = t.length;
    if (this.left && !continuation) { while (s < e && WS.test(t[s])) s++; }
    if (this.right) { while (e > s && WS.test(t[e - 1])) e--; }
    return [s, e];
  }
  normalize(text: string, continuation = false): string {
    const [s, e] = this.bounds(text, continuation);
    return text.slice(s, e);
  }
  normalizeAligned(a: Aligned): Aligned {
    const [s, e] = this.bounds(a.text);
    return { text: a.text.slice(s, e), starts: a.starts.slice(s, e), ends: a.ends.slice(s, e) };
  }
  toJSON(): unknown {
    return { type: "Strip", strip_left: this.left, strip_right: this.right };
  }
}

/** Several steps applied in order (Hugging Face `Sequence`). */
export class SequenceNormalizer implements Normalizer {
  constructor(readonly steps: Normalizer[]) {}
  normalize(text: string, continuation = false): string {
    for (const s of this.steps) text = s.normalize(text, continuation);
    return text;
  }
  normalizeAligned(a: Aligned): Aligned {
    for (const s of this.steps) a = s.normalizeAligned(a);
    return a;
  }
  toJSON(): unknown {
    return { type: "Sequence", normalizers: this.steps.map((s) => s.toJSON()) };
  }
}

/** Horizontal whitespace that `fold-whitespace` turns into one space (newlines are kept). */
export const FOLD_WHITESPACE_PATTERN = "[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+";

/** The named normalization steps `--normalize` accepts (comma-separated) and the presets.
 *
 * @example
 * ```ts
 * import { NORMALIZE_STEPS } from "./mod.ts";
 * console.log(NORMALIZE_STEPS.includes("ptbr")); // true
 * ```
 */
export const NORMALIZE_STEPS = [
  "none",
  "nfc",
  "nfkc",
  "nfd",
  "nfkd",
  "lowercase",
  "strip-accents",
  "fold-whitespace",
  "ptbr",
  "ptbr-ascii",
] as const;

const PRESETS: Record<string, string[]> = {
  // PT-BR: composed accents, lowercase, runs of spaces/tabs folded to one space.
  ptbr: ["nfc", "lowercase", "fold-whitespace"],
  // The same without accents ("ação" → "acao").
  "ptbr-ascii": ["nfd", "strip-accents", "lowercase", "fold-whitespace", "nfc"],
};

/**
 * Builds a normalizer from a spec such as `"nfc"`, `"ptbr"` or `"nfc,lowercase"`; `undefined`
 * for `"none"`.
 */
export function normalizerFromSpec(spec: string | undefined): Normalizer | undefined {
  if (spec === undefined || spec === "" || spec === "none") return undefined;
  const names = spec.split(",").map((s) => s.trim().toLowerCase()).flatMap((s) =>
    PRESETS[s] ?? [s]
  );
  const steps: Normalizer[] = [];
  for (const name of names) {
    switch (name) {
      case "none":
        break;
      case "nfc":
      case "nfd":
      case "nfkc":
      case "nfkd":
        steps.push(new UnicodeForm(name.toUpperCase() as "NFC"));
        break;
      case "lowercase":
        steps.push(new Lowercase());
        break;
      case "strip-accents":
        // Accents are separate marks only after decomposition.
        if (!names.includes("nfd") && !names.includes("nfkd")) steps.push(new UnicodeForm("NFD"));
        steps.push(new StripAccents());
        break;
      case "fold-whitespace":
        steps.push(new Replace({ Regex: FOLD_WHITESPACE_PATTERN }, " "));
        break;
      default:
        throw new BenteviError(
          `unknown normalization "${name}"; use one or more of ${NORMALIZE_STEPS.join(", ")}`,
        );
    }
  }
  if (steps.length === 0) return undefined;
  return steps.length === 1 ? steps[0] : new SequenceNormalizer(steps);
}

/** Reads a Hugging Face `normalizer` object (`null` → `undefined`). */
export function normalizerFromHF(json: unknown, where = "normalizer"): Normalizer | undefined {
  if (json === null || json === undefined) return undefined;
  if (typeof json !== "object") throw new BenteviError(`${where}: expected an object`);
  const o = json as Record<string, unknown>;
  switch (o.type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return new UnicodeForm(o.type);
    case "Lowercase":
      return new Lowercase();
    case "StripAccents":
      return new StripAccents();
    case "Prepend":
      if (typeof o.prepend !== "string") throw new BenteviError(`${where}: Prepend needs a string`);
      return new Prepend(o.prepend);
    case "Strip":
      for (const k of ["strip_left", "strip_right"]) {
        if (typeof o[k] !== "boolean") {
          throw new BenteviError(`${where}.${k} must be true or false`);
        }
      }
      return new Strip(o.strip_left as boolean, o.strip_right as boolean);
    case "Replace": {
      const p = o.pattern as Record<string, unknown> | undefined;
      if (typeof o.content !== "string" || !p || typeof p !== "object") {
        throw new BenteviError(`${where}: Replace needs "pattern" and "content"`);
      }
      if (typeof p.String === "string") return new Replace({ String: p.String }, o.content);
      if (typeof p.Regex === "string") return new Replace({ Regex: p.Regex }, o.content);
      throw new BenteviError(`${where}: Replace pattern must be {"String"} or {"Regex"}`);
    }
    case "Sequence": {
      if (!Array.isArray(o.normalizers)) {
        throw new BenteviError(`${where}: Sequence needs "normalizers"`);
      }
      return new SequenceNormalizer(
        o.normalizers.map((n, i) => normalizerFromHF(n, `${where}.normalizers[${i}]`)).filter((
          n,
        ): n is Normalizer => n !== undefined),
      );
    }
    default:
      throw new BenteviError(
        `${where}: normalizer type ${
          JSON.stringify(o.type)
        } is not supported (Bentevi reads NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Replace, Prepend, Sequence)`,
      );
  }
}
