import assert from "node:assert/strict";
import { Tokenizer, trainTokenizer } from "../../src/tokenizer/mod.ts";
import { CORPUS, GPT2_JSON, hasGpt2, needs, randomText } from "./_helpers.ts";
import { hfOnce } from "./_peers.ts";

const PROBE = CORPUS.slice(0, 3000) +
  " AÇÃO   Ação\t\tÉ [EOS] <|user|> 🐦\r\n x\u0085y 12345 don't I'M" + randomText(7, 2000);

async function hfIds(path: string, text: string): Promise<number[] | undefined> {
  const HF = await hfOnce();
  if (!HF) return undefined;
  const hf = HF.fromFile(path);
  const enc = await hf.encode(text, null, { addSpecialTokens: false });
  return Array.from(enc.getIds() as ArrayLike<number>);
}

for (
  const options of [
    {},
    { normalize: "ptbr" },
    { normalize: "ptbr-ascii" },
    { normalize: "nfkc" },
    { preTokenizer: "gpt4" as const },
  ]
) {
  Deno.test(
    `a Bentevi-trained tokenizer loads in HF tokenizers with the same ids ${
      JSON.stringify(options)
    }`,
    async () => {
      async function* c() {
        yield CORPUS;
      }
      const tok = await trainTokenizer(c(), { vocabSize: 600, ...options });
      const dir = await Deno.makeTempDir();
      await tok.save(`${dir}/tokenizer.json`);
      try {
        const expected = await hfIds(`${dir}/tokenizer.json`, PROBE);
        if (!expected) return;
        assert.deepEqual(tok.encode(PROBE), expected);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

Deno.test({
  name: "GPT-2 tokenizer.json: same ids as HF tokenizers on random Unicode",
  ignore: needs(hasGpt2, "GPT-2 tokenizer.json"),
  fn: async () => {
    const tok = await Tokenizer.fromFile(GPT2_JSON);
    for (let seed = 1; seed <= 5; seed++) {
      const text = randomText(seed * 31, 3000);
      const expected = await hfIds(GPT2_JSON, text);
      if (!expected) return;
      assert.deepEqual(tok.encode(text), expected, `seed ${seed}`);
    }
  },
});
