/**
 * LoRA vs full fine-tuning, side by side: peak memory (the process's VmHWM, RSS) and training
 * tokens/s of `gpt-mini` and `llama-mini`, each mode in its own child process (so each peak is
 * its own), run alternately (LoRA, full, LoRA, full…) on a busy machine, then the ratios.
 *
 * ```sh
 * deno run -A bench/lora_memory.ts --device cpu --steps 6 --rounds 2 --batch-size 4 --context 128
 * ```
 *
 * A child (`--child --model M --mode lora|full`) builds the model with random weights, makes a
 * `TrainStep` over all weights (full) or over a rank-8 adapter on every linear layer with the
 * base frozen (LoRA: `loraRunModel`), times the steps after the first (which holds the
 * warm-up), and prints one JSON line.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { createBackend, type DeviceChoice } from "../src/backend/select.ts";
import { LORA_DEFAULTS } from "../src/finetune/lora.ts";
import { loraRunModel } from "../src/finetune/lora_run.ts";
import { createModel, initWeights, ParameterStore, presetConfig } from "../src/model/mod.ts";
import { TrainStep } from "../src/train/step.ts";
import type { TrainableModel } from "../src/model/model.ts";

const { values: a } = parseArgs({
  options: {
    child: { type: "boolean", default: false },
    model: { type: "string", default: "gpt-mini" },
    models: { type: "string", default: "gpt-mini,llama-mini" },
    mode: { type: "string", default: "lora" },
    device: { type: "string", default: "cpu" },
    steps: { type: "string", default: "6" },
    rounds: { type: "string", default: "2" },
    "batch-size": { type: "string", default: "4" },
    context: { type: "string", default: "128" },
    vocab: { type: "string", default: "4096" },
  },
});

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function child() {
  const B = Number(a["batch-size"]), T = Number(a.context), steps = Number(a.steps);
  const config = presetConfig(a.model!, Number(a.vocab));
  const backend = await createBackend(a.device as DeviceChoice, { log: () => {} });
  const weights = initWeights(config, 1);
  let model: TrainableModel;
  let free: () => void;
  let trained: number;
  if (a.mode === "lora") {
    const lora = loraRunModel(
      { config, options: { batchSize: B, context: T, seed: 1, gradAccum: 1 } },
      backend,
      {
        settings: { ...LORA_DEFAULTS },
        baseConfig: config,
        baseWeights: () => Promise.resolve(weights),
        baseName: a.model!,
      },
    );
    model = await lora.open(undefined, 0);
    free = lora.free;
    trained = lora.plan.parameterCount;
  } else {
    const store = new ParameterStore(backend, config);
    store.load(weights);
    model = createModel(backend, config, store, B, T);
    free = () => {
      model.free();
      store.free();
    };
    trained = store.layout.count;
  }
  weights.clear(); // the host copy is not part of either mode's footprint
  const step = new TrainStep(model, {
    gradAccum: 1,
    weightDecay: 0.1,
    decayEmbeddings: false,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    clip: 1,
    learningRate: () => 1e-4,
  });
  let t0 = 0;
  let loss = 0;
  for (let s = 0; s < steps; s++) {
    if (s === 1) t0 = performance.now();
    step.record(s, (x, y) => {
      for (let i = 0; i < x.length; i++) {
        x[i] = (i * 7919) % config.vocabSize;
        y[i] = (i * 104729 + 1) % config.vocabSize;
      }
    });
    loss = (await step.readStats()).loss;
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({
    model: a.model,
    mode: a.mode,
    device: backend.kind,
    trainedParameters: trained,
    tokensPerSecond: ((steps - 1) * B * T) / seconds,
    peakRssMiB: peakRssMiB(),
    loss,
  }));
  step.free();
  free();
  backend.destroy();
}

async function parent() {
  const self = fileURLToPath(import.meta.url);
  const results: Record<string, unknown>[] = [];
  for (let r = 0; r < Number(a.rounds); r++) {
    for (const model of a.models!.split(",")) {
      for (const mode of ["lora", "full"]) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            self,
            "--child",
            "--model",
            model,
            "--mode",
            mode,
            "--device",
            a.device!,
            "--steps",
            a.steps!,
            "--batch-size",
            a["batch-size"]!,
            "--context",
            a.context!,
            "--vocab",
            a.vocab!,
          ],
          stderr: "inherit",
        }).output();
        const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
        const res = JSON.parse(line);
        results.push({ round: r + 1, ...res });
        console.error(JSON.stringify({ round: r + 1, ...res }));
      }
    }
  }
  const rows = [];
  for (const model of a.models!.split(",")) {
    const mean = (mode: string, key: string) => {
      const xs = results.filter((x) => x.model === model && x.mode === mode).map((x) =>
        x[key] as number
      );
      return xs.reduce((s, v) => s + v, 0) / xs.length;
    };
    rows.push({
      model,
      loraTokensPerSecond: Math.round(mean("lora", "tokensPerSecond")),
      fullTokensPerSecond: Math.round(mean("full", "tokensPerSecond")),
      speedRatio: +(mean("lora", "tokensPerSecond") / mean("full", "tokensPerSecond")).toFixed(2),
      loraPeakRssMiB: Math.round(mean("lora", "peakRssMiB")),
      fullPeakRssMiB: Math.round(mean("full", "peakRssMiB")),
      memoryRatio: +(mean("lora", "peakRssMiB") / mean("full", "peakRssMiB")).toFixed(2),
      loraTrained: mean("lora", "trainedParameters"),
      fullTrained: mean("full", "trainedParameters"),
    });
  }
  console.log(
    JSON.stringify(
      { device: a.device, batchSize: a["batch-size"], context: a.context, rows, results },
      null,
      2,
    ),
  );
}

if (a.child) await child();
else await parent();
