import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/mod.ts";
import { initWeights } from "../../src/model/mod.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { generate } from "../../src/generate/generator.ts";
import { perplexity } from "../../src/generate/load.ts";
import { byteTokenizer, CHAT_SPECIALS, ScriptedModel, tinyGpt, tinyRwkv } from "./helpers.ts";

const enc = (s: string) => Array.from(new TextEncoder().encode(s));

Deno.test("streaming holds the bytes of a split UTF-8 character until it is complete", async () => {
  const tok = byteTokenizer();
  const model = new ScriptedModel(256, enc("ação ✓"));
  const chunks: string[] = [];
  const r = await generate(model, tok, "x", {
    temperature: 0,
    maxNewTokens: enc("ação ✓").length,
    onText: (t) => chunks.push(t),
  });
  assert.equal(r.text, "ação ✓");
  assert.equal(chunks.join(""), "ação ✓");
  assert.ok(chunks.every((c) => !c.includes("\uFFFD")), JSON.stringify(chunks));
  assert.deepEqual(chunks, ["a", "ç", "ã", "o", " ", "✓"]);
  assert.equal(r.finishReason, "length");
});

Deno.test("stop sequences end the text before them, and are never streamed", async () => {
  const tok = byteTokenizer();
  const model = new ScriptedModel(256, enc("abc STOP def"));
  const chunks: string[] = [];
  const r = await generate(model, tok, "x", {
    temperature: 0,
    stop: ["STOP", "zzz"],
    onText: (t) => chunks.push(t),
  });
  assert.equal(r.text, "abc ");
  assert.equal(chunks.join(""), "abc ");
  assert.equal(r.finishReason, "stop");
  // A near miss ("ST" then something else) is released once it cannot become a stop.
  const m2 = new ScriptedModel(256, enc("a STx"));
  const r2 = await generate(m2, tok, "x", { temperature: 0, stop: ["STOP"], maxNewTokens: 5 });
  assert.equal(r2.text, "a STx");
});

Deno.test("end-of-text ends generation (unless ignored); max new tokens bounds it", async () => {
  const tok = byteTokenizer(CHAT_SPECIALS);
  const eos = tok.endOfTextId!;
  assert.equal(eos, 259);
  const r = await generate(new ScriptedModel(260, [...enc("ok"), eos, ...enc("more")]), tok, "x", {
    temperature: 0,
  });
  assert.equal(r.text, "ok");
  assert.equal(r.finishReason, "end-of-text");
  assert.deepEqual(r.tokens, enc("ok"));
  const r2 = await generate(new ScriptedModel(260, [...enc("ok"), eos, ...enc("more")]), tok, "x", {
    temperature: 0,
    ignoreEndOfText: true,
    maxNewTokens: 4,
  });
  assert.deepEqual(r2.tokens, [...enc("ok"), eos, enc("m")[0]]);
  const r3 = await generate(new ScriptedModel(260, enc("abcdef")), tok, "x", {
    temperature: 0,
    maxNewTokens: 3,
  });
  assert.equal(r3.text, "abc");
  assert.equal(r3.finishReason, "length");
  // Stop token ids (the chat's <|user|>) end it too.
  const r4 = await generate(new ScriptedModel(260, [...enc("hi"), 257]), tok, "x", {
    temperature: 0,
    stopTokenIds: [257],
  });
  assert.equal(r4.text, "hi");
  assert.equal(r4.finishReason, "stop");
});

Deno.test("a prompt longer than the context is cut from the left", async () => {
  const tok = byteTokenizer();
  const model = new ScriptedModel(256, enc("z"), 8);
  const r = await generate(model, tok, "0123456789abcdef", { temperature: 0, maxNewTokens: 1 });
  assert.equal(r.truncatedPromptTokens, 9);
  assert.equal(r.promptTokens, 7);
  assert.deepEqual(model.feeds[0], enc("9abcdef"));
});

Deno.test("real tiny models: same seed → same text; the context slides when full", async () => {
  const tok = byteTokenizer();
  const backend = await createBackend("cpu");
  for (const config of [tinyGpt(256, 16), tinyRwkv(256)]) {
    const model = createLanguageModel(backend, config, initWeights(config, 3));
    const run = (seed: number) =>
      generate(model, tok, "Era uma vez", {
        seed,
        temperature: 1.5,
        maxNewTokens: 30,
        ignoreEndOfText: true,
      });
    const a = await run(7), b = await run(7), c = await run(8);
    assert.deepEqual(a.tokens, b.tokens, config.arch);
    assert.notDeepEqual(a.tokens, c.tokens, config.arch);
    assert.equal(a.tokens.length, 30, "GPT kept going past its 16-token context");
    const p = await perplexity(model, enc("Era uma vez um gato que gostava de dormir ao sol."));
    assert.ok(p.perplexity > 1 && Number.isFinite(p.perplexity));
    model.dispose();
  }
});

Deno.test("suppressed tokens are never generated: greedy takes the next best", async () => {
  const tok = byteTokenizer();
  // The scripted model puts its highest logit on each byte of "abab"; suppressing "b" leaves
  // greedy decoding with whatever ranks second, never "b".
  const model = new ScriptedModel(256, enc("abab"));
  const free = await generate(model, tok, "x", { temperature: 0, maxNewTokens: 4 });
  assert.equal(free.text, "abab");
  const model2 = new ScriptedModel(256, enc("abab"));
  const r = await generate(model2, tok, "x", {
    temperature: 0,
    maxNewTokens: 4,
    suppressTokenIds: enc("b"),
  });
  assert.equal(r.tokens.length, 4);
  assert.ok(!r.tokens.includes(enc("b")[0]), JSON.stringify(r.tokens));
  assert.equal(r.tokens[0], enc("a")[0]);
});

Deno.test("min new tokens: end-of-text and stop ids are not sampled before that many tokens", async () => {
  const tok = byteTokenizer(CHAT_SPECIALS);
  const eos = tok.endOfTextId!;
  const script = [eos, eos, ...enc("o"), eos];
  const none = await generate(new ScriptedModel(260, script), tok, "x", { temperature: 0 });
  assert.equal(none.tokens.length, 0);
  assert.equal(none.finishReason, "end-of-text");
  const two = await generate(new ScriptedModel(260, script), tok, "x", {
    temperature: 0,
    minNewTokens: 2,
  });
  assert.equal(two.tokens.length, 3, JSON.stringify(two.tokens));
  assert.ok(!two.tokens.includes(eos));
  assert.equal(two.tokens[2], enc("o")[0]);
  assert.equal(two.finishReason, "end-of-text");
  // The chat's end-of-turn ids (stopTokenIds) wait for the minimum too.
  const turn = await generate(new ScriptedModel(260, [257, ...enc("h"), 257]), tok, "x", {
    temperature: 0,
    stopTokenIds: [257],
    minNewTokens: 1,
  });
  assert.equal(turn.tokens.length, 2);
  assert.equal(turn.tokens[1], enc("h")[0]);
  assert.equal(turn.finishReason, "stop");
  await assert.rejects(
    () => generate(new ScriptedModel(260, script), tok, "x", { minNewTokens: -1 }),
    /min new tokens/,
  );
});
