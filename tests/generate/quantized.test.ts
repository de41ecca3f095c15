// Quantized inference (--quantize): GPT-2 and Llama with their linear layers and output head
// as Q8_0/Q4_0 blocks (Backend.matmulQuant) give the logits of the float model whose weights
// are the dequantized blocks (dequantize-then-float; a tied table is looked up dequantized
// too, an untied embedding stays float), decoding one token at a time and in prefill, on the
// CPU and WebGPU backends; the quantized head sliced over a larger vocabulary gives the same
// logits; a GGUF file's own blocks are used by default; RWKV-4 refuses.
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/mod.ts";
import type { Backend } from "../../src/backend/backend.ts";
import { GptInference } from "../../src/model/gpt/inference.ts";
import { LlamaInference } from "../../src/model/llama/inference.ts";
import type { GptConfig, LlamaConfig, ModelConfig } from "../../src/model/mod.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { openGenerationModel } from "../../src/generate/load.ts";
import { exportGguf } from "../../src/gguf/export.ts";
import { initWeights, loadCheckpoint, presetConfig, saveCheckpoint } from "../../src/model/mod.ts";
import type { NamedTensor } from "../../src/io/safetensors.ts";
import { dequantize, quantize, type QuantType } from "../../src/quant/mod.ts";
import { trainTokenizer } from "../../src/tokenizer/mod.ts";
import { gpuBackend, gpuTest } from "../backend/webgpu_parity.ts";
import { tempDir } from "../_tmp.ts";

const LINEAR =
  /(c_attn|c_proj|c_fc|q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$/;

/** The output head's weight: GPT-2's tied `wte`, Llama's tied embeddings or `lm_head`. */
function headName(config: ModelConfig): string {
  if (config.arch === "gpt") return "wte.weight";
  return "tieEmbeddings" in config && !config.tieEmbeddings
    ? "lm_head.weight"
    : "model.embed_tokens.weight";
}

/**
 * The weights with every linear layer and the output head replaced by their dequantized
 * blocks (rows of inputs).
 */
function dequantized(weights: Map<string, NamedTensor>, type: QuantType, config: ModelConfig) {
  const out = new Map<string, NamedTensor>(), arch = config.arch, head = headName(config);
  for (const [name, t] of weights) {
    if (name === head) {
      out.set(name, {
        shape: t.shape,
        data: dequantize(type, quantize(type, t.data), t.data.length),
      });
      continue;
    }
    if (!LINEAR.test(name)) {
      out.set(name, t);
      continue;
    }
    const [r, c] = t.shape;
    const inOut = arch === "gpt"; // GPT-2's Conv1D: [in, out]
    let rows = t.data;
    if (inOut) {
      rows = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) rows[j * r + i] = t.data[i * c + j];
    }
    const back = dequantize(type, quantize(type, rows), rows.length);
    let data = back;
    if (inOut) {
      data = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) data[i * c + j] = back[j * r + i];
    }
    out.set(name, { shape: t.shape, data });
  }
  return out;
}

async function compare(be: Backend, tol: number) {
  const untied = { ...presetConfig("llama-micro", 96), tieEmbeddings: false } as ModelConfig;
  for (const config of [presetConfig("gpt-micro", 96), presetConfig("llama-micro", 96), untied]) {
    const preset = `${config.arch}${
      "tieEmbeddings" in config ? ` tied=${config.tieEmbeddings}` : ""
    }`;
    const weights = initWeights(config, 4);
    for (const type of ["q8_0", "q4_0"] as const) {
      const q = createLanguageModel(be, config, weights, "x", { quantize: type });
      const f = createLanguageModel(be, config, dequantized(weights, type, config));
      const ids = [5, 17, 3, 90, 41, 8, 8, 60];
      const prefill = [await q.feed(ids.slice(0, 5)), await f.feed(ids.slice(0, 5))];
      const step = [await q.feed([ids[5]]), await f.feed([ids[5]])];
      const all = [await q.forwardAll(ids), await f.forwardAll(ids)];
      for (const [what, [a, b]] of Object.entries({ prefill, step, all })) {
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        assert.ok(worst <= tol, `${be.kind} ${preset} ${type} ${what}: max |Δ| ${worst}`);
      }
      q.dispose();
      f.dispose();
    }
  }
}

Deno.test("quantized inference (CPU) = the float model of the dequantized blocks (GPT-2, Llama; Q8_0, Q4_0)", async () => {
  await compare(await createBackend("cpu"), 1e-4);
});

Deno.test({
  name: "quantized inference (WebGPU) = the float model of the dequantized blocks",
  ...gpuTest,
  fn: async () => {
    await compare(await gpuBackend(), 1e-3);
  },
});

async function slicedHead(be: Backend) {
  for (const preset of ["gpt-micro", "llama-micro"]) {
    const config = presetConfig(preset, 600);
    const weights = initWeights(config, 5);
    for (const type of ["q8_0", "q4_0"] as const) {
      const options = { quantize: type };
      // Slices of 256 rows (the smallest whose blocks start on an aligned word): 256, 256, 88.
      const slice = 256 * (config.dModel / 32) * (type === "q8_0" ? 34 : 18);
      const whole = createLanguageModel(be, config, weights, "x", options);
      const sliced = config.arch === "gpt"
        ? new GptInference(be, config as GptConfig, weights, "x", slice, options)
        : new LlamaInference(be, config as LlamaConfig, weights, "x", slice, options);
      const ids = [5, 17, 3, 590, 41, 8];
      const pairs = [
        [await whole.feed(ids.slice(0, 4)), await sliced.feed(ids.slice(0, 4))],
        [await whole.feed([ids[4]]), await sliced.feed([ids[4]])],
        [await whole.forwardAll(ids), await sliced.forwardAll(ids)],
      ];
      for (const [a, b] of pairs) {
        assert.equal(a.length, b.length);
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        assert.ok(worst <= 1e-5, `${be.kind} ${preset} ${type} sliced head: max |Δ| ${worst}`);
      }
      whole.dispose();
      sliced.dispose();
    }
  }
}

Deno.test("a quantized head sliced over a larger vocabulary gives the same logits (CPU; GPT-2, Llama)", async () => {
  await slicedHead(await createBackend("cpu"));
});

Deno.test({
  name: "a quantized head sliced over a larger vocabulary gives the same logits (WebGPU)",
  ...gpuTest,
  fn: async () => {
    await slicedHead(await gpuBackend());
  },
});

Deno.test("a Q4_0 GGUF decodes with its own blocks by default; --quantize f32 keeps floats; RWKV-4 refuses", async () => {
  await using tmp = await tempDir({ prefix: "bentevi-quant-" });
  const dir = tmp.path;
  const tok = await trainTokenizer(
    (async function* () {
      yield "O bem-te-vi canta na árvore do quintal.\n".repeat(10);
    })(),
    { vocabSize: 280 },
  );
  const config = presetConfig("llama-micro", tok.vocabSize);
  const weights = initWeights(config, 9);
  await saveCheckpoint(`${dir}/c`, { config, weights, tokenizer: tok });
  await exportGguf(`${dir}/c`, { out: `${dir}/m.gguf`, type: "q4_0" });
  const ids = tok.encode("O bem-te-vi");
  const byDefault = await openGenerationModel(`${dir}/m.gguf`, { device: "cpu" });
  const floats = await openGenerationModel(`${dir}/m.gguf`, { device: "cpu", quantize: "f32" });
  const file = await loadCheckpoint(`${dir}/m.gguf`);
  const explicit = createLanguageModel(byDefault.model.backend, file.config, file.weights, "x", {
    quantize: "q4_0",
  });
  const [a, b, c] = [
    await byDefault.model.feed(ids),
    await floats.model.feed(ids),
    await explicit.feed(ids),
  ];
  // By default the file's own type: the model of its weights quantized as Q4_0 (re-quantizing
  // its dequantized blocks gives its blocks back, tests/quant/blocks.test.ts).
  let same = 0, differs = 0;
  for (let i = 0; i < a.length; i++) {
    same = Math.max(same, Math.abs(a[i] - c[i]));
    differs = Math.max(differs, Math.abs(a[i] - b[i]));
  }
  assert.ok(same < 1e-5, `file blocks vs the same blocks: ${same}`);
  assert.ok(differs > 0, "f32 decodes with floats");
  for (const m of [byDefault, floats]) m.model.dispose();
  const rwkv = presetConfig("rwkv-micro", 64);
  assert.throws(
    () =>
      createLanguageModel(byDefault.model.backend, rwkv, initWeights(rwkv, 1), "r", {
        quantize: "q8_0",
      }),
    /RWKV-4 runs in float32/,
  );
});
