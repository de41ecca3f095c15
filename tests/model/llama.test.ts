// The Llama family: presets and their exact parameter counts, config.json as Hugging Face's
// LlamaConfig both ways (unsupported variants refused by name), checkpoints in Hugging Face's
// layout, the fused q|k|v view of the parameter buffer, and the CLI's `info`.
import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { encodeSafetensors, readSafetensors } from "../../src/io/safetensors.ts";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import {
  configFromJson,
  configToJson,
  initWeights,
  type LlamaConfig,
  loadCheckpoint,
  parameterCount,
  ParameterStore,
  presetConfig,
  saveCheckpoint,
  validateConfig,
} from "../../src/model/mod.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { runCliInProcess as bentevi } from "../_cli.ts";
import { tinyLlamaShape, writeHfLlama } from "../_hf_llama.ts";
import { llamaReferenceLogits } from "../_llama_reference.ts";
import { makeFixture } from "../train/helpers.ts";

const tmp = await Deno.makeTempDir({ prefix: "bentevi-llama-test-" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

function isBentevi(re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof BenteviError, `expected a BenteviError, got ${e}`);
    assert.match((e as Error).message, re);
    return true;
  };
}

/** A small Llama with GQA whose q|k|v members start off the 64-element view boundary. */
const SMALL: LlamaConfig = {
  arch: "llama",
  vocabSize: 50,
  contextLength: 32,
  dModel: 12,
  nLayer: 2,
  nHead: 3,
  nKvHead: 1,
  headDim: 4,
  ffnDim: 20,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  tieEmbeddings: true,
};

Deno.test("llama presets: exact parameter counts (llama-160m = TeenyTinyLlama-160m)", async () => {
  // 32000·768 (embeddings) + 32000·768 (untied head) + 12·(4·768² + 3·768·3072 + 2·768) + 768.
  assert.equal(parameterCount(presetConfig("llama-160m", 32000)), 162417408);
  // gpt-micro is 1,334,016 with the same 4096-token vocabulary.
  assert.equal(parameterCount(presetConfig("llama-micro", 4096)), 1311872);
  assert.equal(parameterCount(presetConfig("llama-mini", 4096)), 5770496);
  const i = await bentevi("info", "--model", "llama-160m");
  assert.equal(i.code, 0, i.stderr);
  assert.match(i.stdout, /parameters: 162,417,408 \(162417408\)/);
  assert.match(i.stdout, /vocabSize\s+32000/);
});

Deno.test("llama config.json: Hugging Face LlamaConfig both ways, defaults, variants refused", () => {
  const c = presetConfig("llama-micro", 300) as LlamaConfig;
  const j = configToJson(c);
  assert.deepEqual(j.architectures, ["LlamaForCausalLM"]);
  assert.equal(j.model_type, "llama");
  assert.equal(j.hidden_size, 128);
  assert.equal(j.num_key_value_heads, 2);
  assert.equal(j.head_dim, 32);
  assert.equal(j.hidden_act, "silu");
  assert.equal(j.tie_word_embeddings, true);
  assert.equal(j.rope_scaling, null);
  assert.deepEqual(configFromJson(JSON.parse(JSON.stringify(j))), c);
  const withIds = { ...c, bosTokenId: 1, eosTokenId: [2, 7] };
  assert.deepEqual(configFromJson(JSON.parse(JSON.stringify(configToJson(withIds)))), withIds);
  // transformers' defaults for the fields a config may leave out.
  const minimal = {
    model_type: "llama",
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 40,
    num_hidden_layers: 2,
    num_attention_heads: 4,
  };
  assert.deepEqual(configFromJson(minimal), {
    arch: "llama",
    vocabSize: 32,
    contextLength: 2048,
    dModel: 16,
    nLayer: 2,
    nHead: 4,
    nKvHead: 4,
    headDim: 4,
    ffnDim: 40,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    tieEmbeddings: false,
  });
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ rope_scaling: { rope_type: "llama3", factor: 8 } }, /rope_scaling \(type "llama3"\)/],
    [{ rope_scaling: { type: "linear", factor: 2 } }, /rope_scaling \(type "linear"\)/],
    [{ rope_parameters: { rope_type: "yarn" } }, /rope_parameters \(type "yarn"\)/],
    [{ sliding_window: 4096 }, /sliding_window 4096/],
    [{ attention_bias: true }, /attention_bias true/],
    [{ mlp_bias: true }, /mlp_bias true/],
    [{ hidden_act: "gelu" }, /hidden_act "gelu" \(only silu\)/],
    [{ architectures: ["LlamaForSequenceClassification"] }, /LlamaForSequenceClassification/],
    [{ num_key_value_heads: 3 }, /nHead 4 is not a multiple of nKvHead 3/],
    [{ head_dim: 5 }, /headDim 5 must be even/],
    [{ rms_norm_eps: -1 }, /rmsNormEps must be a positive number/],
    [{ tie_word_embeddings: "yes" }, /tie_word_embeddings/],
    [{ eos_token_id: "x" }, /eos_token_id/],
  ];
  for (const [extra, pattern] of refused) {
    assert.throws(
      () => configFromJson({ ...minimal, ...extra }, "c.json"),
      isBentevi(new RegExp(`^c\\.json: .*${pattern.source}`)),
      JSON.stringify(extra),
    );
  }
  // rope_theta read from transformers v5's rope_parameters; a "default" type is plain RoPE.
  const v5 = { ...minimal, rope_parameters: { rope_type: "default", rope_theta: 500000 } };
  assert.equal((configFromJson(v5) as LlamaConfig).ropeTheta, 500000);
  assert.throws(() => validateConfig({ ...SMALL, nKvHead: 0 }), isBentevi(/nKvHead must be/));
});

Deno.test("llama checkpoint: Hugging Face names and shapes, tied head, round trip", async () => {
  for (const tie of [true, false]) {
    const config: LlamaConfig = { ...SMALL, tieEmbeddings: tie };
    const weights = initWeights(config, 3);
    const dir = `${tmp}/ckpt-${tie}`;
    await saveCheckpoint(dir, { config, weights });
    const raw = await readSafetensors(`${dir}/model.safetensors`);
    assert.deepEqual(raw.tensors.get("model.layers.1.self_attn.q_proj.weight")!.shape, [12, 12]);
    assert.deepEqual(raw.tensors.get("model.layers.1.self_attn.k_proj.weight")!.shape, [4, 12]);
    assert.deepEqual(raw.tensors.get("model.layers.0.mlp.down_proj.weight")!.shape, [12, 20]);
    assert.deepEqual(raw.tensors.get("model.norm.weight")!.shape, [12]);
    assert.equal(raw.tensors.has("lm_head.weight"), !tie);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    assert.equal(json.tie_word_embeddings, tie);
    const back = await loadCheckpoint(dir);
    assert.deepEqual(back.config, config);
    for (const [k, t] of weights) assert.deepEqual(back.weights.get(k)!.data, t.data, k);
  }
  // A tied checkpoint that also stores lm_head (equal: accepted; different: refused by name),
  // and the RoPE buffers older transformers saved (ignored).
  const dir = `${tmp}/ckpt-true`;
  const w = initWeights(SMALL, 3);
  const tensors = new Map(w);
  tensors.set("lm_head.weight", w.get("model.embed_tokens.weight")!);
  tensors.set("model.layers.0.self_attn.rotary_emb.inv_freq", {
    shape: [2],
    data: new Float32Array([1, 0.01]),
  });
  await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
  assert.equal((await loadCheckpoint(dir)).weights.size, w.size);
  tensors.set("lm_head.weight", { shape: [50, 12], data: new Float32Array(600).fill(0.5) });
  await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
  await assert.rejects(() => loadCheckpoint(dir), isBentevi(/lm_head.weight differs/));
  // An attention bias in the file is not a weight of this model.
  tensors.set("lm_head.weight", w.get("model.embed_tokens.weight")!);
  tensors.set("model.layers.0.self_attn.q_proj.bias", { shape: [12], data: new Float32Array(12) });
  await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
  await assert.rejects(() => loadCheckpoint(dir), isBentevi(/unexpected weight.*q_proj\.bias/));
});

Deno.test("llama parameters: q, k and v of a layer are one fused view", async () => {
  const backend = new CpuBackend();
  const store = new ParameterStore(backend, SMALL);
  const weights = initWeights(SMALL, 5);
  store.load(weights);
  const fused = store.p("model.layers.1.self_attn.qkv_proj.weight");
  assert.deepEqual(fused.shape, [12 + 4 + 4, 12]);
  const data = await backend.read(fused);
  const parts = ["q_proj", "k_proj", "v_proj"].map((n) =>
    weights.get(`model.layers.1.self_attn.${n}.weight`)!.data
  );
  assert.deepEqual(data, Float32Array.from(parts.flatMap((p) => [...p])));
  // k starts at 144 elements after q, off the view boundary: reached through the fused view.
  assert.throws(
    () => store.p("model.layers.1.self_attn.k_proj.weight"),
    /reached through the fused view model.layers.1.self_attn.qkv_proj.weight/,
  );
  // Weights in and out of the buffer are unchanged.
  const back = await store.weights();
  for (const [k, t] of weights) assert.deepEqual(back.get(k)!.data, t.data, k);
  store.free();
});

Deno.test("llama-micro through the CLI: train, generate, predict, perplexity (CPU)", async () => {
  const fx = await makeFixture();
  const run = `${fx.dir}/run`;
  const t = await bentevi(
    "train",
    ...["--data", fx.text, "--tokenizer", fx.tokenizer, "--device", "cpu"],
    ...["--model", "llama-micro", "--out", run, "--steps", "3", "--batch-size", "2"],
    ...["--context", "16", "--eval-every", "3", "--eval-batches", "1", "--json"],
  );
  assert.equal(t.code, 0, t.stderr);
  const config = JSON.parse(await Deno.readTextFile(`${run}/step-000003/config.json`));
  assert.equal(config.architectures[0], "LlamaForCausalLM");
  const base = ["--checkpoint", run, "--device", "cpu"];
  const g = await bentevi(
    "generate",
    ...base,
    ...["--prompt", "O bem-te-vi", "--max-tokens", "6", "--seed", "1", "--json", "--ignore-eos"],
  );
  assert.equal(g.code, 0, g.stderr);
  assert.equal(JSON.parse(g.stdout).tokens.length, 6);
  const p = await bentevi("predict", ...base, "--prompt", "O bem", "--top", "3", "--json");
  assert.equal(p.code, 0, p.stderr);
  assert.equal(JSON.parse(p.stdout).top.length, 3);
  await Deno.writeTextFile(`${fx.dir}/short.txt`, "A menina abre a janela e sorri.\n".repeat(4));
  const ppl = await bentevi("perplexity", ...base, `${fx.dir}/short.txt`, "--json");
  assert.equal(ppl.code, 0, ppl.stderr);
  assert.ok(JSON.parse(ppl.stdout).perplexity > 1);
  await Deno.remove(fx.dir, { recursive: true });
});

Deno.test("Hugging Face Llama directories (BF16 sharded GQA, F32 tied) generate as the float64 reference", async () => {
  const backend = new CpuBackend();
  const ids = [5, 17, 2, 40, 33, 9, 1];
  const cases = [
    { shape: tinyLlamaShape(), dtype: "BF16" as const, shards: 3 },
    {
      shape: tinyLlamaShape({ tie_word_embeddings: true, num_key_value_heads: 1, head_dim: 6 }),
      dtype: "F32" as const,
      shards: 1,
    },
  ];
  for (const [n, { shape, dtype, shards }] of cases.entries()) {
    const dir = `${tmp}/hf-${n}`;
    const { weights } = await writeHfLlama(dir, shape, { dtype, shards, seed: n + 1 });
    const ck = await loadCheckpoint(dir, { lazy: true });
    assert.equal(ck.config.arch, "llama");
    const model = createLanguageModel(backend, ck.config, ck.weights, ck.weightsSource);
    const V = shape.vocab_size, ref = llamaReferenceLogits(shape, weights, ids);
    const full = await model.forwardAll(ids);
    const last = await model.feed(ids);
    for (let t = 0; t < ids.length; t++) {
      const row = full.subarray(t * V, t * V + V);
      const d = Math.max(...row.map((x, i) => Math.abs(x - ref[t][i])));
      assert.ok(d < 1e-4, `${dtype} t=${t}: ${d}`);
    }
    const dLast = Math.max(...last.map((x, i) => Math.abs(x - ref[ids.length - 1][i])));
    assert.ok(dLast < 1e-4, `${dtype} cached: ${dLast}`);
    model.dispose();
  }
});
