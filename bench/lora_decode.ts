/**
 * Why adapters are merged into the uploaded weights: on each device, the time of a switch
 * (`AdapterBank.use`: the host merge and the upload of every adapted matrix) against the
 * per-token cost a low-rank decode path would add instead (for every adapted layer of every
 * step: `u = x·Aᵀ`, `u *= s`, `out += u·Bᵀ`, recorded and submitted per token, synced once at
 * the end: the ops' own cost), next to the base's own decode time per token.
 *
 * ```sh
 * deno run -A bench/lora_decode.ts --models gpt-mini,llama-mini --devices cpu,webgpu --tokens 32
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createBackend, type DeviceChoice } from "../src/backend/select.ts";
import { AdapterBank } from "../src/finetune/bank.ts";
import { LORA_DEFAULTS, LoraPlan } from "../src/finetune/lora.ts";
import { createLanguageModel } from "../src/generate/inference.ts";
import { initWeights, presetConfig } from "../src/model/mod.ts";

const { values: a } = parseArgs({
  options: {
    models: { type: "string", default: "gpt-mini,llama-mini" },
    devices: { type: "string", default: "cpu,webgpu" },
    tokens: { type: "string", default: "32" },
    vocab: { type: "string", default: "4096" },
  },
});
const N = Number(a.tokens);
const rows = [];
for (const device of a.devices!.split(",")) {
  for (const preset of a.models!.split(",")) {
    const be = await createBackend(device as DeviceChoice, { log: () => {} });
    const config = presetConfig(preset, Number(a.vocab));
    const weights = initWeights(config, 1);
    const plan = new LoraPlan(config, { ...LORA_DEFAULTS });
    const peft = plan.toPeft(plan.initialWeights(2));
    for (const [n, t] of peft) if (n.endsWith("lora_B.weight")) t.data.fill(0.01);
    const model = createLanguageModel(be, config, weights);
    const bank = new AdapterBank(model, weights, [
      { name: "x", adapter: { dir: "x", plan, peft, baseName: "" } },
      { name: "y", adapter: { dir: "y", plan, peft, baseName: "" } },
    ]);
    // switch: base → x → y → off, timed with the device synced
    const switches: number[] = [];
    for (const names of [["x"], ["y"], [], ["x"]]) {
      const t0 = performance.now();
      bank.use(names);
      await be.sync();
      switches.push(performance.now() - t0);
    }
    // base decode, one token at a time
    model.reset();
    await model.feed([1]);
    let t0 = performance.now();
    for (let i = 0; i < N; i++) await model.feed([(i * 13) % config.vocabSize]);
    const decodeMs = (performance.now() - t0) / N;
    // what a low-rank path adds per token: the adapter ops of every adapted layer
    const r = plan.settings.rank;
    const ops = plan.layers.map((t) => ({
      x: be.zeros([1, t.in]),
      A: be.fromArray([r, t.in], peft.get(`${t.path}.lora_A.weight`)!.data),
      B: be.fromArray([t.out, r], peft.get(`${t.path}.lora_B.weight`)!.data),
      u: be.zeros([1, r]),
      out: be.zeros([1, t.out]),
    }));
    t0 = performance.now();
    for (let i = 0; i < N; i++) {
      for (const o of ops) {
        be.matmul(o.u, o.x, o.A, { transB: true });
        be.scale(o.u, plan.scale);
        be.matmul(o.out, o.u, o.B, { transB: true, accumulate: true });
      }
      be.flush();
    }
    await be.read(ops[ops.length - 1].out); // one sync: the ops' own cost, not a read per token
    const lowRankMs = (performance.now() - t0) / N;
    rows.push({
      device: be.kind,
      model: preset,
      adaptedLayers: plan.layers.length,
      switchMs: switches.map((x) => Math.round(x)),
      baseDecodeMsPerToken: +decodeMs.toFixed(2),
      lowRankExtraMsPerToken: +lowRankMs.toFixed(2),
      lowRankSlowdown: +((decodeMs + lowRankMs) / decodeMs).toFixed(2),
      tokensToPayOneSwitch: +(switches[1] / lowRankMs).toFixed(0),
    });
    console.error(JSON.stringify(rows.at(-1)));
    model.dispose();
    be.destroy();
  }
}
console.log(JSON.stringify(rows, null, 2));
