/**
 * The educational mode's views of generation: each generated token with its probability,
 * the candidates the model weighed, the sampling step that chose it and where the last
 * block's heads looked ({@link formatTokenStep}); and one generation step walked through —
 * embedding → blocks → logits → sampling — with the tensor shapes of the model at hand
 * ({@link explainStep}, {@link formatStepWalkthrough}). The per-token data itself comes from
 * `generate` (`explainTop`, `explainAttention`: {@link TokenStep}).
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import type { ForwardStage } from "../model/family.ts";
import { familyOf } from "../model/registry.ts";
import { describeConfig } from "../model/config.ts";
import {
  explainedChoice,
  feedTo,
  type GenerationTokenizer,
  tokenAttention,
  type TokenStep,
} from "../generate/generator.ts";
import type { LanguageModel } from "../generate/inference.ts";
import { Sampler, type SamplingOptions } from "../generate/sampler.ts";

const pct = (p: number) => `${(100 * p).toFixed(p >= 0.001 || p === 0 ? 1 : 3)}%`;
const q = (s: string) => JSON.stringify(s);

/**
 * The sampling step in one line: the knobs in the order they apply and how many candidates
 * each kept, the draw, and the chosen token's share of the final distribution.
 *
 * @example
 * ```ts
 * import { formatSampling } from "./step.ts";
 * import { Sampler } from "../generate/sampler.ts";
 * const { trace } = new Sampler({ temperature: 0 }).sampleTraced(new Float32Array([1, 3]), [], [1]);
 * console.log(formatSampling(trace)); // greedy (temperature 0): the most likely token
 * ```
 */
export function formatSampling(trace: NonNullable<TokenStep["sampling"]>): string {
  const parts: string[] = [];
  if (trace.repetitionPenalty !== 1 && trace.penalized.length) {
    parts.push(`repetition penalty ${trace.repetitionPenalty} on ${trace.penalized.length} ids`);
  }
  if (trace.greedy) return [...parts, "greedy (temperature 0): the most likely token"].join(" → ");
  parts.push(`temperature ${trace.temperature}`);
  parts.push(
    trace.topK > 0 ? `top-k ${trace.topK}: ${trace.keptAfterTopK} left` : `top-k off`,
  );
  parts.push(
    trace.topP < 1 ? `top-p ${trace.topP}: ${trace.keptAfterTopP} left` : "top-p off",
  );
  parts.push(`draw ${trace.draw!.toFixed(3)}`);
  return parts.join(" → ");
}

/**
 * One explained token for a terminal: its text, id and probability; its candidates with their
 * plain probability → their probability after sampling's cut-offs (or "cut"); the sampling
 * step; and, for attention models, each head's most attended earlier tokens.
 *
 * @example
 * ```ts
 * import { formatTokenStep } from "./step.ts";
 * const line = formatTokenStep({
 *   id: 5, token: "a", text: "a", prob: 0.5,
 *   top: [{ id: 5, logit: 1, prob: 0.5, token: "a", text: "a", sampleProb: 1, kept: true }],
 * }, 0);
 * console.log(line.startsWith('#1 "a"')); // true
 * ```
 */
export function formatTokenStep(step: TokenStep, index: number): string {
  const lines = [`#${index + 1} ${q(step.text ?? step.token)}  id ${step.id}  p=${pct(step.prob)}`];
  if (step.top.length) {
    lines.push(
      "   candidates: " +
        step.top.map((c) =>
          `${q(c.text)} ${pct(c.prob)}${c.kept ? ` → ${pct(c.sampleProb)}` : " (cut)"}${
            c.id === step.id ? " ✓" : ""
          }`
        ).join(" | "),
    );
  }
  if (step.sampling) lines.push(`   sampling: ${formatSampling(step.sampling)}`);
  if (step.attention) {
    const a = step.attention;
    lines.push(
      `   attention (block ${a.layer}, ${a.ids.length} positions): ` +
        a.heads.map((h) =>
          `h${h.head} ` +
          h.top.map((t) => `${q(t.text)}@${t.position} ${t.weight.toFixed(2)}`).join(", ")
        ).join(" | "),
    );
  }
  return lines.join("\n");
}

/** What {@link explainStep} found: one generation step, stage by stage. */
export interface StepWalkthrough {
  /** The model, in one line. */
  model: string;
  /** The context fed (ids) and how each reads. */
  context: { id: number; text: string }[];
  /** The forward pass, stage by stage, with output shapes for these positions. */
  stages: (ForwardStage & { weightShapes: number[][] })[];
  /** Blocks the per-block stages repeat over. */
  blocks: number;
  /** The logits of the last position: their count and range. */
  logits: { size: number; min: number; max: number; mean: number };
  /** The most likely next tokens under the plain softmax. */
  top: { id: number; text: string; logit: number; prob: number }[];
  /** The sampled token, its step (cut-offs, draw) and where the heads looked. */
  chosen: TokenStep;
}

/**
 * Walks one generation step through a model: feeds `prompt` (text or ids), then reports the
 * forward pass stage by stage with this model's shapes (from its family), the logits of the
 * last position, the top candidates, and the sampling step with `sampling`'s knobs (a
 * sampler of its own, seeded with `sampling.seed` or 0: a chat's random sequence is not
 * advanced). Attention models add where the last block's heads looked. The model's state
 * then holds the prompt.
 *
 * @example
 * ```ts
 * import { explainStep, formatStepWalkthrough } from "./step.ts";
 * import { createLanguageModel } from "../generate/inference.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const tok = Tokenizer.byteLevel();
 * const config = presetConfig("gpt-micro", tok.vocabSize);
 * const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 1));
 * const w = await explainStep(model, tok, "Olá", { temperature: 0 });
 * console.log(w.stages[0].shape); // [3, 128]
 * console.log(formatStepWalkthrough(w).split("\n")[0]);
 * ```
 */
export async function explainStep(
  model: LanguageModel,
  tokenizer: GenerationTokenizer,
  prompt: string | readonly number[],
  sampling: SamplingOptions = {},
  topN = 5,
): Promise<StepWalkthrough> {
  let ids = typeof prompt === "string" ? Array.from(tokenizer.encode(prompt)) : [...prompt];
  if (ids.length === 0) throw new BenteviError("nothing to explain: the text has no tokens");
  if (ids.length > model.maxContext) ids = ids.slice(ids.length - model.maxContext);
  const logits = await feedTo(model, ids);
  const family = familyOf(model.config);
  const specs = new Map(family.weightSpecs(model.config).map((s) => [s.name, s.shape]));
  const stages = (family.forwardStages?.(model.config, ids.length) ?? []).map((s) => ({
    ...s,
    weightShapes: s.weights.map((n) => specs.get(n) ?? []),
  }));
  const V = Math.min(logits.length, tokenizer.vocabSize);
  const row = logits.subarray(0, V);
  let min = Infinity, max = -Infinity, sum = 0;
  for (const x of row) {
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  const sampler = new Sampler({ ...sampling, seed: sampling.seed ?? 0 });
  const chosen = explainedChoice(sampler, row, ids, tokenizer, topN);
  const att = model.lastAttention ? await model.lastAttention() : null;
  if (att) chosen.attention = tokenAttention(att, model.tokens, tokenizer, 3);
  return {
    model: describeConfig(model.config),
    context: ids.map((id) => ({ id, text: tokenizer.decode([id]) })),
    stages,
    blocks: model.config.nLayer,
    logits: { size: V, min, max, mean: sum / V },
    top: chosen.top.map(({ id, text, logit, prob }) => ({ id, text, logit, prob })),
    chosen,
  };
}

/**
 * {@link StepWalkthrough} for a terminal: numbered stages with shapes and weights, the
 * logits, the candidates and the sampling step.
 *
 * @example
 * ```ts
 * import { formatStepWalkthrough } from "./step.ts";
 * // see explainStep for a complete example
 * console.log(typeof formatStepWalkthrough);
 * ```
 */
export function formatStepWalkthrough(w: StepWalkthrough): string {
  const T = w.context.length;
  const shape = (s: number[]) => `[${s.join(", ")}]`;
  const lines = [
    `One generation step of ${w.model}`,
    `1. tokens: ${T} ids (T = ${T}): ` +
    w.context.slice(-12).map((c) => `${c.id} ${q(c.text)}`).join(", ") +
    (T > 12 ? ` (last 12 of ${T})` : ""),
  ];
  let n = 2, inBlocks = false;
  if (!w.stages.length) lines.push("   (this model family does not list its stages)");
  for (const s of w.stages) {
    if (s.perBlock && !inBlocks) {
      lines.push(`   ── each of the ${w.blocks} blocks ──`);
      inBlocks = true;
    } else if (!s.perBlock && inBlocks) {
      lines.push("   ── end of the blocks ──");
      inBlocks = false;
    }
    const weights = s.weights.map((name, i) => `${name} ${shape(s.weightShapes[i])}`).join(", ");
    lines.push(`${n++}. ${s.name} → ${shape(s.shape)}${weights ? `  (${weights})` : ""}`);
    lines.push(`     ${s.note}`);
  }
  const l = w.logits;
  lines.push(
    `${n++}. the last row of logits: ${l.size} scores, from ${l.min.toFixed(2)} to ` +
      `${l.max.toFixed(2)} (mean ${l.mean.toFixed(2)}); softmax turns them into probabilities`,
  );
  lines.push(
    `   most likely next: ` +
      w.top.map((c) => `${q(c.text)} ${pct(c.prob)} (logit ${c.logit.toFixed(2)})`).join(", "),
  );
  lines.push(`${n++}. sampling: ${formatSampling(w.chosen.sampling!)}`);
  lines.push(
    `   chosen: ${q(w.chosen.text ?? w.chosen.token)} (id ${w.chosen.id}, p=${pct(w.chosen.prob)})`,
  );
  if (w.chosen.attention) {
    const a = w.chosen.attention;
    lines.push(
      `   block ${a.layer}'s heads looked most at: ` +
        a.heads.map((h) =>
          `h${h.head} ` +
          h.top.map((t) => `${q(t.text)}@${t.position} ${t.weight.toFixed(2)}`).join(", ")
        ).join(" | "),
    );
  }
  return lines.join("\n");
}
