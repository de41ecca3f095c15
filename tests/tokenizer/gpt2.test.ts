import assert from "node:assert/strict";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { listInputFiles, readTextChunks } from "../../src/text/mod.ts";
import {
  GPT2_JSON,
  GPT2_RANKS,
  GPT2_VECTORS,
  hasGpt2,
  hasMachado,
  MACHADO,
  needs,
} from "./_helpers.ts";
import { tiktokenOnce } from "./_peers.ts";

const GPT2_PATTERN_RUST =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

Deno.test({
  name: "GPT-2: the 46 llama.cpp test vectors give exactly GPT-2's ids",
  ignore: needs(hasGpt2, "GPT-2 tokenizer.json"),
  fn: async () => {
    const tok = await Tokenizer.fromFile(GPT2_JSON);
    const inputs = (await Deno.readTextFile(`${GPT2_VECTORS}.inp`)).split(
      "\n__ggml_vocab_test__\n",
    );
    const outputs = (await Deno.readTextFile(`${GPT2_VECTORS}.out`)).split("\n");
    let cases = 0;
    for (let i = 0; i < inputs.length; i++) {
      if (inputs[i] === "" && i === inputs.length - 1) continue;
      const expected = outputs[i].trim() === "" ? [] : outputs[i].trim().split(/\s+/).map(Number);
      assert.deepEqual(tok.encode(inputs[i]), expected, `case ${i}: ${JSON.stringify(inputs[i])}`);
      assert.equal(tok.decode(expected), inputs[i]);
      cases++;
    }
    assert.ok(cases >= 46, `${cases} cases`);
    assert.equal(tok.vocabSize, 50257);
    assert.equal(tok.endOfTextId, 50256);
  },
});

Deno.test({
  name: "GPT-2: <|endoftext|> is matched whole; decode can skip it",
  ignore: needs(hasGpt2, "GPT-2 tokenizer.json"),
  fn: async () => {
    const tok = await Tokenizer.fromFile(GPT2_JSON);
    const ids = tok.encode("fim.<|endoftext|>Início");
    assert.ok(ids.includes(50256));
    assert.equal(ids.filter((i) => i === 50256).length, 1);
    assert.equal(tok.decode(ids), "fim.<|endoftext|>Início");
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), "fim.Início");
    assert.deepEqual(tok.encode("<|endoftext"), tok.encode("<|endoftext")); // partial: plain text
    assert.ok(!tok.encode("<|endoftext").includes(50256));
  },
});

// Whole books: the two files with U+0085 (NEL), Dom Casmurro, Brás Cubas and every 8th file;
// BENTEVI_TOKENIZER_FULL=1 compares all 246 files (about 15 s more).
const FULL = Deno.env.get("BENTEVI_TOKENIZER_FULL") === "1";
const ALWAYS = [
  "critica/mact24.txt",
  "cronica/macr10.txt",
  "romance/marm08.txt",
  "romance/marm05.txt",
];

Deno.test({
  name: `GPT-2: ${FULL ? "every" : "a sample of"} Machado file${
    FULL ? "" : "s"
  } encode exactly as npm:tiktoken (WASM) gpt2`,
  ignore: needs(hasGpt2 && hasMachado, "GPT-2 files and Machado corpus"),
  fn: async () => {
    const Tiktoken = await tiktokenOnce();
    if (!Tiktoken) return;
    const ranks = await Deno.readTextFile(GPT2_RANKS);
    const ref = new Tiktoken(ranks, { "<|endoftext|>": 50256 }, GPT2_PATTERN_RUST);
    const tok = await Tokenizer.fromFile(GPT2_JSON);
    const all = await listInputFiles([MACHADO]);
    assert.ok(all.length > 200);
    const files = FULL
      ? all
      : all.filter((f, i) => i % 8 === 0 || ALWAYS.some((a) => f.path.endsWith(a)));
    let tokens = 0;
    try {
      for (const f of files) {
        const text = await Deno.readTextFile(f.path);
        const expected = ref.encode_ordinary(text) as Uint32Array;
        const got = tok.encode(text);
        assert.equal(got.length, expected.length, f.path);
        for (let i = 0; i < got.length; i++) {
          if (got[i] !== expected[i]) assert.fail(`${f.path}: first difference at token ${i}`);
        }
        tokens += got.length;
      }
    } finally {
      ref.free();
    }
    console.log(`${files.length} files, ${tokens} tokens identical to tiktoken`);
    // Streaming encode of the longest file, read in 64 KiB chunks, gives the same ids.
    const longest = files.reduce((a, b) => (b.size > a.size ? b : a));
    const streamed: number[] = [];
    for await (
      const part of tok.encodeStream(
        readTextChunks(longest.path, { chunkBytes: 1 << 16 }),
        1 << 16,
      )
    ) streamed.push(...part);
    assert.deepEqual(streamed, tok.encode(await Deno.readTextFile(longest.path)));
  },
});
