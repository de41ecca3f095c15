/**
 * Model configurations of every family: named presets, checks, exact parameter counts,
 * descriptions and `config.json` in both directions. Each function asks the configuration's
 * family (see `registry.ts`); the shapes themselves live in `gpt/config.ts`,
 * `rwkv/config.ts` and `llama/config.ts`.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { checkPositiveInteger } from "./family.ts";
import {
  familyForArch,
  familyForPreset,
  familyFromJson,
  familyOf,
  PRESET_NAMES,
} from "./registry.ts";
import { weightSpecs } from "./weights.ts";

export type { GptConfig } from "./gpt/config.ts";
export type { LlamaConfig } from "./llama/config.ts";
export type { RwkvConfig } from "./rwkv/config.ts";
export type { Rwkv7Config } from "./rwkv7/config.ts";
export type { Rwkv5Config } from "./rwkv5/config.ts";
export type { ModelConfig } from "./registry.ts";
import type { ModelConfig } from "./registry.ts";

/** Names accepted by {@link presetConfig}. */
export const MODEL_PRESETS: readonly string[] = PRESET_NAMES;

/**
 * The configuration of a named preset with the tokenizer's vocabulary size.
 *
 * @example
 * ```ts
 * import { presetConfig, parameterCount } from "./config.ts";
 * const config = presetConfig("gpt-micro", 4096);
 * console.log(config.dModel, parameterCount(config)); // 128 1334016
 * ```
 */
export function presetConfig(name: string, vocabSize: number): ModelConfig {
  const preset = familyForPreset(name).presets[name];
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new BenteviError(`vocabulary size must be a positive integer, got ${vocabSize}`);
  }
  return { ...preset, vocabSize } as ModelConfig;
}

/**
 * The configuration of a preset with some numeric fields changed: `PRESET` or
 * `PRESET:field=value,field=value` (Bentevi's field names, as `info --json` prints them), with
 * the tokenizer's vocabulary size — how the benchmarks name a model of a chosen size (equal
 * parameter counts across families). The result is checked as a `config.json` would be;
 * unknown presets, unknown or non-numeric fields and invalid shapes are refused with one line.
 *
 * @example
 * ```ts
 * import { modelSpecConfig, parameterCount } from "./config.ts";
 * const config = modelSpecConfig("gpt-mini:mlpDim=960,contextLength=128", 4096);
 * console.log(config.contextLength, parameterCount(config)); // 128 5623424
 * ```
 */
export function modelSpecConfig(spec: string, vocabSize: number): ModelConfig {
  const colon = spec.indexOf(":");
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const config = presetConfig(name, vocabSize) as unknown as Record<string, unknown>;
  if (colon < 0) return config as unknown as ModelConfig;
  for (const part of spec.slice(colon + 1).split(",")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    const text = eq < 0 ? "" : part.slice(eq + 1).trim();
    if (key === "arch" || key === "vocabSize" || typeof config[key] !== "number") {
      const fields = Object.keys(config).filter((k) =>
        k !== "vocabSize" && typeof config[k] === "number"
      );
      throw new BenteviError(
        `model "${spec}": "${key}" is not a numeric field of ${name} (${fields.join(", ")})`,
      );
    }
    const value = Number(text);
    if (text === "" || !Number.isFinite(value)) {
      throw new BenteviError(`model "${spec}": ${key} needs a number, got "${text}"`);
    }
    config[key] = value;
  }
  return validateConfig(config as unknown as ModelConfig, `model "${spec}"`);
}

/**
 * The vocabulary size a preset was published with (`llama-160m`: 32000), or undefined — what
 * `info --model` uses when no tokenizer gives one.
 *
 * @example
 * ```ts
 * import { presetVocabSize } from "./config.ts";
 * console.log(presetVocabSize("llama-160m"), presetVocabSize("gpt-micro")); // 32000 undefined
 * ```
 */
export function presetVocabSize(name: string): number | undefined {
  return familyForPreset(name).presetVocabSizes?.[name];
}

/**
 * Checks a configuration's fields and throws a {@link BenteviError} naming the bad one.
 *
 * @example
 * ```ts
 * import { presetConfig, validateConfig } from "./config.ts";
 * validateConfig(presetConfig("rwkv-micro", 256)); // ok
 * ```
 */
export function validateConfig(config: ModelConfig, source = "model config"): ModelConfig {
  checkPositiveInteger(source, "vocabSize", config.vocabSize);
  checkPositiveInteger(source, "contextLength", config.contextLength);
  checkPositiveInteger(source, "dModel", config.dModel);
  checkPositiveInteger(source, "nLayer", config.nLayer);
  familyForArch(config.arch, source).validate(config, source);
  return config;
}

/**
 * The exact number of trainable parameters (tied GPT head counted once), as the seeds'
 * `num_parameters`: the sizes of the family's weight list.
 *
 * @example
 * ```ts
 * import { presetConfig, parameterCount } from "./config.ts";
 * console.log(parameterCount(presetConfig("gpt2-small", 50257))); // 124439808
 * ```
 */
export function parameterCount(config: ModelConfig): number {
  let n = 0;
  for (const { shape } of weightSpecs(config)) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * A `config.json` object: a Hugging Face `GPT2Config` for GPT and `LlamaConfig` for Llama
 * (both load in `transformers`), `{model_type: "rwkv4", …}` for RWKV. Bentevi's own field names are kept under `bentevi`.
 *
 * @example
 * ```ts
 * import { presetConfig, configToJson } from "./config.ts";
 * const json = configToJson(presetConfig("gpt-micro", 4096));
 * console.log(json.model_type, json.n_embd); // gpt2 128
 * ```
 */
export function configToJson(config: ModelConfig): Record<string, unknown> {
  return familyOf(config).toJson(config);
}

/**
 * Reads a `config.json` object: Bentevi's own, a Hugging Face GPT-2 one (`model_type`
 * `"gpt2"`), a Hugging Face Llama one (`"llama"`), or an RWKV-4 one (`"rwkv4"`, or Hugging Face's `"rwkv"` field names).
 * `source` names the file in error messages.
 *
 * @example
 * ```ts
 * import { configFromJson } from "./config.ts";
 * const c = configFromJson({ model_type: "gpt2", vocab_size: 21, n_embd: 2, n_layer: 1, n_head: 1 });
 * console.log(c.arch, c.contextLength); // gpt 1024
 * ```
 */
export function configFromJson(json: unknown, source = "config.json"): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new BenteviError(`${source}: not a JSON object`);
  }
  const j = json as Record<string, unknown>;
  return validateConfig(familyFromJson(j, source).fromJson(j, source), source);
}

/**
 * A one-line human description of a configuration.
 *
 * @example
 * ```ts
 * import { describeConfig, presetConfig } from "./config.ts";
 * console.log(describeConfig(presetConfig("rwkv-micro", 256)));
 * ```
 */
export function describeConfig(config: ModelConfig): string {
  return familyOf(config).describe(config);
}
