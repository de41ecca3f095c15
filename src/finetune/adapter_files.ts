/**
 * LoRA adapters on disk in Hugging Face PEFT's format, so `peft` loads a Bentevi adapter onto
 * the same base and Bentevi loads PEFT's: a directory with `adapter_model.safetensors`
 * (`base_model.model.<module path>.lora_A.weight` `[r, in]` and `….lora_B.weight` `[out, r]`,
 * F32) and `adapter_config.json` (`peft_type` LORA, `task_type` CAUSAL_LM, `r`, `lora_alpha`,
 * `lora_dropout`, `target_modules`, `base_model_name_or_path`, `fan_in_fan_out`, `bias`).
 *
 * Bentevi also records which base the adapter was made for, in the safetensors header's
 * `__metadata__` (`bentevi_base`: family, configuration, vocabulary size and a fingerprint of
 * the weights), where PEFT ignores it; an adapter whose base differs is refused by name.
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError, fsError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import {
  type NamedTensor,
  readSafetensorsHeader,
  readTensorSync,
  writeSafetensors,
} from "../io/safetensors.ts";
import { configToJson, type ModelConfig } from "../model/config.ts";
import { familyOf } from "../model/registry.ts";
import { LoraPlan, type LoraSettings } from "./lora.ts";

/** The adapter's weights file. */
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
/** The adapter's PEFT configuration. */
export const ADAPTER_CONFIG_FILE = "adapter_config.json";
/** PEFT's prefix of every tensor name (`PeftModelForCausalLM.base_model.model`). */
export const PEFT_PREFIX = "base_model.model.";

/** Which base model an adapter was made for. */
export interface BaseIdentity {
  /** The family (`gpt`, `llama`, `rwkv`). */
  arch: string;
  /** The base's `config.json` object (shapes). */
  config: Record<string, unknown>;
  /** Vocabulary size. */
  vocabSize: number;
  /**
   * SHA-256 (hex) of the configuration and of up to 4,096 evenly spaced values of every
   * weight, in canonical order: equal weights give equal fingerprints, and any retraining
   * changes them.
   */
  fingerprint: string;
}

/** JSON with object keys sorted (configurations compare by content, not key order). */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${
      Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) =>
        `${JSON.stringify(k)}:${canonicalJson(o[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/** Values of each weight the fingerprint reads. */
const FINGERPRINT_SAMPLES = 4096;

/**
 * The identity of a base model from its canonical weights (each read once).
 *
 * @example
 * ```ts
 * import { baseIdentity } from "./adapter_files.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 64);
 * const id = await baseIdentity(config, initWeights(config, 1));
 * console.log(id.arch, id.fingerprint.length); // gpt 64
 * ```
 */
export async function baseIdentity(
  config: ModelConfig,
  weights: Map<string, { shape: readonly number[]; data: Float32Array }>,
): Promise<BaseIdentity> {
  const family = familyOf(config);
  const json = configToJson(config);
  const parts: Uint8Array[] = [new TextEncoder().encode(canonicalJson(json))];
  for (const spec of family.weightSpecs(config)) {
    const t = weights.get(spec.name);
    if (!t) throw new Error(`baseIdentity: missing weight ${spec.name}`);
    const data = t.data;
    const n = Math.min(FINGERPRINT_SAMPLES, data.length);
    const sample = new Float32Array(n);
    for (let i = 0; i < n; i++) sample[i] = data[Math.floor((i * data.length) / n)];
    parts.push(new TextEncoder().encode(`${spec.name}[${t.shape}]`), new Uint8Array(sample.buffer));
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return {
    arch: config.arch,
    config: json,
    vocabSize: config.vocabSize,
    fingerprint: [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
  };
}

/** What {@link saveAdapter} writes. */
export interface AdapterContents {
  /** The adapter's plan over its base. */
  plan: LoraPlan;
  /** The adapter's weights under the plan's layout names (`ParameterStore.weights()`). */
  weights: Map<string, NamedTensor>;
  /** The base it was trained on. */
  base: BaseIdentity;
  /** `base_model_name_or_path` (the base's directory or hub name). */
  baseName: string;
}

/** PEFT's `adapter_config.json` for `plan`. */
export function peftConfigJson(plan: LoraPlan, baseName: string): Record<string, unknown> {
  const s = plan.settings;
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseName,
    r: s.rank,
    lora_alpha: s.alpha,
    lora_dropout: s.dropout,
    target_modules: [...s.targets],
    fan_in_fan_out: plan.layers.some((t) => t.fanInFanOut),
    bias: "none",
    modules_to_save: null,
    init_lora_weights: true,
    inference_mode: true,
  };
}

/**
 * Writes an adapter directory in PEFT's format (each file atomically: the weights first, then
 * the configuration that names them).
 *
 * @example
 * ```ts
 * import { baseIdentity, loadAdapter, saveAdapter } from "./adapter_files.ts";
 * import { LORA_DEFAULTS, LoraPlan } from "./lora.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 64);
 * const base = initWeights(config, 1);
 * const plan = new LoraPlan(config, { ...LORA_DEFAULTS, rank: 4 });
 * const dir = await Deno.makeTempDir();
 * await saveAdapter(dir, { plan, weights: plan.initialWeights(1), base: await baseIdentity(config, base), baseName: "runs/g" });
 * console.log((await loadAdapter(dir, config)).plan.settings.rank); // 4
 * ```
 */
export async function saveAdapter(dir: string, a: AdapterContents): Promise<void> {
  const tensors = new Map<string, NamedTensor>();
  for (const [name, t] of a.plan.toPeft(a.weights)) tensors.set(PEFT_PREFIX + name, t);
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors, {
    format: "pt",
    bentevi_base: JSON.stringify(a.base),
  });
  await writeFileAtomic(
    join(dir, ADAPTER_CONFIG_FILE),
    JSON.stringify(peftConfigJson(a.plan, a.baseName), null, 2) + "\n",
  );
}

/** An adapter read from disk. */
export interface LoadedAdapter {
  /** Its directory. */
  dir: string;
  /** Its plan over the base it was loaded for. */
  plan: LoraPlan;
  /** PEFT's per-layer tensors, without the `base_model.model.` prefix. */
  peft: Map<string, NamedTensor>;
  /** The base it was made for (absent in adapters written by other tools). */
  base?: BaseIdentity;
  /** `base_model_name_or_path`. */
  baseName: string;
}

/** Whether a directory holds an adapter (its `adapter_config.json`). */
export async function isAdapterDir(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(join(dir, ADAPTER_CONFIG_FILE))).isFile;
  } catch {
    return false;
  }
}

function readSettings(json: unknown, source: string): { settings: LoraSettings; baseName: string } {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new BenteviError(`${source}: not a JSON object`);
  }
  const j = json as Record<string, unknown>;
  if (j.peft_type !== "LORA") {
    throw new BenteviError(
      `${source}: peft_type is ${JSON.stringify(j.peft_type)}, Bentevi reads LORA adapters`,
    );
  }
  for (const key of ["use_rslora", "use_dora"]) {
    if (j[key] === true) throw new BenteviError(`${source}: ${key} adapters are not supported`);
  }
  for (const key of ["rank_pattern", "alpha_pattern"]) {
    const v = j[key];
    if (v && typeof v === "object" && Object.keys(v).length) {
      throw new BenteviError(`${source}: per-layer ${key} is not supported`);
    }
  }
  if (j.layers_to_transform !== undefined && j.layers_to_transform !== null) {
    throw new BenteviError(`${source}: layers_to_transform is not supported`);
  }
  if (j.bias !== undefined && j.bias !== "none") {
    throw new BenteviError(`${source}: bias "${j.bias}" is not supported (only "none")`);
  }
  const targets = j.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === "string") || !targets.length) {
    throw new BenteviError(`${source}: target_modules must be a list of module names`);
  }
  const num = (key: string, fallback?: number): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== "number") throw new BenteviError(`${source}: ${key} must be a number`);
    return v;
  };
  return {
    settings: {
      rank: num("r"),
      alpha: num("lora_alpha"),
      dropout: num("lora_dropout", 0),
      targets: targets as string[],
    },
    baseName: typeof j.base_model_name_or_path === "string" ? j.base_model_name_or_path : "",
  };
}

/** Compares the recorded base with this one; a mismatch is refused naming what differs. */
function checkBase(dir: string, made: BaseIdentity, config: ModelConfig, actual?: BaseIdentity) {
  const what = `${dir}: the adapter was made for another base model`;
  if (made.arch !== config.arch) {
    throw new BenteviError(`${what} (family ${made.arch}, this base is ${config.arch})`);
  }
  if (made.vocabSize !== config.vocabSize) {
    throw new BenteviError(
      `${what} (vocabulary ${made.vocabSize}, this base has ${config.vocabSize})`,
    );
  }
  if (canonicalJson(made.config) !== canonicalJson(configToJson(config))) {
    throw new BenteviError(`${what} (its configuration differs: shapes or settings)`);
  }
  if (actual && actual.fingerprint !== made.fingerprint) {
    throw new BenteviError(
      `${what} (same shapes, different weights: fingerprint ${made.fingerprint.slice(0, 12)}…, ` +
        `this base ${actual.fingerprint.slice(0, 12)}…)`,
    );
  }
}

/**
 * Reads an adapter directory for the base of `config` (and, when given, of identity `base`):
 * its settings are resolved against the base's family, every tensor's name and shape checked,
 * and an adapter recorded for another base (family, vocabulary, shapes, weights) refused.
 */
export async function loadAdapter(
  dir: string,
  config: ModelConfig,
  base?: BaseIdentity,
): Promise<LoadedAdapter> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new BenteviError(`${dir}: not an adapter directory (no ${ADAPTER_CONFIG_FILE})`);
    }
    throw fsError(e, configPath);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BenteviError(`${configPath}: not valid JSON`);
  }
  const { settings, baseName } = readSettings(json, configPath);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  const header = await readSafetensorsHeader(weightsPath);
  let made: BaseIdentity | undefined;
  if (header.metadata.bentevi_base !== undefined) {
    try {
      made = JSON.parse(header.metadata.bentevi_base) as BaseIdentity;
    } catch {
      throw new BenteviError(`${weightsPath}: bentevi_base metadata is not valid JSON`);
    }
    if (
      typeof made !== "object" || made === null || typeof made.arch !== "string" ||
      typeof made.vocabSize !== "number" || typeof made.fingerprint !== "string" ||
      typeof made.config !== "object" || made.config === null
    ) {
      throw new BenteviError(`${weightsPath}: bentevi_base metadata is malformed`);
    }
    checkBase(dir, made, config, base);
  }
  let plan: LoraPlan;
  try {
    plan = new LoraPlan(config, settings);
  } catch (e) {
    if (e instanceof BenteviError) throw new BenteviError(`${configPath}: ${e.message}`);
    throw e;
  }
  const expected = new Set<string>();
  for (const t of plan.layers) {
    expected.add(`${PEFT_PREFIX}${t.path}.lora_A.weight`);
    expected.add(`${PEFT_PREFIX}${t.path}.lora_B.weight`);
  }
  for (const name of header.tensors.keys()) {
    if (!expected.has(name)) {
      throw new BenteviError(
        `${weightsPath}: unexpected tensor ${name} — the adapter does not fit this ${config.arch} base`,
      );
    }
  }
  const tensors = new Map<string, NamedTensor>();
  for (const e of header.tensors.values()) {
    tensors.set(e.name.slice(PEFT_PREFIX.length), {
      shape: e.shape,
      data: readTensorSync(header, e.name, { finite: true }),
    });
  }
  plan.fromPeft(tensors, weightsPath); // checks that every tensor is there with its shape
  return { dir, plan, peft: tensors, base: made, baseName };
}
