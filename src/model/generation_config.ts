/**
 * `generation_config.json`: the sampling defaults a Hugging Face checkpoint ships with
 * (`temperature`, `top_p`, `top_k`, `repetition_penalty`, `max_new_tokens`, `do_sample`,
 * `eos_token_id`). `generate` and `chat` use them where the command line leaves a knob at
 * its default (without the file, `config.json`'s `eos_token_id` still ends the text, as in
 * `transformers`); other fields (`max_length`, `pad_token_id`, beam search…) are ignored. A field
 * of the wrong type or out of range is a {@link BenteviError} naming the file and the field.
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError, fsError } from "../errors.ts";

/** The generation config's file name. */
export const GENERATION_CONFIG_FILE = "generation_config.json";

/** What a `generation_config.json` sets (absent fields are undefined). */
export interface GenerationDefaults {
  /** The file it came from. */
  source: string;
  /** `temperature` (≥ 0). */
  temperature?: number;
  /** `top_p` in (0, 1]. */
  topP?: number;
  /** `top_k` (0 = off). */
  topK?: number;
  /** `repetition_penalty` (> 0). */
  repetitionPenalty?: number;
  /** `max_new_tokens`. */
  maxNewTokens?: number;
  /** `do_sample`: false means greedy decoding whatever the temperature. */
  doSample?: boolean;
  /** `eos_token_id` (one id or several): tokens that end the text. */
  eosTokenIds?: number[];
}

/**
 * Checks a parsed `generation_config.json` object; `source` names it in errors.
 *
 * @example
 * ```ts
 * import { parseGenerationConfig } from "./generation_config.ts";
 * const g = parseGenerationConfig({ temperature: 0.6, top_p: 0.9, eos_token_id: [2, 7] }, "g.json");
 * console.log(g.temperature, g.topP, g.eosTokenIds); // 0.6 0.9 [ 2, 7 ]
 * ```
 */
export function parseGenerationConfig(json: unknown, source: string): GenerationDefaults {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new BenteviError(`${source}: not a JSON object`);
  }
  const j = json as Record<string, unknown>;
  const out: GenerationDefaults = { source };
  const num = (
    key: string,
    ok: (v: number) => boolean,
    what: string,
  ): number | undefined => {
    const v = j[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) {
      throw new BenteviError(`${source}: field "${key}" must be ${what}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const int = (v: number) => Number.isInteger(v);
  out.temperature = num("temperature", (v) => v >= 0 && v <= 1000, "a number in [0, 1000]");
  out.topP = num("top_p", (v) => v > 0 && v <= 1, "a number in (0, 1]");
  out.topK = num("top_k", (v) => int(v) && v >= 0, "an integer ≥ 0");
  out.repetitionPenalty = num("repetition_penalty", (v) => v > 0, "a number > 0");
  out.maxNewTokens = num(
    "max_new_tokens",
    (v) => int(v) && v >= 1 && v <= 1_000_000,
    "an integer in [1, 1000000]",
  );
  const sample = j.do_sample;
  if (sample !== undefined && sample !== null) {
    if (typeof sample !== "boolean") {
      throw new BenteviError(`${source}: field "do_sample" must be true or false`);
    }
    out.doSample = sample;
  }
  const eos = j.eos_token_id;
  if (eos !== undefined && eos !== null) {
    const ids = Array.isArray(eos) ? eos : [eos];
    if (!ids.every((id) => Number.isInteger(id) && id >= 0 && id < 2 ** 24)) {
      throw new BenteviError(
        `${source}: field "eos_token_id" must be a token id or a list of them, got ${
          JSON.stringify(eos).slice(0, 80)
        }`,
      );
    }
    out.eosTokenIds = ids as number[];
  }
  for (const k of Object.keys(out) as (keyof GenerationDefaults)[]) {
    if (out[k] === undefined) delete out[k];
  }
  return out;
}

/**
 * Reads `dir/generation_config.json`; undefined when the directory has none.
 *
 * @example
 * ```ts
 * import { readGenerationConfig } from "./generation_config.ts";
 * console.log(await readGenerationConfig(await Deno.makeTempDir())); // undefined
 * ```
 */
export async function readGenerationConfig(
  dir: string,
): Promise<GenerationDefaults | undefined> {
  const path = join(dir, GENERATION_CONFIG_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw fsError(e, path);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BenteviError(`${path}: not valid JSON`);
  }
  return parseGenerationConfig(json, path);
}

/** The sampling knobs a generation config can default. */
export interface SamplingKnobs {
  /** Softmax temperature (0 = greedy). */
  temperature: number;
  /** Top-k (0 = off). */
  topK: number;
  /** Nucleus p. */
  topP: number;
  /** Repetition penalty (1 = off). */
  repetitionPenalty: number;
}

/**
 * The knobs with the generation config's values in place of those `isDefault` says the user
 * did not set. `do_sample: false` makes an unset temperature 0 (greedy), as in `transformers`.
 *
 * @example
 * ```ts
 * import { applyGenerationDefaults } from "./generation_config.ts";
 * const knobs = { temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1 };
 * const g = { source: "g.json", temperature: 0.6, topP: 0.9 };
 * console.log(applyGenerationDefaults(knobs, g, (k) => k !== "topP")); // topP stays 1
 * ```
 */
export function applyGenerationDefaults<K extends SamplingKnobs>(
  knobs: K,
  gen: GenerationDefaults | undefined,
  isDefault: (knob: keyof SamplingKnobs) => boolean,
): K {
  if (!gen) return knobs;
  const out = { ...knobs };
  const temperature = gen.doSample === false ? 0 : gen.temperature;
  if (temperature !== undefined && isDefault("temperature")) out.temperature = temperature;
  if (gen.topK !== undefined && isDefault("topK")) out.topK = gen.topK;
  if (gen.topP !== undefined && isDefault("topP")) out.topP = gen.topP;
  if (gen.repetitionPenalty !== undefined && isDefault("repetitionPenalty")) {
    out.repetitionPenalty = gen.repetitionPenalty;
  }
  return out;
}
