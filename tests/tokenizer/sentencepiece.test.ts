// `style: "sentencepiece"` (tokenizer train --style sentencepiece): the Llama-2-style file —
// its layout, determinism, and that Hugging Face `tokenizers` (npm) and Bentevi read it alike
// and as meant: on Portuguese text Bentevi's ids are HF's (with and without the <s> of the
// post-processor), both are those of a small reference encoder written here from the file's
// semantics (Metaspace words, characters or <0xNN> byte fallback, merges by rank), and decode
// back to the text.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  countPieces,
  learnMergesJson,
  listInputFiles,
  spmPieces,
  Tokenizer,
  trainTokenizer,
  trainTokenizerJson,
} from "../../src/tokenizer/mod.ts";
import { BenteviError } from "../../src/errors.ts";
import { assertOneLineError, runCli } from "../_cli.ts";
import { CORPUS, hasMachado, MACHADO, needs, randomText, tempCorpus } from "./_helpers.ts";
import { hfOnce } from "./_peers.ts";

type Json = Record<string, unknown> & {
  model: { vocab: Record<string, number>; merges: [string, string][] };
};

const pieces = (line: string) => {
  const out: string[] = [];
  spmPieces(line, (p) => out.push(p));
  return out;
};

Deno.test("sentencepiece: lines are cut into ▁ words, then at letter/digit/other changes", () => {
  assert.deepEqual(pieces("Olá,  mundo 2026!\n"), ["▁Olá", ",", "▁", "▁mundo", "▁2026", "!"]);
  assert.deepEqual(pieces(" já\r\n"), ["▁já"], "a leading space is the ▁; CRLF left out");
  assert.deepEqual(pieces("e\u0301 x12b 🐦🐦"), ["▁e\u0301", "▁x", "12", "b", "▁🐦🐦"]);
  assert.deepEqual(pieces("\n"), []);
  assert.deepEqual(pieces("a\tb"), ["▁a", "\t", "b"]);
});

/** HF's reading of the file, written out: what the ids must be. */
function referenceEncode(json: Json, text: string): number[] {
  const vocab = new Map(Object.entries(json.model.vocab));
  const rank = new Map(json.model.merges.map(([a, b], i) => [`${a}\u0000${b}`, i]));
  let s = text.replaceAll(" ", "▁");
  if (!s.startsWith("▁")) s = "▁" + s;
  const words = s.split(/(?=▁)/u);
  const out: number[] = [];
  for (const word of words) {
    let syms: string[] = [];
    for (const ch of word) {
      if (vocab.has(ch)) syms.push(ch);
      else {
        for (const b of new TextEncoder().encode(ch)) {
          syms.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
        }
      }
    }
    for (;;) {
      let best = Infinity, at = -1;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = rank.get(`${syms[i]}\u0000${syms[i + 1]}`);
        if (r !== undefined && r < best) [best, at] = [r, i];
      }
      if (at < 0) break;
      syms = [...syms.slice(0, at), syms[at] + syms[at + 1], ...syms.slice(at + 2)];
    }
    for (const t of syms) out.push(vocab.get(t)!);
  }
  return out;
}

async function hfCheck(json: Json, texts: string[]): Promise<void> {
  const bentevi = Tokenizer.fromJSON(json, "trained");
  for (const [i, text] of texts.entries()) {
    const ids = bentevi.encode(text, { addSpecialTokens: false });
    assert.deepEqual(ids, referenceEncode(json, text), `text ${i}: Bentevi vs reference`);
    assert.deepEqual(bentevi.encode(text), [1, ...ids], "<s> first by default, as HF");
  }
  const HF = await hfOnce();
  if (!HF) return;
  const hf = HF.fromString(JSON.stringify(json));
  for (const [i, text] of texts.entries()) {
    const enc = await hf.encode(text, null, { addSpecialTokens: false });
    const ids = Array.from(enc.getIds() as ArrayLike<number>);
    assert.deepEqual(ids, bentevi.encode(text, { addSpecialTokens: false }), `text ${i}: HF`);
    // As Llama-2's: the decoder's Strip drops the first space (the ▁ put before the text, or
    // the text's own leading space, which became that ▁).
    const back = text.startsWith(" ") ? text.slice(1) : text;
    assert.equal(await hf.decode(ids, false), back, `text ${i} decodes back`);
    assert.equal(bentevi.decode(ids), back, `text ${i} decodes back in Bentevi`);
    const withBos = await hf.encode(text, null, { addSpecialTokens: true });
    assert.equal(withBos.getIds()[0], 1, "TemplateProcessing puts <s> first");
  }
}

async function* corpus() {
  yield CORPUS;
}

Deno.test("sentencepiece: Llama-2 layout — <unk> <s> </s>, specials, <0x00>…<0xFF>, alphabet, merges", async () => {
  const options = { style: "sentencepiece" as const, vocabSize: 450 };
  const json = await trainTokenizerJson(corpus(), options) as Json;
  const again = await trainTokenizerJson(corpus(), options);
  assert.equal(JSON.stringify(again), JSON.stringify(json), "deterministic");
  const tok = await trainTokenizer(corpus(), options);
  assert.equal(JSON.stringify(tok.toJSON()), JSON.stringify(json), "the same as a Tokenizer");
  const byId = Object.entries(json.model.vocab).sort((a, b) => a[1] - b[1]).map(([t]) => t);
  assert.equal(byId.length, 450);
  assert.deepEqual(byId.slice(0, 6), [
    "<unk>",
    "<s>",
    "</s>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
  ]);
  assert.equal(byId[6], "<0x00>");
  assert.equal(byId[6 + 0x0a], "<0x0A>");
  assert.equal(byId[261], "<0xFF>");
  assert.ok(!byId.includes("Ġ"), "no byte-level alphabet");
  const alphabet = byId.slice(262, 262 + byId.slice(262).findIndex((t) => [...t].length > 1));
  assert.ok(alphabet.includes("▁") && alphabet.includes("ç") && alphabet.includes("ã"));
  assert.deepEqual(alphabet, [...alphabet].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  assert.equal(json.model.merges.length, 450 - 262 - alphabet.length);
  const m = json.model as unknown as Record<string, unknown>;
  assert.equal(m.byte_fallback, true);
  assert.equal(m.unk_token, "<unk>");
  assert.deepEqual(json.pre_tokenizer, {
    type: "Metaspace",
    replacement: "▁",
    prepend_scheme: "always",
    split: true,
  });
  assert.deepEqual(
    (json.decoder as { decoders: { type: string }[] }).decoders.map((d) => d.type),
    ["Replace", "ByteFallback", "Fuse", "Strip"],
  );
  // No merge joins a letter to punctuation or crosses a word.
  for (const [a, b] of json.model.merges) {
    assert.ok(!b.startsWith("▁"), `${a} ${b}`);
    assert.ok(!(/\p{L}$/u.test(a) && /^[,.;:!?]/u.test(b)), `${a} ${b}`);
  }
  await hfCheck(json, [
    CORPUS.slice(0, 2000),
    "Ação   e emoção\tno quintal — 1822!\r\nLinha nova\u0085 ☀️ 🐦 \u4e2d\u6587",
    randomText(3, 1500),
    " começa com espaço e termina com espaço ",
  ]);
});

Deno.test("sentencepiece: coverage leaves rare characters to byte fallback; bad options fail early", async () => {
  const counts = await countPieces(corpus(), { style: "sentencepiece" });
  const full = learnMergesJson(counts, {
    style: "sentencepiece",
    vocabSize: 400,
    characterCoverage: 1,
  }) as Json;
  const part = learnMergesJson(counts, {
    style: "sentencepiece",
    vocabSize: 400,
    characterCoverage: 0.99,
  }) as Json;
  assert.ok("🐦" in full.model.vocab);
  assert.ok(!("🐦" in part.model.vocab), "a rare character is left to <0xNN> tokens");
  await hfCheck(part, [CORPUS.slice(0, 1500)]);
  const fails = (options: object, re: RegExp) =>
    assert.rejects(
      () => trainTokenizerJson(corpus(), { style: "sentencepiece", vocabSize: 600, ...options }),
      (e) => e instanceof BenteviError && re.test(e.message),
    );
  await fails({ vocabSize: 200 }, /smaller than the 256 byte-fallback tokens plus 6 special/);
  await fails({ vocabSize: 270 }, /characters of the alphabet; use --vocab-size \d+ or more/);
  await fails({ characterCoverage: 0 }, /character coverage must be in \(0, 1\]/);
  await fails({ specialTokens: ["<s>", "[X]", "[X]"] }, /special tokens must be distinct/);
});

Deno.test({
  name: "sentencepiece: trained on Machado, Bentevi gives HF's ids on held-out books",
  ignore: needs(hasMachado, "Machado corpus"),
  fn: async () => {
    const files = (await listInputFiles([join(MACHADO, "romance")])).map((f) => f.path);
    const json = await trainTokenizerJson(files.slice(0, 3), {
      style: "sentencepiece",
      vocabSize: 2000,
    }) as Json;
    const held = await Promise.all(files.slice(3, 5).map((p) => Deno.readTextFile(p)));
    await hfCheck(json, held.map((t) => t.slice(0, 60_000)));
  },
});

Deno.test("CLI: tokenizer train --style sentencepiece", async () => {
  const dir = await tempCorpus({ "corpus.txt": CORPUS });
  try {
    const bentevi = (...args: string[]) =>
      runCli(["tokenizer", "train", `${dir}/corpus.txt`, "--output", `${dir}/t.json`, ...args], {
        permissions: ["--allow-read", "--allow-write", "--allow-env"],
      });
    let r = await bentevi("--style", "sentencepiece", "--vocab-size", "500", "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).vocab_size, 500);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/t.json`));
    assert.equal(json.pre_tokenizer.type, "Metaspace");
    assert.equal(json.added_tokens.length, 6);
    r = await bentevi("--style", "sentencepiece", "--vocab-size", "500", "--no-specials");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/t.json`)).added_tokens.length, 3);
    assertOneLineError(
      await bentevi("--vocab-size", "500", "--character-coverage", "0.9"),
      /--character-coverage is for --style sentencepiece/,
    );
    assertOneLineError(
      await bentevi("--style", "sentencepiece", "--vocab-size", "300"),
      /vocab size 300 is smaller than the 6 special tokens, 256 byte-fallback tokens and \d+ characters/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
