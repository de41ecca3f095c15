/**
 * The Bentevi half of the LoRA learning check against PyTorch (`bench/reference/lora_torch.py`):
 * a base checkpoint (given, or a seeded preset written to OUT/base), a fresh adapter (A from
 * the seed, B zero) written to OUT/adapter-init in PEFT's format, then STEPS steps of LoRA
 * fine-tuning with `TrainStep` over the same sampler, schedule and AdamW the twin reproduces;
 * per-step losses go to OUT/losses.json, the trained adapter to OUT/adapter.
 *
 * ```sh
 * deno run -A bench/lora_twin.ts --train PREFIX.train.bin --model gpt-micro --vocab 2048 \
 *   --out /tmp/lora/twin --steps 100 --batch-size 8 --context 128 --lr 1e-3 --device cpu
 * /usr/bin/python3 bench/reference/lora_torch.py --run /tmp/lora/twin --train PREFIX.train.bin
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { createBackend, type DeviceChoice } from "../src/backend/select.ts";
import { BatchLoader, openTokenDataset } from "../src/data/mod.ts";
import { LORA_DEFAULTS } from "../src/finetune/lora.ts";
import { loraRunModel } from "../src/finetune/lora_run.ts";
import {
  initWeights,
  loadCheckpoint,
  type ModelConfig,
  presetConfig,
  saveCheckpoint,
} from "../src/model/mod.ts";
import { learningRate } from "../src/train/schedule.ts";
import { TrainStep } from "../src/train/step.ts";

const { values: a } = parseArgs({
  options: {
    train: { type: "string" },
    base: { type: "string" },
    model: { type: "string", default: "gpt-micro" },
    vocab: { type: "string", default: "2048" },
    out: { type: "string" },
    steps: { type: "string", default: "100" },
    "batch-size": { type: "string", default: "8" },
    context: { type: "string", default: "128" },
    lr: { type: "string", default: "1e-3" },
    "weight-decay": { type: "string", default: "0.1" },
    rank: { type: "string", default: String(LORA_DEFAULTS.rank) },
    alpha: { type: "string", default: String(LORA_DEFAULTS.alpha) },
    targets: { type: "string", default: "" },
    seed: { type: "string", default: "1337" },
    device: { type: "string", default: "cpu" },
  },
});
if (!a.train || !a.out) {
  throw new Error("usage: --train FILE.bin --out DIR [--base CKPT | --model PRESET --vocab V]");
}
const steps = Number(a.steps), B = Number(a["batch-size"]), T = Number(a.context);
const lr = Number(a.lr), seed = Number(a.seed);
const out = a.out;

let config: ModelConfig;
let weights;
let baseDir = a.base;
if (baseDir) {
  const ck = await loadCheckpoint(baseDir);
  config = ck.config;
  weights = ck.weights;
} else {
  config = presetConfig(a.model!, Number(a.vocab));
  weights = initWeights(config, seed);
  baseDir = join(out, "base");
  await saveCheckpoint(baseDir, { config, weights });
}
const backend = await createBackend(a.device as DeviceChoice);
const lora = loraRunModel(
  { config, options: { batchSize: B, context: T, seed, gradAccum: 1 } },
  backend,
  {
    settings: {
      ...LORA_DEFAULTS,
      rank: Number(a.rank),
      alpha: Number(a.alpha),
      targets: a.targets ? a.targets.split(",") : [],
    },
    baseConfig: config,
    baseWeights: () => Promise.resolve(weights),
    baseName: baseDir,
  },
);
const model = await lora.open(undefined, 0);
await lora.save(join(out, "adapter-init"), {});
const data = await openTokenDataset(a.train);
const loader = new BatchLoader(data, { batchSize: B, context: T, seed });
const warmup = Math.min(100, Math.max(1, Math.floor(steps / 10)));
const step = new TrainStep(model, {
  gradAccum: 1,
  weightDecay: Number(a["weight-decay"]),
  decayEmbeddings: false,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  clip: 1,
  learningRate: (s) => learningRate(s, { lr, minLr: lr / 10, warmup, decaySteps: steps }),
});
const losses: number[] = [];
const t0 = performance.now();
for (let s = 0; s < steps; s++) {
  step.record(s, (x, y) => loader.next(x, y));
  const { loss } = await step.readStats();
  losses.push(loss);
  if (s % 10 === 0 || s === steps - 1) console.error(`step ${s + 1} loss ${loss.toFixed(4)}`);
}
const seconds = (performance.now() - t0) / 1000;
await lora.save(join(out, "adapter"), {});
await Deno.writeTextFile(
  join(out, "losses.json"),
  JSON.stringify(
    {
      system: "bentevi",
      device: backend.kind,
      base: baseDir,
      steps,
      batchSize: B,
      context: T,
      lr,
      weightDecay: Number(a["weight-decay"]),
      seed,
      warmup,
      rank: lora.plan.settings.rank,
      alpha: lora.plan.settings.alpha,
      targets: lora.plan.settings.targets,
      adapterParameters: lora.plan.parameterCount,
      seconds,
      losses,
    },
    null,
    2,
  ),
);
console.log(
  `RESULT ${JSON.stringify({ system: "bentevi", step: steps, loss: losses.at(-1), seconds })}`,
);
step.free();
lora.free();
data.close();
backend.destroy();
