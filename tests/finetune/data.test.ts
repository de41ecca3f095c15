// Fine-tuning data: record forms, bad input (one-line errors and counted skips), the loss mask
// (answers and end-of-turn tokens only), cutting at turn boundaries, the sampler's resume, and
// the masked mean of the training step.
import assert from "node:assert/strict";
import { join } from "node:path";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { BenteviError } from "../../src/errors.ts";
import {
  buildExamples,
  type ChatRecord,
  type Example,
  ExampleSampler,
  type FinetuneRecord,
  readFinetuneRecords,
} from "../../src/finetune/mod.ts";
import { ChatSession } from "../../src/generate/chat.ts";
import { chatFormatFor, encodeChat } from "../../src/generate/chat_format.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { createModel, initWeights, ParameterStore } from "../../src/model/mod.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { defaultTrainOptions, evaluateBatches, TrainStep } from "../../src/train/mod.ts";
import { makeFixture, TINY_GPT } from "../train/helpers.ts";

const fx = await makeFixture();
const tok = await Tokenizer.fromFile(fx.tokenizer);
const enc = (s: string) => Array.from(tok.encode(s, { addSpecialTokens: false }));
const format = chatFormatFor(tok, tok.vocabSize);

async function write(name: string, lines: unknown[]): Promise<string> {
  const path = join(fx.dir, name);
  await Deno.writeTextFile(
    path,
    lines.map((l) => typeof l === "string" ? l : JSON.stringify(l)).join("\n") + "\n",
  );
  return path;
}

const chat = (...turns: [string, string][]) => ({
  messages: turns.map(([role, content]) => ({ role, content })),
});

Deno.test("finetune data: the three record forms", async () => {
  const path = await write("forms.jsonl", [
    chat(["system", "Seja breve."], ["user", "Oi"], ["assistant", "Olá!"]),
    { text: "<|system|>Seja breve.\n<|user|>Oi\n<|assistant|>Olá![EOS]" }, // dialogos.jsonl form
    { text: "O bem-te-vi canta." }, // a document
  ]);
  const txt = join(fx.dir, "doc.txt");
  await Deno.writeTextFile(txt, "Um texto de domínio.\n");
  const records = await readFinetuneRecords([path, txt]);
  assert.deepEqual(records.map((r) => r.kind), ["chat", "chat", "document", "document"]);
  // the dialogos form gives the same messages as the messages form (trailing [EOS] dropped)
  assert.deepEqual(records[1], { ...records[0], source: `${path}:2` });
});

Deno.test("finetune data: bad records are one-line errors naming FILE:LINE", async () => {
  const cases: [unknown, RegExp][] = [
    ["{not json", /forms-bad\.jsonl:2: not valid JSON/],
    [chat(["user", "Oi"], ["tool", "x"]), /:2: message 2: unknown role "tool"/],
    [chat(["user", "  "], ["assistant", "Olá"]), /:2: message 1: empty user content/],
    [{ messages: [{ role: "user", content: 3 }] }, /"content" must be a string/],
    [{ messages: [] }, /"messages" must be a non-empty list/],
    [{ prompt: "x" }, /expected \{"messages"/],
    [{ text: "antes <|user|>Oi\n<|assistant|>Olá" }, /text before the first <\|user\|>/],
  ];
  for (const [bad, pattern] of cases) {
    const path = await write("forms-bad.jsonl", [chat(["user", "Oi"], ["assistant", "Olá"]), bad]);
    await assert.rejects(() => readFinetuneRecords([path]), (e: Error) => {
      assert.ok(e instanceof BenteviError, String(e));
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("finetune data: the loss is on the answers and their end-of-turn token only", () => {
  const rec: ChatRecord = {
    kind: "chat",
    source: "x",
    ...chat(["system", "Seja breve."], ["user", "Oi"], ["assistant", "Olá, tudo bem?"], [
      "user",
      "Tchau",
    ], ["assistant", "Até logo."]),
  };
  const { examples } = buildExamples([rec], { format, encode: enc, context: 200 });
  assert.equal(examples.length, 1);
  const e = examples[0];
  const eos = tok.endOfTextId!;
  // the trained positions, read back, are exactly the two answers each followed by [EOS]
  const spans: number[][] = [];
  e.trained.forEach((t, i) => {
    if (!t) return;
    if (!spans.length || !e.trained[i - 1]) spans.push([]);
    spans[spans.length - 1].push(e.ids[i]);
  });
  assert.deepEqual(spans, [[...enc("Olá, tudo bem?"), eos], [...enc("Até logo."), eos]]);
  // the ids are what chat renders (one encoding for both)
  assert.deepEqual(e.ids, encodeChat(format, rec.messages, enc).ids);
  // --train-on-prompt: every position but the first
  const all = buildExamples([rec], { format, encode: enc, context: 200, trainOnPrompt: true });
  assert.equal(all.examples[0].trained.reduce((a, b) => a + b, 0), e.ids.length - 1);
});

Deno.test("chat prompts with the encoding training uses", async () => {
  const config = { ...TINY_GPT, vocabSize: tok.vocabSize, contextLength: 256 };
  const model = createLanguageModel(new CpuBackend(), config, initWeights(config, 1));
  const session = new ChatSession(model, tok, { system: "Seja breve.", maxNewTokens: 3 });
  const { answer } = await session.reply("Oi");
  const history = session.history.map(({ role, content }) => ({ role, content }));
  const messages = [{ role: "system", content: "Seja breve." }, ...history];
  // training's encoding of the conversation, with the answer's generated ids, is the prefix
  // of chat's next prompt
  const trained = encodeChat(
    format,
    messages.map((m, i) => ({
      ...m,
      ids: i === 2 ? session.history[1].ids : undefined,
    })),
    enc,
  );
  await session.reply("Tchau");
  assert.ok(typeof answer === "string");
  assert.deepEqual(model.tokens.slice(0, trained.ids.length), trained.ids);
});

Deno.test("finetune data: long conversations cut at turn boundaries; counted skips", () => {
  const turns: [string, string][] = [["system", "Seja breve."]];
  for (let i = 0; i < 6; i++) {
    turns.push(["user", `Pergunta ${i}?`], ["assistant", `Resposta ${i}.`]);
  }
  const rec: ChatRecord = { kind: "chat", source: "x", ...chat(...turns) };
  const whole = encodeChat(format, rec.messages, enc).ids.length;
  const one = encodeChat(format, rec.messages.slice(0, 3), enc).ids.length;
  const context = Math.floor(whole / 2);
  const { examples, skipped } = buildExamples([rec], { format, encode: enc, context });
  assert.ok(examples.length >= 2, `${examples.length} pieces`);
  for (const e of examples) {
    assert.ok(e.ids.length <= context + 1);
    // each piece starts with the system prompt and a user turn
    assert.equal(e.ids[0], tok.tokenToId("<|system|>"));
    assert.ok(e.ids.includes(tok.tokenToId("<|user|>")!));
  }
  assert.deepEqual(skipped, { noAssistant: 0, tooLong: 0 });
  // no answer: skipped and counted; an exchange longer than the context: skipped and counted
  const noAnswer: FinetuneRecord = { kind: "chat", source: "y", ...chat(["user", "Oi"]) };
  const r = buildExamples([noAnswer, rec], { format, encode: enc, context: one - 3 });
  assert.equal(r.skipped.noAssistant, 1);
  assert.equal(r.skipped.tooLong, 6);
  assert.equal(r.examples.length, 0);
});

Deno.test("example sampler: epochs reshuffle; a restored state deals the same rows", () => {
  const examples: Example[] = Array.from({ length: 5 }, (_, n) => ({
    ids: [n, n + 1, n + 2],
    trained: Uint8Array.of(0, 1, 1),
    source: "x",
  }));
  const o = { batchSize: 2, context: 4, seed: 7, pad: 0 };
  const a = new ExampleSampler(examples, o);
  const x = new Int32Array(8), y = new Int32Array(8);
  const firsts: number[] = [];
  for (let i = 0; i < 7; i++) {
    a.next(x, y);
    firsts.push(x[0], x[4]);
    // right padding: no target after an example's end
    assert.deepEqual([...y.slice(2, 4)], [-1, -1]);
  }
  // each epoch deals every example once
  assert.deepEqual([...firsts.slice(0, 5)].sort(), [0, 1, 2, 3, 4]);
  assert.deepEqual([...firsts.slice(5, 10)].sort(), [0, 1, 2, 3, 4]);
  const b = new ExampleSampler(examples, o);
  for (let i = 0; i < 3; i++) b.next(x, y);
  const state = b.getState();
  const c = new ExampleSampler(examples, { ...o, seed: 99 });
  c.setState(state);
  const rest = (s: ExampleSampler) =>
    Array.from({ length: 4 }, () => (s.next(x, y), [...x])).flat();
  assert.deepEqual(rest(c), rest(b));
});

Deno.test("training step: the loss is the mean over counted targets, masked ones add nothing", async () => {
  const backend = new CpuBackend();
  const store = new ParameterStore(backend, TINY_GPT);
  store.load(initWeights(TINY_GPT, 5));
  const model = createModel(backend, TINY_GPT, store, 2, 8);
  const inputs = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 300);
  const targets = Int32Array.from({ length: 16 }, (_, i) => i % 3 === 0 ? (i * 5) % 300 : -1);
  const counted = targets.filter((t) => t >= 0).length;
  const ref = await evaluateBatches(model, 1, (_, x, y) => (x.set(inputs), y.set(targets)));
  assert.equal(ref.tokens, counted);
  const step = new TrainStep(model, { ...defaultTrainOptions(TINY_GPT), learningRate: () => 0 });
  step.record(0, (x, y) => (x.set(inputs), y.set(targets)));
  const stats = await step.readStats();
  assert.equal(stats.targets, counted);
  assert.ok(Math.abs(stats.loss - ref.loss) < 1e-5, `${stats.loss} vs ${ref.loss}`);
  // the same targets with the masked ones changed to anything else change the mean
  step.free();
  model.free();
  store.free();
});
