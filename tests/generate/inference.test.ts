import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/mod.ts";
import type { Backend } from "../../src/backend/backend.ts";
import {
  type GptConfig,
  initWeights,
  type LlamaConfig,
  type ModelConfig,
} from "../../src/model/mod.ts";
import {
  createLanguageModel,
  loadModelState,
  saveModelState,
} from "../../src/generate/inference.ts";
import { GptInference } from "../../src/model/gpt/inference.ts";
import { LlamaInference } from "../../src/model/llama/inference.ts";
import { gpt2Reference, maxAbsDiff, rwkv4Reference } from "./reference.ts";
import { backends, perturbedWeights as weightsFor } from "./helpers.ts";
import { llamaReferenceLogits } from "../_llama_reference.ts";

const gptConfig: ModelConfig = {
  arch: "gpt",
  vocabSize: 37,
  contextLength: 24,
  dModel: 16,
  nLayer: 2,
  nHead: 2,
  mlpDim: 24,
  layerNormEps: 1e-5,
};
const rwkvConfig: ModelConfig = {
  arch: "rwkv",
  vocabSize: 29,
  contextLength: 16,
  dModel: 16,
  nLayer: 2,
  ffnDim: 40,
  layerNormEps: 1e-5,
};

const rwkv7Config: ModelConfig = {
  arch: "rwkv7",
  vocabSize: 29,
  contextLength: 16,
  dModel: 16,
  nLayer: 3,
  ffnDim: 40,
  headSize: 8,
  decayLora: 4,
  aLora: 4,
  vLora: 3,
  gateLora: 5,
  layerNormEps: 1e-5,
  groupNormEps: 64e-5,
};

const rwkv5Config: ModelConfig = {
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

// RWKV-6: version 6 of the rwkv5 family.
const rwkv6Config: ModelConfig = {
  ...rwkv5Config,
  version: "6",
  groupNormEps: 64e-5,
  mixLowRank: 4,
  decayLowRank: 6,
};

// Grouped-query attention (2 query heads per kv head), tied head.
const llamaGqa: LlamaConfig = {
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
  tieEmbeddings: true,
};
// Multi-query attention, head size ≠ width / heads, untied head.
const llamaMqa: LlamaConfig = {
  ...llamaGqa,
  nHead: 2,
  nKvHead: 1,
  headDim: 6,
  tieEmbeddings: false,
};

const ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];

Deno.test("GPT: KV-cached logits equal a full recompute and the float64 reference", async () => {
  for (const backend of await backends()) {
    const weights = weightsFor(gptConfig, 3);
    const model = createLanguageModel(backend, gptConfig, weights);
    const V = gptConfig.vocabSize;
    const full = await model.forwardAll(ids);
    const ref = gpt2Reference(weights, gptConfig, ids);
    for (let t = 0; t < ids.length; t++) {
      assert.ok(
        maxAbsDiff(full.subarray(t * V, t * V + V), ref[t]) < 1e-4,
        `${backend.kind} full t=${t}`,
      );
    }
    // Prefill 7 tokens, then one at a time, then a block of 3.
    const check = (logits: Float32Array, t: number) => {
      const d = maxAbsDiff(logits, full.subarray(t * V, t * V + V));
      assert.ok(d < 1e-4, `${backend.kind} cached t=${t}: ${d}`);
    };
    check(await model.feed(ids.slice(0, 7)), 6);
    for (let t = 7; t < 15; t++) check(await model.feed([ids[t]]), t);
    check(await model.feed(ids.slice(15, 18)), 17);
    // Rewind (cut the cache) and take another path.
    assert.equal(model.truncate(10), true);
    check(await model.feed(ids.slice(10, 20)), 19);
    assert.equal(model.tokens.length, 20);
    await assert.rejects(model.feed(ids.slice(0, 10)), /context holds 24 tokens/);
    await assert.rejects(model.feed([gptConfig.vocabSize]), /outside the model's vocabulary/);
    model.dispose();
  }
});

// On WebGPU, head size 4 decodes through the chunked vec4 kernel, head size 6 through the
// generic cached one.
Deno.test("Llama: KV-cached logits (GQA, MQA) equal a full recompute and the float64 reference", async () => {
  for (const backend of await backends()) {
    for (const config of [llamaGqa, llamaMqa]) {
      const what = `${backend.kind} llama NH${config.nHead}/NKV${config.nKvHead}`;
      const weights = weightsFor(config, 4);
      const model = createLanguageModel(backend, config, weights);
      const V = config.vocabSize;
      const full = await model.forwardAll(ids);
      const ref = llamaReferenceLogits(
        {
          vocab_size: config.vocabSize,
          hidden_size: config.dModel,
          intermediate_size: config.ffnDim,
          num_hidden_layers: config.nLayer,
          num_attention_heads: config.nHead,
          num_key_value_heads: config.nKvHead,
          head_dim: config.headDim,
          max_position_embeddings: config.contextLength,
          rms_norm_eps: config.rmsNormEps,
          rope_theta: config.ropeTheta,
          tie_word_embeddings: config.tieEmbeddings,
        },
        new Map(
          [...weights].map((
            [k, t],
          ) => [k, { shape: [...t.shape], data: Float64Array.from(t.data) }]),
        ),
        ids,
      );
      for (let t = 0; t < ids.length; t++) {
        const d = maxAbsDiff(full.subarray(t * V, t * V + V), ref[t]);
        assert.ok(d < 1e-4, `${what} full t=${t}: ${d}`);
      }
      const check = (logits: Float32Array, t: number) => {
        const d = maxAbsDiff(logits, full.subarray(t * V, t * V + V));
        assert.ok(d < 1e-4, `${what} cached t=${t}: ${d}`);
      };
      check(await model.feed(ids.slice(0, 7)), 6);
      for (let t = 7; t < 15; t++) check(await model.feed([ids[t]]), t);
      check(await model.feed(ids.slice(15, 18)), 17);
      assert.equal(model.truncate(10), true);
      check(await model.feed(ids.slice(10, 20)), 19);
      // The cache holds the key/value heads only: [T, NKV·hd] per layer.
      const state = await model.exportState();
      assert.deepEqual(state.get("model.layers.1.v_cache")!.shape, [
        20,
        config.nKvHead * config.headDim,
      ]);
      await assert.rejects(model.feed(ids.slice(0, 10)), /context holds 24 tokens/);
      // An output head sliced over a larger vocabulary (64-row slices) gives the same logits.
      const big = { ...config, vocabSize: 200 }, bigWeights = weightsFor(big, 6);
      const whole = createLanguageModel(backend, big, bigWeights);
      const sliced = new LlamaInference(backend, big, bigWeights, "x", 64 * config.dModel * 4);
      const [fa, fb] = [await whole.forwardAll(ids), await sliced.forwardAll(ids)];
      assert.ok(maxAbsDiff(fa, fb) < 1e-6, `${what} sliced head`);
      assert.ok(maxAbsDiff(await whole.feed(ids), await sliced.feed(ids)) < 1e-6, `${what} sliced`);
      model.dispose(), whole.dispose(), sliced.dispose();
    }
  }
});

Deno.test("Llama: the caches grow with the tokens fed, not with the context length", async () => {
  for (const backend of await backends()) await cachesGrow(backend);
});

async function cachesGrow(backend: Backend) {
  // 150 positions: past the 64 the caches start with, fed in pieces that cross both growths.
  const config: LlamaConfig = { ...llamaGqa, contextLength: 150 };
  const weights = weightsFor(config, 8);
  const long = Array.from({ length: 150 }, (_, i) => (i * 7 + 3) % config.vocabSize);
  const model = createLanguageModel(backend, config, weights);
  const V = config.vocabSize;
  const fed: [number, Float32Array][] = [];
  let pos = 0;
  for (const n of [60, 1, 1, 1, 70, 17]) {
    const logits = await model.feed(long.slice(pos, pos + n));
    pos += n;
    fed.push([pos, logits]);
  }
  // The recompute afterwards (it would grow the tables to 150 at once if it ran first).
  const full = await model.forwardAll(long);
  for (const [pos, logits] of fed) {
    const d = maxAbsDiff(logits, full.subarray((pos - 1) * V, pos * V));
    assert.ok(d < 1e-4, `${backend.kind} after ${pos} tokens: ${d}`);
  }
  model.dispose();
  // A context of 2^30 positions (a lying config.json) costs nothing until tokens come.
  const huge = createLanguageModel(backend, { ...llamaGqa, contextLength: 2 ** 30 }, weights);
  assert.equal((await huge.feed([1, 2, 3])).length, llamaGqa.vocabSize);
  huge.dispose();
}

Deno.test("RWKV: the carried state equals the full sequence and the float64 reference", async () => {
  for (const backend of await backends()) {
    const weights = weightsFor(rwkvConfig, 5);
    const model = createLanguageModel(backend, rwkvConfig, weights);
    const V = rwkvConfig.vocabSize;
    const full = await model.forwardAll(ids);
    const ref = rwkv4Reference(weights, rwkvConfig, ids);
    for (let t = 0; t < ids.length; t++) {
      const d = maxAbsDiff(full.subarray(t * V, t * V + V), ref[t]);
      assert.ok(d < 1e-4, `${backend.kind} full t=${t}: ${d}`);
    }
    const first = await model.feed(ids.slice(0, 5));
    assert.ok(maxAbsDiff(first, ref[4]) < 1e-4);
    for (let t = 5; t < ids.length; t++) {
      const d = maxAbsDiff(await model.feed([ids[t]]), ref[t]);
      assert.ok(d < 1e-4, `${backend.kind} step t=${t}: ${d}`);
    }
    assert.equal(model.truncate(3), false, "an RNN cannot rewind");
    model.dispose();
  }
});

Deno.test("RWKV-7: the carried state equals the parallel form, token by token", async () => {
  const backend = await createBackend("cpu");
  const weights = weightsFor(rwkv7Config, 5);
  const model = createLanguageModel(backend, rwkv7Config, weights);
  const V = rwkv7Config.vocabSize;
  const full = await model.forwardAll(ids);
  const first = await model.feed(ids.slice(0, 5));
  assert.ok(maxAbsDiff(first, full.subarray(4 * V, 5 * V)) < 1e-4);
  for (let t = 5; t < ids.length; t++) {
    const d = maxAbsDiff(await model.feed([ids[t]]), full.subarray(t * V, t * V + V));
    assert.ok(d < 1e-4, `step t=${t}: ${d}`);
  }
  assert.equal(model.truncate(3), false, "an RNN cannot rewind");
  model.reset();
  assert.ok(maxAbsDiff(await model.feed(ids.slice(0, 5)), first) < 1e-6, "reset");
  model.dispose();
});

Deno.test("state save/restore continues exactly where it stopped (RWKV, GPT, Llama)", async () => {
  const backend = await createBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    for (
      const config of [rwkvConfig, gptConfig, llamaGqa, rwkv7Config, rwkv5Config, rwkv6Config]
    ) {
      const weights = weightsFor(config, 11);
      const a = createLanguageModel(backend, config, weights);
      await a.feed(ids.slice(0, 9));
      const path = `${dir}/${config.arch}.safetensors`;
      await saveModelState(a, path);
      const expected = await a.feed(ids.slice(9, 12));
      const b = createLanguageModel(backend, config, weights);
      await loadModelState(b, path);
      assert.deepEqual(b.tokens, ids.slice(0, 9));
      const got = await b.feed(ids.slice(9, 12));
      assert.ok(maxAbsDiff(got, expected) < 1e-6, config.arch);
      // A state from another model is refused.
      const other = createLanguageModel(
        backend,
        { ...config, nLayer: 1 },
        initWeights({ ...config, nLayer: 1 }, 1),
      );
      await assert.rejects(loadModelState(other, path), /different model/);
      a.dispose(), b.dispose(), other.dispose();
    }
    await Deno.writeTextFile(`${dir}/junk`, "not a state");
    const m = createLanguageModel(backend, rwkvConfig, weightsFor(rwkvConfig, 1));
    await assert.rejects(loadModelState(m, `${dir}/junk`), /junk/);
    await assert.rejects(loadModelState(m, `${dir}/missing`), /file not found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RWKV: a damaged state is refused by name and leaves the model as it was", async () => {
  const backend = await createBackend("cpu");
  for (const config of [rwkvConfig, rwkv5Config, rwkv6Config, rwkv7Config]) {
    const m = createLanguageModel(backend, config, weightsFor(config, 5));
    await m.feed(ids.slice(0, 4));
    const before = await m.exportState();
    const damaged = new Map(before);
    const last = `blocks.${config.nLayer - 1}.wkv`;
    damaged.set(last, { shape: [1], data: new Float32Array(1) });
    // Layer 0's tensors come first and are valid: they must not be written either.
    damaged.set("blocks.0.att_prev", {
      ...before.get("blocks.0.att_prev")!,
      data: new Float32Array(config.dModel).fill(7),
    });
    assert.throws(() => m.importState(damaged, [1]), new RegExp(`state: ${last} is missing`));
    damaged.delete(last);
    assert.throws(() => m.importState(damaged, [1]), new RegExp(`state: ${last} is missing`));
    assert.deepEqual(m.tokens, ids.slice(0, 4), config.arch);
    assert.deepEqual(await m.exportState(), before, config.arch);
    m.dispose();
    await assert.rejects(m.feed([1]), /after dispose/);
  }
});

Deno.test("a checkpoint missing a weight is refused with its name", async () => {
  const backend = await createBackend("cpu");
  const w = initWeights(gptConfig, 1);
  w.delete("h.1.mlp.c_fc.bias");
  assert.throws(
    () => createLanguageModel(backend, gptConfig, w, "ckpt"),
    /ckpt: weight "h.1.mlp.c_fc.bias" is missing/,
  );
  const w2 = initWeights(gptConfig, 1);
  w2.set("ln_f.weight", { shape: [3], data: new Float32Array(3) });
  assert.throws(() => createLanguageModel(backend, gptConfig, w2), /ln_f.weight" has shape \[3\]/);
});

Deno.test("GPT: the head sliced over the vocabulary gives the same logits", async () => {
  for (const backend of await backends()) {
    const config: GptConfig = { ...(gptConfig as GptConfig), vocabSize: 200 };
    const weights = weightsFor(config, 9);
    const whole = createLanguageModel(backend, config, weights);
    const sliced = new GptInference(backend, config, weights, "x", 64 * 16 * 4); // 64-row slices
    const a = await whole.feed(ids.slice(0, 6)), b = await sliced.feed(ids.slice(0, 6));
    assert.ok(maxAbsDiff(a, b) < 1e-6, backend.kind);
    const fa = await whole.forwardAll(ids), fb = await sliced.forwardAll(ids);
    assert.ok(maxAbsDiff(fa, fb) < 1e-6, `${backend.kind} forwardAll`);
    whole.dispose(), sliced.dispose();
  }
});

Deno.test("feed(ids, into): the logits land in the caller's array, step after step, as in a new one", async () => {
  const list = await backends();
  try {
    list.push(await createBackend("native", { threads: 1 }));
  } catch (e) {
    console.log(`native unavailable (${(e as Error).message}): CPU and WebGPU only`);
  }
  const sliced: GptConfig = { ...(gptConfig as GptConfig), vocabSize: 200 };
  const cases: [string, ModelConfig, number?][] = [
    ["GPT", gptConfig],
    ["GPT, head in slices", sliced, 64 * 16 * 4],
    ["Llama", llamaGqa],
    ["RWKV-4", rwkvConfig],
    ["RWKV-5", rwkv5Config],
    ["RWKV-7", rwkv7Config],
  ];
  for (const backend of list) {
    for (const [name, config, sliceBytes] of cases) {
      const what = `${name} on ${backend.kind}`;
      const weights = weightsFor(config, 5);
      const plain = createLanguageModel(backend, config, weights);
      const reusing = sliceBytes
        ? new GptInference(backend, config as GptConfig, weights, "x", sliceBytes)
        : createLanguageModel(backend, config, weights);
      const into = new Float32Array(config.vocabSize);
      let expected = await plain.feed(ids.slice(0, 5));
      let got = await reusing.feed(ids.slice(0, 5), into);
      for (let step = 0; step < 4; step++) {
        assert.equal(got, into, `${what}: step ${step} returns the caller's array`);
        assert.notEqual(expected, into);
        assert.equal(maxAbsDiff(got, expected), 0, `${what}: step ${step}`);
        const next = ids[5 + step];
        expected = await plain.feed([next]);
        got = await reusing.feed([next], into);
      }
      plain.dispose(), reusing.dispose();
    }
    // read(t, into) wants the tensor's dtype and element count.
    const t = backend.fromArray([2, 2], new Float32Array([1, 2, 3, 4]));
    const into = new Float32Array(4);
    assert.equal(await backend.read(t, into), into);
    assert.deepEqual(Array.from(into), [1, 2, 3, 4]);
    assert.throws(() => backend.read(t, new Float32Array(3)), /read: into a Float32Array of 3/);
    assert.throws(() => backend.read(t, new Int32Array(4)), /read: into a Int32Array/);
    backend.free(t);
  }
});
