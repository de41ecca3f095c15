/** Small fixtures for the generation tests: tokenizers, tiny checkpoints, a scripted model. */
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { initWeights, type ModelConfig, saveCheckpoint } from "../../src/model/mod.ts";
import type { Backend } from "../../src/backend/backend.ts";
import { createBackend } from "../../src/backend/select.ts";
import type { LanguageModel } from "../../src/generate/inference.ts";
import type { NamedTensor } from "../../src/io/safetensors.ts";

export const CHAT_SPECIALS = ["<|system|>", "<|user|>", "<|assistant|>", "[EOS]"];

/** A byte-level tokenizer (id = byte), optionally with the chat tokens and [EOS] at 256…259. */
export function byteTokenizerJsonWith(specials: string[] = []): string {
  const j = JSON.parse(JSON.stringify(Tokenizer.byteLevel().toJSON()));
  j.added_tokens = specials.map((content, i) => ({
    id: 256 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return JSON.stringify(j);
}

export function byteTokenizer(specials: string[] = []): Tokenizer {
  return Tokenizer.fromJSON(byteTokenizerJsonWith(specials));
}

export function tinyGpt(vocabSize: number, contextLength = 64): ModelConfig {
  return {
    arch: "gpt",
    vocabSize,
    contextLength,
    dModel: 16,
    nLayer: 2,
    nHead: 2,
    mlpDim: 32,
    layerNormEps: 1e-5,
  };
}

export function tinyRwkv(vocabSize: number): ModelConfig {
  return {
    arch: "rwkv",
    vocabSize,
    contextLength: 64,
    dModel: 16,
    nLayer: 2,
    ffnDim: 32,
    layerNormEps: 1e-5,
  };
}

/** Writes a checkpoint with random weights and a byte-level tokenizer. */
export async function writeTinyCheckpoint(
  dir: string,
  config: ModelConfig,
  specials: string[] = [],
): Promise<void> {
  const json = byteTokenizerJsonWith(specials);
  await saveCheckpoint(dir, {
    config,
    weights: initWeights(config, 7),
    tokenizer: { toJSON: () => json },
  });
}

/**
 * A model whose greedy choice follows a script: after the prompt, the i-th generated token is
 * `script[i]` (then `fallback`). Records every `feed` call.
 */
export class ScriptedModel implements LanguageModel {
  readonly config: ModelConfig;
  readonly backend = {} as Backend;
  readonly maxContext: number;
  tokens: number[] = [];
  feeds: number[][] = [];
  #promptLen = -1;
  constructor(vocab: number, readonly script: number[], maxContext = 1000, readonly fallback = 0) {
    this.config = tinyGpt(vocab, maxContext);
    this.maxContext = maxContext;
  }
  feed(ids: readonly number[]): Promise<Float32Array> {
    this.feeds.push([...ids]);
    if (this.#promptLen < 0) this.#promptLen = this.tokens.length + ids.length;
    this.tokens.push(...ids);
    const i = this.tokens.length - this.#promptLen;
    const next = i < this.script.length ? this.script[i] : this.fallback;
    const logits = new Float32Array(this.config.vocabSize).fill(-10);
    logits[next] = 10;
    return Promise.resolve(logits);
  }
  reset() {
    this.tokens = [];
    this.#promptLen = -1;
  }
  truncate(n: number) {
    this.tokens.length = Math.min(n, this.tokens.length);
    return true;
  }
  forwardAll(): Promise<Float32Array> {
    throw new Error("not scripted");
  }
  exportState(): Promise<Map<string, NamedTensor>> {
    return Promise.resolve(new Map());
  }
  importState() {}
  dispose() {}
}

export const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};

/** The CPU backend, and WebGPU when an adapter is there (said once when it is not). */
export async function backends(): Promise<Backend[]> {
  const list: Backend[] = [await createBackend("cpu")];
  try {
    const gpu = await createBackend("webgpu");
    if (gpu.kind === "webgpu") list.push(gpu);
  } catch {
    console.log("WebGPU unavailable: checking the CPU backend only");
  }
  return list;
}

/** Random weights with larger magnitudes than the init, so the checks are not trivially small. */
export function perturbedWeights(
  config: ModelConfig,
  seed: number,
): ReturnType<typeof initWeights> {
  const w = initWeights(config, seed);
  let s = seed * 7919 + 1;
  for (const [name, t] of w) {
    if (/time_/.test(name)) continue;
    for (let i = 0; i < t.data.length; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      t.data[i] += (s / 2147483648 - 0.5) *
        (name.endsWith("weight") && t.shape.length === 1 ? 0.5 : 0.4);
    }
  }
  return w;
}
