/**
 * Checkpoint directories: `model.safetensors` (weights with Hugging Face-compatible names and
 * metadata in the header), `config.json`, `tokenizer.json` (with `tokenizer_config.json`: the
 * one beside the source tokenizer, else Bentevi's chat template when the tokenizer has its chat
 * tokens), and for training runs
 * `trainer_state.json` + `optimizer.safetensors`. Written to a temporary directory and
 * renamed into place. Tensor names and shapes in the file are the family's (see its
 * `fileTensor` / `canonicalName`): loading accepts a Hugging Face GPT-2 directory as well
 * (with or without the `transformer.` prefix, tied `lm_head`) and BlinkDL RWKV-4 names.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { BenteviError, fsError } from "../errors.ts";
import { withAtomicDir } from "../io/atomic.ts";
import { type NamedTensor, readSafetensors, writeSafetensorsTo } from "../io/safetensors.ts";
import { openWeightFiles, reshaped } from "./weight_files.ts";
import { type GenerationDefaults, readGenerationConfig } from "./generation_config.ts";
import { configFromJson, configToJson, type ModelConfig } from "./config.ts";
import { familyOf } from "./registry.ts";
import { exists } from "../io/fs.ts";
import { benteviTokenizerConfig } from "../tokenizer/chat_template.ts";
import { isGgufPath, openGgufCheckpoint } from "../gguf/import.ts";
import type { QuantType } from "../quant/mod.ts";

/** A tokenizer carried inside a weights file (GGUF), as Hugging Face's two files. */
export interface EmbeddedTokenizer {
  /** The `tokenizer.json` object. */
  json: Record<string, unknown>;
  /** The `tokenizer_config.json` object (chat template, special tokens). */
  config: Record<string, unknown>;
}

/** A checkpoint read from disk, weights under their canonical names and shapes. */
export interface LoadedCheckpoint {
  /** The directory it was read from. */
  dir: string;
  /** Model configuration (from `config.json`). */
  config: ModelConfig;
  /** Canonical weights (see `weightSpecs`). */
  weights: Map<string, NamedTensor>;
  /** Path of `tokenizer.json` when the directory has one. */
  tokenizerPath?: string;
  /** The safetensors header metadata. */
  metadata: Record<string, string>;
  /** The weight files read (`model.safetensors`, or the shards of an index). */
  files: string[];
  /** What messages about the weights name: `model.safetensors` or the shards' index. */
  weightsSource: string;
  /** Sampling defaults from `generation_config.json`, when the directory has one. */
  generation?: GenerationDefaults;
  /** A tokenizer carried inside the weights file (GGUF): `tokenizer.json` and its config. */
  embeddedTokenizer?: EmbeddedTokenizer;
  /** The block type a GGUF file stores its matrices in (inference uses it by default). */
  quantization?: QuantType;
  /** Releases what the weights are read from (a GGUF file's mapping); idempotent. */
  close?: () => void;
}

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /**
   * Leave the weights on disk: each `data` read converts that tensor from its file, so a
   * caller copying them into its own buffers holds one tensor at a time (bounded memory).
   * Without it every tensor is read (and checked finite) before `loadCheckpoint` returns.
   */
  lazy?: boolean;
}

/** Anything that serialises to a Hugging Face `tokenizer.json` (a Bentevi `Tokenizer`). */
export interface TokenizerJsonSource {
  /** The tokenizer.json object (or its text). */
  toJSON(): unknown;
}

/** Training state saved beside the weights. */
export interface TrainerStateFiles {
  /** Written as `trainer_state.json`. */
  json: Record<string, unknown>;
  /** Written as `optimizer.safetensors` (e.g. AdamW moments). */
  tensors?: Map<string, NamedTensor>;
}

/** What {@link saveCheckpoint} writes. */
export interface CheckpointContents {
  /** Model configuration. */
  config: ModelConfig;
  /** Canonical weights. */
  weights: Map<string, NamedTensor>;
  /** A tokenizer object, or the path of a `tokenizer.json` to copy. */
  tokenizer?: TokenizerJsonSource | string;
  /** Optional training state. */
  trainerState?: TrainerStateFiles;
  /** Extra safetensors metadata (strings). */
  metadata?: Record<string, string>;
}

/**
 * Writes a checkpoint directory atomically (replacing an existing one at `dir`).
 *
 * @example
 * ```ts
 * import { presetConfig, initWeights, saveCheckpoint, loadCheckpoint } from "./mod.ts";
 * const config = presetConfig("gpt-micro", 64);
 * const dir = await Deno.makeTempDir();
 * await saveCheckpoint(`${dir}/ckpt`, { config, weights: initWeights(config, 1) });
 * console.log((await loadCheckpoint(`${dir}/ckpt`)).config.dModel); // 128
 * ```
 */
export async function saveCheckpoint(dir: string, ckpt: CheckpointContents): Promise<void> {
  const family = familyOf(ckpt.config);
  const tensors = new Map<string, NamedTensor>();
  for (const spec of family.weightSpecs(ckpt.config)) {
    const t = ckpt.weights.get(spec.name);
    if (!t) throw new Error(`saveCheckpoint: missing weight ${spec.name}`);
    const { name, shape } = family.fileTensor(spec);
    tensors.set(name, { shape, data: t.data });
  }
  const metadata: Record<string, string> = {
    format: "pt",
    bentevi_arch: ckpt.config.arch,
    bentevi_config: JSON.stringify(ckpt.config),
    ...ckpt.metadata,
  };
  await writeCheckpointDir(dir, ckpt, async (tmp) => {
    await writeTensorsFile(join(tmp, "model.safetensors"), tensors, metadata);
    await Deno.writeTextFile(
      join(tmp, "config.json"),
      JSON.stringify(configToJson(ckpt.config), null, 2) + "\n",
    );
  });
}

/**
 * Writes a checkpoint directory atomically (replacing one at `dir`): what `write` puts in the
 * temporary directory it is given (the weights: a model's, or an adapter's), with the tokenizer
 * (and its `tokenizer_config.json`) and the training state of `contents`.
 *
 * @example
 * ```ts
 * import { writeCheckpointDir } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeCheckpointDir(`${dir}/step-000001`, { trainerState: { json: { step: 1 } } }, async (tmp) => {
 *   await Deno.writeTextFile(`${tmp}/weights.txt`, "…");
 * });
 * ```
 */
export async function writeCheckpointDir(
  dir: string,
  contents: Pick<CheckpointContents, "tokenizer" | "trainerState">,
  write: (tmp: string) => Promise<void>,
): Promise<void> {
  let tokenizerText: string | undefined;
  let tokenizerConfigText: string | undefined;
  if (typeof contents.tokenizer === "string") {
    try {
      tokenizerText = await Deno.readTextFile(contents.tokenizer);
    } catch (e) {
      throw fsError(e, contents.tokenizer);
    }
    tokenizerConfigText = await readSiblingConfig(contents.tokenizer);
  } else if (contents.tokenizer) {
    const j = contents.tokenizer.toJSON();
    tokenizerText = typeof j === "string" ? j : JSON.stringify(j);
  }
  if (tokenizerText !== undefined && tokenizerConfigText === undefined) {
    tokenizerConfigText = chatConfigText(tokenizerText);
  }
  await withAtomicDir(dir, async (tmp) => {
    await write(tmp);
    if (tokenizerText !== undefined) {
      await Deno.writeTextFile(join(tmp, "tokenizer.json"), tokenizerText);
    }
    if (tokenizerConfigText !== undefined) {
      await Deno.writeTextFile(join(tmp, "tokenizer_config.json"), tokenizerConfigText);
    }
    const state = contents.trainerState;
    if (state) {
      await Deno.writeTextFile(
        join(tmp, "trainer_state.json"),
        JSON.stringify(state.json, null, 2) + "\n",
      );
      if (state.tensors) {
        await writeTensorsFile(join(tmp, "optimizer.safetensors"), state.tensors, {
          format: "pt",
        });
      }
    }
  }, true);
}

/**
 * The `tokenizer_config.json` beside a `tokenizer.json` (its chat template and special tokens
 * go with the tokenizer into the checkpoint), or undefined when there is none.
 */
async function readSiblingConfig(tokenizerPath: string): Promise<string | undefined> {
  const path = join(dirname(tokenizerPath), "tokenizer_config.json");
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw fsError(e, path);
  }
}

/** Bentevi's `tokenizer_config.json` (its chat template) for a tokenizer with the chat tokens. */
function chatConfigText(tokenizerText: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(tokenizerText);
  } catch {
    return undefined; // copied as given; loading it reports what is wrong
  }
  const config = benteviTokenizerConfig(json);
  return config && JSON.stringify(config, null, 2) + "\n";
}

/** Writes a safetensors file tensor by tensor (inside a directory being written atomically). */
async function writeTensorsFile(
  path: string,
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string>,
): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    await writeSafetensorsTo(file, tensors, metadata);
  } finally {
    file.close();
  }
}

/** The checkpoint directories (`step-NNNNNN`) of a training run, oldest first. */
export async function listCheckpoints(runDir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(runDir)) {
      if (e.isDirectory && /^step-\d+$/.test(e.name)) names.push(e.name);
    }
  } catch (e) {
    throw fsError(e, runDir);
  }
  return names.sort().map((n) => join(runDir, n));
}

/** One checkpoint of a training run, as `bentevi checkpoints` lists it. */
export interface RunCheckpoint {
  /** Its directory. */
  dir: string;
  /** The optimizer step it was saved after. */
  step: number;
  /** Mean training loss of that step (`trainer_state.json`), when recorded. */
  trainLoss: number | null;
  /**
   * Validation loss of the evaluation at that very step (`metrics.jsonl`), or null when the
   * run did not evaluate there.
   */
  valLoss: number | null;
  /** Training tokens seen up to that step, when recorded. */
  tokensSeen: number | null;
  /** Training seconds up to that step, when recorded. */
  elapsedSeconds: number | null;
  /** Bytes of its files. */
  bytes: number;
  /** Whether it is the run's best: the lowest validation loss among its checkpoints. */
  best: boolean;
}

/**
 * Validation losses by step from a run's `metrics.jsonl` (its evaluation records; empty when
 * the run has none).
 *
 * @example
 * ```ts
 * import { runValidationLosses } from "./checkpoint.ts";
 * console.log((await runValidationLosses("/no/such/run")).size); // 0
 * ```
 */
export async function runValidationLosses(runDir: string): Promise<Map<number, number>> {
  const path = join(runDir, "metrics.jsonl");
  const out = new Map<number, number>();
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw fsError(e, path);
  }
  for (const line of text.split("\n")) {
    if (!line.includes('"val_loss"')) continue;
    try {
      const r = JSON.parse(line);
      if (Number.isInteger(r?.step) && typeof r.val_loss === "number") out.set(r.step, r.val_loss);
    } catch { /* a line cut by a kill */ }
  }
  return out;
}

async function directoryBytes(dir: string): Promise<number> {
  let bytes = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) bytes += (await Deno.stat(join(dir, e.name))).size;
    }
  } catch (e) {
    throw fsError(e, dir);
  }
  return bytes;
}

/**
 * The checkpoints of a training run directory, oldest first, each with its step, losses,
 * tokens seen and size; the one with the lowest validation loss (evaluated at its own step)
 * is marked `best`. A run directory is one with `run.json`.
 *
 * @example
 * ```ts
 * import { runCheckpoints } from "./checkpoint.ts";
 * try {
 *   await runCheckpoints("/no/such/run");
 * } catch (e) {
 *   console.log((e as Error).message); // /no/such/run: not a training run directory (no run.json)
 * }
 * ```
 */
export async function runCheckpoints(runDir: string): Promise<RunCheckpoint[]> {
  if (!(await exists(join(runDir, "run.json")))) {
    throw new BenteviError(`${runDir}: not a training run directory (no run.json)`);
  }
  const val = await runValidationLosses(runDir);
  const out: RunCheckpoint[] = [];
  for (const dir of await listCheckpoints(runDir)) {
    const step = Number(/step-(\d+)$/.exec(dir)![1]);
    let state: Record<string, unknown> = {};
    try {
      state = JSON.parse(await Deno.readTextFile(join(dir, "trainer_state.json")));
    } catch { /* a checkpoint without (readable) state still lists, with what is known */ }
    const num = (k: string) => typeof state?.[k] === "number" ? state[k] as number : null;
    out.push({
      dir,
      step,
      trainLoss: num("lastLoss"),
      valLoss: val.get(step) ?? null,
      tokensSeen: num("tokensSeen"),
      elapsedSeconds: num("elapsedSeconds"),
      bytes: await directoryBytes(dir),
      best: false,
    });
  }
  let best: RunCheckpoint | undefined;
  for (const c of out) {
    if (c.valLoss !== null && (!best || c.valLoss < best.valLoss!)) best = c;
  }
  if (best) best.best = true;
  return out;
}

/** `RUN:best`, `RUN:latest`, `RUN:1200` (a step): a checkpoint of a run, by selector. */
const SELECTOR = /^(.*):(best|latest|\d+)$/;

/**
 * Whether `path` has the form of a checkpoint selector (`RUN:best`, `RUN:latest`,
 * `RUN:STEP`), which {@link resolveCheckpointDir} resolves when no such path exists.
 *
 * @example
 * ```ts
 * import { isCheckpointSelector } from "./checkpoint.ts";
 * console.log(isCheckpointSelector("runs/g:best"), isCheckpointSelector("gpt-micro")); // true false
 * ```
 */
export function isCheckpointSelector(path: string): boolean {
  return SELECTOR.test(path);
}

/**
 * The checkpoint a selector names: `RUN:best` (lowest validation loss), `RUN:latest`, or
 * `RUN:STEP`.
 */
async function selectCheckpoint(runDir: string, which: string): Promise<string> {
  const all = await runCheckpoints(runDir);
  if (!all.length) throw new BenteviError(`${runDir}: this training run has no checkpoint yet`);
  if (which === "latest") return all[all.length - 1].dir;
  if (which === "best") {
    const best = all.find((c) => c.best);
    if (!best) {
      throw new BenteviError(
        `${runDir}:best: none of the run's checkpoints was evaluated at its step (train with --eval-every)`,
      );
    }
    return best.dir;
  }
  const step = Number(which);
  const hit = all.find((c) => c.step === step);
  if (!hit) {
    throw new BenteviError(
      `${runDir}:${which}: no checkpoint at step ${step}; the run has ${
        all.map((c) => c.step).join(", ")
      }`,
    );
  }
  return hit.dir;
}

/**
 * The checkpoint directory for `path`: itself when it holds `config.json`, else the latest
 * `step-*` checkpoint of a training run directory. A run directory followed by a selector
 * picks one of its checkpoints: `RUN:best` (the lowest validation loss, see
 * {@link runCheckpoints}), `RUN:latest`, `RUN:STEP` (e.g. `runs/g:1200`). Every command that
 * takes `--checkpoint` resolves it here.
 *
 * @example
 * ```ts
 * import { resolveCheckpointDir } from "./checkpoint.ts";
 * console.log(await resolveCheckpointDir("/no/such/run")); // "/no/such/run"
 * ```
 */
export async function resolveCheckpointDir(path: string): Promise<string> {
  const selector = SELECTOR.exec(path);
  if (selector && !(await exists(path))) return await selectCheckpoint(selector[1], selector[2]);
  if (await exists(join(path, "config.json"))) return path;
  if (!(await exists(join(path, "run.json")))) return path; // loadCheckpoint says what is wrong
  const list = await listCheckpoints(path);
  if (!list.length) throw new BenteviError(`${path}: this training run has no checkpoint yet`);
  return list[list.length - 1];
}

/**
 * Maps the tensors of a weights file to canonical names and shapes for `config`, checking
 * that every weight is present with the right shape. Throws a {@link BenteviError} naming
 * `source` when the file belongs to another model.
 *
 * @example
 * ```ts
 * import { canonicalWeights, initWeights, presetConfig } from "./mod.ts";
 * const config = presetConfig("rwkv-micro", 32);
 * console.log(canonicalWeights(initWeights(config, 0), config, "x").size > 0); // true
 * ```
 */
export function canonicalWeights(
  tensors: Map<string, NamedTensor>,
  config: ModelConfig,
  source: string,
): Map<string, NamedTensor> {
  const family = familyOf(config, source);
  // Every block has tensors of its own: a layer count above the number of tensors is a lie,
  // and listing the weights of a million layers would take minutes and gigabytes.
  if (config.nLayer > tensors.size) {
    throw new BenteviError(
      `${source}: the configuration says ${config.nLayer} layers, but the file holds only ${tensors.size} tensors`,
    );
  }
  const byName = new Map<string, NamedTensor>();
  for (const [raw, t] of tensors) {
    const name = family.canonicalName(raw, source);
    if (name !== null) byName.set(name, t);
  }
  const out = new Map<string, NamedTensor>();
  for (const spec of family.weightSpecs(config)) {
    const t = byName.get(spec.name);
    if (!t) {
      throw new BenteviError(
        `${source}: weight ${spec.name} is missing — the file is not a ${config.arch.toUpperCase()} of this configuration`,
      );
    }
    byName.delete(spec.name);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const vectorLike = spec.shape.length === 1 && t.shape.reduce((a, b) => a * b, 1) === size &&
      t.shape.every((d, i) => i === t.shape.length - 1 || d === 1);
    const same = t.shape.length === spec.shape.length &&
      t.shape.every((d, i) => d === spec.shape[i]);
    if (!same && !vectorLike) {
      throw new BenteviError(
        `${source}: weight ${spec.name} has shape [${t.shape}], the configuration needs [${spec.shape}]`,
      );
    }
    out.set(spec.name, reshaped(t, [...spec.shape]));
  }
  for (const [name, t] of byName) {
    if (family.acceptsExtraTensor(name, t, out, source)) byName.delete(name);
  }
  if (byName.size) {
    const extra = [...byName.keys()].slice(0, 3).join(", ");
    throw new BenteviError(
      `${source}: unexpected weight(s) ${extra}${
        byName.size > 3 ? ` and ${byName.size - 3} more` : ""
      } — the file belongs to another model configuration`,
    );
  }
  return out;
}

/**
 * Reads a checkpoint directory (Bentevi's or a Hugging Face one): `config.json` and the
 * weights — `model.safetensors`, or shards listed by `model.safetensors.index.json` — are
 * required; `tokenizer.json` and `generation_config.json` optional. Tensors may be F32, F16,
 * BF16 or F64 and are read one at a time (never the whole file at once); with
 * `{ lazy: true }` they stay on disk until used. A training run directory (with `run.json`)
 * stands for its latest `step-*` checkpoint. A GGUF file (`*.gguf`, or a file starting with
 * `GGUF`) of an architecture Bentevi has loads too, its tokenizer embedded
 * (`embeddedTokenizer`), its tensors read from the mapped file and dequantized when used
 * (`quantization`: the file's block type).
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from "./checkpoint.ts";
 * try {
 *   await loadCheckpoint("/no/such/dir");
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export async function loadCheckpoint(
  path: string,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  if (await isGgufPath(path)) {
    const g = openGgufCheckpoint(path);
    let weights = g.weights;
    if (!options.lazy) {
      weights = new Map();
      for (const [name, t] of g.weights) weights.set(name, { shape: t.shape, data: t.data });
    }
    return {
      dir: path,
      config: g.config,
      weights,
      metadata: {},
      files: [path],
      weightsSource: path,
      generation: g.eosTokenId !== undefined
        ? { source: path, eosTokenIds: [g.eosTokenId] }
        : undefined,
      embeddedTokenizer: g.tokenizer,
      quantization: g.quantization,
      close: () => g.file.close(),
    };
  }
  const dir = await resolveCheckpointDir(path);
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(dir);
  } catch (e) {
    throw fsError(e, dir);
  }
  if (!stat.isDirectory) {
    throw new BenteviError(`${dir}: a checkpoint is a directory (config.json + model.safetensors)`);
  }
  const configPath = join(dir, "config.json");
  let configText: string;
  try {
    configText = await Deno.readTextFile(configPath);
  } catch (e) {
    throw fsError(e, configPath);
  }
  let configJson: unknown;
  try {
    configJson = JSON.parse(configText);
  } catch {
    throw new BenteviError(`${configPath}: not valid JSON`);
  }
  const config = configFromJson(configJson, configPath);
  const files = await openWeightFiles(dir);
  let weights = canonicalWeights(files.tensors, config, files.source);
  if (!options.lazy) {
    const eager = new Map<string, NamedTensor>();
    for (const [name, t] of weights) eager.set(name, { shape: t.shape, data: t.data });
    weights = eager;
  }
  const tokenizerPath = join(dir, "tokenizer.json");
  return {
    dir,
    config,
    weights,
    tokenizerPath: (await exists(tokenizerPath)) ? tokenizerPath : undefined,
    metadata: files.metadata,
    files: files.files,
    weightsSource: files.source,
    generation: await readGenerationConfig(dir),
  };
}

/**
 * Reads `trainer_state.json` and `optimizer.safetensors` of a training checkpoint.
 *
 * @example
 * ```ts
 * import { loadTrainerState } from "./checkpoint.ts";
 * try {
 *   await loadTrainerState("/no/such/dir");
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export async function loadTrainerState(dir: string): Promise<TrainerStateFiles> {
  const path = join(dir, "trainer_state.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BenteviError(`${path}: not valid JSON`);
  }
  const optPath = join(dir, "optimizer.safetensors");
  const tensors = (await exists(optPath))
    ? (await readSafetensors(optPath, { finite: true })).tensors
    : undefined;
  return { json, tensors };
}
