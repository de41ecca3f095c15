/**
 * Chat save files (`/save`, `/load`): a GPT conversation and an RWKV one with its recurrent
 * state, loaded into a fresh session, which then answers one token.
 */
import { ChatSession } from "../../../src/generate/chat.ts";
import { createLanguageModel } from "../../../src/generate/inference.ts";
import { initWeights, type ModelConfig } from "../../../src/model/mod.ts";
import { Tokenizer } from "../../../src/tokenizer/mod.ts";
import type { FuzzFormat } from "../harness.ts";
import { join } from "node:path";
import { cpuBackend, tinyGpt, tinyRwkv } from "./_fixtures.ts";

const SPECIALS = ["<|system|>", "<|user|>", "<|assistant|>", "[EOS]"];

let chatTok: Tokenizer | undefined;
function chatTokenizer(): Tokenizer {
  if (chatTok) return chatTok;
  const j = JSON.parse(JSON.stringify(Tokenizer.byteLevel().toJSON()));
  j.added_tokens = SPECIALS.map((content, i) => ({
    id: 256 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return (chatTok = Tokenizer.fromJSON(j));
}

const OPTIONS = { system: "Seja breve.", maxNewTokens: 4, sampling: { temperature: 0 } };
const MODELS = new Map<string, ModelConfig>();

export const chatSave: FuzzFormat = {
  name: "chat-save",
  async seeds(work) {
    await Deno.mkdir(work, { recursive: true });
    const tok = chatTokenizer();
    const seeds = [];
    for (const config of [tinyGpt(260), tinyRwkv(260)]) {
      MODELS.set(config.arch, config);
      const model = createLanguageModel(await cpuBackend(), config, initWeights(config, 2));
      const chat = new ChatSession(model, tok, OPTIONS);
      await chat.reply("Bom dia! Vai chover hoje?");
      await chat.reply("E amanhã?");
      const path = join(work, `${config.arch}.json`);
      await chat.save(path);
      model.dispose();
      seeds.push({
        label: config.arch,
        files: { [`${config.arch}-chat.json`]: await Deno.readFile(path) },
      });
    }
    return seeds;
  },
  async run(_root, file) {
    const config = MODELS.get(file.includes("rwkv") ? "rwkv" : "gpt")!;
    const model = createLanguageModel(await cpuBackend(), config, initWeights(config, 2));
    try {
      const chat = new ChatSession(model, chatTokenizer(), { ...OPTIONS, maxNewTokens: 1 });
      await chat.load(file);
      await chat.reply("oi");
    } finally {
      model.dispose();
    }
  },
};
