/**
 * Hugging Face checkpoint directories in the layouts Bentevi reads besides its own: a
 * `LlamaForCausalLM` directory and GPT-2 ones, BF16/F16 tensors in shards
 * `model-0000N-of-0000M.safetensors` listed by
 * `model.safetensors.index.json`, with a `generation_config.json`. Loaded the way generation
 * loads them (`loadCheckpoint` lazily, weights copied one at a time into a CPU model, two
 * tokens fed). Mutants edit the index and the generation config as JSON, and the shards as
 * safetensors (header, length, data bits).
 */
import { join } from "node:path";
import { initWeights, loadCheckpoint, saveCheckpoint } from "../../../src/model/mod.ts";
import { readSafetensors } from "../../../src/io/safetensors.ts";
import { Tokenizer } from "../../../src/tokenizer/mod.ts";
import { createLanguageModel } from "../../../src/generate/inference.ts";
import type { FuzzFormat, Seed } from "../harness.ts";
import { mutateJsonBytes } from "../mutate.ts";
import { encodeFile, type RefWeights, tinyLlamaShape, writeHfLlama } from "../../_hf_llama.ts";
import { mutateSafetensors } from "./checkpoint.ts";
import { cpuBackend, readTree, tinyGpt, utf8 } from "./_fixtures.ts";

/** Rewrites a saved checkpoint's weights as `shards` files of `dtype` with an index. */
async function shard(dir: string, dtype: "BF16" | "F16", shards: number): Promise<void> {
  const file = await readSafetensors(join(dir, "model.safetensors"));
  const tensors: RefWeights = new Map(
    [...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.data) }]),
  );
  await Deno.remove(join(dir, "model.safetensors"));
  const names = [...tensors.keys()];
  const per = Math.ceil(names.length / shards);
  const map: Record<string, string> = {};
  for (let k = 0; k < shards; k++) {
    const name = `model-0000${k + 1}-of-0000${shards}.safetensors`;
    const part: RefWeights = new Map();
    for (const n of names.slice(k * per, (k + 1) * per)) {
      part.set(n, tensors.get(n)!);
      map[n] = name;
    }
    await Deno.writeFile(join(dir, name), encodeFile(part, () => dtype));
  }
  await Deno.writeTextFile(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: map }, null, 2),
  );
}

export const hfCheckpoint: FuzzFormat = {
  name: "hf-checkpoint",
  names: "tree",
  async seeds(work) {
    const seeds: Seed[] = [];
    for (const [label, dtype, shards] of [["bf16-2", "BF16", 2], ["f16-3", "F16", 3]] as const) {
      const config = tinyGpt(260);
      const dir = join(work, label);
      await saveCheckpoint(dir, {
        config,
        weights: initWeights(config, 5),
        tokenizer: Tokenizer.byteLevel(),
      });
      await shard(dir, dtype, shards);
      await Deno.writeFile(
        join(dir, "generation_config.json"),
        utf8(JSON.stringify({
          do_sample: true,
          temperature: 0.7,
          top_p: 0.9,
          top_k: 40,
          max_new_tokens: 16,
          eos_token_id: [0, 1],
        })),
      );
      const files = await readTree(dir);
      seeds.push({
        label,
        files,
        mutable: Object.keys(files).filter((f) => f !== "tokenizer.json"),
      });
    }
    // a LlamaForCausalLM directory: GQA, tied head, BF16 in two shards
    const llama = join(work, "llama-bf16-2");
    await writeHfLlama(
      llama,
      tinyLlamaShape({
        vocab_size: 260,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 1,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        max_position_embeddings: 32,
        tie_word_embeddings: true,
      }),
      {
        dtype: "BF16",
        shards: 2,
        seed: 3,
        tokenizer: Tokenizer.byteLevel().toJSON(),
        generationConfig: { do_sample: true, temperature: 0.6, top_p: 0.9, eos_token_id: 2 },
      },
    );
    const files = await readTree(llama);
    seeds.push({
      label: "llama-bf16-2",
      files,
      mutable: Object.keys(files).filter((f) => f !== "tokenizer.json"),
    });
    return seeds;
  },
  mutate(rng, bytes, file) {
    return file.endsWith(".safetensors")
      ? mutateSafetensors(rng, bytes)
      : mutateJsonBytes(rng, bytes);
  },
  async run(root) {
    const ck = await loadCheckpoint(root, { lazy: true });
    const model = createLanguageModel(await cpuBackend(), ck.config, ck.weights, ck.weightsSource);
    try {
      await model.feed([1, 2]);
    } finally {
      model.dispose();
    }
  },
};
