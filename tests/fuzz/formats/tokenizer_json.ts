/** `tokenizer.json`: read with `Tokenizer.fromFile`, then encode and decode a sentence. */
import { join } from "node:path";
import { Tokenizer, trainTokenizer, trainTokenizerJson } from "../../../src/tokenizer/mod.ts";
import type { FuzzFormat } from "../harness.ts";
import { SENTENCES, smallTokenizer, utf8 } from "./_fixtures.ts";

const PROBE = "Olá, bem-te-vi! <|endoftext|> ação 123 [EOS] <s> fim";

/**
 * A small SentencePiece-style file (the Llama-2 layout: Prepend/Replace normalizers, byte
 * fallback, a template adding <s>, ByteFallback/Fuse/Strip decoders), and a Metaspace variant.
 */
function spmSeeds(): { label: string; json: unknown }[] {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  const add = (t: string) => (vocab[t] ??= Object.keys(vocab).length);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  for (const c of SENTENCES.join("").replaceAll(" ", "▁")) add(c);
  const merges = [["▁", "b"], ["e", "m"], ["▁b", "em"], ["a", "ç"], ["ç", "ã"]];
  for (const [a, b] of merges) add(a + b);
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const base = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "▁" },
        { type: "Replace", pattern: { String: " " }, content: "▁" },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: null,
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const metaspace = {
    ...base,
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: true },
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: true },
  };
  return [{ label: "spm", json: base }, { label: "metaspace", json: metaspace }];
}

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
      ...spmSeeds().map((s) => ({
        label: s.label,
        files: { "tokenizer.json": utf8(JSON.stringify(s.json, null, 1)) },
      })),
    ];
  },
  async run(_root, file) {
    const tok = await Tokenizer.fromFile(file);
    const ids = tok.encode(PROBE);
    tok.decode(ids);
    tok.encodeWithOffsets(PROBE);
    const d = tok.streamDecoder();
    for (const id of ids) d.push(id);
    d.flush();
  },
};

/** Path of the seed file in a mutant (for tools). */
export function tokenizerPath(root: string): string {
  return join(root, "tokenizer.json");
}
