/** Seed material shared by the format modules: text written for the project, tiny models. */
import { join } from "node:path";
import { type Tokenizer, trainTokenizer } from "../../../src/tokenizer/mod.ts";
import type { ModelConfig } from "../../../src/model/mod.ts";
import { type Backend, createBackend } from "../../../src/backend/mod.ts";
import { loadNativeCompute } from "../../../src/backend/native/mod.ts";

/** A few sentences of Portuguese written for these tests. */
export const SENTENCES = [
  "O bem-te-vi canta cedo no quintal, antes de o café ficar pronto.",
  "Na feira de sábado, a barraca de frutas vendia caju, manga e açaí.",
  "A ponte velha sobre o rio foi pintada de azul pela prefeitura.",
  "Ela guardou as cartas da avó numa caixa de lata, atrás dos livros.",
  "Choveu tanto em março que o campo de futebol virou um lago raso.",
  "O ônibus das sete passa lotado; o das sete e meia, quase vazio.",
];

/** The sentences as paragraphs of one text. */
export const TEXT = SENTENCES.join("\n\n") + "\n";

const enc = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return enc.encode(text);
}

let tokenizer: Promise<Tokenizer> | undefined;

/** A small BPE tokenizer trained on {@link SENTENCES} (default special tokens). */
export function smallTokenizer(): Promise<Tokenizer> {
  tokenizer ??= (async () => {
    async function* corpus() {
      for (let k = 0; k < 3; k++) yield* SENTENCES;
    }
    return await trainTokenizer(corpus(), { vocabSize: 300, minFrequency: 1 });
  })();
  return tokenizer;
}

let backend: Promise<Backend> | undefined;

/**
 * The CPU backend the fuzzed files run on, created once per process: the native backend (C
 * kernels and OpenBLAS) where it loads, so hostile weights, ids and states reach the FFI
 * paths; else the TypeScript one.
 */
export function cpuBackend(): Promise<Backend> {
  backend ??= createBackend(typeof loadNativeCompute() === "string" ? "cpu" : "native", {
    threads: 1,
  });
  return backend;
}

/** A tiny GPT configuration. */
export function tinyGpt(vocabSize: number): ModelConfig {
  return {
    arch: "gpt",
    vocabSize,
    contextLength: 32,
    dModel: 8,
    nLayer: 1,
    nHead: 2,
    mlpDim: 16,
    layerNormEps: 1e-5,
  };
}

/** A tiny RWKV configuration. */
export function tinyRwkv(vocabSize: number): ModelConfig {
  return {
    arch: "rwkv",
    vocabSize,
    contextLength: 32,
    dModel: 8,
    nLayer: 2,
    ffnDim: 16,
    layerNormEps: 1e-5,
  };
}

/** A tiny Llama configuration (grouped-query attention, untied head). */
export function tinyLlama(vocabSize: number): ModelConfig {
  return {
    arch: "llama",
    vocabSize,
    contextLength: 32,
    dModel: 8,
    nLayer: 1,
    nHead: 2,
    nKvHead: 1,
    headDim: 4,
    ffnDim: 16,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieEmbeddings: false,
  };
}

/** Reads every file under `dir` into a map of relative paths to bytes. */
export async function readTree(dir: string, prefix = ""): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for await (const e of Deno.readDir(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) Object.assign(out, await readTree(dir, rel));
    else if (e.isFile) out[rel] = await Deno.readFile(join(dir, rel));
  }
  return out;
}
