// Sentence embeddings from the inference models (`LanguageModel.embed`): the mean over a
// sequence's positions of the final norm's output, L2-normalised — checked against the
// independent float64 reference forwards on every backend (CPU; WebGPU where present), with
// batching, right-padding and windowing shown not to change a vector.
import assert from "node:assert/strict";
import type { LlamaConfig, ModelConfig } from "../../src/model/mod.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { llamaToJson } from "../../src/model/llama/config.ts";
import { backends, perturbedWeights } from "../generate/helpers.ts";
import { gpt2Reference, rwkv4Reference } from "../generate/reference.ts";
import { llamaReferenceLogits } from "../_llama_reference.ts";
import type { HfLlamaShape } from "../_hf_llama.ts";

const gpt: ModelConfig = {
  arch: "gpt",
  vocabSize: 37,
  contextLength: 24,
  dModel: 16,
  nLayer: 2,
  nHead: 2,
  mlpDim: 24,
  layerNormEps: 1e-5,
};
// Grouped-query attention, untied head.
const llama: LlamaConfig = {
  arch: "llama",
  vocabSize: 37,
  contextLength: 24,
  dModel: 16,
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  headDim: 4,
  ffnDim: 24,
  rmsNormEps: 1e-5,
  ropeTheta: 100,
  tieEmbeddings: false,
};

type Weights = ReturnType<typeof perturbedWeights>;

/** The reference's final-norm hidden states of `ids`, in float64. */
function referenceHidden(config: ModelConfig, w: Weights, ids: number[]): Float64Array[] {
  const hidden: Float64Array[] = [];
  if (config.arch === "gpt") gpt2Reference(w, config, ids, undefined, hidden);
  else if (config.arch === "rwkv") rwkv4Reference(w, config, ids, hidden);
  else {
    const w64 = new Map(
      [...w].map(([k, t]) => [k, { shape: [...t.shape], data: Float64Array.from(t.data) }]),
    );
    llamaReferenceLogits(
      llamaToJson(config as LlamaConfig) as unknown as HfLlamaShape,
      w64,
      ids,
      undefined,
      hidden,
    );
  }
  return hidden;
}

/** Mean over positions (each window run from position 0), then L2-normalised. */
function referenceEmbedding(
  config: ModelConfig,
  w: Weights,
  ids: number[],
  window = config.contextLength,
): Float64Array {
  const sum = new Float64Array(config.dModel);
  for (let s = 0; s < ids.length; s += window) {
    for (const h of referenceHidden(config, w, ids.slice(s, s + window))) {
      for (let c = 0; c < sum.length; c++) sum[c] += h[c] / ids.length;
    }
  }
  const n = Math.hypot(...sum);
  return n > 0 ? sum.map((x) => x / n) : sum;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];
// Lengths 20, 5, 1, 0 and 30 (over the context of 24: two windows, 24 + 6).
const sequences = [ids, ids.slice(2, 7), [11], [], [...ids, ...ids.slice(0, 10)]];

Deno.test("embed: the mean-pooled final-norm hidden states, L2-normalised, equal the float64 reference (GPT, Llama; every backend)", async () => {
  for (const backend of await backends()) {
    for (const config of [gpt, llama]) {
      const what = `${backend.kind} ${config.arch}`;
      const weights = perturbedWeights(config, 7);
      const model = createLanguageModel(backend, config, weights);
      const vectors = await model.embed!(sequences);
      assert.equal(vectors.length, sequences.length);
      sequences.forEach((seq, i) => {
        const v = vectors[i];
        assert.equal(v.length, config.dModel);
        if (seq.length === 0) {
          assert.deepEqual(Array.from(v), new Array(config.dModel).fill(0), `${what} empty`);
          return;
        }
        assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, `${what} #${i} norm`);
        const d = maxDiff(v, referenceEmbedding(config, weights, seq));
        assert.ok(d < 1e-4, `${what} #${i} (${seq.length} tokens): ${d}`);
      });
      // Batching and right-padding do not change a vector: each sequence alone, and the batch
      // cut into one sequence per call (rows 1), give the same vectors.
      const alone = [];
      for (const seq of sequences) alone.push(...await model.embed!([seq]));
      const unbatched = await (model as unknown as {
        embed(s: number[][], rows: number): Promise<Float32Array[]>;
      }).embed(sequences, 1);
      for (let i = 0; i < sequences.length; i++) {
        assert.ok(maxDiff(alone[i], vectors[i]) < 1e-6, `${what} #${i} alone`);
        assert.ok(maxDiff(unbatched[i], vectors[i]) < 1e-6, `${what} #${i} one per batch`);
      }
      // A prefill only: the tokens fed and the next logits are untouched.
      const before = await model.feed(ids.slice(0, 5));
      model.truncate(4);
      await model.embed!([ids.slice(5, 15)]);
      assert.deepEqual(model.tokens, ids.slice(0, 4));
      assert.ok(maxDiff(await model.feed([ids[4]]), before) < 1e-5, `${what} state`);
      await assert.rejects(model.embed!([[config.vocabSize]]), /token id/);
      model.dispose();
    }
  }
});

const rwkv4: ModelConfig = {
  arch: "rwkv",
  vocabSize: 29,
  contextLength: 16,
  dModel: 16,
  nLayer: 2,
  ffnDim: 40,
  layerNormEps: 1e-5,
};
const rwkv5: ModelConfig = {
  arch: "rwkv5",
  version: "5.2",
  vocabSize: 29,
  contextLength: 16,
  dModel: 16,
  nLayer: 2,
  ffnDim: 40,
  headSize: 8,
  layerNormEps: 1e-5,
  groupNormEps: 1e-5,
};
const rwkv7: ModelConfig = {
  arch: "rwkv7",
  vocabSize: 29,
  contextLength: 16,
  dModel: 16,
  nLayer: 2,
  ffnDim: 40,
  headSize: 8,
  decayLora: 4,
  aLora: 4,
  vLora: 3,
  gateLora: 5,
  layerNormEps: 1e-5,
  groupNormEps: 64e-5,
};

// RWKV runs each window from the zero state (no context limit: one window up to 1024 tokens).
// RWKV-4 against its float64 reference; RWKV-5/7 against their own parallel forward: the head
// is linear, so the mean of forwardAll's logits is |mean hidden| · (v · headᵀ) for the unit
// vector v that embed returns.
Deno.test("embed: RWKV-4/5/7 pool ln_out's output from the zero state (RWKV-4: float64 reference; 5/7: the head of their own forward)", async () => {
  const seqs = [ids, ids.slice(2, 7).map((x) => x % 29), [11], []];
  for (const backend of await backends()) {
    const configs: ModelConfig[] = [rwkv4, rwkv5, rwkv7];
    for (const config of configs) {
      const what: string = `${backend.kind} ${config.arch}`;
      const weights = perturbedWeights(config, 5);
      const model = createLanguageModel(backend, config, weights);
      const vectors = await model.embed!(seqs);
      assert.deepEqual(Array.from(vectors[3]), new Array(16).fill(0), `${what} empty`);
      for (let i = 0; i < 3; i++) {
        const v = vectors[i], seq = seqs[i];
        assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, `${what} #${i} norm`);
        if (config.arch === "rwkv") {
          const d = maxDiff(v, referenceEmbedding(config, weights, seq, 1024));
          assert.ok(d < 1e-4, `${what} #${i}: ${d}`);
        } else {
          const V = config.vocabSize, head = weights.get("head.weight")!.data;
          const logits = await model.forwardAll(seq);
          const mean = new Float64Array(V), proj = new Float64Array(V);
          for (let t = 0; t < seq.length; t++) {
            for (let k = 0; k < V; k++) mean[k] += logits[t * V + k] / seq.length;
          }
          for (let k = 0; k < V; k++) {
            for (let c = 0; c < 16; c++) proj[k] += v[c] * head[k * 16 + c];
          }
          let num = 0, den = 0; // least-squares scale of proj onto mean
          for (let k = 0; k < V; k++) {
            num += mean[k] * proj[k];
            den += proj[k] ** 2;
          }
          const scale = num / den, d = maxDiff(mean, proj.map((x) => x * scale));
          assert.ok(scale > 0 && d < 1e-4, `${what} #${i}: scale ${scale}, ${d}`);
        }
        const [alone] = await model.embed!([seq]);
        assert.ok(maxDiff(alone, v) < 1e-6, `${what} #${i} alone`);
      }
      // The state is untouched: feeding after an embed continues where it was.
      const before = await model.feed([1, 2]);
      await model.embed!([[3, 4, 5]]);
      model.reset();
      assert.ok(maxDiff(await model.feed([1, 2]), before) < 1e-5, `${what} state`);
      model.dispose();
    }
  }
});
