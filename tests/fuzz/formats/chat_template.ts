/**
 * `tokenizer_config.json` with a `chat_template` (Jinja): read with
 * `ChatTemplate.forTokenizer`, then a three-message conversation rendered with the generation
 * prompt, as `chat` does. Seeds: Bentevi's own template, and the real Llama-3 and Qwen3 files
 * when ../shared is present.
 */
import { join } from "node:path";
import {
  benteviTokenizerConfig,
  ChatTemplate,
  DEFAULT_SPECIAL_TOKENS,
} from "../../../src/tokenizer/mod.ts";
import type { FuzzFormat, Seed } from "../harness.ts";
import { utf8 } from "./_fixtures.ts";

const SHARED = new URL("../../../../shared/data/tokenizer/", import.meta.url).pathname;

const MESSAGES = [
  { role: "system", content: "Seja breve." },
  { role: "user", content: "Bom dia! Vai chover hoje?" },
  { role: "assistant", content: "Talvez à tarde." },
  { role: "user", content: "E amanhã?" },
];

export const chatTemplate: FuzzFormat = {
  name: "chat-template",
  async seeds() {
    const bentevi = benteviTokenizerConfig({
      added_tokens: DEFAULT_SPECIAL_TOKENS.map((content, id) => ({ id, content })),
    });
    const seeds: Seed[] = [{
      label: "bentevi",
      files: { "tokenizer_config.json": utf8(JSON.stringify(bentevi, null, 2)) },
    }];
    for (const name of ["llama3", "qwen3"]) {
      try {
        const bytes = await Deno.readFile(join(SHARED, name, "tokenizer_config.json"));
        seeds.push({ label: name, files: { "tokenizer_config.json": bytes } });
      } catch { /* ../shared absent: Bentevi's seed only */ }
    }
    return seeds;
  },
  async run(root) {
    const template = await ChatTemplate.forTokenizer(join(root, "tokenizer.json"));
    template?.render(MESSAGES, { addGenerationPrompt: true });
  },
};
