/**
 * The Bentevi half of the RWKV-7 learning check against PyTorch
 * (`bench/reference/rwkv7_torch.py --run`): a small RWKV-7 (width, depth and FFN from the
 * command line, BlinkDL's low-rank sizes and initialisation) is initialised from the seed and
 * written to OUT/init as a checkpoint, then trained for STEPS steps with `TrainStep` — the
 * trainer's AdamW (its decay groups, β 0.9/0.95, ε 1e-8, clip 1), warmup + cosine to lr/10 —
 * on the batches of `BatchLoader` (the sampler the twin reproduces), evaluating on the first
 * validation windows every EVAL steps. Per-step training losses and the validation losses go
 * to OUT/losses.json, which the twin reads (shape, hyper-parameters) and compares with.
 *
 * ```sh
 * deno run -A bench/rwkv7_twin.ts --train PREFIX.train.bin --val PREFIX.val.bin \
 *   --tokenizer tokenizer.json --out /tmp/r7twin --d 128 --layers 2 --ffn 512 \
 *   --context 64 --batch-size 8 --steps 300 --lr 3e-3 --device native
 * /usr/bin/python3 bench/reference/rwkv7_torch.py --run /tmp/r7twin --train PREFIX.train.bin \
 *   --val PREFIX.val.bin
 * ```
 *
 * Permissions: `--allow-read --allow-write` (data, OUT), `--allow-env`, `--allow-ffi` for
 * `--device native`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { createBackend, type DeviceChoice } from "../src/backend/select.ts";
import { BatchLoader, openTokenDataset } from "../src/data/mod.ts";
import {
  createModel,
  initWeights,
  ParameterStore,
  type Rwkv7Config,
  saveCheckpoint,
} from "../src/model/mod.ts";
import { rwkv7LoraDims } from "../src/model/rwkv7/config.ts";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { evaluate } from "../src/train/evaluate.ts";
import { resolveTrainOptions } from "../src/train/options.ts";
import { learningRate } from "../src/train/schedule.ts";
import { TrainStep } from "../src/train/step.ts";

const { values: a } = parseArgs({
  options: {
    train: { type: "string" },
    val: { type: "string" },
    tokenizer: { type: "string" },
    out: { type: "string" },
    d: { type: "string", default: "128" },
    layers: { type: "string", default: "2" },
    ffn: { type: "string", default: "512" },
    "head-size": { type: "string", default: "64" },
    steps: { type: "string", default: "300" },
    "batch-size": { type: "string", default: "8" },
    context: { type: "string", default: "64" },
    lr: { type: "string", default: "3e-3" },
    "eval-every": { type: "string", default: "25" },
    "eval-batches": { type: "string", default: "8" },
    seed: { type: "string", default: "1337" },
    device: { type: "string", default: "native" },
    threads: { type: "string" },
  },
});
if (!a.train || !a.val || !a.tokenizer || !a.out) {
  throw new Error("usage: --train FILE.bin --val FILE.bin --tokenizer tokenizer.json --out DIR");
}
const steps = Number(a.steps), B = Number(a["batch-size"]), T = Number(a.context);
const lr = Number(a.lr), seed = Number(a.seed), C = Number(a.d);
const evalEvery = Number(a["eval-every"]), evalBatches = Number(a["eval-batches"]);
const out = a.out;

const config: Rwkv7Config = {
  arch: "rwkv7",
  vocabSize: (await Tokenizer.fromFile(a.tokenizer)).vocabSize,
  contextLength: T,
  dModel: C,
  nLayer: Number(a.layers),
  ffnDim: Number(a.ffn),
  headSize: Number(a["head-size"]),
  ...rwkv7LoraDims(C),
  layerNormEps: 1e-5,
  groupNormEps: 64e-5,
};
const weights = initWeights(config, seed);
await saveCheckpoint(join(out, "init"), { config, weights });

const backend = await createBackend(
  a.device as DeviceChoice,
  a.threads ? { threads: Number(a.threads) } : {},
);
const store = new ParameterStore(backend, config);
store.load(weights);
const model = createModel(backend, config, store, B, T);
const train = await openTokenDataset(a.train);
const val = await openTokenDataset(a.val);
const loader = new BatchLoader(train, { batchSize: B, context: T, seed });
const o = resolveTrainOptions(config, { steps, lr, gradAccum: 1 });
const step = new TrainStep(model, { ...o, learningRate: (s) => learningRate(s, o) });
const losses: number[] = [];
const valLosses: { step: number; loss: number }[] = [];
const validate = async (s: number) => {
  const e = await evaluate(model, val.tokens, evalBatches);
  valLosses.push({ step: s, loss: e.loss });
  console.error(`step ${s} val ${e.loss.toFixed(5)}`);
};
const t0 = performance.now();
await validate(0);
for (let s = 0; s < steps; s++) {
  step.record(s, (x, y) => loader.next(x, y));
  const { loss } = await step.readStats();
  losses.push(loss);
  if (s % 10 === 0 || s === steps - 1) console.error(`step ${s + 1} loss ${loss.toFixed(5)}`);
  if ((s + 1) % evalEvery === 0 || s === steps - 1) await validate(s + 1);
}
const seconds = (performance.now() - t0) / 1000;
await Deno.writeTextFile(
  join(out, "losses.json"),
  JSON.stringify(
    {
      system: "bentevi",
      device: backend.description,
      init: join(out, "init"),
      steps,
      batchSize: B,
      context: T,
      lr,
      minLr: o.minLr,
      warmup: o.warmup,
      weightDecay: o.weightDecay,
      clip: o.clip,
      seed,
      evalEvery,
      evalBatches,
      seconds,
      losses,
      valLosses,
    },
    null,
    2,
  ),
);
console.log(
  `RESULT ${
    JSON.stringify({
      system: "bentevi",
      steps,
      loss: losses.at(-1),
      val: valLosses.at(-1),
      seconds,
    })
  }`,
);
step.free();
model.free();
store.free();
train.close();
val.close();
backend.destroy();
