/**
 * The generation loop: prompt → (prefill) → sample, feed, decode, repeat — with streaming
 * text (bytes of a UTF-8 character split across tokens are held until complete), stop
 * sequences (text that could still become a stop sequence is held back too), end-of-text,
 * a token budget, and a sliding window when a GPT context fills up.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import type { LanguageModel } from "./inference.ts";
import type { AttentionWeights } from "../model/kv_cached_model.ts";
import {
  type Candidate,
  Sampler,
  type SamplingOptions,
  type SamplingTrace,
  topCandidates,
} from "./sampler.ts";

/** What generation needs from a tokenizer (Bentevi's `Tokenizer` has all of it). */
export interface GenerationTokenizer {
  /**
   * Text → token ids; `addSpecialTokens: false` leaves out what the tokenizer's
   * post-processor adds around a text (e.g. `<s>`), for fragments such as chat turns.
   */
  encode(text: string, options?: { addSpecialTokens?: boolean }): ArrayLike<number>;
  /** Token ids → text. */
  decode(ids: readonly number[]): string;
  /** An incremental decoder that holds incomplete UTF-8 sequences between tokens. */
  streamDecoder(): { push(id: number): string; flush(): string };
  /** The id of a token string (special tokens included), or undefined. */
  tokenToId(token: string): number | undefined | null;
  /** The token string of an id, or undefined. */
  idToToken(id: number): string | undefined | null;
  /** The end-of-text token, when the tokenizer has one. */
  readonly endOfTextId?: number | undefined | null;
  /** Number of ids. */
  readonly vocabSize: number;
}

/**
 * One candidate of an explained step: its plain-softmax probability (temperature 1, nothing
 * cut) and what the sampling step made of it.
 */
export interface ExplainedCandidate extends Candidate {
  /** Its token string (as the vocabulary spells it, e.g. `Ġvez`). */
  token: string;
  /** Its text (the token decoded on its own; a partial UTF-8 character shows as U+FFFD). */
  text: string;
  /** Its probability under the distribution the sampler drew from (0 when cut off). */
  sampleProb: number;
  /** Whether it survived top-k and top-p. */
  kept: boolean;
}

/** One attention head's strongest links for a step: the earlier tokens it weighed most. */
export interface HeadFocus {
  /** Head index. */
  head: number;
  /** The most attended positions, strongest first. */
  top: { position: number; id: number; text: string; weight: number }[];
}

/**
 * Where the model looked when it predicted a token (GPT, Llama): the last block's heads, the
 * query being the token before it. Positions index {@link TokenAttention.ids}.
 */
export interface TokenAttention {
  /** The block (the last one, 0-based). */
  layer: number;
  /** The tokens attended over (the model's context at that step), oldest first. */
  ids: number[];
  /** Per head: the weights over {@link ids} (each row sums to 1). */
  weights: number[][];
  /** Per head: its strongest positions. */
  heads: HeadFocus[];
}

/** One generated token, as the explain (educational) mode shows it. */
export interface TokenStep {
  /** The chosen id. */
  id: number;
  /** Its token string (as the vocabulary spells it). */
  token: string;
  /** Its text (decoded on its own). Set when `explainTop` > 0. */
  text?: string;
  /** Its plain-softmax probability (temperature 1, before penalty and cut-offs). */
  prob: number;
  /** The most likely candidates at this step, most likely first (when `explainTop` > 0). */
  top: ExplainedCandidate[];
  /** How the sampler chose it (when `explainTop` > 0). */
  sampling?: SamplingTrace;
  /** Where the last block's heads looked (when `explainAttention` > 0 and the model attends). */
  attention?: TokenAttention;
}

/**
 * How much the explain (educational) mode reports per token, wherever it is turned on
 * (`chat --educational`, the server's `explain: true`): `top` candidates, and the `attention`
 * strongest positions of each of the last block's heads.
 */
export const EXPLAIN_DEFAULTS = { top: 5, attention: 3 } as const;

/** Options of {@link generate}. */
export interface GenerateOptions extends SamplingOptions {
  /** Most new tokens (default 128). */
  maxNewTokens?: number;
  /**
   * Fewest new tokens (default 0): until that many are out, end-of-text and the
   * `stopTokenIds` are never sampled (Hugging Face's `min_new_tokens`). Stop strings still apply.
   */
  minNewTokens?: number;
  /** Generation ends before any of these strings (which are not part of the output). */
  stop?: readonly string[];
  /** Token ids that end generation (not output), besides end-of-text. */
  stopTokenIds?: readonly number[];
  /**
   * Token ids never generated (their logits are set to -∞ before sampling), e.g. the chat
   * tokens when continuing prose; Hugging Face calls this `suppress_tokens`.
   */
  suppressTokenIds?: readonly number[];
  /** Keep going through the end-of-text token (it is then output like any other). */
  ignoreEndOfText?: boolean;
  /**
   * More ids that end the text as the tokenizer's end-of-text does (a checkpoint's
   * `generation_config.json` `eos_token_id`); ignored with `ignoreEndOfText`.
   */
  endOfTextIds?: readonly number[];
  /**
   * For each new token, report this many top candidates in {@link TokenStep.top}, with the
   * sampling step ({@link TokenStep.sampling}).
   */
  explainTop?: number;
  /**
   * For each new token of a GPT or Llama, report where the last block's heads looked
   * ({@link TokenStep.attention}), with this many strongest positions per head (0 = off).
   */
  explainAttention?: number;
  /** Called with each piece of text as soon as it is final. */
  onText?: (text: string) => void;
  /** Called after each token is chosen. */
  onToken?: (step: TokenStep) => void;
  /** A sampler to use (and advance) instead of a new one built from the options. */
  sampler?: Sampler;
}

/** Why generation ended. */
export type FinishReason = "length" | "end-of-text" | "stop";

/** What {@link generate} returns. */
export interface GenerationResult {
  /** The generated text (prompt excluded, stop sequence excluded). */
  text: string;
  /** The generated token ids (a stop token or end-of-text excluded). */
  tokens: number[];
  /** Prompt tokens actually used. */
  promptTokens: number;
  /** Prompt tokens dropped from the left to fit the context. */
  truncatedPromptTokens: number;
  /** Why it ended. */
  finishReason: FinishReason;
  /** Seconds spent feeding the prompt. */
  prefillSeconds: number;
  /** Seconds spent producing the new tokens. */
  decodeSeconds: number;
  /** Decode speed: new tokens per second of forward steps after the prompt's pass. */
  tokensPerSecond: number;
  /** Per-token details (when `explainTop` > 0). */
  steps: TokenStep[];
}

/**
 * Leaves the model's state holding exactly `ids` and returns the logits after the last one,
 * reusing the longest common prefix with what it already holds (the KV cache or the RNN
 * state of an earlier turn).
 *
 * @example
 * ```ts
 * import { feedTo } from "./generator.ts";
 * import { createLanguageModel } from "./inference.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 16);
 * const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 1));
 * await feedTo(model, [1, 2, 3]);
 * await feedTo(model, [1, 2, 3, 4]); // feeds only token 4
 * console.log(model.tokens.length); // 4
 * ```
 */
export async function feedTo(model: LanguageModel, ids: readonly number[]): Promise<Float32Array> {
  if (ids.length === 0) throw new BenteviError("the prompt is empty (no tokens to start from)");
  const held = model.tokens;
  let n = 0;
  while (n < held.length && n < ids.length - 1 && held[n] === ids[n]) n++;
  if (!model.truncate(n)) {
    model.reset();
    n = 0;
  }
  return await model.feed(ids.slice(n));
}

/** Length of the longest suffix of `text` that is a proper prefix of one of `stops`. */
function heldBackLength(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > best; k--) {
      if (text.endsWith(s.slice(0, k))) {
        best = k;
        break;
      }
    }
  }
  return best;
}

/**
 * Generates a continuation of `prompt` (text or token ids).
 *
 * @example
 * ```ts
 * import { generate } from "./generator.ts";
 * import { createLanguageModel } from "./inference.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const tok = Tokenizer.byteLevel();
 * const config = presetConfig("gpt-micro", tok.vocabSize);
 * const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 1));
 * const r = await generate(model, tok, "Olá", { maxNewTokens: 5, seed: 1 });
 * console.log(r.tokens.length <= 5); // true
 * ```
 */
export async function generate(
  model: LanguageModel,
  tokenizer: GenerationTokenizer,
  prompt: string | readonly number[],
  options: GenerateOptions = {},
): Promise<GenerationResult> {
  const maxNew = options.maxNewTokens ?? 128;
  if (!Number.isInteger(maxNew) || maxNew < 0) {
    throw new BenteviError(`max new tokens must be an integer ≥ 0, got ${maxNew}`);
  }
  const minNew = options.minNewTokens ?? 0;
  if (!Number.isInteger(minNew) || minNew < 0) {
    throw new BenteviError(`min new tokens must be an integer ≥ 0, got ${minNew}`);
  }
  const sampler = options.sampler ?? new Sampler(options);
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const stopIds = new Set(options.stopTokenIds ?? []);
  const suppress = (options.suppressTokenIds ?? []).filter((i) => Number.isInteger(i) && i >= 0);
  const eosIds = new Set<number>(
    options.ignoreEndOfText ? [] : [
      ...(tokenizer.endOfTextId != null ? [tokenizer.endOfTextId] : []),
      ...(options.endOfTextIds ?? []),
    ],
  );
  const explainTop = options.explainTop ?? 0;
  const explainAttention = options.explainAttention ?? 0;

  let ids = typeof prompt === "string" ? Array.from(tokenizer.encode(prompt)) : [...prompt];
  if (ids.length === 0) {
    // Nothing to condition on: start from end-of-text when the tokenizer has one.
    if (tokenizer.endOfTextId == null) {
      throw new BenteviError("the prompt is empty and the tokenizer has no end-of-text token");
    }
    ids = [tokenizer.endOfTextId];
  }
  let truncated = 0;
  if (ids.length > model.maxContext - 1) {
    truncated = ids.length - (model.maxContext - 1);
    ids = ids.slice(truncated);
  }
  const promptTokens = ids.length;

  const t0 = performance.now();
  let logits = maxNew > 0 ? await feedTo(model, ids) : new Float32Array(0);
  const t1 = performance.now();

  const decoder = tokenizer.streamDecoder();
  const out: number[] = [];
  const steps: TokenStep[] = [];
  let text = "", emitted = 0;
  let finish: FinishReason = "length";
  let forwardSteps = 0;
  const context = ids.slice();
  // Each step's logits go into one array: nothing here keeps a step's logits past the next.
  const stepLogits = new Float32Array(model.config.vocabSize);

  const emit = (upTo: number) => {
    if (upTo > emitted) {
      options.onText?.(text.slice(emitted, upTo));
      emitted = upTo;
    }
  };

  for (let i = 0; i < maxNew; i++) {
    checkLogits(logits, model);
    // A model whose vocabulary is padded past the tokenizer's never picks a padding id.
    if (logits.length > tokenizer.vocabSize) logits.fill(-Infinity, tokenizer.vocabSize);
    for (const s of suppress) if (s < logits.length) logits[s] = -Infinity;
    if (i < minNew) {
      for (const e of eosIds) if (e >= 0 && e < logits.length) logits[e] = -Infinity;
      for (const s of stopIds) if (s >= 0 && s < logits.length) logits[s] = -Infinity;
    }
    let id: number;
    if (explainTop > 0) {
      const step = explainedChoice(sampler, logits, context, tokenizer, explainTop);
      id = step.id;
      if (explainAttention > 0 && model.lastAttention) {
        const att = await model.lastAttention();
        if (att) step.attention = tokenAttention(att, model.tokens, tokenizer, explainAttention);
      }
      steps.push(step);
      options.onToken?.(step);
    } else {
      id = sampler.sample(logits, context);
      if (options.onToken) {
        const step: TokenStep = {
          id,
          token: tokenizer.idToToken(id) ?? `<${id}>`,
          prob: probabilityOf(logits, id),
          top: [],
        };
        options.onToken(step);
      }
    }
    if (eosIds.has(id)) {
      finish = "end-of-text";
      break;
    }
    if (stopIds.has(id)) {
      finish = "stop";
      break;
    }
    out.push(id);
    context.push(id);
    text += decoder.push(id);
    if (stops.length) {
      const from = Math.max(0, emitted - Math.max(...stops.map((s) => s.length)));
      let cut = -1;
      for (const s of stops) {
        const at = text.indexOf(s, from);
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      if (cut >= 0) {
        text = text.slice(0, cut);
        emit(cut);
        finish = "stop";
        break;
      }
      emit(text.length - heldBackLength(text, stops));
    } else emit(text.length);
    if (i === maxNew - 1) break; // the last token needs no forward pass
    if (model.tokens.length >= model.maxContext) {
      // Context full: keep the most recent half and rebuild the cache from it.
      const keep = context.slice(-Math.floor(model.maxContext / 2));
      model.reset();
      logits = await model.feed(keep, stepLogits);
    } else logits = await model.feed([id], stepLogits);
    forwardSteps++;
  }
  if (finish !== "stop") {
    text += decoder.flush();
    emit(text.length);
  }
  const t2 = performance.now();
  const decodeSeconds = (t2 - t1) / 1000;
  return {
    text,
    tokens: out,
    promptTokens,
    truncatedPromptTokens: truncated,
    finishReason: finish,
    prefillSeconds: (t1 - t0) / 1000,
    decodeSeconds,
    // Each forward step after the prompt's pass yields one token; without any step (one
    // token), count the prompt's pass instead.
    tokensPerSecond: forwardSteps > 0
      ? forwardSteps / decodeSeconds
      : out.length / Math.max((t2 - t0) / 1000, 1e-9),
    steps,
  };
}

/**
 * Refuses a row of logits holding NaN or ±∞ (a model with corrupt weights, or one that
 * overflowed): sampling from it would pick garbage and print `NaN%` probabilities.
 *
 * @example
 * ```ts
 * import { checkLogits } from "./generator.ts";
 * try {
 *   checkLogits(new Float32Array([0.5, NaN]));
 * } catch (e) {
 *   console.log((e as Error).message); // the model produced a non-finite logit (NaN for token 1) …
 * }
 * ```
 */
export function checkLogits(
  logits: Float32Array,
  model?: { readonly tokens: readonly number[] },
): void {
  let check = 0;
  for (let i = 0; i < logits.length; i++) check += logits[i] * 0;
  if (check === 0) return;
  const at = logits.findIndex((x) => !Number.isFinite(x));
  throw new BenteviError(
    `the model produced a non-finite logit (${logits[at]} for token ${at}${
      model ? ` after ${model.tokens.length} tokens` : ""
    }); its weights or activations are corrupt — stopping`,
  );
}

/**
 * Samples the next token with `sampler` (advancing it exactly as `sampler.sample` would) and
 * explains the choice: the token, its plain probability, the `topN` candidates with their fate
 * in the sampling step, and the step's trace. (Attention is added by the caller.)
 *
 * @example
 * ```ts
 * import { explainedChoice } from "./generator.ts";
 * import { Sampler } from "./sampler.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const logits = new Float32Array(256).fill(0);
 * logits[104] = 5;
 * const step = explainedChoice(new Sampler({ temperature: 0 }), logits, [], Tokenizer.byteLevel(), 3);
 * console.log(step.text, step.top[0].kept, step.top[1].kept); // h true false
 * ```
 */
export function explainedChoice(
  sampler: Sampler,
  logits: Float32Array,
  context: readonly number[],
  tokenizer: Pick<GenerationTokenizer, "decode" | "idToToken">,
  topN: number,
): TokenStep {
  const top = topCandidates(logits, topN);
  const { id, trace } = sampler.sampleTraced(logits, context, top.map((c) => c.id));
  const spell = (i: number) => tokenizer.idToToken(i) ?? `<${i}>`;
  return {
    id,
    token: spell(id),
    text: tokenizer.decode([id]),
    prob: probabilityOf(logits, id),
    top: top.map((c, j) => ({
      ...c,
      token: spell(c.id),
      text: tokenizer.decode([c.id]),
      sampleProb: trace.final[j].prob,
      kept: trace.final[j].kept,
    })),
    sampling: trace,
  };
}

/**
 * Summarises a model's {@link AttentionWeights} for display: the weights per head over the
 * context `ids` and each head's `topN` strongest positions with their text.
 *
 * @example
 * ```ts
 * import { tokenAttention } from "./generator.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const att = { layer: 0, heads: 1, positions: 2, weights: [new Float64Array([0.25, 0.75])] };
 * const t = tokenAttention(att, [104, 105], Tokenizer.byteLevel(), 1);
 * console.log(t.heads[0].top[0]); // { position: 1, id: 105, text: "i", weight: 0.75 }
 * ```
 */
export function tokenAttention(
  att: AttentionWeights,
  ids: readonly number[],
  tokenizer: Pick<GenerationTokenizer, "decode">,
  topN: number,
): TokenAttention {
  const context = ids.slice(0, att.positions);
  const heads = att.weights.map((row, head) => {
    const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || b - a);
    return {
      head,
      top: order.slice(0, topN).map((position) => ({
        position,
        id: context[position],
        text: tokenizer.decode([context[position]]),
        weight: row[position],
      })),
    };
  });
  return { layer: att.layer, ids: context, weights: att.weights.map((r) => Array.from(r)), heads };
}

/** Plain-softmax probability of one id. */
export function probabilityOf(logits: Float32Array, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp(logits[i] - max);
  return Math.exp(logits[id] - max) / z;
}
