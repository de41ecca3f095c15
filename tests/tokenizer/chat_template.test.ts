// Chat templates: the real Llama-3 and Qwen3 templates rendered for a short conversation give
// exactly the text their Jinja semantics define (the expected strings below were also checked
// once against Python's jinja2 with trim_blocks/lstrip_blocks, as transformers renders them);
// Bentevi's own format as a template; errors as one line naming the file; the chat session
// prompting through a checkpoint's template.
import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import {
  BENTEVI_CHAT_TEMPLATE,
  benteviTokenizerConfig,
  ChatTemplate,
} from "../../src/tokenizer/chat_template.ts";
import { ChatSession } from "../../src/generate/chat.ts";
import { loadCheckpoint } from "../../src/model/mod.ts";
import { assertOneLineError, runCli } from "../_cli.ts";
import {
  byteTokenizer,
  byteTokenizerJsonWith,
  CHAT_SPECIALS,
  ScriptedModel,
  tinyGpt,
  writeTinyCheckpoint,
} from "../generate/helpers.ts";

const SHARED = new URL("../../../shared/data/tokenizer/", import.meta.url).pathname;
const hasShared = await Deno.stat(`${SHARED}llama3/tokenizer_config.json`).then(
  () => true,
  () => false,
);
if (!hasShared) {
  console.log("chat_template.test.ts: ../shared/data/tokenizer absent, real templates skipped");
}

const CONVERSATION = [
  { role: "system", content: "Você é um assistente prestativo." },
  { role: "user", content: "  Olá! Quem escreveu Dom Casmurro?  " },
  { role: "assistant", content: "Machado de Assis, em 1899." },
  { role: "user", content: "E Memórias Póstumas?" },
];

const header = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;

Deno.test({
  name: "chat template: Llama-3's renders bos, headers, trimmed contents and <|eot_id|>",
  ignore: !hasShared,
  fn: async () => {
    const t = (await ChatTemplate.forTokenizer(`${SHARED}llama3/tokenizer.json`))!;
    assert.equal(t.tokens.bosToken, "<|begin_of_text|>");
    const expected = "<|begin_of_text|>" +
      header("system") + "Você é um assistente prestativo.<|eot_id|>" +
      header("user") + "Olá! Quem escreveu Dom Casmurro?<|eot_id|>" + // `| trim`
      header("assistant") + "Machado de Assis, em 1899.<|eot_id|>" +
      header("user") + "E Memórias Póstumas?<|eot_id|>" +
      header("assistant"); // this template always ends with the assistant header
    assert.equal(t.render(CONVERSATION, { addGenerationPrompt: true }), expected);
    assert.equal(t.render(CONVERSATION), expected);
    assert.ok(t.endOfTurnTokens.includes("<|eot_id|>"));
  },
});

Deno.test({
  name:
    "chat template: Qwen3's renders ChatML, add_generation_prompt, enable_thinking, history <think> cut",
  ignore: !hasShared,
  fn: async () => {
    const t = (await ChatTemplate.forTokenizer(`${SHARED}qwen3/tokenizer.json`))!;
    assert.equal(t.tokens.bosToken, undefined); // null in the file
    assert.equal(t.tokens.eosToken, "<|im_end|>");
    const turns = "<|im_start|>system\nVocê é um assistente prestativo.<|im_end|>\n" +
      "<|im_start|>user\n  Olá! Quem escreveu Dom Casmurro?  <|im_end|>\n" + // not trimmed
      "<|im_start|>assistant\nMachado de Assis, em 1899.<|im_end|>\n" +
      "<|im_start|>user\nE Memórias Póstumas?<|im_end|>\n";
    assert.equal(t.render(CONVERSATION), turns);
    assert.equal(
      t.render(CONVERSATION, { addGenerationPrompt: true }),
      turns + "<|im_start|>assistant\n",
    );
    // An earlier answer's reasoning is left out; enable_thinking=false adds an empty block.
    const withThinking = [
      { role: "user", content: "Oi" },
      { role: "assistant", content: "<think>\nPensando.\n</think>\n\nOlá!" },
      { role: "user", content: "Tudo bem?" },
    ];
    assert.equal(
      t.render(withThinking, { addGenerationPrompt: true, variables: { enable_thinking: false } }),
      "<|im_start|>user\nOi<|im_end|>\n<|im_start|>assistant\nOlá!<|im_end|>\n" +
        "<|im_start|>user\nTudo bem?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    );
  },
});

Deno.test("chat template: Bentevi's own format, one line per message, [EOS] after each answer", () => {
  const t = new ChatTemplate(BENTEVI_CHAT_TEMPLATE, { eosToken: "[EOS]" });
  assert.ok(t.isBentevi);
  const messages = [
    { role: "system", content: "Você é um assistente prestativo." },
    { role: "user", content: "Olá!" },
    { role: "assistant", content: "Oi! Em que posso ajudar?" },
    { role: "user", content: "Quem escreveu Dom Casmurro?" },
  ];
  const turns = "<|system|>Você é um assistente prestativo.\n<|user|>Olá!\n" +
    "<|assistant|>Oi! Em que posso ajudar?[EOS]\n<|user|>Quem escreveu Dom Casmurro?\n";
  assert.equal(t.render(messages), turns);
  assert.equal(t.render(messages, { addGenerationPrompt: true }), turns + "<|assistant|>");
  assert.throws(
    () => t.render([{ role: "tool", content: "x" }]),
    (e) => e instanceof BenteviError && /chat_template failed: unknown role tool/.test(e.message),
  );
});

Deno.test("chat template: tokenizer_config.json forms, chat_template.jinja, errors name the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg = `${dir}/tokenizer_config.json`;
    const tok = `${dir}/tokenizer.json`;
    assert.equal(await ChatTemplate.forTokenizer(tok), undefined, "no config, no template");
    // bos/eos as AddedToken objects (older files), templates as a named list.
    await Deno.writeTextFile(
      cfg,
      JSON.stringify({
        bos_token: { __type: "AddedToken", content: "<s>", lstrip: false },
        eos_token: "</s>",
        chat_template: [
          { name: "tool_use", template: "tools" },
          { name: "default", template: "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}" },
        ],
      }),
    );
    const t = (await ChatTemplate.forTokenizer(tok))!;
    assert.equal(t.render([{ role: "user", content: "oi" }]), "<s>oi</s>");
    assert.equal(t.name, cfg);
    // No chat_template in the config: chat_template.jinja beside it, with the config's tokens.
    await Deno.writeTextFile(cfg, JSON.stringify({ bos_token: "<s>" }));
    await Deno.writeTextFile(
      `${dir}/chat_template.jinja`,
      "{{ bos_token }}[{{ messages|length }}]",
    );
    assert.equal((await ChatTemplate.forTokenizer(tok))!.render([]), "<s>[0]");
    const oneLine = (re: RegExp) => (e: unknown) =>
      e instanceof BenteviError && !e.message.includes("\n") && re.test(e.message);
    await Deno.writeTextFile(cfg, JSON.stringify({ chat_template: "{% if %}oops" }));
    await assert.rejects(
      () => ChatTemplate.forTokenizer(tok),
      oneLine(/tokenizer_config\.json: chat_template does not parse/),
    );
    await Deno.writeTextFile(
      cfg,
      JSON.stringify({ chat_template: "{{ raise_exception('só user/assistant') }}" }),
    );
    const bad = (await ChatTemplate.forTokenizer(tok))!;
    assert.throws(
      () => bad.render([]),
      oneLine(/tokenizer_config\.json: chat_template failed: .*só user\/assistant/),
    );
    await Deno.writeTextFile(cfg, JSON.stringify({ chat_template: 42 }));
    await assert.rejects(
      () => ChatTemplate.forTokenizer(tok),
      oneLine(/tokenizer_config\.json: chat_template must be a string/),
    );
    await Deno.writeTextFile(cfg, '{"chat_template": "trunc');
    await assert.rejects(
      () => ChatTemplate.forTokenizer(tok),
      oneLine(/tokenizer_config\.json: not valid JSON/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoints: a tokenizer with the chat tokens gets Bentevi's chat_template in tokenizer_config.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(benteviTokenizerConfig(JSON.parse(byteTokenizerJsonWith())), undefined);
    await writeTinyCheckpoint(`${dir}/chat`, tinyGpt(260), CHAT_SPECIALS);
    const ckpt = await loadCheckpoint(`${dir}/chat`);
    const t = (await ChatTemplate.forTokenizer(ckpt.tokenizerPath!))!;
    assert.ok(t.isBentevi);
    assert.equal(t.tokens.eosToken, "[EOS]");
    await writeTinyCheckpoint(`${dir}/plain`, tinyGpt(256));
    assert.equal(await ChatTemplate.forTokenizer(`${dir}/plain/tokenizer.json`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat session: a checkpoint's template shapes the prompt, <|im_end|> ends the answer, ids extend", async () => {
  const chatml = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + " +
    "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const tok = byteTokenizer(["<|im_start|>", "<|im_end|>"]);
  const template = new ChatTemplate(chatml, { eosToken: "<|im_end|>" }, "tokenizer_config.json");
  const enc = (s: string) => Array.from(new TextEncoder().encode(s));
  const model = new ScriptedModel(258, [...enc("Olá!"), 257]);
  const snapshots: number[][] = [];
  const feed = model.feed.bind(model);
  model.feed = (ids) => {
    const r = feed(ids);
    snapshots.push([...model.tokens]);
    return r;
  };
  const chat = new ChatSession(model, tok, {
    chatTemplate: template,
    system: "Seja breve.",
    maxNewTokens: 8,
    sampling: { temperature: 0 },
  });
  assert.equal(chat.template, "chat-template");
  assert.equal(chat.templateNotice, undefined);
  assert.equal((await chat.reply("Oi")).answer, "Olá!", "ended by <|im_end|>");
  const prompt1 = "<|im_start|>system\nSeja breve.<|im_end|>\n<|im_start|>user\nOi<|im_end|>\n" +
    "<|im_start|>assistant\n";
  assert.equal(tok.decode(model.feeds[0]), prompt1);
  const k = model.feeds.length;
  const held = [...model.tokens];
  await chat.reply("E aí?");
  // The second prompt: the first one, the answer as generated, the new turn; only the new part
  // goes through the model.
  assert.equal(
    tok.decode(snapshots[k]),
    prompt1 + "Olá!<|im_end|>\n<|im_start|>user\nE aí?<|im_end|>\n<|im_start|>assistant\n",
  );
  assert.deepEqual(snapshots[k].slice(0, held.length), held);
  assert.equal(snapshots[k].length - model.feeds[k].length, held.length);
  // An empty system prompt leaves the system message out of another model's template.
  const quiet = new ScriptedModel(258, [257]);
  await new ChatSession(quiet, tok, { chatTemplate: template, system: "", minNewTokens: 0 })
    .reply("Oi");
  assert.equal(
    tok.decode(quiet.feeds[0]),
    "<|im_start|>user\nOi<|im_end|>\n<|im_start|>assistant\n",
  );
});

Deno.test("CLI: chat reads the checkpoint's tokenizer_config.json; template errors are one line naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyCheckpoint(`${dir}/ckpt`, tinyGpt(256));
    const config = `${dir}/ckpt/tokenizer_config.json`;
    const chat = (stdin: string) =>
      runCli(["chat", "--checkpoint", `${dir}/ckpt`, "--device", "cpu", "--max-tokens", "2"], {
        permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"],
        stdin,
        cwd: dir,
      });
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        chat_template: "{{ raise_exception('Conversation roles must alternate') }}",
      }),
    );
    let r = await chat("Oi\n");
    assert.equal(r.code, 0, "the chat goes on after a failed message");
    assert.doesNotMatch(r.stderr, /plain template/, "a template, not the plain fallback");
    assert.match(
      r.stderr,
      /bentevi: .*tokenizer_config\.json: chat_template failed: Conversation roles must alternate\n/,
    );
    await Deno.writeTextFile(config, JSON.stringify({ chat_template: "{% for %}" }));
    r = await chat("Oi\n");
    assertOneLineError(r, /tokenizer_config\.json: chat_template does not parse/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
