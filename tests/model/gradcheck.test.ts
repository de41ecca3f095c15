// Gradient check of the models against central finite differences, on the CPU backend in
// float64: the backward passes (written layer by layer) must match d(mean loss)/d(param).
import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import {
  createModel,
  type GptConfig,
  initWeights,
  type LlamaConfig,
  type ModelConfig,
  ParameterStore,
  type Rwkv7Config,
  type RwkvConfig,
  Xoshiro128,
} from "../../src/model/mod.ts";

const GPT: GptConfig = {
  arch: "gpt",
  vocabSize: 11,
  contextLength: 8,
  dModel: 8,
  nLayer: 2,
  nHead: 2,
  mlpDim: 12,
  layerNormEps: 1e-5,
};
const RWKV: RwkvConfig = {
  arch: "rwkv",
  vocabSize: 11,
  contextLength: 8,
  dModel: 8,
  nLayer: 2,
  ffnDim: 12,
  layerNormEps: 1e-5,
};

// Two heads of 4, low ranks of different sizes, two layers (the second mixes in v_first).
const RWKV7: Rwkv7Config = {
  arch: "rwkv7",
  vocabSize: 11,
  contextLength: 8,
  dModel: 8,
  nLayer: 2,
  ffnDim: 12,
  headSize: 4,
  decayLora: 3,
  aLora: 2,
  vLora: 3,
  gateLora: 2,
  layerNormEps: 1e-5,
  groupNormEps: 64e-5,
};

// Grouped-query attention (4 heads, 2 kv heads), tied head; the fused q|k|v view's v starts
// off the 64-element view boundary.
const LLAMA_GQA: LlamaConfig = {
  arch: "llama",
  vocabSize: 11,
  contextLength: 8,
  dModel: 8,
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  headDim: 2,
  ffnDim: 12,
  rmsNormEps: 1e-5,
  ropeTheta: 10,
  tieEmbeddings: true,
};
// Multi-query attention, head size ≠ width / heads, untied head.
const LLAMA_MQA: LlamaConfig = {
  ...LLAMA_GQA,
  nHead: 2,
  nKvHead: 1,
  headDim: 6,
  tieEmbeddings: false,
};

function gradCheck(config: ModelConfig) {
  const backend = new CpuBackend({ precision: "f64" });
  const store = new ParameterStore(backend, config);
  const rng = new Xoshiro128(7);
  const weights = initWeights(config, 1);
  // Perturb every weight so no gradient is trivially zero (RWKV zero-inits some matrices).
  for (const t of weights.values()) {
    for (let i = 0; i < t.data.length; i++) t.data[i] += 0.3 * rng.normal();
  }
  store.load(weights);
  const B = 2, T = 5, N = B * T;
  const model = createModel(backend, config, store, B, T);
  const ids = new Int32Array(N), targets = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    ids[i] = rng.nextUint32() % config.vocabSize;
    targets[i] = rng.nextUint32() % config.vocabSize;
  }
  targets[3] = -1; // an ignored position
  backend.write(model.ids, ids);
  backend.write(model.targets, targets);
  const valid = N - 1;
  const loss = () => {
    model.forward(false);
    const l = backend.array(model.losses) as Float64Array;
    let s = 0;
    for (let i = 0; i < N; i++) s += l[i];
    return s / valid;
  };
  backend.fill(store.grads, 0);
  model.forward(true, 1 / valid);
  model.backward();
  const grads = backend.array(store.grads) as Float64Array;
  const params = backend.array(store.params) as Float64Array;
  const eps = 1e-5;
  let checked = 0;
  let worst = 0;
  store.layout.specs.forEach((spec, w) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    for (let k = 0; k < Math.min(size, 5); k++) {
      const i = store.layout.offsets[w] + (rng.nextUint32() % size);
      const orig = params[i];
      params[i] = orig + eps;
      const lp = loss();
      params[i] = orig - eps;
      const lm = loss();
      params[i] = orig;
      const fd = (lp - lm) / (2 * eps);
      const err = Math.abs(fd - grads[i]) / Math.max(1e-3, Math.abs(fd) + Math.abs(grads[i]));
      worst = Math.max(worst, err);
      assert.ok(
        err < 1e-4,
        `${spec.name}[${i - store.layout.offsets[w]}]: analytic ${grads[i]} vs numeric ${fd}`,
      );
      checked++;
    }
  });
  assert.ok(checked > 50);
  model.free();
  store.free();
  return worst;
}

Deno.test("GPT backward matches finite differences (CPU, float64)", () => {
  gradCheck(GPT);
});

Deno.test("RWKV-4 backward matches finite differences (CPU, float64)", () => {
  gradCheck(RWKV);
});

Deno.test("Llama backward matches finite differences (CPU, float64; GQA tied, MQA untied)", () => {
  gradCheck(LLAMA_GQA);
  gradCheck(LLAMA_MQA);
});

Deno.test("RWKV-7 backward matches finite differences (CPU, float64)", () => {
  gradCheck(RWKV7);
});
