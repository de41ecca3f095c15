/**
 * Using LoRA adapters with a loaded model: `--adapter [NAME=]DIR` (repeatable) in `generate`,
 * `predict`, `perplexity`, `eval` and `chat`, and chat's `/adapter NAME|off`.
 *
 * Adapters are **merged into the uploaded weights**: the model starts with the active
 * adapters' `(alpha/r)·B·A` added to the adapted matrices, and a switch rewrites those matrices
 * on the device from host copies of the base's (kept for the layers some loaded adapter
 * touches), so decoding runs at the base model's speed whatever adapter is active. The other
 * choice — leaving the base on the device and adding a low-rank path `s·(x·Aᵀ)·Bᵀ` at each
 * adapted layer of every decode step — costs two more matmuls per adapted layer per token, and
 * on WebGPU each one is a dispatch, where single-token decode is dispatch-bound
 * (docs/finetune.md has the measurements).
 *
 * @module
 */
import { basename } from "node:path";
import { BenteviError } from "../errors.ts";
import type { LanguageModel, WeightMap } from "../generate/inference.ts";
import { resolveCheckpointDir } from "../model/checkpoint.ts";
import type { ModelConfig } from "../model/config.ts";
import { ADAPTER_CONFIG_FILE, baseIdentity, isAdapterDir, loadAdapter } from "./adapter_files.ts";
import type { LoadedAdapter } from "./adapter_files.ts";
import { mergeUpdates } from "./lora.ts";

/** An adapter as the command line names it: `NAME=DIR`, or `DIR` (named after its folder). */
export interface AdapterRef {
  /** The name `/adapter NAME` and personas use. */
  name: string;
  /** Its directory (an adapter directory, or a fine-tuning run / checkpoint holding one). */
  dir: string;
}

/**
 * Parses one `--adapter` value: `NAME=DIR` or `DIR`.
 *
 * @example
 * ```ts
 * import { parseAdapterRef } from "./bank.ts";
 * console.log(parseAdapterRef("juridico=runs/jur"), parseAdapterRef("runs/med/"));
 * // { name: "juridico", dir: "runs/jur" } { name: "med", dir: "runs/med/" }
 * ```
 */
export function parseAdapterRef(value: string): AdapterRef {
  const eq = value.indexOf("=");
  const named = eq > 0 && /^[\p{L}\p{N}_.-]+$/u.test(value.slice(0, eq));
  const dir = named ? value.slice(eq + 1) : value;
  const name = named ? value.slice(0, eq) : basename(dir.replace(/\/+$/, "")) || dir;
  if (!dir) throw new BenteviError(`--adapter ${value}: no directory`);
  if (name.toLowerCase() === "off") {
    throw new BenteviError(`--adapter ${value}: "off" is reserved (it means no adapter)`);
  }
  return { name, dir };
}

/**
 * The directory holding an adapter's files: `dir` itself, or — for a fine-tuning run or
 * checkpoint directory — the latest checkpoint's adapter.
 */
export async function resolveAdapterDir(dir: string): Promise<string> {
  if (await isAdapterDir(dir)) return dir;
  let ckpt: string | undefined;
  try {
    ckpt = await resolveCheckpointDir(dir);
  } catch { /* not a run either: the message below */ }
  if (ckpt && await isAdapterDir(ckpt)) return ckpt;
  throw new BenteviError(`${dir}: not an adapter directory (no ${ADAPTER_CONFIG_FILE})`);
}

/** A loaded adapter with its name. */
export interface NamedAdapter {
  /** Its name. */
  name: string;
  /** The adapter. */
  adapter: LoadedAdapter;
}

/**
 * Loads `refs` for the base of `config` whose weights are `weights` (each checked against it:
 * an adapter made for another base is refused). Names must be unique.
 */
export async function loadAdapters(
  refs: readonly AdapterRef[],
  config: ModelConfig,
  weights: WeightMap,
): Promise<NamedAdapter[]> {
  if (refs.length === 0) return [];
  const seen = new Set<string>();
  for (const r of refs) {
    if (seen.has(r.name)) {
      throw new BenteviError(`--adapter: the name "${r.name}" is given twice (use NAME=DIR)`);
    }
    seen.add(r.name);
  }
  const identity = await baseIdentity(config, weights);
  const out: NamedAdapter[] = [];
  for (const r of refs) {
    out.push({
      name: r.name,
      adapter: await loadAdapter(await resolveAdapterDir(r.dir), config, identity),
    });
  }
  return out;
}

/**
 * `weights` with the adapters of `active` merged in (a new map: the adapted layers are new
 * arrays, every other weight is the same object, lazily loaded ones stay lazy).
 *
 * @example
 * ```ts
 * import { withAdapters } from "./bank.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 64);
 * const w = initWeights(config, 1);
 * console.log(withAdapters(w, []).get("wte.weight") === w.get("wte.weight")); // true
 * ```
 */
export function withAdapters<T extends { shape: readonly number[]; data: Float32Array }>(
  weights: Map<string, T>,
  active: readonly LoadedAdapter[],
): Map<string, T> {
  const out = new Map(weights);
  for (const [name, data] of mergeUpdates(active, (n) => weights.get(n)!.data)) {
    // A new plain tensor (spreading a lazily loaded one would read it from disk again).
    out.set(name, { shape: [...weights.get(name)!.shape], data } as unknown as T);
  }
  return out;
}

/**
 * The adapters loaded with a model, and which of them are merged into its weights now.
 * Switching rewrites only the matrices the old or the new adapters touch, from host copies of
 * the base's values, and resets the model's state (the conversation is fed again).
 *
 * @example
 * ```ts
 * import { AdapterBank } from "./bank.ts";
 * import { createLanguageModel } from "../generate/inference.ts";
 * import { createBackend } from "../backend/select.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 64);
 * const weights = initWeights(config, 1);
 * const model = createLanguageModel(await createBackend("cpu"), config, weights);
 * const bank = new AdapterBank(model, weights, []);
 * console.log(bank.names, bank.active); // [] []
 * ```
 */
export class AdapterBank {
  /** The model the adapters are merged into. */
  readonly model: LanguageModel;
  readonly #adapters: Map<string, LoadedAdapter>;
  /** Host copies of the base's values of every matrix a loaded adapter touches. */
  readonly #base = new Map<string, Float32Array>();
  #active: string[] = [];

  /**
   * `model` holds `weights` (the base) with the adapters named in `active` merged in (none by
   * default); `adapters` are the ones it may switch between.
   */
  constructor(
    model: LanguageModel,
    weights: WeightMap,
    adapters: readonly NamedAdapter[],
    active: readonly string[] = [],
  ) {
    this.model = model;
    this.#active = [...active];
    this.#adapters = new Map(adapters.map((a) => [a.name, a.adapter]));
    for (const { adapter } of adapters) {
      for (const t of adapter.plan.layers) {
        if (!this.#base.has(t.weight)) {
          this.#base.set(t.weight, weights.get(t.weight)!.data.slice());
        }
      }
    }
  }

  /**
   * A bank over `model` — another model built from the same base weights, with no adapter
   * merged in — for the same adapters, sharing this bank's adapters and host copies of the
   * base (read only), so a pool of models costs one set of copies. Each bank switches only its
   * own model.
   *
   * @example
   * ```ts
   * import { AdapterBank } from "./bank.ts";
   * import { createLanguageModel } from "../generate/inference.ts";
   * import { createBackend } from "../backend/select.ts";
   * import { initWeights, presetConfig } from "../model/mod.ts";
   * const config = presetConfig("gpt-micro", 64);
   * const weights = initWeights(config, 1);
   * const be = await createBackend("cpu");
   * const bank = new AdapterBank(createLanguageModel(be, config, weights), weights, []);
   * const other = bank.forModel(createLanguageModel(be, config, weights));
   * console.log(other.active); // []
   * ```
   */
  forModel(model: LanguageModel): AdapterBank {
    const bank = new AdapterBank(model, new Map(), []);
    for (const [name, adapter] of this.#adapters) bank.#adapters.set(name, adapter);
    for (const [name, data] of this.#base) bank.#base.set(name, data);
    return bank;
  }

  /** The loaded adapters' names. */
  get names(): string[] {
    return [...this.#adapters.keys()];
  }

  /** The adapters merged in now (empty: the base). */
  get active(): readonly string[] {
    return this.#active;
  }

  /** The adapter called `name`, if loaded. */
  get(name: string): LoadedAdapter | undefined {
    return this.#adapters.get(name);
  }

  /**
   * Merges exactly the adapters `names` into the model (none: the base), rewriting the
   * matrices that change, and resets the model's state. An unknown name is refused listing
   * the loaded ones.
   */
  use(names: readonly string[]): void {
    for (const n of names) {
      if (!this.#adapters.has(n)) {
        throw new BenteviError(
          `no adapter "${n}"; loaded: ${
            this.names.join(", ") || "(none: pass --adapter NAME=DIR)"
          }`,
        );
      }
    }
    if (names.join("\0") === this.#active.join("\0")) return;
    if (!this.model.writeWeight) {
      throw new BenteviError(`the ${this.model.config.arch} model cannot switch adapters`);
    }
    const touched = new Set<string>();
    for (const n of [...this.#active, ...names]) {
      for (const t of this.#adapters.get(n)!.plan.layers) touched.add(t.weight);
    }
    const merged = mergeUpdates(
      names.map((n) => this.#adapters.get(n)!),
      (w) => this.#base.get(w)!,
    );
    for (const w of touched) this.model.writeWeight(w, merged.get(w) ?? this.#base.get(w)!);
    this.model.reset();
    this.#active = [...names];
  }
}
