/**
 * Checkpoint directories (`config.json` + `model.safetensors`): loaded with `loadCheckpoint`,
 * then a language model is built on the CPU backend and fed two tokens. Safetensors mutants
 * edit the JSON header (and keep its length right), make the length lie, or flip data bytes.
 */
import { join } from "node:path";
import { initWeights, loadCheckpoint, saveCheckpoint } from "../../../src/model/mod.ts";
import { Tokenizer } from "../../../src/tokenizer/mod.ts";
import { createLanguageModel } from "../../../src/generate/inference.ts";
import type { FuzzFormat } from "../harness.ts";
import {
  below,
  concat,
  flipBits,
  lieInt,
  mutateBytes,
  mutateJsonBytes,
  type Rng,
} from "../mutate.ts";
import { cpuBackend, readTree, tinyGpt, tinyLlama, tinyRwkv } from "./_fixtures.ts";

/** Structure-aware safetensors mutation. */
export function mutateSafetensors(rng: Rng, bytes: Uint8Array): Uint8Array {
  if (bytes.length < 8) return mutateBytes(rng, bytes);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (n > bytes.length - 8) return mutateBytes(rng, bytes);
  const op = below(rng, 4);
  if (op <= 1) {
    const header = mutateJsonBytes(rng, bytes.subarray(8, 8 + n));
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(header.length), true);
    return concat(len, header, bytes.subarray(8 + n));
  }
  if (op === 2) return lieInt(rng, bytes, [{ offset: 0, size: 8 }]);
  // the data section: flip bits there (non-finite floats, odd values)
  const data = flipBits(rng, bytes.subarray(8 + n));
  return concat(bytes.subarray(0, 8 + n), data);
}

export const checkpoint: FuzzFormat = {
  name: "checkpoint",
  names: "tree",
  async seeds(work) {
    const seeds = [];
    for (const config of [tinyGpt(260), tinyRwkv(256), tinyLlama(256)]) {
      const dir = join(work, config.arch);
      await saveCheckpoint(dir, {
        config,
        weights: initWeights(config, 3),
        tokenizer: Tokenizer.byteLevel(),
        metadata: { note: "fuzz seed" },
      });
      seeds.push({
        label: config.arch,
        files: await readTree(dir),
        mutable: ["config.json", "model.safetensors"],
      });
    }
    return seeds;
  },
  mutate(rng, bytes, file) {
    return file.endsWith(".safetensors")
      ? mutateSafetensors(rng, bytes)
      : mutateJsonBytes(rng, bytes);
  },
  async run(root) {
    const ck = await loadCheckpoint(root);
    const model = createLanguageModel(await cpuBackend(), ck.config, ck.weights, root);
    try {
      // Two tokens, or one where the context holds one (the CLI cuts prompts to the context).
      await model.feed([1, 2].slice(0, model.maxContext));
    } finally {
      model.dispose();
    }
  },
};
