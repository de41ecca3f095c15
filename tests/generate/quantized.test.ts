// Quantized inference (--quantize): GPT-2 and Llama with their linear layers as Q8_0/Q4_0
// blocks (Backend.matmulQuant) give the logits of the float model whose weights are the
// dequantized blocks (dequantize-then-float), decoding one token at a time and in prefill, on
// the CPU and WebGPU backends; a GGUF file's own blocks are used by default; RWKV-4 refuses.
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/mod.ts";
import type { Backend } from "../../src/backend/backend.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { openGenerationModel } from "../../src/generate/load.ts";
import { exportGguf } from "../../src/gguf/export.ts";
import { initWeights, loadCheckpoint, presetConfig, saveCheckpoint } from "../../src/model/mod.ts";
import type { NamedTensor } from "../../src/io/safetensors.ts";
import { dequantize, quantize, type QuantType } from "../../src/quant/mod.ts";
import { trainTokenizer } from "../../src/tokenizer/mod.ts";
import { gpuBackend, gpuTest } from "../backend/webgpu_parity.ts";

const LINEAR =
  /(c_attn|c_proj|c_fc|q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$/;

/** The weights with every linear layer replaced by its dequantized blocks (rows of inputs). */
function dequantized(weights: Map<string, NamedTensor>, type: QuantType, arch: string) {
  const out = new Map<string, NamedTensor>();
  for (const [name, t] of weights) {
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
  for (const preset of ["gpt-micro", "llama-micro"]) {
    const config = presetConfig(preset, 96);
    const weights = initWeights(config, 4);
    for (const type of ["q8_0", "q4_0"] as const) {
      const q = createLanguageModel(be, config, weights, "x", { quantize: type });
      const f = createLanguageModel(be, config, dequantized(weights, type, config.arch));
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

Deno.test("a Q4_0 GGUF decodes with its own blocks by default; --quantize f32 keeps floats; RWKV-4 refuses", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bentevi-quant-" });
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
