import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { readText, Tokenizer, trainTokenizer } from "../../src/tokenizer/mod.ts";
import { FOCALINUX, GPT2_JSON, hasGpt2, needs, smallTokenizer, tempCorpus } from "./_helpers.ts";
import { existsSync } from "node:fs";

/** Asserts that `fn` rejects with a one-line BenteviError matching `pattern`. */
async function rejectsWith(fn: () => Promise<unknown> | unknown, pattern: RegExp) {
  await assert.rejects(async () => await fn(), (e: unknown) => {
    assert.ok(e instanceof BenteviError, `expected a BenteviError, got ${e}`);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("missing input files and folders are named", async () => {
  await rejectsWith(
    () => trainTokenizer(["/no/such/corpus.txt"], { vocabSize: 300 }),
    /\/no\/such\/corpus\.txt: file not found/,
  );
  await rejectsWith(() => Tokenizer.fromFile("/no/such/tokenizer.json"), /file not found/);
  await rejectsWith(() => readText("/no/such/file.txt"), /file not found/);
});

Deno.test({
  name: "unreadable files are named",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await tempCorpus({ "secret.txt": "texto" });
    await Deno.chmod(`${dir}/secret.txt`, 0o000);
    try {
      await Deno.readFile(`${dir}/secret.txt`);
      console.log("skipping: running as root, a chmod 000 file stays readable");
      await Deno.remove(dir, { recursive: true });
      return;
    } catch { /* unreadable, as wanted */ }
    await rejectsWith(
      () => trainTokenizer([`${dir}/secret.txt`], { vocabSize: 300 }),
      /secret\.txt: permission denied/,
    );
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("an empty corpus is refused", async () => {
  const dir = await tempCorpus({ "empty.txt": "" });
  await rejectsWith(() => trainTokenizer([`${dir}/empty.txt`], { vocabSize: 300 }), /empty corpus/);
  await Deno.mkdir(`${dir}/nothing`);
  await rejectsWith(() => trainTokenizer([`${dir}/nothing`], { vocabSize: 300 }), /no input files/);
  async function* none() {}
  await rejectsWith(() => trainTokenizer(none(), { vocabSize: 300 }), /empty corpus/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a vocab size smaller than the alphabet plus specials is refused", async () => {
  async function* c() {
    yield "texto";
  }
  await rejectsWith(
    () => trainTokenizer(c(), { vocabSize: 200 }),
    /vocab size 200 is smaller than the 256-byte alphabet plus 8 special tokens; use --vocab-size 264/,
  );
  await rejectsWith(
    () => trainTokenizer(c(), { vocabSize: 256, specialTokens: ["[EOS]"] }),
    /use --vocab-size 257/,
  );
  await rejectsWith(
    () => trainTokenizer(c(), { vocabSize: 300, normalize: "shout" }),
    /unknown normalization "shout"/,
  );
});

Deno.test("invalid tokenizer.json: not JSON, wrong shape, unknown merge parts", async () => {
  await rejectsWith(() => Tokenizer.fromJSON("{nope", "bad.json"), /bad\.json: not valid JSON/);
  await rejectsWith(
    () => Tokenizer.fromJSON("[]", "x.json"),
    /x\.json: invalid tokenizer\.json: expected a JSON object/,
  );
  await rejectsWith(
    () => Tokenizer.fromJSON({ model: { type: "WordPiece", vocab: { a: 0 } } }),
    /WordPiece.*not supported/,
  );
  const tok = await smallTokenizer();
  const good = tok.toJSON() as Record<string, Record<string, unknown>>;
  const clone = () => JSON.parse(JSON.stringify(good));
  const a = clone();
  a.model.merges.push(["zz", "yy"]);
  await rejectsWith(
    () => Tokenizer.fromJSON(a, "a.json"),
    /a\.json: .*merges\[\d+\].*"zz" is not in the vocabulary/,
  );
  const b = clone();
  b.model.vocab["Ġx"] = "seven";
  await rejectsWith(() => Tokenizer.fromJSON(b, "b.json"), /b\.json: .*not a token id/);
  const c = clone();
  c.pre_tokenizer = { type: "Whitespace" };
  await rejectsWith(
    () => Tokenizer.fromJSON(c, "c.json"),
    /c\.json: invalid tokenizer\.json: pre_tokenizer: pre-tokenizer type "Whitespace" is not supported/,
  );
  const d = clone();
  delete d.model;
  await rejectsWith(() => Tokenizer.fromJSON(d, "d.json"), /d\.json: .*missing "model"/);
});

Deno.test({
  name: "a truncated tokenizer.json (GPT-2's, cut in half) fails with one line",
  ignore: needs(hasGpt2, "GPT-2 tokenizer.json"),
  fn: async () => {
    const text = await Deno.readTextFile(GPT2_JSON);
    const dir = await tempCorpus({ "cut.json": text.slice(0, text.length >> 1) });
    await rejectsWith(
      () => Tokenizer.fromFile(`${dir}/cut.json`),
      /cut\.json: not valid JSON \(truncated/,
    );
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("ids outside the vocabulary are refused by decode and the stream decoder", async () => {
  const tok = await smallTokenizer();
  await rejectsWith(
    () => tok.decode([5, 400]),
    /token id 400 at position 1 is not in the vocabulary.*0\.\.399/,
  );
  await rejectsWith(() => tok.decode([-1]), /token id -1/);
  await rejectsWith(() => tok.decode([1.5]), /token id 1\.5/);
  await rejectsWith(() => tok.streamDecoder().push(10_000), /token id 10000/);
});

Deno.test("non-UTF-8 input names the file and byte offset and suggests --encoding latin1", async () => {
  const latin1 = new Uint8Array([...new TextEncoder().encode("Ol"), 0xe1, 0x20, 0x6d]); // "Olá m"
  const dir = await tempCorpus({ "ok.txt": "certo\n", "pt.latin1.txt": latin1 });
  await rejectsWith(
    () => trainTokenizer([`${dir}/pt.latin1.txt`], { vocabSize: 300 }),
    /pt\.latin1\.txt: invalid UTF-8 at byte 2 \(line 1, column 3\); .*--encoding latin1/,
  );
  await rejectsWith(() => readText(`${dir}/pt.latin1.txt`), /invalid UTF-8 at byte 2/);
  assert.equal(await readText(`${dir}/pt.latin1.txt`, "latin1"), "Olá m");
  const tok = await trainTokenizer([`${dir}/pt.latin1.txt`], {
    vocabSize: 270,
    encoding: "latin1",
    minFrequency: 1,
  });
  assert.equal(tok.decode(tok.encode("Olá")), "Olá");
  // The offset is exact across read chunks (an invalid byte past the first MiB).
  const big = new Uint8Array((1 << 20) + 10).fill(0x61);
  big[(1 << 20) + 3] = 0xff;
  await Deno.writeFile(`${dir}/big.txt`, big);
  await rejectsWith(
    () => trainTokenizer([`${dir}/big.txt`], { vocabSize: 300 }),
    new RegExp(`invalid UTF-8 at byte ${(1 << 20) + 3} \\(line 1\\); `),
  );
  // A file cut inside a character.
  await Deno.writeFile(`${dir}/cut.txt`, new Uint8Array([0x61, 0xc3]));
  await rejectsWith(() => trainTokenizer([`${dir}/cut.txt`], { vocabSize: 300 }), /at byte 1/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "the real latin1 Foca Linux guide: refused as UTF-8, trains with latin1",
  ignore: needs(existsSync(FOCALINUX), "Foca Linux corpus"),
  fn: async () => {
    await rejectsWith(
      () => trainTokenizer([`${FOCALINUX}/iniciante.latin1.txt`], { vocabSize: 300 }),
      /iniciante\.latin1\.txt: invalid UTF-8 at byte \d+ \(line \d+, column \d+\)/,
    );
    const tok = await trainTokenizer([`${FOCALINUX}/iniciante.latin1.txt`], {
      vocabSize: 1000,
      encoding: "latin1",
    });
    assert.equal(tok.decode(tok.encode("configuração")), "configuração");
  },
});
