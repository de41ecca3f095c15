// Gradient check of the models against central finite differences, on the CPU backend in
// float64: the backward passes (written layer by layer) must match d(mean loss)/d(param).
import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import {
  createModel,
  type LlamaConfig,
  type ModelConfig,
  ParameterStore,
  Xoshiro128,
} from "../../src/model/mod.ts";
import {
  checkStoreGradients,
  meanLoss,
  perturbedWeights,
  TINY_GPT,
  TINY_LLAMA,
  TINY_RWKV,
  TINY_RWKV7,
  writeRandomBatch,
} from "../backend/gradcheck.ts";

// Multi-query attention, head size ≠ width / heads, untied head.
const LLAMA_MQA: LlamaConfig = {
  ...TINY_LLAMA,
  nHead: 2,
  nKvHead: 1,
  headDim: 6,
  tieEmbeddings: false,
};

function gradCheck(config: ModelConfig) {
  const backend = new CpuBackend({ precision: "f64" });
  const store = new ParameterStore(backend, config);
  const rng = new Xoshiro128(7);
  store.load(perturbedWeights(config, rng));
  const B = 2, T = 5, N = B * T;
  const model = createModel(backend, config, store, B, T);
  const valid = writeRandomBatch(backend, model, config.vocabSize, N, rng);
  backend.fill(store.grads, 0);
  model.forward(true, 1 / valid);
  model.backward();
  const checked = checkStoreGradients({
    layout: store.layout,
    params: backend.array(store.params) as Float64Array,
    grads: backend.array(store.grads) as Float64Array,
    loss: () => {
      model.forward(false);
      return meanLoss(backend, model.losses, valid);
    },
    rng,
    perWeight: 5,
  });
  assert.ok(checked > 50);
  model.free();
  store.free();
}

Deno.test("GPT backward matches finite differences (CPU, float64)", () => {
  gradCheck(TINY_GPT);
});

Deno.test("RWKV-4 backward matches finite differences (CPU, float64)", () => {
  gradCheck(TINY_RWKV);
});

Deno.test("Llama backward matches finite differences (CPU, float64; GQA tied, MQA untied)", () => {
  gradCheck(TINY_LLAMA);
  gradCheck(LLAMA_MQA);
});

Deno.test("RWKV-7 backward matches finite differences (CPU, float64)", () => {
  gradCheck(TINY_RWKV7);
});
