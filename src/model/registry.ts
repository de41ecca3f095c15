/**
 * The one list of model families. Everything that depends on the architecture finds the
 * family here — by configuration, `arch` tag, preset name or `config.json` — and asks it.
 * An unknown architecture is a {@link BenteviError}, never a fallback to another family.
 *
 * Adding a family: its folder under `src/model/` and one entry in {@link MODEL_FAMILIES}.
 *
 * @example
 * ```ts
 * import { familyForPreset, MODEL_FAMILIES } from "./registry.ts";
 * console.log(MODEL_FAMILIES.map((f) => f.arch)); // [ "gpt", "rwkv", "llama", "rwkv7", "rwkv5" ]
 * console.log(familyForPreset("rwkv-mini").arch); // rwkv
 * ```
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import type { ModelFamily } from "./family.ts";
import { gptFamily } from "./gpt/family.ts";
import { llamaFamily } from "./llama/family.ts";
import { rwkvFamily } from "./rwkv/family.ts";
import { rwkv5Family } from "./rwkv5/family.ts";
import { rwkv7Family } from "./rwkv7/family.ts";

/** Every model family, in the order presets and messages list them. */
export const MODEL_FAMILIES = [
  gptFamily,
  rwkvFamily,
  llamaFamily,
  rwkv7Family,
  rwkv5Family,
] as const;

/** A configuration of any registered family (the union of the families' configurations). */
export type ModelConfig = typeof MODEL_FAMILIES[number] extends infer F
  ? F extends ModelFamily<infer C> ? C : never
  : never;

/** The family of any configuration (its methods take the union). */
export type AnyModelFamily = ModelFamily<ModelConfig>;

const FAMILIES: readonly AnyModelFamily[] = MODEL_FAMILIES;

/**
 * The family with `arch` tag `arch`; a {@link BenteviError} naming `source` for an unknown
 * one.
 *
 * @example
 * ```ts
 * import { familyForArch } from "./registry.ts";
 * console.log(familyForArch("gpt").embeddingWeight); // wte.weight
 * ```
 */
export function familyForArch(arch: unknown, source = "model config"): AnyModelFamily {
  const family = FAMILIES.find((f) => f.arch === arch);
  if (!family) {
    throw new BenteviError(
      `${source}: unknown architecture ${arch} (known: ${FAMILIES.map((f) => f.arch).join(", ")})`,
    );
  }
  return family;
}

/**
 * The family of a configuration (by its `arch` tag).
 *
 * @example
 * ```ts
 * import { familyOf } from "./registry.ts";
 * import { presetConfig } from "./config.ts";
 * const config = presetConfig("gpt-micro", 64);
 * console.log(familyOf(config).maxContext(config)); // 128
 * ```
 */
export function familyOf(config: ModelConfig, source = "model config"): AnyModelFamily {
  return familyForArch(config.arch, source);
}

/** Names of every preset of every family. */
export const PRESET_NAMES: readonly string[] = FAMILIES.flatMap((f) => Object.keys(f.presets));

/**
 * The family that has a preset called `name`; a {@link BenteviError} listing the presets
 * for an unknown one.
 *
 * @example
 * ```ts
 * import { familyForPreset } from "./registry.ts";
 * console.log(familyForPreset("gpt2-small").arch); // gpt
 * ```
 */
export function familyForPreset(name: string): AnyModelFamily {
  const family = FAMILIES.find((f) => Object.hasOwn(f.presets, name));
  if (!family) {
    throw new BenteviError(
      `unknown model preset "${name}"; available: ${PRESET_NAMES.join(", ")}`,
    );
  }
  return family;
}

/**
 * The family that reads a `config.json` object: by its `model_type`, else by Bentevi's own
 * `bentevi.arch`. A {@link BenteviError} naming `source` for a type no family reads.
 *
 * @example
 * ```ts
 * import { familyFromJson } from "./registry.ts";
 * console.log(familyFromJson({ model_type: "gpt2" }).arch); // gpt
 * ```
 */
export function familyFromJson(
  json: Record<string, unknown>,
  source = "config.json",
): AnyModelFamily {
  const type = String(
    json.model_type ?? (json.bentevi as { arch?: string } | undefined)?.arch ?? "",
  );
  const family = FAMILIES.find((f) => f.modelTypes.includes(type));
  if (!family) {
    const known = FAMILIES.map((f) => f.modelTypes[0]);
    throw new BenteviError(
      `${source}: unsupported model_type "${type}" (Bentevi reads ${known.slice(0, -1).join(", ")}${
        known.length > 1 ? " and " : ""
      }${known[known.length - 1]} checkpoints)`,
    );
  }
  return family;
}
