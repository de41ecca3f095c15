// Tokenizer benchmarks: GPT-2 encoding side by side with npm:tiktoken (WASM) and Hugging Face
// tokenizers (npm, native) on Dom Casmurro, and training on Machado's novels.
// Run: deno bench --allow-read --allow-write --allow-env --allow-ffi --allow-run bench/tokenizer.bench.ts
// Skips (with a message) when ../shared/data is absent. `bench tokenizer --json` (cli.ts) gives
// the whole-corpus figures quoted in the README.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Tokenizer, trainTokenizer } from "../src/tokenizer/mod.ts";

const SHARED = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const GPT2 = `${SHARED}tokenizer/gpt2/tokenizer.json`;
const RANKS = `${SHARED}tokenizer/gpt2/r50k_base.tiktoken`;
const BOOK = `${SHARED}pt/machado/romance/marm08.txt`;
const NOVELS = `${SHARED}pt/machado/romance`;
const have = existsSync(GPT2) && existsSync(BOOK) && existsSync(RANKS);
if (!have) console.log("skipping tokenizer benches: ../shared/data is absent");

const text = have ? await Deno.readTextFile(BOOK) : "";
const gpt2 = have ? await Tokenizer.fromFile(GPT2) : undefined;

// deno-lint-ignore no-explicit-any
let tiktoken: any;
// deno-lint-ignore no-explicit-any
let hf: any;
if (have) {
  try {
    const { Tiktoken } = await import("tiktoken/lite");
    tiktoken = new Tiktoken(
      await Deno.readTextFile(RANKS),
      { "<|endoftext|>": 50256 },
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    );
  } catch (e) {
    console.log(`tiktoken unavailable: ${(e as Error).message}`);
  }
  try {
    const mod = await import("tokenizers");
    hf = mod.Tokenizer.fromFile(GPT2);
  } catch (e) {
    console.log(`HF tokenizers unavailable: ${(e as Error).message}`);
  }
}

Deno.bench({
  name: "bentevi GPT-2 encode, cold word cache",
  group: "gpt2 encode (Dom Casmurro, 400 KB)",
  baseline: true,
  ignore: !have,
  fn: () => {
    gpt2!.parts.model.clearCache();
    gpt2!.encode(text);
  },
});

Deno.bench({
  name: "bentevi GPT-2 encode, warm word cache",
  group: "gpt2 encode (Dom Casmurro, 400 KB)",
  ignore: !have,
  fn: () => {
    gpt2!.encode(text);
  },
});

Deno.bench({
  name: "bentevi GPT-2 countTokens",
  group: "gpt2 encode (Dom Casmurro, 400 KB)",
  ignore: !have,
  fn: () => {
    gpt2!.countTokens(text);
  },
});

Deno.bench({
  name: "tiktoken (WASM) encode_ordinary",
  group: "gpt2 encode (Dom Casmurro, 400 KB)",
  ignore: !have || !tiktoken,
  fn: () => {
    tiktoken.encode_ordinary(text);
  },
});

Deno.bench({
  name: "HF tokenizers (native) encode",
  group: "gpt2 encode (Dom Casmurro, 400 KB)",
  ignore: !have || !hf,
  fn: async () => {
    await hf.encode(text, null, { addSpecialTokens: false });
  },
});

Deno.bench({
  name: "bentevi train vocab 30000 on Machado's novels (romance/)",
  group: "train",
  ignore: !have,
  n: 3,
  warmup: 0,
  fn: async () => {
    await trainTokenizer([NOVELS], { vocabSize: 30000, minFrequency: 0 });
  },
});
