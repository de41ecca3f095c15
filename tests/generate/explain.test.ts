// The educational mode's per-token data: probabilities, the sampling step, the last block's
// attention (against independent float64 references, on the CPU and WebGPU backends), and the
// one-step walkthrough.
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/select.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { generate } from "../../src/generate/generator.ts";
import { Sampler } from "../../src/generate/sampler.ts";
import { explainStep, formatStepWalkthrough, formatTokenStep } from "../../src/explain/step.ts";
import { initWeights, type ModelConfig } from "../../src/model/mod.ts";
import type { LlamaConfig } from "../../src/model/llama/config.ts";
import { gpt2Reference } from "./reference.ts";
import { llamaReferenceLogits } from "../_llama_reference.ts";
import type { HfLlamaShape } from "../_hf_llama.ts";
import { llamaToJson } from "../../src/model/llama/config.ts";
import { backends, byteTokenizer, CHAT_SPECIALS, tinyRwkv } from "./helpers.ts";
import { ChatSession } from "../../src/generate/chat.ts";
import { type CommandContext, runCommand } from "../../src/generate/commands.ts";

const gpt: ModelConfig = {
  arch: "gpt",
  vocabSize: 260,
  contextLength: 32,
  dModel: 16,
  nLayer: 2,
  nHead: 4,
  mlpDim: 32,
  layerNormEps: 1e-5,
};
const llama: LlamaConfig = {
  arch: "llama",
  vocabSize: 260,
  contextLength: 32,
  dModel: 16,
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  headDim: 6,
  ffnDim: 24,
  rmsNormEps: 1e-5,
  ropeTheta: 100,
  tieEmbeddings: false,
};

/** Weights larger than the init, so attention is far from uniform. */
function weightsFor(config: ModelConfig, seed: number) {
  const w = initWeights(config, seed);
  let s = seed * 7919 + 1;
  for (const [, t] of w) {
    for (let i = 0; i < t.data.length; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      t.data[i] += (s / 2147483648 - 0.5) * 0.8;
    }
  }
  return w;
}

const ids = [72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100];

function referenceAttention(config: ModelConfig, weights: ReturnType<typeof weightsFor>) {
  const att: number[][] = [];
  if (config.arch === "gpt") gpt2Reference(weights, config, ids, att);
  else if (config.arch === "llama") {
    llamaReferenceLogits(
      llamaToJson(config) as unknown as HfLlamaShape,
      new Map(
        [...weights].map(([k, t]) => [k, { shape: [...t.shape], data: Float64Array.from(t.data) }]),
      ),
      ids,
      att,
    );
  }
  return att;
}

Deno.test("lastAttention: rows sum to 1 and match the float64 reference (GPT, Llama GQA; CPU, WebGPU)", async () => {
  for (const backend of await backends()) {
    for (const config of [gpt, llama]) {
      const weights = weightsFor(config, 5);
      const ref = referenceAttention(config, weights);
      const model = createLanguageModel(backend, config, weights);
      assert.equal(await model.lastAttention!(), null, "nothing fed yet");
      // Prefill all but two, then one token at a time: the query is always the last token fed.
      await model.feed(ids.slice(0, -2));
      await model.feed(ids.slice(-2, -1));
      await model.feed(ids.slice(-1));
      const att = (await model.lastAttention!())!;
      const what = `${backend.kind} ${config.arch}`;
      assert.equal(att.layer, config.nLayer - 1);
      assert.equal(att.positions, ids.length);
      assert.equal(att.weights.length, config.arch === "gpt" ? 4 : 4);
      let spread = 0;
      for (let h = 0; h < att.heads; h++) {
        const row = att.weights[h];
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-9, `${what} h${h} sums to 1`);
        for (let s = 0; s < row.length; s++) {
          assert.ok(
            Math.abs(row[s] - ref[h][s]) < 2e-4,
            `${what} h${h} s${s}: ${row[s]} vs ${ref[h][s]}`,
          );
        }
        spread = Math.max(spread, Math.max(...row) - Math.min(...row));
      }
      assert.ok(spread > 0.05, `${what}: the weights are not trivially uniform`);
      // A rewind leaves no query for the last position.
      model.truncate(3);
      assert.equal(await model.lastAttention!(), null);
      model.dispose();
    }
  }
});

Deno.test("generate with explain: probabilities, greedy argmax, sampling trace, attention", async () => {
  const backend = await createBackend("cpu");
  const tok = byteTokenizer();
  const model = createLanguageModel(backend, gpt, weightsFor(gpt, 2));
  const greedy = await generate(model, tok, "Olá", {
    maxNewTokens: 4,
    temperature: 0,
    ignoreEndOfText: true,
    explainTop: 5,
    explainAttention: 2,
  });
  assert.equal(greedy.steps.length, 4);
  for (const [i, s] of greedy.steps.entries()) {
    assert.equal(s.id, s.top[0].id, "greedy picks the argmax");
    assert.equal(s.prob, s.top[0].prob);
    for (let j = 1; j < s.top.length; j++) assert.ok(s.top[j].prob <= s.top[j - 1].prob);
    assert.deepEqual(s.top.map((c) => c.kept), [true, false, false, false, false]);
    assert.equal(s.top[0].sampleProb, 1);
    assert.equal(s.sampling!.greedy, true);
    assert.equal(s.sampling!.draw, null);
    assert.equal(s.text, tok.decode([s.id]));
    const a = s.attention!;
    assert.equal(a.ids.length, 4 + i, "the context at that step (Olá is 4 bytes)");
    assert.equal(a.weights.length, 4);
    for (const [h, head] of a.heads.entries()) {
      assert.equal(head.top.length, 2);
      assert.equal(head.top[0].weight, Math.max(...a.weights[h]));
      assert.equal(head.top[0].id, a.ids[head.top[0].position]);
    }
  }
  assert.match(
    formatTokenStep(greedy.steps[0], 0),
    /^#1 .* id \d+ +p=[\d.]+%\n {3}candidates: .*✓/,
  );

  // Sampling: the traced path draws exactly what the plain one draws.
  const opts = {
    maxNewTokens: 12,
    temperature: 0.9,
    topK: 6,
    topP: 0.8,
    seed: 11,
    ignoreEndOfText: true,
  };
  const plain = await generate(model, tok, "Olá", opts);
  const traced = await generate(model, tok, "Olá", { ...opts, explainTop: 6 });
  assert.deepEqual(traced.tokens, plain.tokens);
  for (const s of traced.steps) {
    const t = s.sampling!;
    assert.equal(t.keptAfterTopK, 6);
    assert.ok(t.keptAfterTopP >= 1 && t.keptAfterTopP <= 6);
    assert.ok(t.draw! >= 0 && t.draw! < 1);
    // With explainTop = topK, the watched candidates are all top-k survivors: the kept ones
    // carry the whole final distribution, in the same order, and the chosen one is kept.
    const kept = s.top.filter((c) => c.kept);
    assert.equal(kept.length, t.keptAfterTopP);
    assert.ok(Math.abs(kept.reduce((a, c) => a + c.sampleProb, 0) - 1) < 1e-9);
    assert.ok(s.top.some((c) => c.id === s.id && c.kept));
    const plainSum = s.top.reduce((a, c) => a + c.prob, 0);
    assert.ok(plainSum <= 1 + 1e-9);
  }
  model.dispose();
});

Deno.test("Sampler.sampleTraced: same draw as sample; cut-offs counted", () => {
  const logits = new Float32Array([0, 3, 2.5, 1, -1, 2]);
  for (let seed = 0; seed < 20; seed++) {
    const a = new Sampler({ temperature: 1.3, topK: 4, topP: 0.7, seed });
    const b = new Sampler({ temperature: 1.3, topK: 4, topP: 0.7, seed });
    const { id, trace } = b.sampleTraced(logits, [], [1, 2, 5, 3, 0]);
    assert.equal(id, a.sample(logits));
    assert.equal(trace.keptAfterTopK, 4);
    // At T = 1.3 the top 4 (logits 3, 2.5, 2, 1) get 0.424, 0.289, 0.196, 0.091: the
    // cumulative mass reaches 0.7 after 2 tokens.
    assert.equal(trace.keptAfterTopP, 2);
    assert.deepEqual(trace.final.map((c) => c.kept), [true, true, false, false, false]);
    assert.ok(Math.abs(trace.final[0].prob - 0.424 / 0.713) < 2e-3);
  }
  const r = new Sampler({ temperature: 1, repetitionPenalty: 2, seed: 1 })
    .sampleTraced(logits, [1, 1, 4], [1]);
  assert.deepEqual(r.trace.penalized, [1, 4]);
});

Deno.test("explainStep: stages with this model's shapes, for every family", async () => {
  const backend = await createBackend("cpu");
  const tok = byteTokenizer();
  for (const config of [gpt, llama, tinyRwkv(260)]) {
    const model = createLanguageModel(backend, config, weightsFor(config, 3));
    const w = await explainStep(model, tok, "O bem-te-vi", { temperature: 0 });
    const T = "O bem-te-vi".length;
    assert.deepEqual(w.stages[0].shape, [T, 16], config.arch);
    assert.deepEqual(w.stages.at(-1)!.shape, [T, 260]);
    assert.ok(w.stages.some((s) => s.perBlock));
    for (const s of w.stages) {
      for (const shape of s.weightShapes) assert.ok(shape.length > 0, `${config.arch} ${s.name}`);
    }
    assert.equal(w.chosen.id, w.top[0].id, "temperature 0 takes the most likely");
    assert.equal(w.logits.size, tok.vocabSize, "padding ids past the tokenizer are left out");
    assert.equal(!!w.chosen.attention, config.arch !== "rwkv");
    const text = formatStepWalkthrough(w);
    assert.match(text, /each of the 2 blocks/);
    assert.match(text, new RegExp(`\\[${T}, 260\\]`));
    model.dispose();
  }
});

Deno.test("chat slash commands: /tokens-demo, /chunk-demo, /chunk-stats, /optimize-chunks, /explain", async () => {
  const backend = await createBackend("cpu");
  const tok = byteTokenizer(CHAT_SPECIALS);
  const model = createLanguageModel(backend, gpt, weightsFor(gpt, 4));
  const chat = new ChatSession(model, tok, { sampling: { temperature: 0 }, maxNewTokens: 3 });
  const ctx: CommandContext = { feedbackPath: "/dev/null", modelName: "m" };
  const run = async (line: string) => (await runCommand(chat, line, ctx)).message;

  // The tokenizer's own inspect view: a byte-level tokenizer without merges gives one id per byte.
  const tokens = await run('/tokens-demo "Olá!"');
  assert.match(tokens, /pre-tokens \(2\): "Olá" "!"/);
  assert.match(tokens, /tokens \(5\):/);
  assert.match(await run("/tokens-demo"), /^error: \/tokens-demo needs a text/);

  assert.match(await run("/chunk-stats"), /^error: \/chunk-stats: chunk a text first/);
  const text = "O bem-te-vi canta. A chuva cai no telhado. O dia nasce.";
  const demo = await run(`/chunk-demo --strategy sentence --max-tokens 25 "${text}"`);
  assert.match(demo, /^3 chunks, strategy sentence, at most 25 tokens/);
  assert.match(demo, /#1 \[19, 43\) +24 tokens +"A chuva cai no telhado. "/);
  assert.match(demo, /boundaries: O bem-te-vi canta\. │A chuva cai no telhado\. │O dia nasce\./);
  assert.equal(ctx.chunkDemo!.chunks.map((c) => c.text).join(""), text, "lossless");
  assert.match(await run("/chunk-stats"), /3 chunks; tokens: min 12, median 19, .* max 24/);
  const opt = await run("/optimize-chunks");
  assert.match(opt, /^suggestions for these chunks:/);
  assert.match(opt, /sentence +3 chunks, sentence ends 100%.*← current/);
  assert.equal(opt.match(/^ {2}(fixed|sentence|semantic|adaptive|recursive) /gm)!.length, 5);
  assert.match(await run("/chunk-demo --strategy banana texto"), /unknown "banana"/);
  assert.match(await run("/chunk-demo --max-tokens 0 texto"), /^error: budget must be/);

  assert.match(await run("/explain"), /^error: nothing said yet/);
  const walk = await run('/explain "Olá"');
  assert.match(walk, /^One generation step of /);
  assert.match(
    walk,
    /token \+ position embeddings → \[4, 16\] +\(wte\.weight \[260, 16\], wpe\.weight \[32, 16\]\)/,
  );
  assert.match(walk, /each of the 2 blocks/);
  assert.match(walk, /q, k, v projection → \[4, 48\]/);
  assert.match(walk, /logits \(head tied to wte\) → \[4, 260\]/);
  assert.match(walk, /greedy \(temperature 0\)/);
  assert.match(walk, /block 1's heads looked most at: h0 /);

  assert.equal(await run("/explain on"), "explain on");
  const reply = await chat.reply("Oi");
  const step = reply.result.steps[0];
  assert.equal(step.top.length, 5);
  assert.ok(step.attention && step.sampling, "educational steps carry attention and sampling");
  // After a reply, /explain with no text walks through the conversation's next step.
  assert.match(await run("/explain"), /1\. tokens: \d+ ids/);
  model.dispose();
});
