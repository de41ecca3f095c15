import assert from "node:assert/strict";
import { DEFAULT_SPECIAL_TOKENS, Tokenizer, trainTokenizer } from "../../src/tokenizer/mod.ts";
import type { Progress } from "../../src/progress.ts";
import { CORPUS, GPT2_JSON, hasGpt2, needs, smallTokenizer, tempCorpus } from "./_helpers.ts";

Deno.test("training is deterministic: same corpus and options give a byte-identical file", async () => {
  const dir = await tempCorpus({ "a.txt": CORPUS, "sub/b.txt": CORPUS.slice(0, 2000) });
  const t1 = await trainTokenizer([dir], { vocabSize: 500, minFrequency: 1 });
  const t2 = await trainTokenizer([dir], { vocabSize: 500, minFrequency: 1 });
  await t1.save(`${dir}/t1.json`);
  await t2.save(`${dir}/t2.json`);
  const a = await Deno.readFile(`${dir}/t1.json`);
  const b = await Deno.readFile(`${dir}/t2.json`);
  assert.deepEqual(a, b);
  // Files are read in sorted order, so listing the same files differently gives the same file.
  const t3 = await trainTokenizer([`${dir}/sub/b.txt`, `${dir}/a.txt`].sort(), {
    vocabSize: 500,
    minFrequency: 1,
  });
  assert.equal(JSON.stringify(t3.toJSON()), JSON.stringify(t1.toJSON()));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("trained vocabulary: specials first, 256 bytes, merges; size as asked", async () => {
  const tok = await smallTokenizer();
  assert.equal(tok.vocabSize, 400);
  DEFAULT_SPECIAL_TOKENS.forEach((s, i) => assert.equal(tok.tokenToId(s), i));
  assert.equal(tok.specialTokens.size, DEFAULT_SPECIAL_TOKENS.length);
  assert.equal(tok.endOfTextId, tok.tokenToId("[EOS]"));
  assert.equal(tok.parts.model.merges.length, 400 - 256 - DEFAULT_SPECIAL_TOKENS.length);
  // The most frequent pieces became single tokens.
  assert.equal(tok.encode(" bem").length, 1);
});

Deno.test("merge order follows pair frequency, ties broken by ids", async () => {
  async function* c() {
    yield "ab ab ab ab cd cd cd xy xy";
  }
  const tok = await trainTokenizer(c(), { vocabSize: 260, specialTokens: [], minFrequency: 1 });
  // Pieces "ab", " ab"×3, " cd"×3, " xy"×2: (a,b)=4 first; then (c,d), (Ġ,ab), (Ġ,c) tie at 3
  // and the smallest ids win: "c" < "Ġ" (U+0120), then "ab" (id 256) < "cd" (id 257).
  const merges = tok.parts.model.merges.map(([a, b]) => a + b);
  assert.deepEqual(merges, ["ab", "cd", "Ġab", "Ġcd"]);
});

Deno.test("special tokens are matched whole, never split, and can be skipped when decoding", async () => {
  const tok = await smallTokenizer();
  const eos = tok.tokenToId("[EOS]")!;
  const user = tok.tokenToId("<|user|>")!;
  const ids = tok.encode("<|user|>Oi![EOS][EOS]bem-te-vi");
  assert.equal(ids[0], user);
  assert.equal(ids.filter((i) => i === eos).length, 2);
  assert.equal(tok.decode(ids), "<|user|>Oi![EOS][EOS]bem-te-vi");
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), "Oi!bem-te-vi");
  // A near miss is ordinary text.
  assert.ok(!tok.encode("[EOS").includes(eos));
  // Special tokens in the training text are not learned as merges.
  async function* c() {
    yield "[EOS][EOS][EOS][EOS] texto [EOS][EOS]";
  }
  const t2 = await trainTokenizer(c(), { vocabSize: 280, minFrequency: 1 });
  assert.ok(!t2.parts.model.merges.some(([a, b]) => (a + b).includes("EOS")));
});

Deno.test("custom specials, max token length, min frequency", async () => {
  async function* c() {
    yield CORPUS;
  }
  const tok = await trainTokenizer(c(), {
    vocabSize: 600,
    specialTokens: ["<s>", "</s>"],
    maxTokenLength: 4,
    minFrequency: 5,
  });
  assert.equal(tok.tokenToId("<s>"), 0);
  assert.equal(tok.endOfTextId, 1);
  for (const [t, id] of tok.parts.model.vocab) {
    if (id >= 2) assert.ok(tok.tokenBytes(id)!.length <= 4, `token ${t} longer than 4 bytes`);
  }
  // min frequency 5 stops before 600 on this small corpus (each line appears 20 times).
  const high = await trainTokenizer(c(), { vocabSize: 5000, minFrequency: 21 });
  const low = await trainTokenizer(c(), { vocabSize: 5000, minFrequency: 20 });
  assert.ok(high.vocabSize < low.vocabSize);
});

Deno.test("normalization is applied and recorded in the file (ptbr, nfkc)", async () => {
  async function* c() {
    yield "AÇÃO  Ação\tação ﬁm\n".repeat(5);
  }
  const tok = await trainTokenizer(c(), { vocabSize: 300, normalize: "ptbr" });
  assert.equal(tok.decode(tok.encode("AÇÃO   Ação")), "ação ação");
  const json = tok.toJSON() as { normalizer: { type: string } };
  assert.equal(json.normalizer.type, "Sequence");
  const again = Tokenizer.fromJSON(JSON.stringify(json));
  assert.deepEqual(again.encode("AÇÃO   Ação"), tok.encode("AÇÃO   Ação"));
  const ascii = await trainTokenizer(c(), { vocabSize: 300, normalize: "ptbr-ascii" });
  assert.equal(ascii.decode(ascii.encode("Ação")), "acao");
  const nfkc = await trainTokenizer(c(), { vocabSize: 300, normalize: "nfkc" });
  assert.equal(nfkc.decode(nfkc.encode("ﬁm e\u0301")), "fim é");
});

Deno.test("GPT-4 style pre-tokenizer splits digits in threes", async () => {
  async function* c() {
    yield "1234567 números 1234567\n".repeat(5);
  }
  const tok = await trainTokenizer(c(), { vocabSize: 300, preTokenizer: "gpt4" });
  const pieces = tok.preTokenize("1234567").map((p) => p.piece);
  assert.deepEqual(pieces, ["123", "456", "7"]);
});

Deno.test("HF format round trip: toJSON → fromJSON → toJSON is stable and encodes the same", async () => {
  const tok = await smallTokenizer();
  const json = JSON.stringify(tok.toJSON());
  const back = Tokenizer.fromJSON(json);
  assert.equal(JSON.stringify(back.toJSON()), json);
  assert.deepEqual(back.encode(CORPUS.slice(0, 500)), tok.encode(CORPUS.slice(0, 500)));
  const dir = await Deno.makeTempDir();
  await tok.save(`${dir}/t.json`);
  const loaded = await Tokenizer.fromFile(`${dir}/t.json`);
  assert.equal(JSON.stringify(loaded.toJSON()), json);
  // Merges written as "a b" strings (older files) read the same.
  const obj = JSON.parse(json);
  obj.model.merges = obj.model.merges.map((m: string[]) => m.join(" "));
  assert.deepEqual(Tokenizer.fromJSON(obj).encode("bem-te-vi"), tok.encode("bem-te-vi"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "HF format round trip of GPT-2's tokenizer.json",
  ignore: needs(hasGpt2, "GPT-2 tokenizer.json"),
  fn: async () => {
    const tok = await Tokenizer.fromFile(GPT2_JSON);
    const back = Tokenizer.fromJSON(JSON.stringify(tok.toJSON()));
    const text = "Hello world! Olá, mundo 🌍 — 12345 isn't it?\r\n\u0085";
    assert.deepEqual(back.encode(text), tok.encode(text));
    assert.equal(back.vocabSize, 50257);
    assert.equal(tok.idToToken(tok.tokenToId("Ġthe")!), "Ġthe");
  },
});

Deno.test("async iterable input and progress reports", async () => {
  const events: string[] = [];
  const progress: Progress = {
    start: (label) => events.push(`start ${label}`),
    update: () => {},
    end: (summary) => events.push(`end ${summary}`),
  };
  async function* c() {
    yield "um texto\n";
    yield "outro texto\n";
  }
  const tok = await trainTokenizer(c(), { vocabSize: 280, minFrequency: 1 }, progress);
  assert.ok(tok.vocabSize > 264);
  assert.deepEqual(events.map((e) => e.split(" ").slice(0, 2).join(" ")), [
    "start counting",
    "end 2",
    "start merging",
    "end " + (tok.vocabSize - 264),
  ]);
});
