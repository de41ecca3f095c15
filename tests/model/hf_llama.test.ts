// Hugging Face Llama directories both ways. Random LlamaForCausalLM checkpoints (written by
// tests/_hf_llama.ts's own encoder: F32/F16/BF16, one file or shards + index, GQA/MQA/MHA,
// tied/untied, head_dim ≠ hidden/heads) are loaded and Bentevi's logits compared with the
// independent float64 reference of tests/_llama_reference.ts, whole-sequence and cached;
// Bentevi's own Llama checkpoints are checked to be in HF's layout (names, shapes, config
// fields); every command that takes a checkpoint runs on such a directory; fine-tuning starts
// from its weights.
import assert from "node:assert/strict";
import { join } from "node:path";
import { BenteviError } from "../../src/errors.ts";
import { openGenerationModel } from "../../src/generate/load.ts";
import { readSafetensors, readSafetensorsHeader } from "../../src/io/safetensors.ts";
import {
  configFromJson,
  initWeights,
  loadCheckpoint,
  saveCheckpoint,
} from "../../src/model/mod.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import {
  type HfLlamaShape,
  llamaConfigJson,
  randomLlamaWeights,
  type RefWeights,
  type StoredDType,
  tinyLlamaShape,
  writeHfLlama,
} from "../_hf_llama.ts";
import { llamaReferenceLogits, maxDiff } from "../_llama_reference.ts";
import { runCli, runCliInProcess } from "../_cli.ts";
import { moduleTempDir } from "../_tmp.ts";

const tmp = await moduleTempDir({ prefix: "bentevi-hf-llama-" });
const byteTokenizer = Tokenizer.byteLevel().toJSON();

interface Variant {
  name: string;
  shape: HfLlamaShape;
  dtype: StoredDType;
  shards: number;
  tiedHeadInFile?: boolean;
}

const VARIANTS: Variant[] = [
  { name: "F32, GQA 4/2, untied", shape: tinyLlamaShape(), dtype: "F32", shards: 1 },
  { name: "BF16, GQA 4/2, untied, 3 shards", shape: tinyLlamaShape(), dtype: "BF16", shards: 3 },
  {
    name: "F16, multi-query, tied, head_dim 16, theta 5e5, 2 shards",
    shape: tinyLlamaShape({
      tie_word_embeddings: true,
      num_key_value_heads: 1,
      head_dim: 16,
      rope_theta: 500000,
      rms_norm_eps: 1e-6,
    }),
    dtype: "F16",
    shards: 2,
  },
  {
    name: "BF16, multi-head, tied with lm_head saved too",
    shape: tinyLlamaShape({
      tie_word_embeddings: true,
      num_key_value_heads: 4,
      num_hidden_layers: 3,
    }),
    dtype: "BF16",
    shards: 1,
    tiedHeadInFile: true,
  },
];

const IDS = [1, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 33, 299, 0, 5, 200, 200, 17];

function close(got: ArrayLike<number>[], want: Float64Array[], what: string): void {
  const { diff, scale } = maxDiff(got, want);
  // float32 arithmetic against float64: a few units of 1e-6 relative to the logits' size
  assert.ok(diff <= 1e-4 * Math.max(1, scale), `${what}: max |Δ| ${diff} (logits up to ${scale})`);
  assert.ok(scale > 0.5, `${what}: the logits are not trivially small (${scale})`);
}

function rows(flat: Float32Array, V: number): Float32Array[] {
  return Array.from({ length: flat.length / V }, (_, t) => flat.subarray(t * V, (t + 1) * V));
}

for (const v of VARIANTS) {
  Deno.test(`HF Llama ${v.name}: logits match the float64 reference`, async () => {
    const dir = join(tmp, v.name.replace(/[^a-z0-9]+/gi, "-"));
    const { weights, files } = await writeHfLlama(dir, v.shape, {
      dtype: v.dtype,
      shards: v.shards,
      seed: 11,
      tokenizer: byteTokenizer,
      tiedHeadInFile: v.tiedHeadInFile,
    });
    assert.equal(files.length, v.shards);
    const want = llamaReferenceLogits(v.shape, weights, IDS);
    const { model } = await openGenerationModel(dir, { device: "cpu", log: () => {} });
    try {
      assert.equal(model.config.arch, "llama");
      const V = v.shape.vocab_size;
      close(rows(await model.forwardAll(IDS), V), want, "forwardAll");
      // cached, fed in three pieces: each piece's last logits
      model.reset();
      const cuts = [0, 7, 8, IDS.length];
      for (let k = 1; k < cuts.length; k++) {
        const logits = await model.feed(IDS.slice(cuts[k - 1], cuts[k]));
        close([logits], [want[cuts[k] - 1]], `cached at ${cuts[k]}`);
      }
    } finally {
      model.dispose();
      model.backend.destroy();
    }
  });
}

Deno.test("HF Llama: the reference tells a wrong RoPE or head grouping apart", () => {
  // The comparison can fail: the same weights read as another config differ clearly.
  const shape = tinyLlamaShape();
  const w = randomLlamaWeights(shape, 11);
  const base = llamaReferenceLogits(shape, w, IDS);
  const theta = llamaReferenceLogits({ ...shape, rope_theta: 500 }, w, IDS);
  assert.ok(maxDiff(theta, base).diff > 1e-2);
});

Deno.test("HF Llama: shapes that contradict config.json are refused naming file and weight", async () => {
  const dir = join(tmp, "wrong-kv");
  await writeHfLlama(dir, tinyLlamaShape(), { dtype: "BF16", shards: 2, tokenizer: byteTokenizer });
  // config says 1 KV head; the files hold k/v projections of 2
  const config = llamaConfigJson(tinyLlamaShape({ num_key_value_heads: 1 }), "BF16");
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
  await assert.rejects(() => loadCheckpoint(dir), (e: unknown) => {
    assert.ok(e instanceof BenteviError);
    assert.match(
      e.message,
      /model\.safetensors\.index\.json: weight model\.layers\.0\.self_attn\.k_proj\.weight has shape \[16,32\], the configuration needs \[8,32\]/,
    );
    return true;
  });
  // a layer missing from every shard
  const more = llamaConfigJson(tinyLlamaShape({ num_hidden_layers: 3 }), "BF16");
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(more));
  await assert.rejects(
    () => loadCheckpoint(dir),
    /index\.json: weight model\.layers\.2\.input_layernorm\.weight is missing/,
  );
});

Deno.test("Bentevi's Llama checkpoints are Hugging Face LlamaForCausalLM directories", async () => {
  const shape = tinyLlamaShape({ num_hidden_layers: 2 });
  const config = configFromJson(llamaConfigJson(shape, "F32"), "config.json");
  assert.equal(config.arch, "llama");
  const dir = join(tmp, "saved");
  // random weights large enough for a telling comparison (initWeights' are near zero)
  const weights = new Map(
    [...randomLlamaWeights(shape, 3)].map(([k, t]) => [
      k,
      { shape: t.shape, data: Float32Array.from(t.data) },
    ]),
  );
  assert.ok(initWeights(config, 3).size === weights.size);
  await saveCheckpoint(dir, { config, weights, tokenizer: Tokenizer.byteLevel() });
  const cj = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  assert.deepEqual(cj.architectures, ["LlamaForCausalLM"]);
  assert.equal(cj.model_type, "llama");
  for (
    const [k, want] of Object.entries({
      vocab_size: 300,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 64,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
      hidden_act: "silu",
      torch_dtype: "float32",
    })
  ) assert.equal(cj[k], want, k);
  assert.ok(cj.rope_scaling === null || cj.rope_scaling === undefined);
  assert.ok(!cj.attention_bias && !cj.mlp_bias);
  // Exactly HF's tensor names and [out, in] shapes, F32, "pt" format metadata.
  const header = await readSafetensorsHeader(join(dir, "model.safetensors"));
  assert.equal(header.metadata.format, "pt");
  const hf = randomLlamaWeights(shape, 1);
  assert.deepEqual([...header.tensors.keys()].sort(), [...hf.keys()].sort());
  for (const [name, e] of header.tensors) {
    assert.equal(e.dtype, "F32", name);
    assert.deepEqual(e.shape, hf.get(name)!.shape, name);
  }
  // And they mean what HF means: the reference on the saved tensors = Bentevi's logits.
  const saved = await readSafetensors(join(dir, "model.safetensors"));
  const w: RefWeights = new Map(
    [...saved.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.data) }]),
  );
  const { model } = await openGenerationModel(dir, { device: "cpu", log: () => {} });
  try {
    close(
      rows(await model.forwardAll(IDS), 300),
      llamaReferenceLogits(shape, w, IDS),
      "saved",
    );
  } finally {
    model.dispose();
    model.backend.destroy();
  }
});

Deno.test("generate, predict, perplexity, eval, chat and fine-tuning take an HF Llama dir", async () => {
  const dir = join(tmp, "cli");
  await writeHfLlama(dir, tinyLlamaShape(), {
    dtype: "BF16",
    shards: 2,
    tokenizer: byteTokenizer,
    generationConfig: { do_sample: false, max_new_tokens: 5, eos_token_id: 2 },
  });
  const text = join(tmp, "texto.txt");
  await Deno.writeTextFile(
    text,
    "O bem-te-vi canta no galho da mangueira logo cedo, quando o sol ainda é fraco.\n".repeat(20),
  );
  const ck = ["--checkpoint", dir, "--device", "cpu"];
  const g = await runCliInProcess("generate", ...ck, "--prompt", "Olá", "--json");
  assert.equal(g.code, 0, g.stderr);
  const gj = JSON.parse(g.stdout);
  assert.ok(gj.tokens.length <= 5 && (gj.tokens.length === 5 || gj.finish_reason !== "length"));
  const p = await runCliInProcess("predict", ...ck, "--prompt", "Olá", "--top", "3", "--json");
  assert.equal(p.code, 0, p.stderr);
  assert.equal(JSON.parse(p.stdout).top.length, 3);
  const pp = await runCliInProcess("perplexity", ...ck, text, "--max-tokens", "40", "--json");
  assert.equal(pp.code, 0, pp.stderr);
  assert.ok(JSON.parse(pp.stdout).perplexity > 1);
  const ev = await runCliInProcess(
    "eval",
    ...ck,
    "--data",
    text,
    "--batch-size",
    "2",
    "--context",
    "16",
    "--batches",
    "2",
    "--json",
  );
  assert.equal(ev.code, 0, ev.stderr);
  assert.ok(JSON.parse(ev.stdout).loss > 0);
  const chat = await runCli([...["chat", ...ck], "--max-tokens", "4"], { stdin: "Olá\n" });
  assert.equal(chat.code, 0, chat.stderr);

  // fine-tuning: a run from the directory's weights (a tiny learning rate keeps them)
  const run = join(tmp, "finetune");
  const t = await runCliInProcess(
    "train",
    "--model",
    dir,
    "--data",
    text,
    "--tokenizer",
    join(dir, "tokenizer.json"),
    "--out",
    run,
    "--device",
    "cpu",
    "--steps",
    "2",
    "--batch-size",
    "2",
    "--context",
    "16",
    "--lr",
    "1e-9",
    "--json",
  );
  assert.equal(t.code, 0, t.stderr);
  const runJson = JSON.parse(await Deno.readTextFile(join(run, "run.json")));
  assert.equal(runJson.initFrom, dir);
  const before = await loadCheckpoint(dir);
  const after = await loadCheckpoint(run);
  assert.equal(after.config.arch, "llama");
  let diff = 0;
  for (const [name, t0] of before.weights) {
    const t1 = after.weights.get(name)!.data;
    for (let i = 0; i < t1.length; i++) diff = Math.max(diff, Math.abs(t1[i] - t0.data[i]));
  }
  assert.ok(diff < 1e-5, `fine-tuned weights moved ${diff} from the directory's`);
  const r = await runCliInProcess("resume", run, "--steps", "3", "--device", "cpu", "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).step, 3);
});

Deno.test("HF Llama: a 1M-position context allocates on use; the cache grows and keeps its content", async () => {
  const shape = tinyLlamaShape({ max_position_embeddings: 1 << 20, num_hidden_layers: 1 });
  const dir = join(tmp, "long");
  const { weights } = await writeHfLlama(dir, shape, { dtype: "BF16", tokenizer: byteTokenizer });
  const ids = Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 300);
  const want = llamaReferenceLogits(shape, weights, ids);
  const { model } = await openGenerationModel(dir, { device: "cpu", log: () => {} });
  try {
    assert.equal(model.maxContext, 1 << 20);
    close([await model.feed(ids.slice(0, 200))], [want[199]], "before growing");
    close([await model.feed(ids.slice(200, 299))], [want[298]], "grown past 256");
    const state = await model.exportState();
    model.reset();
    model.importState(state, ids.slice(0, 299));
    close([await model.feed(ids.slice(299))], [want[299]], "after a state round trip");
  } finally {
    model.dispose();
    model.backend.destroy();
  }
});

Deno.test("HF Llama: without generation_config.json, config.json's eos_token_id ends the text", async () => {
  const dir = join(tmp, "eos");
  await writeHfLlama(dir, tinyLlamaShape({ eos_token_id: 299 }), { tokenizer: byteTokenizer });
  const gen = async () => {
    const r = await runCliInProcess(
      "generate",
      "--checkpoint",
      dir,
      "--prompt",
      "Olá",
      "--device",
      "cpu",
      "--temperature",
      "0",
      "--max-tokens",
      "4",
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { tokens: number[]; finish_reason: string };
  };
  const free = await gen();
  assert.equal(free.tokens.length, 4);
  const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify({ ...config, eos_token_id: [7, free.tokens[0]] }),
  );
  const ended = await gen();
  assert.deepEqual(ended.tokens, []);
  assert.equal(ended.finish_reason, "end-of-text");
});
