/**
 * Post-processors: what `encode` adds around a text's ids, as Hugging Face's `post_processor`
 * (`TemplateProcessing`: e.g. `<s>` before every text for Llama-2-style files; `ByteLevel`
 * adds nothing; `Sequence` of them). Only single texts are encoded; a template's `pair` is
 * checked and written back as read.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";

/** The ids added before and after a text's own ids. */
export interface SpecialIds {
  /** Ids before the text. */
  prefix: number[];
  /** Ids after the text. */
  suffix: number[];
}

/** A post-processor read from `tokenizer.json`. */
export class PostProcessor {
  private constructor(
    /** The Hugging Face `post_processor` object (written back as read; `null`: none). */
    readonly json: unknown,
    /** Ids the single-text template adds around a text. */
    readonly single: SpecialIds,
  ) {}

  /** True when encoding adds ids (a template with special tokens). */
  get addsTokens(): boolean {
    return this.single.prefix.length + this.single.suffix.length > 0;
  }

  /** None: nothing added. */
  static none(json: unknown = null): PostProcessor {
    return new PostProcessor(json, { prefix: [], suffix: [] });
  }

  /**
   * Reads a Hugging Face `post_processor` object. `hasId(id)` says whether an id exists in
   * the vocabulary (a template naming another is refused). Unknown types are refused with a
   * {@link BenteviError} naming the field.
   */
  static fromHF(
    json: unknown,
    hasId: (id: number) => boolean,
    where = "post_processor",
  ): PostProcessor {
    if (json === null || json === undefined) return PostProcessor.none();
    const prefix: number[] = [], suffix: number[] = [];
    const visit = (o: unknown, w: string) => {
      if (!o || typeof o !== "object" || Array.isArray(o)) {
        throw new BenteviError(`${w}: expected an object`);
      }
      const p = o as Record<string, unknown>;
      switch (p.type) {
        case "ByteLevel": // offsets only
          return;
        case "Sequence":
          if (!Array.isArray(p.processors)) {
            throw new BenteviError(`${w}: Sequence needs "processors"`);
          }
          p.processors.forEach((q, i) => visit(q, `${w}.processors[${i}]`));
          return;
        case "TemplateProcessing": {
          if (prefix.length || suffix.length) {
            throw new BenteviError(`${w}: a second TemplateProcessing is not supported`);
          }
          const specials = p.special_tokens;
          if (!specials || typeof specials !== "object" || Array.isArray(specials)) {
            throw new BenteviError(`${w}.special_tokens must be an object`);
          }
          const idsOf = (name: unknown, ww: string): number[] => {
            const s = typeof name === "string"
              ? (specials as Record<string, unknown>)[name] as Record<string, unknown> | undefined
              : undefined;
            if (!s || typeof s !== "object") {
              throw new BenteviError(
                `${ww}: special token ${JSON.stringify(name)} is not in ${w}.special_tokens`,
              );
            }
            const ids = s.ids;
            if (
              !Array.isArray(ids) ||
              !ids.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0)
            ) {
              throw new BenteviError(
                `${w}.special_tokens[${JSON.stringify(name)}].ids must be a list of ids`,
              );
            }
            for (const id of ids) {
              if (!hasId(id)) {
                throw new BenteviError(
                  `${w}.special_tokens[${
                    JSON.stringify(name)
                  }] names id ${id}, not in the vocabulary`,
                );
              }
            }
            return ids as number[];
          };
          const readTemplate = (t: unknown, ww: string, seqs: string[]): SpecialIds => {
            if (!Array.isArray(t)) throw new BenteviError(`${ww} must be a list`);
            const out: SpecialIds = { prefix: [], suffix: [] };
            const seen: string[] = [];
            t.forEach((piece, i) => {
              const q = piece as Record<string, Record<string, unknown>> | null;
              if (
                q && typeof q === "object" && q.SpecialToken && typeof q.SpecialToken === "object"
              ) {
                (seen.length ? out.suffix : out.prefix).push(
                  ...idsOf(q.SpecialToken.id, `${ww}[${i}]`),
                );
              } else if (
                q && typeof q === "object" && q.Sequence && typeof q.Sequence === "object"
              ) {
                const id = q.Sequence.id;
                if (typeof id !== "string" || !seqs.includes(id) || seen.includes(id)) {
                  throw new BenteviError(
                    `${ww}[${i}]: sequence ${JSON.stringify(id)} is not supported here`,
                  );
                }
                seen.push(id);
              } else {
                throw new BenteviError(
                  `${ww}[${i}] must be {"SpecialToken": …} or {"Sequence": …}`,
                );
              }
            });
            if (seen.length !== seqs.length) {
              throw new BenteviError(
                `${ww} must name the sequence${seqs.length > 1 ? "s A and B" : " A"}`,
              );
            }
            return out;
          };
          const single = readTemplate(p.single, `${w}.single`, ["A"]);
          if (p.pair !== undefined && p.pair !== null) {
            readTemplate(p.pair, `${w}.pair`, ["A", "B"]);
          }
          prefix.push(...single.prefix);
          suffix.push(...single.suffix);
          return;
        }
        default:
          throw new BenteviError(
            `${w}: post-processor type ${
              JSON.stringify(p.type)
            } is not supported (Bentevi reads TemplateProcessing, ByteLevel, Sequence)`,
          );
      }
    };
    visit(json, where);
    return new PostProcessor(json, { prefix, suffix });
  }

  /** Hugging Face `tokenizer.json` form. */
  toJSON(): unknown {
    return this.json;
  }
}
