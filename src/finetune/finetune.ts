/**
 * `finetune` as a library call: a base checkpoint (Bentevi's own, a Hugging Face GPT-2 or
 * Llama directory, a converted RWKV-4), chat or document data, the training loop of `train`
 * (checkpoints, `metrics.jsonl`, `loss.svg`, exact resume, run-directory lock, signals) over
 * examples whose loss is taken on the answers only.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { BenteviError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { loadCheckpoint, resolveCheckpointDir } from "../model/checkpoint.ts";
import { describeConfig, type ModelConfig, parameterCount } from "../model/config.ts";
import { familyOf } from "../model/registry.ts";
import { Xoshiro128 } from "../random.ts";
import { CHAT_TOKENS, type ChatFormat, chatFormatFor } from "../generate/chat_format.ts";
import { checkpointTokenizer } from "../generate/load.ts";
import { benteviTokenizerConfig, ChatTemplate } from "../tokenizer/chat_template.ts";
import { Tokenizer } from "../tokenizer/mod.ts";
import { chooseBatchShape } from "../train/defaults.ts";
import type { EvalResult } from "../train/evaluate.ts";
import { resolveTrainOptions, type TrainOptions, validateTrainOptions } from "../train/options.ts";
import { withBackend, withRunDir, type WorkflowOptions } from "../train/run.ts";
import {
  createRunDir,
  type RunSpec,
  runTraining,
  type TrainContext,
  type TrainSource,
  type TrainSummary,
} from "../train/trainer.ts";
import { LORA_DEFAULTS, LoraPlan, type LoraSettings } from "./lora.ts";
import { loraRunModel } from "./lora_run.ts";
import {
  buildExamples,
  type Example,
  type FinetuneRecord,
  readFinetuneRecords,
  type SkipCounts,
} from "./data.ts";
import { FINETUNE_DEFAULTS, type FinetuneSpec } from "./options.ts";
import { exampleSource } from "./source.ts";
import { addSpecialTokens, growVocabulary } from "./vocab.ts";
import {
  DPO_BETA,
  type FeedbackCounts,
  type FeedbackItem,
  feedbackSource,
  loadReference,
  pairExamples,
  type PreferencePair,
  readFeedback,
  REFERENCE_FILE,
  saveReference,
  sequenceLogProb,
} from "./feedback.ts";
import type { Backend } from "../backend/backend.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import { createModel } from "../model/factory.ts";
import { ParameterStore } from "../model/params.ts";

/** Options of {@link startFinetune}; unset hyper-parameters take their defaults. */
export interface FinetuneOptions extends WorkflowOptions, Partial<TrainOptions> {
  /** The base: a checkpoint or run directory, a Hugging Face directory. */
  base: string;
  /** Data files and folders (may be empty with `feedback`). */
  data: string[];
  /** `chat` feedback files: good answers → examples, good/bad pairs → DPO. */
  feedback?: string[];
  /** DPO β (default {@link DPO_BETA}). */
  beta?: number;
  /** Run directory. */
  out: string;
  /** Fine-tune all weights (LoRA otherwise). */
  full?: boolean;
  /** LoRA settings given (the others from `LORA_DEFAULTS`). */
  lora?: Partial<LoraSettings>;
  /** Passes over the training examples (instead of `steps`). */
  epochs?: number;
  /** Held-out files (instead of a share of `data`). */
  valData?: string[];
  /** Share of the records held out when there is no `valData`. */
  valFraction?: number;
  /** Loss on every token of conversations, not only the answers. */
  trainOnPrompt?: boolean;
  /** Replace an existing run directory. */
  force?: boolean;
}

/** What a fine-tuning run did. */
export interface FinetuneSummary extends TrainSummary {
  /** The base model's validation result before training. */
  baseEval?: EvalResult;
  /** Examples trained on and held out, and the records skipped (by reason). */
  examples: { train: number; val: number; skipped: SkipCounts };
  /** The conversation format (the one `chat` will use). */
  format: ChatFormat["kind"];
  /** Chat tokens added to the base's tokenizer. */
  addedTokens: string[];
  /** What the feedback records became (feedback rounds). */
  feedback?: FeedbackCounts;
  /** LoRA: the adapter directory (the last checkpoint). */
  adapter?: string;
}

/** A feedback item before its reference log-probabilities are known. */
type PendingItem =
  | { kind: "sft"; example: Example }
  | { kind: "pair"; chosen: Example; rejected: Example };

/** The run's data, made once per session from `run.json`'s description. */
interface PreparedData {
  /** Supervised examples (a run without feedback). */
  sft?: { train: Example[]; val: Example[] };
  /** Items of a feedback round. */
  feedback?: { train: PendingItem[]; val: PendingItem[]; counts: FeedbackCounts };
  skipped: SkipCounts;
  format: ChatFormat;
  description: string;
  /** Training and held-out units (examples or items). */
  sizes: { train: number; val: number };
  /** Tokens of the longest sequence. */
  longest: number;
}

/** Splits units into training and held-out ones (a seeded choice). */
function splitRecords<U>(
  records: U[],
  fraction: number,
  seed: number,
): { train: U[]; val: U[] } {
  if (records.length < 2) {
    throw new BenteviError(
      `${records.length} record: too few to hold some out for validation; add data or give --val-data`,
    );
  }
  const nVal = Math.min(records.length - 1, Math.max(1, Math.round(records.length * fraction)));
  const rng = new Xoshiro128(seed);
  const order = records.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const held = new Set(order.slice(0, nVal));
  return {
    train: records.filter((_, i) => !held.has(i)),
    val: records.filter((_, i) => held.has(i)),
  };
}

/**
 * Reads and splits the data of a fine-tuning run, and makes its examples (or, for a feedback
 * round, its items) at context `T`.
 */
async function prepareData(
  spec: Pick<
    FinetuneSpec,
    "base" | "data" | "valData" | "valFraction" | "trainOnPrompt" | "feedback"
  >,
  tokenizer: Tokenizer,
  format: ChatFormat,
  vocabSize: number,
  T: number,
  seed: number,
): Promise<PreparedData> {
  const records = spec.data.length ? await readFinetuneRecords(spec.data) : [];
  const encode = (s: string) =>
    Array.from(tokenizer.encode(s, { addSpecialTokens: false })).filter((i) => i < vocabSize);
  const o = {
    format,
    encode,
    endOfTextId: tokenizer.endOfTextId,
    context: T,
    trainOnPrompt: spec.trainOnPrompt,
  };
  const trainedTokens = (es: Example[]) =>
    es.reduce((a, e) => a + e.trained.reduce((x, y) => x + y, 0), 0);
  const skipNote = (skipped: SkipCounts) =>
    `${
      skipped.noAssistant
        ? `; skipped ${skipped.noAssistant} conversation(s) without an answer`
        : ""
    }${skipped.tooLong ? `; skipped ${skipped.tooLong} exchange(s) longer than the context` : ""}`;
  const longestOf = (es: Example[]) => Math.max(2, ...es.map((e) => e.ids.length - 1));
  if (spec.feedback) {
    const fb = await readFeedback(spec.feedback, spec.base);
    type Unit = { record: FinetuneRecord } | { pair: PreferencePair };
    const units: Unit[] = [
      ...records.map((record) => ({ record })),
      ...fb.sft.map((record) => ({ record })),
      ...fb.pairs.map((pair) => ({ pair })),
    ];
    const split = splitRecords(units, spec.valFraction, seed);
    const skipped: SkipCounts = { noAssistant: 0, tooLong: 0 };
    const items = (us: Unit[]) =>
      us.flatMap((u): PendingItem[] => {
        if ("record" in u) {
          const r = buildExamples([u.record], o);
          skipped.noAssistant += r.skipped.noAssistant;
          skipped.tooLong += r.skipped.tooLong;
          return r.examples.map((example) => ({ kind: "sft", example }));
        }
        const p = pairExamples(u.pair, o);
        if (!p) skipped.tooLong++;
        return p ? [{ kind: "pair", ...p }] : [];
      });
    const train = items(split.train), val = items(split.val);
    const all = [...train, ...val].flatMap((
      it,
    ) => (it.kind === "sft" ? [it.example] : [it.chosen, it.rejected]));
    const c = fb.counts;
    const count = (xs: PendingItem[], k: string) => xs.filter((x) => x.kind === k).length;
    return {
      feedback: { train, val, counts: c },
      skipped,
      format,
      description:
        `feedback: ${c.records} records — ${c.good} good answers → examples, ${c.pairs} preference pairs (${c.pairedBad} bad answers paired with a good one), ${c.unpairedBad} unpaired bad answers not trained on${
          c.duplicates ? `, ${c.duplicates} repeated` : ""
        }${c.rerated ? `, ${c.rerated} rated again (the later rating kept)` : ""}${
          records.length ? `; ${records.length} records of --data as examples` : ""
        }; training ${count(train, "sft")} examples + ${count(train, "pair")} pairs, held out ${
          count(val, "sft")
        } + ${count(val, "pair")}${skipNote(skipped)}`,
      sizes: { train: train.length, val: val.length },
      longest: longestOf(all),
    };
  }
  const split = spec.valData
    ? { train: records, val: await readFinetuneRecords(spec.valData) }
    : splitRecords(records, spec.valFraction, seed);
  const train = buildExamples(split.train, o);
  const val = buildExamples(split.val, o);
  const skipped = {
    noAssistant: train.skipped.noAssistant + val.skipped.noAssistant,
    tooLong: train.skipped.tooLong + val.skipped.tooLong,
  };
  return {
    sft: { train: train.examples, val: val.examples },
    skipped,
    format,
    description: `${train.examples.length} training examples (${
      trainedTokens(train.examples)
    } trained tokens), ${val.examples.length} held out (${trainedTokens(val.examples)})${
      skipNote(skipped)
    }`,
    sizes: { train: train.examples.length, val: val.examples.length },
    longest: longestOf([...train.examples, ...val.examples]),
  };
}

/** The training source of prepared data; a feedback round needs its reference log-probs. */
function sourceOf(
  data: PreparedData,
  pad: number,
  beta: number,
  reference?: number[][],
): TrainSource {
  if (data.sft) {
    return exampleSource(data.sft.train, data.sft.val, { pad, description: data.description });
  }
  const fb = data.feedback!;
  let k = 0;
  const withRef = (items: PendingItem[]): FeedbackItem[] =>
    items.map((it) => {
      if (it.kind === "sft") return it;
      const [refChosen, refRejected] = reference![k++];
      return { ...it, refChosen, refRejected };
    });
  const train = withRef(fb.train), val = withRef(fb.val);
  return feedbackSource(train, val, { pad, beta, description: data.description });
}

/** The pairs' reference log-probabilities under `weights` (train then held out, in order). */
async function referenceLogProbs(
  backend: Backend,
  config: ModelConfig,
  weights: Map<string, NamedTensor>,
  T: number,
  items: PendingItem[],
  pad: number,
): Promise<number[][]> {
  const store = new ParameterStore(backend, config);
  store.load(weights);
  const model = createModel(backend, config, store, 1, T);
  try {
    const out: number[][] = [];
    for (const it of items) {
      if (it.kind !== "pair") continue;
      out.push([
        await sequenceLogProb(model, it.chosen, pad),
        await sequenceLogProb(model, it.rejected, pad),
      ]);
    }
    return out;
  } finally {
    model.free();
    store.free();
  }
}

/**
 * Fine-tunes a base checkpoint on chat or document data into a new run directory (what
 * `bentevi finetune` does). Conversations are rendered the way `chat` prompts this model and
 * trained on their answers (and end-of-turn tokens) only; the base's validation loss on the
 * held-out examples is measured first, so the run's curve starts from it.
 *
 * @example
 * ```ts
 * import { startFinetune } from "./finetune.ts";
 * const r = await startFinetune({
 *   base: "runs/demo", data: ["data/demo/dialogos.jsonl"], out: "runs/sft", full: true, steps: 50,
 * }).catch((e) => console.error(e.message));
 * console.log(r?.baseEval?.loss, r?.eval?.loss);
 * ```
 */
export async function startFinetune(o: FinetuneOptions): Promise<FinetuneSummary> {
  const log = o.log ?? (() => {});
  const lora: LoraSettings | undefined = o.full ? undefined : { ...LORA_DEFAULTS, ...o.lora };
  if (o.full && o.lora) {
    throw new BenteviError("--lora-… options apply to LoRA, not to --full");
  }
  if (o.steps !== undefined && o.epochs !== undefined) {
    throw new BenteviError("give --steps or --epochs, not both");
  }
  if (o.epochs !== undefined && !(o.epochs > 0 && Number.isFinite(o.epochs))) {
    throw new BenteviError(`--epochs must be > 0, got ${o.epochs}`);
  }
  const f = o.valFraction ?? FINETUNE_DEFAULTS.valFraction;
  if (!(f > 0 && f < 1)) throw new BenteviError(`--val-fraction must be in (0, 1), got ${f}`);
  const base = resolve(await resolveCheckpointDir(o.base));
  const ck = await loadCheckpoint(base, { lazy: true }); // headers only until training starts
  const { tokenizer: baseTokenizer, chatTemplate: template } = await checkpointTokenizer(ck);
  let tokenizer = baseTokenizer;
  let config: ModelConfig = ck.config;
  let format = chatFormatFor(tokenizer, config.vocabSize, template);
  let addedTokens: string[] = [];
  if (format.kind === "plain" && lora) {
    // A frozen base cannot learn rows for new tokens: train (and chat) in the plain format.
    log(
      `the base has no chat template and no chat tokens: LoRA trains in the plain format chat uses for it (--full adds the chat tokens instead)`,
    );
  } else if (format.kind === "plain") {
    // No template and no chat tokens: add Bentevi's, so the model learns a real turn format
    // (chat then prompts it with them: they are in the checkpoint's tokenizer).
    const grown = addSpecialTokens(tokenizer, Object.values(CHAT_TOKENS));
    tokenizer = grown.tokenizer;
    addedTokens = grown.added;
    config = {
      ...config,
      vocabSize: Math.max(config.vocabSize, tokenizer.vocabSize),
    } as ModelConfig;
    format = chatFormatFor(tokenizer, config.vocabSize);
    log(
      `the base has no chat template and no chat tokens: added ${
        addedTokens.join(", ")
      } (new embedding rows: the mean of the others)`,
    );
  }
  const family = familyOf(config);
  const maxT = Math.min(family.maxContext(config), config.contextLength);
  if (o.context !== undefined && o.context > family.maxContext(config)) {
    throw new BenteviError(
      `--context ${o.context} exceeds the model's context length ${config.contextLength}`,
    );
  }
  const beta = o.beta ?? DPO_BETA;
  if (!(beta > 0 && Number.isFinite(beta))) {
    throw new BenteviError(`--beta must be > 0, got ${beta}`);
  }
  if (!o.data.length && !o.feedback?.length) {
    throw new BenteviError("give --data, --feedback or both");
  }
  const finetune: FinetuneSpec = {
    base,
    data: o.data.map((p) => resolve(p)),
    ...(o.valData ? { valData: o.valData.map((p) => resolve(p)) } : {}),
    valFraction: f,
    trainOnPrompt: !!o.trainOnPrompt,
    method: lora ? "lora" : "full",
    ...(lora ? { lora } : {}),
    addedTokens,
    ...(o.feedback?.length ? { feedback: o.feedback.map((p) => resolve(p)), beta } : {}),
  };
  if (finetune.feedback && finetune.valData) {
    throw new BenteviError("--val-data does not apply to --feedback (a share is held out)");
  }
  const seed = o.seed ?? resolveTrainOptions(config, {}).seed;
  let data = await prepareData(
    finetune,
    tokenizer,
    format,
    config.vocabSize,
    o.context ?? maxT,
    seed,
  );
  const what = [...o.data, ...(o.feedback ?? [])].join(", ");
  if (!data.sizes.train) throw new BenteviError(`${what}: nothing to train on`);
  if (!data.sizes.val) {
    throw new BenteviError(`${what}: nothing held out for validation (give more data)`);
  }
  // The rows are as long as the longest example (less padding to compute).
  const T = o.context ?? Math.min(maxT, data.longest);
  if (o.context === undefined && T < maxT) {
    data = await prepareData(finetune, tokenizer, format, config.vocabSize, T, seed);
  }
  config = family.withContext(config, T);
  // a target the family lacks, a rank larger than a layer: said before anything is written
  const plan = lora ? new LoraPlan(config, lora) : undefined;
  const pad = tokenizer.endOfTextId ?? 0;
  const baseWeights = async () => {
    const loaded = await loadCheckpoint(base, { lazy: true });
    if (!addedTokens.length) return loaded.weights;
    return growVocabulary(loaded.config, loaded.weights, baseTokenizer.vocabSize, config.vocabSize)
      .weights;
  };
  return await withRunDir(
    o.out,
    "finetune",
    true,
    log,
    (signals) =>
      withBackend(o.device, log, async (backend) => {
        // A feedback round runs one sequence a pass (each has its own gradient weight):
        // --batch-size items a step, as micro-batches of one.
        const shape = data.feedback
          ? {
            batchSize: 1,
            note: `${o.batchSize ?? FINETUNE_DEFAULTS.feedbackItemsPerStep} items per step`,
          }
          : chooseBatchShape(config, backend, { batchSize: o.batchSize, context: T });
        log(shape.note);
        const gradAccum = (o.gradAccum ?? 1) *
          (data.feedback ? o.batchSize ?? FINETUNE_DEFAULTS.feedbackItemsPerStep : 1);
        const perStep = shape.batchSize * gradAccum;
        const epochs = o.steps === undefined ? o.epochs ?? FINETUNE_DEFAULTS.epochs : undefined;
        const steps = o.steps ?? Math.max(1, Math.ceil((epochs! * data.sizes.train) / perStep));
        const options: TrainOptions = {
          ...resolveTrainOptions(config, {
            ...o,
            gradAccum,
            lr: o.lr ?? (lora ? FINETUNE_DEFAULTS.loraLr : FINETUNE_DEFAULTS.fullLr),
            steps,
          }),
          batchSize: shape.batchSize,
          context: T,
        };
        validateTrainOptions(options, config);
        log(`data: ${data.description}`);
        log(
          `base: ${base} — ${describeConfig(config)}, ${
            parameterCount(config).toLocaleString("en")
          } parameters${
            plan
              ? `, LoRA r ${plan.settings.rank} on ${plan.settings.targets.join(", ")}: ${
                plan.parameterCount.toLocaleString("en")
              } trained`
              : ", all trained"
          }; chat format: ${data.format.kind}; ${steps} steps (${
            ((steps * perStep) / data.sizes.train).toFixed(1)
          } epochs)`,
        );
        const spec: RunSpec = {
          version: 1,
          model: `finetune of ${base}`,
          config,
          options,
          data: finetune.data[0] ?? finetune.feedback![0],
          device: typeof o.device === "object" ? o.device.kind : o.device ?? "auto",
          initFrom: base,
          finetune,
        };
        const inputs = [...o.data, ...(o.valData ?? []), ...(o.feedback ?? []), base];
        await createRunDir(
          o.out,
          spec,
          ck.tokenizerPath ?? ck.embeddedTokenizer!,
          !!o.force,
          inputs,
        );
        if (addedTokens.length) await writeTokenizer(o.out, tokenizer);
        let reference: number[][] | undefined;
        if (data.feedback) {
          // π_ref: the model before this round, once, before any step.
          const items = [...data.feedback.train, ...data.feedback.val];
          reference = await referenceLogProbs(backend, config, await baseWeights(), T, items, pad);
          await saveReference(join(o.out, REFERENCE_FILE), reference);
        }
        const summary = await runTraining(o.out, spec, {
          backend,
          source: sourceOf(data, pad, beta, reference),
          tokenizerPath: join(o.out, "tokenizer.json"),
          progress: o.progress,
          log,
          signals,
          evaluateAtStart: true,
          initialWeights: baseWeights,
          ...(lora
            ? {
              model: (spec: RunSpec, backend: Backend) =>
                loraRunModel(spec, backend, {
                  settings: lora,
                  baseConfig: ck.config,
                  baseWeights,
                  baseName: base,
                }),
            }
            : {}),
        });
        return {
          ...summary,
          baseEval: summary.startEval,
          examples: { ...data.sizes, skipped: data.skipped },
          format: data.format.kind,
          addedTokens,
          ...(data.feedback ? { feedback: data.feedback.counts } : {}),
          ...(lora ? { adapter: summary.checkpoint } : {}),
        };
      }),
  );
}

/** Writes a tokenizer with added chat tokens into the run directory, with its chat template. */
async function writeTokenizer(runDir: string, tokenizer: Tokenizer): Promise<void> {
  const json = tokenizer.toJSON();
  await writeFileAtomic(join(runDir, "tokenizer.json"), JSON.stringify(json) + "\n");
  const config = benteviTokenizerConfig(json);
  if (config) {
    await writeFileAtomic(
      join(runDir, "tokenizer_config.json"),
      JSON.stringify(config, null, 2) + "\n",
    );
  }
}

/**
 * What resuming a fine-tuning run needs (`bentevi resume RUN`): its data read again and split
 * the same way, through the run's own tokenizer and chat format; for a LoRA run, the adapters
 * over the base again.
 */
export async function finetuneContextOf(
  runDir: string,
  spec: RunSpec,
): Promise<Pick<TrainContext, "source" | "model">> {
  const ft = spec.finetune!;
  const tokenizerPath = join(runDir, "tokenizer.json");
  const tokenizer = await Tokenizer.fromFile(tokenizerPath);
  const template = await ChatTemplate.forTokenizer(tokenizerPath);
  const format = chatFormatFor(tokenizer, spec.config.vocabSize, template);
  const data = await prepareData(
    ft,
    tokenizer,
    format,
    spec.config.vocabSize,
    spec.options.context,
    spec.options.seed,
  );
  const pad = tokenizer.endOfTextId ?? 0;
  let reference: number[][] | undefined;
  if (data.feedback) {
    const pairs = [...data.feedback.train, ...data.feedback.val].filter((i) => i.kind === "pair");
    reference = await loadReference(join(runDir, REFERENCE_FILE), pairs.length);
  }
  const source = sourceOf(data, pad, ft.beta ?? DPO_BETA, reference);
  if (ft.method !== "lora") return { source };
  const baseConfig = (await loadCheckpoint(ft.base, { lazy: true })).config;
  return {
    source,
    model: (s, backend) =>
      loraRunModel(s, backend, {
        settings: ft.lora ?? { ...LORA_DEFAULTS },
        baseConfig,
        baseWeights: async () => (await loadCheckpoint(ft.base, { lazy: true })).weights,
        baseName: ft.base,
      }),
  };
}
