// LoRA: the adapted models' backward against finite differences in float64 (adapter
// parameters, through frozen GPT, RWKV-4 and Llama bases, with and without dropout), the
// frozen base untouched by a step, B = 0 giving the base's logits, refusals, and WebGPU vs
// CPU parity of the forward and of the adapter gradients.
import assert from "node:assert/strict";
import type { Backend } from "../../src/backend/backend.ts";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { optionalWebGpu } from "../_webgpu.ts";
import { LORA_DEFAULTS, LoraModel, LoraPlan, type LoraSettings } from "../../src/finetune/lora.ts";
import {
  createModel,
  initWeights,
  type LlamaConfig,
  type ModelConfig,
  ParameterStore,
  Xoshiro128,
} from "../../src/model/mod.ts";
import { TrainStep } from "../../src/train/step.ts";
import { BenteviError } from "../../src/errors.ts";
import {
  checkStoreGradients,
  meanLoss,
  perturbedWeights,
  TINY_GPT as GPT,
  TINY_LLAMA,
  TINY_RWKV as RWKV,
  writeRandomBatch,
} from "../backend/gradcheck.ts";

// Grouped-query attention, untied head.
const LLAMA: LlamaConfig = { ...TINY_LLAMA, tieEmbeddings: false };

function settings(over: Partial<LoraSettings> = {}): LoraSettings {
  return { ...LORA_DEFAULTS, rank: 2, alpha: 3, ...over };
}

/** A LoRA model with random base and random (nonzero) A and B, and a random batch. */
function setup(backend: Backend, config: ModelConfig, s: LoraSettings, B = 2, T = 5) {
  const rng = new Xoshiro128(7);
  const weights = perturbedWeights(config, rng);
  const base = new ParameterStore(backend, config, { gradients: false });
  base.load(weights);
  const plan = new LoraPlan(config, s);
  const adapter = new ParameterStore(backend, plan.specs);
  const aw = plan.initialWeights(3);
  // B is zero at start; make it random (on the members' blocks only) so every path is live.
  const peft = plan.toPeft(aw);
  for (const [name, t] of peft) {
    if (name.endsWith("lora_B.weight")) {
      for (let i = 0; i < t.data.length; i++) t.data[i] = 0.5 * rng.normal();
    }
  }
  adapter.load(plan.fromPeft(peft, "test"));
  const model = new LoraModel(backend, plan, base, adapter, B, T, { seed: 5 });
  const N = B * T;
  const valid = writeRandomBatch(backend, model, config.vocabSize, N, rng);
  return { model, plan, base, adapter, weights, N, valid, rng };
}

function gradCheck(config: ModelConfig, s: LoraSettings) {
  const backend = new CpuBackend({ precision: "f64" });
  const { model, adapter, valid, rng, plan } = setup(backend, config, s);
  // With dropout, every forward replays the first training forward's masks.
  const loss = () => {
    model.forwardCount = 0;
    model.forward(true, 1 / valid);
    return meanLoss(backend, model.losses, valid);
  };
  backend.fill(adapter.grads, 0);
  loss();
  model.backward();
  const grads = backend.array(adapter.grads) as Float64Array;
  // Entries of a block B outside its layers' blocks are not parameters of the adapter.
  const owns = (name: string, j: number): boolean => {
    const site = plan.sites.find((x) => x.b === name && x.blockB);
    if (!site) return true;
    const row = Math.floor(j / site.R), col = j % site.R;
    return site.members.some((m, k) =>
      row >= m.rowOffset && row < m.rowOffset + m.out && Math.floor(col / s.rank) === k
    );
  };
  const checked = checkStoreGradients({
    layout: adapter.layout,
    params: backend.array(adapter.params) as Float64Array,
    grads,
    loss,
    rng,
    perWeight: 6,
    owns,
  });
  assert.ok(checked >= 6 * plan.specs.length / 2, `checked ${checked}`);
  // The blocks of a fused site's B that belong to no layer keep a zero gradient.
  for (const site of plan.sites.filter((x) => x.blockB)) {
    const w = adapter.layout.specs.findIndex((x) => x.name === site.b);
    const off = adapter.layout.offsets[w];
    const owned = site.members.reduce((n, m) => n + m.out * s.rank, 0);
    let nonzero = 0;
    for (let i = 0; i < site.out * site.R; i++) if (grads[off + i] !== 0) nonzero++;
    assert.ok(nonzero <= owned, `${site.site}: ${nonzero} nonzero gradients, ${owned} owned`);
  }
  model.free();
}

Deno.test("LoRA backward matches finite differences (CPU, float64): GPT, RWKV-4, Llama", () => {
  gradCheck(GPT, settings());
  gradCheck(RWKV, settings({ rank: 3 }));
  gradCheck(LLAMA, settings());
  // q and v only: the fused q|k|v site with a block B whose k rows stay zero
  gradCheck(LLAMA, settings({ targets: ["q_proj", "v_proj", "down_proj"] }));
});

Deno.test("LoRA backward with dropout matches finite differences (same masks)", () => {
  gradCheck(GPT, settings({ dropout: 0.3, targets: ["c_attn", "c_fc"] }));
  gradCheck(LLAMA, settings({ dropout: 0.25, targets: ["k_proj", "o_proj"] }));
});

Deno.test("LoRA: B = 0 gives the base's logits; a step trains the adapter only", async () => {
  for (const config of [GPT, RWKV, LLAMA] as ModelConfig[]) {
    const backend = new CpuBackend();
    const B = 2, T = 5;
    const weights = initWeights(config, 1);
    const full = new ParameterStore(backend, config);
    full.load(weights);
    const ref = createModel(backend, config, full, B, T);
    const base = new ParameterStore(backend, config, { gradients: false });
    base.load(weights);
    const plan = new LoraPlan(config, settings());
    const adapter = new ParameterStore(backend, plan.specs);
    adapter.load(plan.initialWeights(9));
    const model = new LoraModel(backend, plan, base, adapter, B, T);
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % config.vocabSize);
    for (const m of [ref, model]) {
      backend.write(m.ids, ids);
      backend.write(m.targets, ids.map((x) => (x + 1) % config.vocabSize));
      m.forward(false);
    }
    assert.deepEqual(await backend.read(model.logits), await backend.read(ref.logits));
    const before = await backend.read(base.params);
    const a0 = await backend.read(adapter.params);
    const step = new TrainStep(model, {
      gradAccum: 1,
      weightDecay: 0,
      decayEmbeddings: false,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      clip: 1,
      learningRate: () => 1e-2,
    });
    assert.equal(step.trainable, adapter);
    step.record(0, (i, t) => {
      i.set(ids);
      t.set(ids.map((x) => (x + 1) % config.vocabSize));
    });
    assert.deepEqual(await backend.read(base.params), before, "the base moved");
    const a1 = await backend.read(adapter.params);
    assert.notDeepEqual(a1, a0, "the adapter did not move");
    assert.equal(base.grads.size, 64, "a frozen base holds no gradients");
    assert.throws(() => base.g(plan.layers[0].weight), BenteviError);
  }
});

Deno.test("LoRA: unknown targets and ranks above a layer are refused in one line", () => {
  assert.throws(
    () => new LoraPlan(GPT, settings({ targets: ["q_proj"] })),
    (e: Error) =>
      e instanceof BenteviError &&
      /unknown target module "q_proj" for gpt \(it has c_attn, c_proj, c_fc\)/.test(e.message),
  );
  assert.throws(
    () => new LoraPlan(GPT, settings({ rank: 9 })),
    (e: Error) => e instanceof BenteviError && /rank 9 is larger than layer/.test(e.message),
  );
  assert.throws(() => new LoraPlan(GPT, settings({ rank: 0 })), BenteviError);
  assert.throws(() => new LoraPlan(GPT, settings({ dropout: 1 })), BenteviError);
  assert.throws(() => new LoraPlan(GPT, settings({ alpha: -1 })), BenteviError);
  const plan = new LoraPlan(LLAMA, settings({ targets: ["v_proj", "q_proj"] }));
  assert.deepEqual(plan.settings.targets, ["q_proj", "v_proj"]);
  assert.equal(plan.sites.length, 2);
  // per layer: q 2·(8 + 8), v 2·(8 + 4)
  assert.equal(plan.parameterCount, 2 * (32 + 24));
});

// --- WebGPU vs CPU --------------------------------------------------------------------------

const { gpu, why, ignore } = await optionalWebGpu("LoRA WebGPU parity");

Deno.test({
  name: "LoRA on WebGPU matches the CPU: logits and adapter gradients (GPT, Llama, RWKV-4)",
  ignore,
  async fn() {
    assert.ok(gpu, `no WebGPU: ${why}`);
    const big = { contextLength: 16, dModel: 24 } as const;
    const configs: [ModelConfig, LoraSettings][] = [
      [
        { ...GPT, ...big, vocabSize: 37, nHead: 3, mlpDim: 40 },
        settings({ rank: 4, dropout: 0.2 }),
      ],
      [
        { ...LLAMA, ...big, vocabSize: 37, headDim: 6, ffnDim: 40 },
        settings({ rank: 4, targets: ["q_proj", "v_proj", "up_proj", "o_proj"] }),
      ],
      [{ ...RWKV, ...big, vocabSize: 37, ffnDim: 40 }, settings({ rank: 3 })],
    ];
    for (const [config, s] of configs) {
      const out: { logits: Float32Array; grads: Float32Array }[] = [];
      for (const be of [new CpuBackend(), gpu!]) {
        const { model, adapter, N } = setup(be, config, s, 2, 8);
        be.fill(adapter.grads, 0);
        model.forward(true, 1 / N);
        model.backward();
        out.push({
          logits: (await be.read(model.logits)) as Float32Array,
          grads: (await be.read(adapter.grads)) as Float32Array,
        });
        model.free();
      }
      for (const key of ["logits", "grads"] as const) {
        const [a, b] = [out[0][key], out[1][key]];
        let worst = 0, scale = 0;
        for (let i = 0; i < a.length; i++) {
          worst = Math.max(worst, Math.abs(a[i] - b[i]));
          scale = Math.max(scale, Math.abs(a[i]));
        }
        assert.ok(scale > 0, `${config.arch} ${key}: all zero`);
        assert.ok(
          worst <= 2e-4 * Math.max(1, scale),
          `${config.arch} ${key}: differ by ${worst} (scale ${scale})`,
        );
      }
    }
  },
});
