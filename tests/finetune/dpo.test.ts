// DPO (finetune --feedback): the gradient is the DPO loss's (a step along it lowers the loss by
// its norm times the step), and training on a small synthetic preference set raises the
// chosen-vs-rejected log-probability margin on held-out pairs.
import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import {
  type FeedbackItem,
  feedbackSource,
  pairExamples,
  type PreferencePair,
  sequenceLogProb,
} from "../../src/finetune/mod.ts";
import { chatFormatFor } from "../../src/generate/chat_format.ts";
import { createModel, initWeights, ParameterStore } from "../../src/model/mod.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { defaultTrainOptions, TrainStep } from "../../src/train/mod.ts";
import { makeFixture, TINY_GPT } from "../train/helpers.ts";

const fx = await makeFixture();
const tok = await Tokenizer.fromFile(fx.tokenizer);
const format = chatFormatFor(tok, tok.vocabSize);
const encode = (s: string) => Array.from(tok.encode(s, { addSpecialTokens: false }));
const pad = tok.endOfTextId!;
const config = { ...TINY_GPT, contextLength: 48 };

const pair = (word: string, rejected: string): PreferencePair => ({
  prompt: [{ role: "system", content: "Seja breve." }, { role: "user", content: `E ${word}?` }],
  chosen: `O ${word} canta.`,
  rejected,
  source: "synthetic",
});
const TRAIN = ["galho", "sol", "dia", "avô", "menino", "quintal", "tempo", "almoço"]
  .map((w, i) => pair(w, ["Não sei.", "Nada disso.", "Talvez."][i % 3]));
const HELD_OUT = ["canto", "janela", "sombra"].map((w, i) =>
  pair(w, ["Nada.", "Sei lá.", "Não."][i])
);

async function setup(pairs: PreferencePair[], heldOut: PreferencePair[]) {
  const backend = new CpuBackend();
  const store = new ParameterStore(backend, config);
  store.load(initWeights(config, 11));
  const o = { format, encode, endOfTextId: pad, context: 47 };
  const T = Math.max(...[...pairs, ...heldOut].flatMap((p) => {
    const e = pairExamples(p, o)!;
    return [e.chosen.ids.length, e.rejected.ids.length];
  })) - 1;
  const model = createModel(backend, config, store, 1, T);
  const items = async (ps: PreferencePair[]): Promise<FeedbackItem[]> => {
    const out: FeedbackItem[] = [];
    for (const p of ps) {
      const e = pairExamples(p, o)!;
      out.push({
        kind: "pair",
        ...e,
        refChosen: await sequenceLogProb(model, e.chosen, pad),
        refRejected: await sequenceLogProb(model, e.rejected, pad),
      });
    }
    return out;
  };
  return { backend, store, model, T, train: await items(pairs), val: await items(heldOut) };
}

Deno.test("DPO: the step's gradient is the DPO loss's", async () => {
  const { backend, store, model, T, train } = await setup(TRAIN.slice(0, 4), []);
  // references from other weights, so the pairs start away from z = 0
  const items = train.map((it) =>
    it.kind === "pair" ? { ...it, refChosen: it.refChosen + 0.7 } : it
  );
  const source = feedbackSource(items, items, { pad, beta: 0.5, description: "" });
  const step = new TrainStep(model, {
    ...defaultTrainOptions(config),
    gradAccum: items.length,
    clip: 0,
    learningRate: () => 0,
  });
  const loss0 = (await source.evaluate(model, 1)).loss;
  await source.recordStep!(step, 0, source.loader({ batchSize: 1, context: T, seed: 1 }));
  const stats = await step.readStats();
  assert.ok(Math.abs(stats.loss - loss0) < 1e-6, `${stats.loss} vs ${loss0}`);
  const g = (await backend.read(store.grads)) as Float32Array;
  const norm = Math.sqrt(g.reduce((a, x) => a + x * x, 0));
  assert.ok(norm > 0);
  const params = (await backend.read(store.params)) as Float32Array;
  const eps = 1e-3;
  backend.write(store.params, params.map((p, i) => p - (eps * g[i]) / norm));
  const loss1 = (await source.evaluate(model, 1)).loss;
  const slope = (loss0 - loss1) / eps;
  assert.ok(Math.abs(slope - norm) < 0.05 * norm, `directional derivative ${slope} vs |g| ${norm}`);
  step.free();
  model.free();
  store.free();
});

Deno.test("DPO raises the chosen-vs-rejected margin on held-out pairs", async () => {
  const { store, model, T, train, val } = await setup(TRAIN, HELD_OUT);
  const source = feedbackSource(train, val, { pad, beta: 0.5, description: "" });
  const step = new TrainStep(model, {
    ...defaultTrainOptions(config),
    gradAccum: 4,
    learningRate: () => 3e-3,
  });
  const before = await source.evaluate(model, 1);
  assert.ok(Math.abs(before.loss - Math.log(2)) < 1e-5); // the policy is the reference
  const loader = source.loader({ batchSize: 1, context: T, seed: 1 });
  for (let s = 0; s < 30; s++) await source.recordStep!(step, s, loader);
  const after = await source.evaluate(model, 1);
  assert.ok(after.margin! > before.margin! + 1, `margin ${before.margin} → ${after.margin}`);
  assert.ok(after.loss < before.loss, `DPO loss ${before.loss} → ${after.loss}`);
  assert.equal(after.accuracy, 1); // every held-out pair's margin grew past the reference's
  step.free();
  model.free();
  store.free();
});
