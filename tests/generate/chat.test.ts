import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/mod.ts";
import { initWeights } from "../../src/model/mod.ts";
import { createLanguageModel, type LanguageModel } from "../../src/generate/inference.ts";
import { ChatSession } from "../../src/generate/chat.ts";
import { runCommand } from "../../src/generate/commands.ts";
import { byteTokenizer, CHAT_SPECIALS, ScriptedModel, tinyGpt, tinyRwkv } from "./helpers.ts";

const enc = (s: string) => Array.from(new TextEncoder().encode(s));

/** Counts the tokens actually pushed through the model. */
function countingFeeds(model: LanguageModel): number[] {
  const fed: number[] = [];
  const feed = model.feed.bind(model);
  (model as { feed: typeof model.feed }).feed = (ids) => {
    fed.push(ids.length);
    return feed(ids);
  };
  return fed;
}

Deno.test("chat tokens: the prompt uses <|system|>/<|user|>/<|assistant|>, answers end at [EOS]", async () => {
  const tok = byteTokenizer(CHAT_SPECIALS);
  const model = new ScriptedModel(260, [...enc(" Olá!"), 259]);
  const chat = new ChatSession(model, tok, { persona: "formal", sampling: { temperature: 0 } });
  assert.equal(chat.template, "chat-tokens");
  assert.equal(chat.templateNotice, undefined);
  const r = await chat.reply("Bom dia");
  assert.equal(r.answer, "Olá!");
  const fed = model.feeds[0];
  assert.equal(fed[0], 256);
  assert.equal(tok.decode(fed), "<|system|>" + chat.system + "\n<|user|>Bom dia\n<|assistant|>");
  assert.deepEqual(chat.history.map((t) => t.role), ["user", "assistant"]);
  assert.match(chat.system, /formal/);
});

Deno.test("an answer is never empty: the model may end its turn after minNewTokens (default 2)", async () => {
  const tok = byteTokenizer(CHAT_SPECIALS);
  // A model that ends its turn at once, then would say "ok".
  const script = [259, ...enc("ok"), 259];
  const chat = new ChatSession(new ScriptedModel(260, script), tok, {
    sampling: { temperature: 0 },
  });
  assert.equal(chat.minNewTokens, 2);
  const r = await chat.reply("Oi");
  assert.equal(r.result.tokens.length, 3);
  assert.ok(!r.result.tokens.includes(259));
  const free = new ChatSession(new ScriptedModel(260, script), tok, {
    sampling: { temperature: 0 },
    minNewTokens: 0,
  });
  assert.equal((await free.reply("Oi")).answer, "");
  assert.throws(() => new ChatSession(new ScriptedModel(260, script), tok, { minNewTokens: 1.5 }));
});

Deno.test("plain template when the tokenizer lacks chat tokens; stops at the next 'Usuário:'", async () => {
  const tok = byteTokenizer();
  const model = new ScriptedModel(256, enc(" Tudo bem.\nUsuário: e você?"));
  const chat = new ChatSession(model, tok, { system: "Seja breve.", sampling: { temperature: 0 } });
  assert.equal(chat.template, "plain");
  assert.match(chat.templateNotice!, /plain template/);
  const chunks: string[] = [];
  const r = await chat.reply("Oi", (t) => chunks.push(t));
  assert.equal(r.answer, "Tudo bem.");
  assert.equal(chunks.join("").trim(), "Tudo bem.");
  assert.equal(tok.decode(model.feeds[0]), "Seja breve.\n\nUsuário: Oi\nAssistente:");
});

Deno.test("GPT chat reuses the KV cache of earlier turns and drops the oldest turns to fit", async () => {
  const tok = byteTokenizer(CHAT_SPECIALS);
  const config = tinyGpt(260, 160);
  const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 5));
  const fed = countingFeeds(model);
  const chat = new ChatSession(model, tok, { system: "S", maxNewTokens: 6, sampling: { seed: 1 } });
  await chat.reply("primeira mensagem");
  const before = model.tokens.length;
  fed.length = 0;
  await chat.reply("segunda");
  // Only the new part went through the model: the last answer token, [EOS], "\n", the message…
  assert.ok(fed[0] < 20, `fed ${fed[0]} tokens of a ${before}-token history`);
  // Long messages: the oldest turns go, the prompt stays within the context.
  let dropped = 0;
  for (let i = 0; i < 6; i++) dropped += (await chat.reply("x".repeat(40) + i)).droppedTurns;
  assert.ok(dropped > 0);
  assert.ok(chat.stats.contextUsed <= 160);
  assert.equal(chat.history[0].role, "user");
  model.dispose();
});

Deno.test("slash commands: values checked, unknown ones reported, the session goes on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tok = byteTokenizer(CHAT_SPECIALS);
    const model = new ScriptedModel(260, [...enc("resposta"), 259]);
    const chat = new ChatSession(model, tok, { sampling: { temperature: 0 } });
    const ctx = { feedbackPath: `${dir}/feedback.jsonl`, modelName: "m" };
    const run = async (line: string) => (await runCommand(chat, line, ctx)).message;
    assert.match(await run("/help"), /\/top-p P/);
    assert.equal(await run("/temp 0.5"), "temperature = 0.5");
    assert.match(await run("/temp -1"), /^error: temperature must be ≥ 0/);
    assert.match(await run("/temp abc"), /not a number/);
    assert.equal(await run("/top-k 5"), "top-k = 5");
    assert.match(await run("/top-p 1.5"), /top-p must be in \(0, 1\]/);
    assert.equal(await run("/top-p 0.9"), "top-p = 0.9");
    assert.equal(await run("/tokens 12"), "tokens per answer = 12");
    assert.match(await run("/tokens 0"), /error/);
    assert.equal(await run("/persona casual"), "persona = casual");
    assert.match(
      await run("/persona pirata"),
      /unknown persona "pirata"; available: tecnico, casual, formal/,
    );
    assert.match(await run("/educational sim"), /on or off/);
    assert.equal(await run("/explain on"), "explain on");
    assert.match(await run("/good"), /no answer to rate yet/);
    assert.match(await run("/frobnicate"), /unknown command "\/frobnicate"/);
    const reply = await chat.reply("pergunta");
    assert.equal(reply.result.steps.length, "resposta".length + 1, "explain records each token");
    assert.equal(reply.result.steps[0].top.length, 5);
    const ctx2 = { ...ctx, lastReply: { ...reply, prompt: "pergunta" } };
    assert.match((await runCommand(chat, "/bad", ctx2)).message, /feedback saved/);
    const lines = (await Deno.readTextFile(ctx.feedbackPath)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.equal(lines.length, 1);
    assert.equal(lines[0].rating, "bad");
    assert.equal(lines[0].prompt, "pergunta");
    assert.equal(lines[0].answer, "resposta");
    assert.ok(!Number.isNaN(Date.parse(lines[0].time)));
    assert.match(await run("/stats"), /turns 2 \| context used \d+\/1000 tokens/);
    assert.match(await run(`/save ${dir}/c.json`), /saved/);
    assert.equal(await run("/reset"), "conversation cleared");
    assert.equal(await run("/history"), "(no messages yet)");
    assert.match(await run(`/load ${dir}/c.json`), /loaded 2 messages/);
    assert.equal(await run("/history"), "you: pergunta\nbot: resposta");
    assert.match(await run(`/load ${dir}/nope.json`), /error: .*nope.json: file not found/);
    await Deno.writeTextFile(`${dir}/bad.json`, "{}");
    assert.match(await run(`/load ${dir}/bad.json`), /not a saved Bentevi chat/);
    assert.equal(chat.history.length, 2, "a bad /load changes nothing");
    assert.deepEqual(await runCommand(chat, "/quit", ctx), { message: "bye", quit: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RWKV chat: /save keeps the recurrent state, /load continues without re-reading", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tok = byteTokenizer(CHAT_SPECIALS);
    const config = tinyRwkv(260);
    const weights = initWeights(config, 8);
    const backend = await createBackend("cpu");
    const opts = { system: "S", maxNewTokens: 8, sampling: { temperature: 0 } };
    const a = new ChatSession(createLanguageModel(backend, config, weights), tok, opts);
    await a.reply("primeira mensagem");
    await a.save(`${dir}/c.json`);
    const expected = (await a.reply("segunda")).answer;
    const model = createLanguageModel(backend, config, weights);
    const b = new ChatSession(model, tok, opts);
    await b.load(`${dir}/c.json`);
    assert.ok(model.tokens.length > 20, "state restored");
    const fed = countingFeeds(model);
    assert.equal((await b.reply("segunda")).answer, expected);
    assert.equal(
      fed[0],
      13,
      "only the new part: last answer token, [EOS], \\n, <|user|>segunda\\n<|assistant|>",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
