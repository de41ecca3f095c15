// WebGPU vs CPU: the same tiny GPT, RWKV and Llama (GQA and multi-query), the same weights and batch — losses and every
// gradient must agree, before and after one AdamW step. Skips (with a message) when no
// WebGPU adapter or backend is available, unless BENTEVI_REQUIRE_WEBGPU=1.
import assert from "node:assert/strict";
import type { Backend } from "../../src/backend/backend.ts";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { optionalWebGpu } from "../_webgpu.ts";
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

const { gpu, why, ignore } = await optionalWebGpu("WebGPU parity tests");

const GPT: GptConfig = {
  arch: "gpt",
  vocabSize: 37,
  contextLength: 16,
  dModel: 24,
  nLayer: 2,
  nHead: 3,
  mlpDim: 40,
  layerNormEps: 1e-5,
};
const RWKV: RwkvConfig = {
  arch: "rwkv",
  vocabSize: 37,
  contextLength: 16,
  dModel: 24,
  nLayer: 2,
  ffnDim: 40,
  layerNormEps: 1e-5,
};

// Grouped-query attention, untied head, head size 6: the generic attention kernels and the
// scalar rope/RMSNorm variants (C 24).
const LLAMA: LlamaConfig = {
  arch: "llama",
  vocabSize: 37,
  contextLength: 16,
  dModel: 24,
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  headDim: 6,
  ffnDim: 40,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  tieEmbeddings: false,
};
// Multi-query (one kv head), tied, head size 8: the vec4 attention and rope kernels.
const LLAMA_MQA: LlamaConfig = {
  ...LLAMA,
  dModel: 32,
  nHead: 4,
  nKvHead: 1,
  headDim: 8,
  ffnDim: 36,
  tieEmbeddings: true,
};

interface StepResult {
  loss0: Float32Array;
  grads: Float32Array;
  params1: Float32Array;
  loss1: Float32Array;
}

async function oneStep(backend: Backend, config: ModelConfig): Promise<StepResult> {
  const store = new ParameterStore(backend, config);
  const rng = new Xoshiro128(3);
  const w = initWeights(config, 5);
  for (const t of w.values()) {
    for (let i = 0; i < t.data.length; i++) t.data[i] += 0.1 * rng.normal();
  }
  store.load(w);
  const B = 2, T = 13, N = B * T;
  const model = createModel(backend, config, store, B, T);
  const ids = new Int32Array(N), targets = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    ids[i] = rng.nextUint32() % config.vocabSize;
    targets[i] = rng.nextUint32() % config.vocabSize;
  }
  backend.write(model.ids, ids);
  backend.write(model.targets, targets);
  const total = store.layout.total;
  const m = backend.zeros([total]), v = backend.zeros([total]);
  const mask = backend.fromArray([total], store.decayMask());
  const normSq = backend.zeros([1]);
  backend.fill(store.grads, 0);
  model.forward(true, 1 / N);
  model.backward();
  const loss0 = (await backend.read(model.losses)) as Float32Array;
  const grads = (await backend.read(store.grads)) as Float32Array;
  backend.sumSquares(normSq, store.grads);
  backend.adamw({
    params: store.params,
    grads: store.grads,
    m,
    v,
    decayMask: mask,
    hp: {
      lr: 1e-2,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0.1,
      step: 1,
      gradScale: 1,
    },
    clip: { normSquared: normSq, maxNorm: 1 },
  });
  model.forward(false);
  const params1 = (await backend.read(store.params)) as Float32Array;
  const loss1 = (await backend.read(model.losses)) as Float32Array;
  model.free();
  for (const t of [m, v, mask, normSq]) backend.free(t);
  store.free();
  return { loss0, grads, params1, loss1 };
}

function close(
  name: string,
  a: Float32Array,
  b: Float32Array,
  rel: number,
  skip?: (i: number) => boolean,
) {
  assert.equal(a.length, b.length);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (skip?.(i)) continue;
    assert.ok(
      d <= rel * scale + 1e-6,
      `${name}[${i}]: webgpu ${a[i]} vs cpu ${b[i]} (scale ${scale})`,
    );
  }
}

// Two heads of 16, two layers (the second mixes in v_first).
const RWKV7: Rwkv7Config = {
  arch: "rwkv7",
  vocabSize: 37,
  contextLength: 40,
  dModel: 32,
  nLayer: 2,
  ffnDim: 48,
  headSize: 16,
  decayLora: 8,
  aLora: 8,
  vLora: 4,
  gateLora: 12,
  layerNormEps: 1e-5,
  groupNormEps: 64e-5,
};

for (const config of [GPT, RWKV, LLAMA, LLAMA_MQA, RWKV7]) {
  const what = config.arch === "llama" ? `llama NKV ${config.nKvHead}` : config.arch;
  Deno.test({
    name: `${what}: WebGPU matches the CPU backend (loss, gradients, one AdamW step)`,
    ignore,
    fn: async () => {
      assert.ok(gpu, `BENTEVI_REQUIRE_WEBGPU=1 but no WebGPU backend: ${why}`);
      const cpu = await oneStep(new CpuBackend(), config);
      const web = await oneStep(gpu!, config);
      close("loss", web.loss0, cpu.loss0, 1e-4);
      close("grad", web.grads, cpu.grads, 1e-3);
      // AdamW's first step moves every parameter by about ±lr whatever the gradient's size, so
      // gradients that are zero up to rounding (e.g. the key bias, to which softmax is
      // invariant) move differently on each device: compare where the gradient is real.
      let gscale = 0;
      for (const g of cpu.grads) gscale = Math.max(gscale, Math.abs(g));
      const noise = (i: number) => Math.abs(cpu.grads[i]) < 1e-4 * gscale;
      close("params after AdamW", web.params1, cpu.params1, 1e-4, noise);
      close("loss after the step", web.loss1, cpu.loss1, 1e-4);
    },
  });
}

Deno.test({
  name: "release the WebGPU device",
  ignore: !gpu,
  sanitizeResources: false,
  fn: () => gpu!.destroy(),
});
