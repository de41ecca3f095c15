/** `tokenizer.json`: read with `Tokenizer.fromFile`, then encode and decode a sentence. */
import { join } from "node:path";
import { Tokenizer, trainTokenizer, trainTokenizerJson } from "../../../src/tokenizer/mod.ts";
import type { FuzzFormat } from "../harness.ts";
import { SENTENCES, smallTokenizer, utf8 } from "./_fixtures.ts";

const PROBE = "Olá, bem-te-vi! <|endoftext|> ação 123 [EOS]";

export const tokenizerJson: FuzzFormat = {
  name: "tokenizer.json",
  async seeds() {
    const trained = await smallTokenizer();
    async function* corpus() {
      yield* SENTENCES;
    }
    const normalized = await trainTokenizer(corpus(), {
      vocabSize: 290,
      minFrequency: 1,
      normalize: "ptbr",
      specialTokens: ["[EOS]", "<|endoftext|>"],
      preTokenizer: "gpt4",
    });
    const json = (t: Tokenizer) => utf8(JSON.stringify(t.toJSON(), null, 1));
    const spm = await trainTokenizerJson(corpus(), {
      style: "sentencepiece",
      vocabSize: 400,
      minFrequency: 1,
    });
    return [
      { label: "trained", files: { "tokenizer.json": json(trained) } },
      { label: "ptbr-gpt4", files: { "tokenizer.json": json(normalized) } },
      { label: "byte-level", files: { "tokenizer.json": json(Tokenizer.byteLevel()) } },
      { label: "sentencepiece", files: { "tokenizer.json": utf8(JSON.stringify(spm, null, 1)) } },
    ];
  },
  async run(_root, file) {
    const tok = await Tokenizer.fromFile(file);
    const ids = tok.encode(PROBE);
    tok.decode(ids);
  },
};

/** Path of the seed file in a mutant (for tools). */
export function tokenizerPath(root: string): string {
  return join(root, "tokenizer.json");
}
