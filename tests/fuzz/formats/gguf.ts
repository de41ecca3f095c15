/**
 * GGUF files: exported here from tiny GPT-2 (F32, Q8_0) and Llama (Q4_0, untied head) models
 * with a trained tokenizer, then opened as a checkpoint (mapped through the native shim:
 * FFI), every tensor read and the embedded tokenizer built. Lies target every integer of the
 * header, the metadata (key and string lengths, value types, array lengths) and the tensor
 * infos (name lengths, dimension counts, dimensions, types, offsets).
 */
import { join } from "node:path";
import { exportGguf, type GgufExportType } from "../../../src/gguf/export.ts";
import { GGUF_VALUE_BYTES, GGUF_VALUE_TYPES } from "../../../src/gguf/format.ts";
import { loadCheckpoint, saveCheckpoint } from "../../../src/model/mod.ts";
import { initWeights } from "../../../src/model/mod.ts";
import type { ModelConfig } from "../../../src/model/registry.ts";
import { Tokenizer } from "../../../src/tokenizer/mod.ts";
import type { FuzzFormat } from "../harness.ts";
import { below, type IntField, lieInt, mutateBytes, type Rng } from "../mutate.ts";
import { smallTokenizer } from "./_fixtures.ts";

/** The integer fields of a valid GGUF file, found by walking its structure. */
export function ggufFields(b: Uint8Array): IntField[] {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: IntField[] = [{ offset: 4, size: 4 }, { offset: 8, size: 8 }, {
    offset: 16,
    size: 8,
  }];
  let p = 24;
  const str = () => {
    fields.push({ offset: p, size: 8 });
    p += 8 + Number(d.getBigUint64(p, true));
  };
  const nTensors = Number(d.getBigUint64(8, true)), nKv = Number(d.getBigUint64(16, true));
  for (let i = 0; i < nKv; i++) {
    str();
    fields.push({ offset: p, size: 4 });
    const type = GGUF_VALUE_TYPES[d.getUint32(p, true)];
    p += 4;
    if (type === "string") str();
    else if (type === "array") {
      fields.push({ offset: p, size: 4 }, { offset: p + 4, size: 8 });
      const item = GGUF_VALUE_TYPES[d.getUint32(p, true)];
      const n = Number(d.getBigUint64(p + 4, true));
      p += 12;
      if (item === "string") { for (let k = 0; k < n; k++) str(); }
      else p += n * GGUF_VALUE_BYTES[item];
    } else p += GGUF_VALUE_BYTES[type];
  }
  for (let i = 0; i < nTensors; i++) {
    str();
    const nDims = d.getUint32(p, true);
    fields.push({ offset: p, size: 4 });
    p += 4;
    for (let k = 0; k < nDims; k++, p += 8) fields.push({ offset: p, size: 8 });
    fields.push({ offset: p, size: 4 }, { offset: p + 4, size: 8 });
    p += 12;
  }
  return fields;
}

const TINY: Record<string, (v: number) => ModelConfig> = {
  gpt: (vocabSize) => ({
    arch: "gpt",
    vocabSize,
    contextLength: 16,
    dModel: 32,
    nLayer: 1,
    nHead: 2,
    mlpDim: 64,
    layerNormEps: 1e-5,
  }),
  llama: (vocabSize) => ({
    arch: "llama",
    vocabSize,
    contextLength: 16,
    dModel: 32,
    nLayer: 1,
    nHead: 2,
    nKvHead: 1,
    headDim: 16,
    ffnDim: 64,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieEmbeddings: false,
  }),
};

const fieldsOf = new Map<string, IntField[]>();

export const ggufFile: FuzzFormat = {
  name: "gguf",
  ffi: true,
  async seeds(work) {
    await Deno.mkdir(work, { recursive: true });
    const tok = await smallTokenizer();
    const seeds = [];
    for (
      const [arch, type] of [["gpt", "f32"], ["gpt", "q8_0"], ["llama", "q4_0"]] as [
        string,
        GgufExportType,
      ][]
    ) {
      const config = TINY[arch](tok.vocabSize);
      const ckpt = join(work, `${arch}-ckpt`);
      await saveCheckpoint(ckpt, { config, weights: initWeights(config, 5), tokenizer: tok });
      const out = join(work, `${arch}-${type}.gguf`);
      await exportGguf(ckpt, { out, type });
      const bytes = await Deno.readFile(out);
      fieldsOf.set(`${arch}-${type}`, ggufFields(bytes));
      seeds.push({ label: `${arch}-${type}`, files: { "model.gguf": bytes } });
    }
    return seeds;
  },
  mutate(rng: Rng, bytes: Uint8Array) {
    // The seed a mutant comes from is not passed: every seed's fields are tried, and those
    // past the end fall back to bit flips.
    const all = [...fieldsOf.values()];
    return below(rng, 3) < 2
      ? lieInt(rng, bytes, all[below(rng, all.length)])
      : mutateBytes(rng, bytes);
  },
  async run(_root, file) {
    const ckpt = await loadCheckpoint(file);
    try {
      Tokenizer.fromJSON(ckpt.embeddedTokenizer!.json, file).encode("O bem-te-vi canta.");
    } finally {
      ckpt.close?.();
    }
  },
};
