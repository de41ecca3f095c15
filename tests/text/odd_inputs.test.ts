// Odd inputs (issue 13, item 11): UTF-16 files are read (by their byte-order mark), NUL
// characters are reported by `audit` and left out by `dataset build` / `tokenizer train`
// with a note, and a tokenizer.json with a UTF-8 byte-order mark is read.
import assert from "node:assert/strict";
import { auditCorpus, buildDataset, openTokenDataset } from "../../src/data/mod.ts";
import { BenteviError } from "../../src/errors.ts";
import { decodeTextStrict, readDocuments, readTextChunks } from "../../src/text/mod.ts";
import { countPieces, Tokenizer, trainTokenizer } from "../../src/tokenizer/mod.ts";
import { runCli } from "../_cli.ts";

const TEXT = "Olá mundo, o bem-te-vi cantou.\nSegunda linha: ação! 🐦\n\n\nOutro documento.\n";

function utf16(text: string, bigEndian: boolean): Uint8Array {
  const out = new Uint8Array(2 + text.length * 2);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xfeff, !bigEndian);
  for (let i = 0; i < text.length; i++) view.setUint16(2 + 2 * i, text.charCodeAt(i), !bigEndian);
  return out;
}

async function tokensOf(path: string): Promise<number[]> {
  const ds = await openTokenDataset(path);
  try {
    return [...ds.tokens];
  } finally {
    ds.close();
  }
}

Deno.test("UTF-16 files (LE and BE, by their byte-order mark) read as their text", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bentevi-odd-" });
  await Deno.writeTextFile(`${dir}/u8.txt`, TEXT);
  for (const be of [false, true]) {
    const path = `${dir}/u16${be ? "be" : "le"}.txt`;
    const bytes = utf16(TEXT, be);
    await Deno.writeFile(path, bytes);
    assert.equal(decodeTextStrict(bytes, { path }), TEXT);
    // Small chunks: code units and surrogate pairs cut between reads.
    let read = "";
    for await (const s of readTextChunks(path, { chunkBytes: 7 })) read += s;
    assert.equal(read, TEXT);
    const docs = [];
    for await (const d of readDocuments(path, { chunkBytes: 5 })) docs.push(d.text);
    assert.deepEqual(docs, [TEXT.slice(0, TEXT.indexOf("\n\n\n")), "Outro documento."]);
  }
  // Trained and tokenized as the UTF-8 file is.
  const tok8 = await trainTokenizer([`${dir}/u8.txt`], { vocabSize: 300, minFrequency: 1 });
  const tok16 = await trainTokenizer([`${dir}/u16le.txt`], { vocabSize: 300, minFrequency: 1 });
  assert.deepEqual(tok16.toJSON(), tok8.toJSON());
  await tok8.save(`${dir}/tok.json`);
  for (const f of ["u8", "u16be"]) {
    await buildDataset([`${dir}/${f}.txt`], {
      tokenizer: `${dir}/tok.json`,
      output: `${dir}/${f}`,
      valFraction: 0,
    });
  }
  assert.deepEqual(await tokensOf(`${dir}/u16be.train.bin`), await tokensOf(`${dir}/u8.train.bin`));
  // Counting Workers split files at "\n" bytes: a UTF-16 file is counted whole by one.
  const big = TEXT.repeat(16_000);
  await Deno.writeFile(`${dir}/big16.txt`, utf16(big, false));
  await Deno.writeTextFile(`${dir}/big8.txt`, big);
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => a[0] < b[0] ? -1 : 1);
  assert.deepEqual(
    sorted(await countPieces([`${dir}/big16.txt`], { workers: 2 })),
    sorted(await countPieces([`${dir}/big8.txt`], { workers: 1 })),
  );
  // JSONL lines are found by bytes: a UTF-16 JSONL file is refused, saying so.
  await Deno.writeFile(`${dir}/w.jsonl`, utf16('{"text":"olá"}\n', false));
  await assert.rejects(async () => {
    for await (const _ of readDocuments(`${dir}/w.jsonl`)) { /* read */ }
  }, (e: Error) => e instanceof BenteviError && /UTF-16LE JSONL/.test(e.message));
  // An unpaired surrogate is an error that says UTF-16, not "if the file is Latin-1".
  const bad = utf16("ab\ud800cd", false);
  await Deno.writeFile(`${dir}/bad16.txt`, bad);
  await assert.rejects(async () => {
    for await (const _ of readTextChunks(`${dir}/bad16.txt`)) { /* read */ }
  }, (e: Error) => e instanceof BenteviError && /invalid UTF-16LE/.test(e.message));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("NUL characters: audit counts them; dataset build and tokenizer train leave them out, with a note", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bentevi-odd-" });
  const clean = TEXT.repeat(3);
  await Deno.writeTextFile(`${dir}/clean.txt`, clean);
  await Deno.writeTextFile(`${dir}/nul.txt`, "\0" + clean.replaceAll("mundo", "mun\0do\0"));
  const report = await auditCorpus([`${dir}/nul.txt`]);
  const nul = report.encodingProblems.find((p) => p.kind === "nul");
  assert.equal(nul?.count, 7);
  assert.equal(nul?.first, 0);
  assert.ok(!report.encodingProblems.some((p) => p.kind === "control-char"));

  let left = 0;
  const withNul = await trainTokenizer([`${dir}/nul.txt`], {
    vocabSize: 300,
    minFrequency: 1,
    onNul: (n) => left += n,
  });
  assert.equal(left, 7);
  const tok = await trainTokenizer([`${dir}/clean.txt`], { vocabSize: 300, minFrequency: 1 });
  assert.deepEqual(withNul.toJSON(), tok.toJSON());
  await tok.save(`${dir}/tok.json`);
  const r = await buildDataset([`${dir}/nul.txt`], {
    tokenizer: `${dir}/tok.json`,
    output: `${dir}/nul`,
    valFraction: 0,
  });
  assert.equal(r.nulCharacters, 7);
  await buildDataset([`${dir}/clean.txt`], {
    tokenizer: `${dir}/tok.json`,
    output: `${dir}/clean`,
    valFraction: 0,
  });
  assert.deepEqual(
    await tokensOf(`${dir}/nul.train.bin`),
    await tokensOf(`${dir}/clean.train.bin`),
  );
  const cli = await runCli([
    "dataset",
    "build",
    `${dir}/nul.txt`,
    "--tokenizer",
    `${dir}/tok.json`,
    "--output",
    `${dir}/cli`,
    "--json",
  ]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(
    cli.stderr,
    /^note: left out 7 NUL characters \(U\+0000\) found in the input text$/m,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a tokenizer.json with a UTF-8 byte-order mark is read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bentevi-odd-" });
  const tok = Tokenizer.byteLevel();
  const json = JSON.stringify(tok.toJSON());
  await Deno.writeTextFile(`${dir}/bom.json`, "\ufeff" + json);
  const loaded = await Tokenizer.fromFile(`${dir}/bom.json`);
  assert.deepEqual(loaded.encode("Olá"), tok.encode("Olá"));
  const cli = await runCli([
    "tokenizer",
    "encode",
    "--tokenizer",
    `${dir}/bom.json`,
    "--text",
    "Olá",
  ]);
  assert.equal(cli.code, 0, cli.stderr);
  await Deno.remove(dir, { recursive: true });
});
