/**
 * Learning from the chat's feedback (`feedback.jsonl`, written by `/good` and `/bad`): answers
 * rated good become supervised examples; where the same prompt (and system prompt) has a good
 * and a bad answer, the pair trains the preference with DPO (Rafailov et al., 2023):
 *
 *   L = −log σ(β·((log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))))
 *
 * with π_ref the model before this round (the base), its log-probabilities computed once before
 * training. A bad answer with no good answer to the same prompt is not trained towards (nor
 * away from: DPO needs a pair); it is counted.
 *
 * A step of a feedback run takes `gradAccum` items (an example or a pair), one sequence per
 * forward pass: a DPO sequence's gradient weight, `±β·σ(−z)`, depends on the model's own
 * log-probabilities, so they are read first (a forward pass without gradients), then each
 * sequence's cross-entropy gradient is taken with its weight as the pass's gradient scale. The
 * step's loss is the mean over its items of the example's mean token loss or the pair's DPO
 * loss.
 *
 * @module
 */
import { BenteviError, fsError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { BatchLoaderState } from "../data/dataset/loader.ts";
import { resolveCheckpointDir } from "../model/checkpoint.ts";
import type { TrainableModel } from "../model/model.ts";
import type { ChatMessage } from "../tokenizer/chat_template.ts";
import type { EvalResult } from "../train/evaluate.ts";
import type { TrainStep } from "../train/step.ts";
import type { BatchSampler, TrainSource } from "../train/trainer.ts";
import {
  buildExamples,
  type ChatRecord,
  type Example,
  type ExampleOptions,
  fillRow,
} from "./data.ts";
import { ShuffledDeck } from "./source.ts";

/** The DPO temperature β when `--beta` is not given. */
export const DPO_BETA = 0.1;

/** What the feedback records became. */
export interface FeedbackCounts {
  /** Records read. */
  records: number;
  /** Good answers, each a supervised example. */
  good: number;
  /** Bad answers paired with a good answer to the same prompt. */
  pairedBad: number;
  /** Preference pairs (each good × each bad answer of one prompt). */
  pairs: number;
  /** Bad answers without a good one to the same prompt: not trained on. */
  unpairedBad: number;
  /** Records repeated (the same prompt, answer and rating): counted once. */
  duplicates: number;
  /** Answers rated both good and bad: the later rating kept. */
  rerated: number;
}

/** A preference pair: one prompt, the answer rated good and the one rated bad. */
export interface PreferencePair {
  /** The conversation before the answer (system prompt and user message). */
  prompt: ChatMessage[];
  /** The answer rated good. */
  chosen: string;
  /** The answer rated bad. */
  rejected: string;
  /** `FILE:LINE` of the bad rating. */
  source: string;
}

/** Feedback read and grouped. */
export interface FeedbackData {
  /** Good answers as conversations. */
  sft: ChatRecord[];
  /** Preference pairs. */
  pairs: PreferencePair[];
  /** What each kind of record became. */
  counts: FeedbackCounts;
}

/** Whether feedback recorded for `model` (as chat names it) was given to the base `base`. */
async function sameModel(model: string, base: string, baseDir: string): Promise<boolean> {
  const real = async (p: string) => {
    try {
      return await Deno.realPath(p);
    } catch {
      return undefined;
    }
  };
  const m = await real(model);
  if (!m) return false;
  if (m === (await real(base)) || m === (await real(baseDir))) return true;
  try {
    return (await real(await resolveCheckpointDir(model))) === (await real(baseDir));
  } catch {
    return false;
  }
}

/**
 * Reads `feedback.jsonl` files (`chat`'s `/good` and `/bad`) for a round of training of `base`:
 * a record of another model is an error (its answers are not this model's to learn from, and
 * DPO's reference would be wrong), as is a record that is not a feedback record.
 */
export async function readFeedback(paths: string[], base: string): Promise<FeedbackData> {
  const baseDir = await resolveCheckpointDir(base);
  const counts: FeedbackCounts = {
    records: 0,
    good: 0,
    pairedBad: 0,
    pairs: 0,
    unpairedBad: 0,
    duplicates: 0,
    rerated: 0,
  };
  // prompt key → answer → { rating, source }
  const groups = new Map<
    string,
    { prompt: ChatMessage[]; answers: Map<string, { rating: string; source: string }> }
  >();
  const checked = new Map<string, boolean>();
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw fsError(e, path);
    }
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trim()) continue;
      const where = `${path}:${i + 1}`;
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(lines[i]);
      } catch {
        throw new BenteviError(`${where}: not valid JSON`);
      }
      if (
        !r || typeof r !== "object" || (r.rating !== "good" && r.rating !== "bad") ||
        typeof r.prompt !== "string" || typeof r.answer !== "string" ||
        typeof r.model !== "string" || (r.system !== undefined && typeof r.system !== "string")
      ) {
        throw new BenteviError(
          `${where}: not a chat feedback record ("rating" good|bad, "prompt", "answer", "model")`,
        );
      }
      if (!checked.has(r.model)) checked.set(r.model, await sameModel(r.model, base, baseDir));
      if (!checked.get(r.model)) {
        throw new BenteviError(
          `${where}: feedback on the model ${r.model}, not on the base ${base}; train each model on its own feedback`,
        );
      }
      counts.records++;
      const prompt = r.prompt.trim(), answer = r.answer.trim();
      if (!prompt || !answer) {
        throw new BenteviError(`${where}: empty ${prompt ? "answer" : "prompt"}`);
      }
      const system = typeof r.system === "string" ? r.system.trim() : "";
      const key = JSON.stringify([system, prompt]);
      let g = groups.get(key);
      if (!g) {
        g = {
          prompt: [
            ...(system ? [{ role: "system", content: system }] : []),
            { role: "user", content: prompt },
          ],
          answers: new Map(),
        };
        groups.set(key, g);
      }
      const before = g.answers.get(answer);
      if (before?.rating === r.rating) counts.duplicates++;
      else if (before) counts.rerated++;
      g.answers.set(answer, { rating: r.rating, source: where });
    }
  }
  const sft: ChatRecord[] = [];
  const pairs: PreferencePair[] = [];
  for (const g of groups.values()) {
    const good = [...g.answers].filter(([, a]) => a.rating === "good");
    const bad = [...g.answers].filter(([, a]) => a.rating === "bad");
    for (const [answer, a] of good) {
      sft.push({
        kind: "chat",
        messages: [...g.prompt, { role: "assistant", content: answer }],
        source: a.source,
      });
    }
    counts.good += good.length;
    if (!good.length) {
      counts.unpairedBad += bad.length;
      continue;
    }
    counts.pairedBad += bad.length;
    for (const [rejected, b] of bad) {
      for (const [chosen] of good) {
        pairs.push({ prompt: g.prompt, chosen, rejected, source: b.source });
      }
    }
  }
  counts.pairs = pairs.length;
  return { sft, pairs, counts };
}

/** One item of a feedback run: a supervised example, or a pair with its reference log-probs. */
export type FeedbackItem =
  | { kind: "sft"; example: Example }
  | { kind: "pair"; chosen: Example; rejected: Example; refChosen: number; refRejected: number };

/**
 * The examples of a pair (prompt + chosen, prompt + rejected; trained on the answer and its
 * end-of-turn token), or undefined when either does not fit the context.
 */
export function pairExamples(
  p: PreferencePair,
  o: ExampleOptions,
): { chosen: Example; rejected: Example } | undefined {
  const make = (answer: string) =>
    buildExamples([{
      kind: "chat",
      messages: [...p.prompt, { role: "assistant", content: answer }],
      source: p.source,
    }], { ...o, trainOnPrompt: false }).examples[0];
  const chosen = make(p.chosen), rejected = make(p.rejected);
  return chosen && rejected ? { chosen, rejected } : undefined;
}

/**
 * The log-probability under `model` (a `B = 1` instance) of `e`'s trained tokens given what
 * precedes them.
 */
export async function sequenceLogProb(
  model: TrainableModel,
  e: Example,
  pad: number,
): Promise<number> {
  const { T, backend } = model;
  const inputs = new Int32Array(T), targets = new Int32Array(T);
  fillRow(e, inputs, targets, 0, T, pad);
  backend.write(model.ids, inputs);
  backend.write(model.targets, targets);
  model.forward(false);
  const losses = await backend.read(model.losses);
  let sum = 0;
  for (let t = 0; t < T; t++) if (targets[t] >= 0) sum += losses[t];
  return -sum;
}

const softplus = (x: number) => x > 30 ? x : Math.log1p(Math.exp(x));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** What the feedback source needs to know. */
export interface FeedbackSourceOptions {
  /** Padding id. */
  pad: number;
  /** DPO β. */
  beta: number;
  /** One line describing the data. */
  description: string;
}

/** The held-out evaluation of feedback items: mean item loss, and over pairs the margin. */
async function evaluateItems(
  model: TrainableModel,
  items: readonly FeedbackItem[],
  o: FeedbackSourceOptions,
): Promise<EvalResult> {
  if (model.B !== 1) throw new Error("feedback items are evaluated one sequence at a time");
  let loss = 0, margin = 0, pairs = 0, preferred = 0, tokens = 0;
  for (const it of items) {
    if (it.kind === "sft") {
      const n = countTrained(it.example);
      loss += -(await sequenceLogProb(model, it.example, o.pad)) / n;
      tokens += n;
      continue;
    }
    const pc = await sequenceLogProb(model, it.chosen, o.pad);
    const pr = await sequenceLogProb(model, it.rejected, o.pad);
    const z = o.beta * ((pc - it.refChosen) - (pr - it.refRejected));
    loss += softplus(-z);
    margin += pc - pr;
    if (pc - pr > it.refChosen - it.refRejected) preferred++;
    pairs++;
    tokens += countTrained(it.chosen) + countTrained(it.rejected);
  }
  const mean = loss / items.length;
  return {
    loss: mean,
    perplexity: Math.exp(mean),
    // over pairs: the share whose margin grew past the reference's
    accuracy: pairs ? preferred / pairs : NaN,
    tokens,
    ...(pairs ? { margin: margin / pairs } : {}),
  };
}

function countTrained(e: Example): number {
  let n = 0;
  for (let i = 0; i < e.trained.length; i++) n += e.trained[i];
  return n;
}

/** The deck of items as the run's batch sampler (items are drawn by `recordStep`). */
class ItemSampler implements BatchSampler {
  readonly deck: ShuffledDeck;
  constructor(n: number, seed: number) {
    this.deck = new ShuffledDeck(n, seed);
  }
  next(): void {
    throw new Error("feedback items are drawn by the source's recordStep");
  }
  getState(): BatchLoaderState {
    return this.deck.getState();
  }
  setState(state: BatchLoaderState): void {
    this.deck.setState(state);
  }
}

/**
 * The {@link TrainSource} of a feedback round: `gradAccum` items a step, each one sequence a
 * forward pass (the run's batch size is 1), the loss and gradients as the module describes.
 */
export function feedbackSource(
  train: readonly FeedbackItem[],
  val: readonly FeedbackItem[],
  o: FeedbackSourceOptions,
): TrainSource {
  return {
    description: o.description,
    check(T, source) {
      if (!train.length) throw new BenteviError(`${source}: nothing to train on`);
      if (!val.length) throw new BenteviError(`${source}: nothing held out for validation`);
      for (const it of [...train, ...val]) {
        for (const e of it.kind === "sft" ? [it.example] : [it.chosen, it.rejected]) {
          if (e.ids.length > T + 1) {
            throw new BenteviError(`${e.source}: ${e.ids.length} tokens do not fit context ${T}`);
          }
        }
      }
    },
    loader: (s) => new ItemSampler(train.length, s.seed),
    evaluate: (model) => evaluateItems(model, val, o),
    async recordStep(step: TrainStep, s: number, loader: BatchSampler): Promise<number> {
      const model = step.model;
      const { T, backend } = model;
      const n = step.tokensPerStep / (model.B * T); // gradAccum
      const items = Array.from({ length: n }, () => train[(loader as ItemSampler).deck.next()]);
      const inputs = new Int32Array(T), targets = new Int32Array(T);
      const pass = (e: Example, scale: number) => {
        fillRow(e, inputs, targets, 0, T, o.pad);
        backend.write(model.ids, inputs);
        backend.write(model.targets, targets);
        model.forward(true, scale);
        model.backward();
      };
      return await step.recordWith(s, async () => {
        let loss = 0;
        for (const it of items) {
          if (it.kind === "sft") {
            const k = countTrained(it.example);
            loss += -(await sequenceLogProb(model, it.example, o.pad)) / k;
            pass(it.example, 1 / (k * n));
            continue;
          }
          const pc = await sequenceLogProb(model, it.chosen, o.pad);
          const pr = await sequenceLogProb(model, it.rejected, o.pad);
          const z = o.beta * ((pc - it.refChosen) - (pr - it.refRejected));
          loss += softplus(-z);
          // dL/dCE(chosen token) = β·σ(−z), dL/dCE(rejected token) = −β·σ(−z)
          const w = (o.beta * sigmoid(-z)) / n;
          pass(it.chosen, w);
          pass(it.rejected, -w);
        }
        return { loss: loss / n, counted: n };
      });
    },
  };
}

/** The reference log-probabilities file of a feedback run (computed once, before training). */
export const REFERENCE_FILE = "dpo_reference.json";

/** Writes the reference log-probabilities of the pairs (train then held out, in order). */
export async function saveReference(path: string, values: number[][]): Promise<void> {
  await writeFileAtomic(path, JSON.stringify({ format: "bentevi-dpo-reference", values }) + "\n");
}

/** Reads {@link saveReference}'s file; `count` pairs expected. */
export async function loadReference(path: string, count: number): Promise<number[][]> {
  let j: { format?: unknown; values?: unknown };
  try {
    j = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof SyntaxError) throw new BenteviError(`${path}: not valid JSON`);
    throw fsError(e, path);
  }
  const v = j?.values;
  if (
    j?.format !== "bentevi-dpo-reference" || !Array.isArray(v) || v.length !== count ||
    !v.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite))
  ) {
    throw new BenteviError(
      `${path}: not the reference log-probabilities of this run's ${count} pairs`,
    );
  }
  return v as number[][];
}
