/**
 * Decoders: token strings → text, as Hugging Face's `decoder` steps, each a small class working
 * on the list of token strings (`decode_chain`): `ByteLevel` (GPT-2's byte characters → bytes →
 * UTF-8), `ByteFallback` (`<0xXX>` tokens → bytes), `Fuse` (join), `Strip` (cut a character at
 * the start/end of each token), `Replace`, `Metaspace` (`▁` → space) and `Sequence`.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { CHAR_TO_BYTE } from "./byte_level.ts";
import { jsRegexFromOniguruma } from "./pre_tokenizer.ts";

/** One decoding step over the token strings. */
export interface DecoderStep {
  /** The strings after this step. */
  decodeChain(tokens: string[]): string[];
}

const lossy = new TextDecoder();
const strict = new TextDecoder("utf-8", { fatal: true });

/** GPT-2's byte characters → bytes → text (one string; invalid UTF-8 becomes U+FFFD). */
class ByteLevelDec implements DecoderStep {
  decodeChain(tokens: string[]): string[] {
    const bytes: number[] = [];
    for (const t of tokens) {
      let ok = true;
      for (let i = 0; i < t.length && ok; i++) ok = CHAR_TO_BYTE.has(t.charCodeAt(i));
      if (ok) { for (let i = 0; i < t.length; i++) bytes.push(CHAR_TO_BYTE.get(t.charCodeAt(i))!); }
      else for (const b of new TextEncoder().encode(t)) bytes.push(b);
    }
    return [lossy.decode(Uint8Array.from(bytes))];
  }
}

/** `<0xXX>` tokens → their bytes, a run decoded together (one U+FFFD per byte when invalid). */
class ByteFallbackDec implements DecoderStep {
  decodeChain(tokens: string[]): string[] {
    const out: string[] = [];
    let run: number[] = [];
    const flush = () => {
      if (!run.length) return;
      try {
        out.push(strict.decode(Uint8Array.from(run)));
      } catch {
        for (let i = 0; i < run.length; i++) out.push("\ufffd");
      }
      run = [];
    };
    for (const t of tokens) {
      const b = t.length === 6 && t.startsWith("<0x") && t.endsWith(">") &&
          /^[0-9a-fA-F]{2}$/.test(t.slice(3, 5))
        ? parseInt(t.slice(3, 5), 16)
        : -1;
      if (b >= 0) run.push(b);
      else {
        flush();
        out.push(t);
      }
    }
    flush();
    return out;
  }
}

/** Joins all tokens into one string. */
class FuseDec implements DecoderStep {
  decodeChain(tokens: string[]): string[] {
    return [tokens.join("")];
  }
}

/** Removes up to `start` leading and `stop` trailing `content` characters from each token. */
class StripDec implements DecoderStep {
  constructor(readonly content: string, readonly start: number, readonly stop: number) {}
  decodeChain(tokens: string[]): string[] {
    return tokens.map((t) => {
      const chars = [...t];
      let s = 0;
      for (let i = 0; i < Math.min(this.start, chars.length); i++) {
        if (chars[i] === this.content) s = i + 1;
        else break;
      }
      let e = chars.length;
      for (let i = 0; i < Math.min(this.stop, chars.length - s); i++) {
        const k = chars.length - i - 1;
        if (chars[k] === this.content) e = k;
        else break;
      }
      return chars.slice(s, e).join("");
    });
  }
}

/** Replaces a string or regex in each token. */
class ReplaceDec implements DecoderStep {
  constructor(readonly re: RegExp, readonly content: string) {}
  decodeChain(tokens: string[]): string[] {
    return tokens.map((t) => t.replace(this.re, () => this.content));
  }
}

/** `▁` → space; the first token's leading one dropped unless `prepend_scheme` is "never". */
class MetaspaceDec implements DecoderStep {
  constructor(readonly replacement: string, readonly prepends: boolean) {}
  decodeChain(tokens: string[]): string[] {
    return tokens.map((t, i) => {
      let out = "";
      for (const c of t) {
        if (c === this.replacement) {
          if (!(i === 0 && this.prepends)) out += " ";
        } else out += c;
      }
      return out;
    });
  }
}

class SequenceDec implements DecoderStep {
  constructor(readonly steps: DecoderStep[]) {}
  decodeChain(tokens: string[]): string[] {
    for (const s of this.steps) tokens = s.decodeChain(tokens);
    return tokens;
  }
}

/** No decoder in the file: tokens joined with spaces, as Hugging Face does. */
class JoinWithSpaces implements DecoderStep {
  decodeChain(tokens: string[]): string[] {
    return [tokens.join(" ")];
  }
}

/** A decoder read from `tokenizer.json`. */
export class Decoder {
  private constructor(
    /** The Hugging Face `decoder` object (written back as read). */
    readonly json: unknown,
    private readonly step: DecoderStep,
    /** Exactly `ByteLevel`: byte-level tokens can be decoded as bytes (the fast path). */
    readonly isByteLevel: boolean,
  ) {}

  /** The text of `tokens` (token strings). */
  decode(tokens: string[]): string {
    return this.step.decodeChain(tokens).join("");
  }

  /** GPT-2's decoder (`ByteLevel`). */
  static byteLevel(): Decoder {
    return Decoder.fromHF({
      type: "ByteLevel",
      add_prefix_space: true,
      trim_offsets: true,
      use_regex: true,
    });
  }

  /**
   * Reads a Hugging Face `decoder` object (`null`: tokens joined with spaces). An unknown type
   * is refused with a {@link BenteviError} naming the field.
   */
  static fromHF(json: unknown, where = "decoder"): Decoder {
    const visit = (o: unknown, w: string): DecoderStep => {
      if (!o || typeof o !== "object" || Array.isArray(o)) {
        throw new BenteviError(`${w}: expected an object`);
      }
      const p = o as Record<string, unknown>;
      switch (p.type) {
        case "ByteLevel":
          return new ByteLevelDec();
        case "ByteFallback":
          return new ByteFallbackDec();
        case "Fuse":
          return new FuseDec();
        case "Strip": {
          const c = p.content;
          if (typeof c !== "string" || [...c].length !== 1) {
            throw new BenteviError(`${w}.content must be one character`);
          }
          for (const k of ["start", "stop"]) {
            const v = p[k];
            if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
              throw new BenteviError(`${w}.${k} must be a non-negative integer`);
            }
          }
          return new StripDec(c, p.start as number, p.stop as number);
        }
        case "Replace": {
          const pat = p.pattern as Record<string, unknown> | undefined;
          if (typeof p.content !== "string" || !pat || typeof pat !== "object") {
            throw new BenteviError(`${w}: Replace needs "pattern" and "content"`);
          }
          let re: RegExp;
          if (typeof pat.String === "string" && pat.String !== "") {
            re = new RegExp(pat.String.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gu");
          } else if (typeof pat.Regex === "string") {
            re = jsRegexFromOniguruma(pat.Regex, `${w}.pattern`);
          } else throw new BenteviError(`${w}.pattern must be {"String": …} or {"Regex": …}`);
          return new ReplaceDec(re, p.content);
        }
        case "Metaspace": {
          const r = p.replacement;
          if (typeof r !== "string" || [...r].length !== 1) {
            throw new BenteviError(`${w}.replacement must be one character`);
          }
          let scheme = typeof p.prepend_scheme === "string" ? p.prepend_scheme : "always";
          if (!["always", "first", "never"].includes(scheme)) {
            throw new BenteviError(
              `${w}.prepend_scheme ${
                JSON.stringify(scheme)
              } is not supported (always, first, never)`,
            );
          }
          if (p.add_prefix_space === false) scheme = "never";
          return new MetaspaceDec(r, scheme !== "never");
        }
        case "Sequence":
          if (!Array.isArray(p.decoders)) {
            throw new BenteviError(`${w}: Sequence needs "decoders"`);
          }
          return new SequenceDec(p.decoders.map((d, i) => visit(d, `${w}.decoders[${i}]`)));
        default:
          throw new BenteviError(
            `${w}: decoder type ${
              JSON.stringify(p.type)
            } is not supported (Bentevi reads ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, Sequence)`,
          );
      }
    };
    if (json === null || json === undefined) return new Decoder(null, new JoinWithSpaces(), false);
    const step = visit(json, where);
    return new Decoder(json, step, step instanceof ByteLevelDec);
  }

  /** Hugging Face `tokenizer.json` form. */
  toJSON(): unknown {
    return this.json;
  }
}
