// Shared fixtures of the training tests: a small Portuguese text written for these tests,
// a tokenizer trained on it, and tiny model configurations that run fast on the CPU.
import { trainTokenizer } from "../../src/tokenizer/mod.ts";
import type { GptConfig, LlamaConfig, RwkvConfig } from "../../src/model/mod.ts";

export const TEXT = [
  "O bem-te-vi canta no galho da mangueira logo cedo, quando o sol ainda é fraco.",
  "A menina abre a janela, ouve o canto e sorri para o dia que começa.",
  "No quintal, o avô rega as plantas e conta histórias do tempo em que era menino.",
  "Depois do almoço, todos descansam à sombra e o passarinho volta a cantar.",
].join("\n") + "\n";

export async function makeFixture(): Promise<{ dir: string; text: string; tokenizer: string }> {
  const dir = await Deno.makeTempDir({ prefix: "bentevi-train-test-" });
  const text = `${dir}/corpus.txt`;
  await Deno.writeTextFile(text, TEXT.repeat(40));
  const tok = await trainTokenizer([text], { vocabSize: 300 });
  const tokenizer = `${dir}/tokenizer.json`;
  await tok.save(tokenizer);
  return { dir, text, tokenizer };
}

export const TINY_GPT: GptConfig = {
  arch: "gpt",
  vocabSize: 300,
  contextLength: 16,
  dModel: 32,
  nLayer: 2,
  nHead: 2,
  mlpDim: 64,
  layerNormEps: 1e-5,
};

export const TINY_RWKV: RwkvConfig = {
  arch: "rwkv",
  vocabSize: 300,
  contextLength: 16,
  dModel: 32,
  nLayer: 2,
  ffnDim: 64,
  layerNormEps: 1e-5,
};

// Grouped-query attention: 4 query heads sharing 2 key/value heads.
export const TINY_LLAMA: LlamaConfig = {
  arch: "llama",
  vocabSize: 300,
  contextLength: 16,
  dModel: 32,
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  headDim: 8,
  ffnDim: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  tieEmbeddings: true,
};
