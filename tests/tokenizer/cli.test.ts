import assert from "node:assert/strict";
import { assertOneLineError, type CliResult, runCli } from "../_cli.ts";
import { CORPUS, tempCorpus } from "./_helpers.ts";

// The tokenizer commands need no more than these.
const bentevi = (...args: string[]) =>
  runCli(args, { permissions: ["--allow-read", "--allow-write", "--allow-env"] });

const assertOneLine = (r: CliResult, pattern: RegExp) =>
  assertOneLineError(r, pattern, { only: true });

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("CLI: tokenizer train, encode, decode, inspect", async () => {
  const dir = await tempCorpus({ "corpus/a.txt": CORPUS, "corpus/b.txt": CORPUS.slice(0, 999) });
  const tokPath = `${dir}/tok.json`;
  let r = await bentevi(
    "tokenizer",
    "train",
    `${dir}/corpus`,
    "--vocab-size",
    "400",
    "--output",
    tokPath,
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.vocab_size, 400);
  assert.ok((await Deno.stat(tokPath)).size > 0);

  r = await bentevi("tokenizer", "encode", "-t", tokPath, "--text", "O bem-te-vi[EOS]", "--json");
  assert.equal(r.code, 0, r.stderr);
  const enc = JSON.parse(r.stdout);
  assert.equal(enc.ids.length, enc.tokens.length);
  assert.equal(enc.tokens.at(-1), "[EOS]");

  r = await bentevi("tokenizer", "decode", "-t", tokPath, ...enc.ids.map(String));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "O bem-te-vi[EOS]\n");
  r = await bentevi(
    "tokenizer",
    "decode",
    "-t",
    tokPath,
    "--skip-special",
    JSON.stringify(enc.ids),
  );
  assert.equal(r.stdout, "O bem-te-vi\n");

  r = await bentevi("tokenizer", "encode", "-t", tokPath, `${dir}/corpus/b.txt`, "--json");
  assert.equal(r.code, 0, r.stderr);
  const counted = JSON.parse(r.stdout);
  assert.ok(counted.count > 0 && typeof counted.seconds === "number");

  r = await bentevi(
    "tokenizer",
    "encode",
    "-t",
    tokPath,
    `${dir}/corpus/b.txt`,
    "-o",
    `${dir}/ids.json`,
  );
  assert.equal(r.code, 0, r.stderr);
  const ids = JSON.parse(await Deno.readTextFile(`${dir}/ids.json`));
  assert.equal(ids.length, counted.count);

  r = await bentevi("tokenizer", "inspect", "-t", tokPath, "--text", "Café com pão");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /pre-tokens \(3\): "Café" " com" " pão"/);
  assert.match(r.stdout, /bytes per token: \d+\.\d\d/);
  r = await bentevi("tokenizer", "inspect", "-t", tokPath, "--text", "bem-te-vi[EOS]", "--json");
  assert.equal(r.code, 0, r.stderr);
  const view = JSON.parse(r.stdout);
  assert.deepEqual(view.ids, view.pieces.flatMap((p: { ids: number[] }) => p.ids));
  assert.equal(view.pieces.at(-1).added_id, enc.ids.at(-1));
  assert.ok(view.pieces.some((p: { merges: unknown[] }) => p.merges.length > 0));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("CLI: bad input gives one line, a non-zero exit and no output file", async () => {
  const dir = await tempCorpus({
    "ok.txt": CORPUS,
    "latin1.txt": new Uint8Array([0x61, 0x62, 0xe7, 0xe3, 0x6f]),
    "empty.txt": "",
  });
  const out = `${dir}/out/tok.json`;
  const before = await entries(dir);

  let r = await bentevi(
    "tokenizer",
    "train",
    `${dir}/missing.txt`,
    "--vocab-size",
    "300",
    "-o",
    out,
  );
  assertOneLine(r, /missing\.txt: file not found/);
  r = await bentevi("tokenizer", "train", `${dir}/ok.txt`, "--vocab-size", "100", "-o", out);
  assertOneLine(r, /vocab size 100 is smaller than the 256-byte alphabet/);
  r = await bentevi("tokenizer", "train", `${dir}/latin1.txt`, "--vocab-size", "300", "-o", out);
  assertOneLine(
    r,
    /latin1\.txt: invalid UTF-8 at byte 2 \(line 1, column 3\); .*--encoding latin1/,
  );
  r = await bentevi("tokenizer", "train", `${dir}/empty.txt`, "--vocab-size", "300", "-o", out);
  assertOneLine(r, /empty corpus/);
  r = await bentevi("tokenizer", "train", `${dir}/ok.txt`, "--vocab-size", "x", "-o", out);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /vocab-size/);
  assert.deepEqual(await entries(dir), before, "no output file or temporary file left");

  r = await bentevi(
    "tokenizer",
    "train",
    `${dir}/latin1.txt`,
    "--vocab-size",
    "300",
    "--encoding",
    "latin1",
    "-o",
    out,
  );
  assert.equal(r.code, 0, r.stderr);

  await Deno.writeTextFile(`${dir}/cut.json`, (await Deno.readTextFile(out)).slice(0, 500));
  r = await bentevi("tokenizer", "encode", "-t", `${dir}/cut.json`, "--text", "oi");
  assertOneLine(r, /cut\.json: not valid JSON/);
  r = await bentevi("tokenizer", "decode", "-t", out, "1", "99999");
  assertOneLine(r, /token id 99999 at position 1 is not in the vocabulary/);
  r = await bentevi("tokenizer", "decode", "-t", out, "abc");
  assertOneLine(r, /"abc" is not a token id/);
  r = await bentevi("tokenizer", "encode", "-t", out);
  assertOneLine(r, /either --text or a file/);
  r = await bentevi("tokenizer", "encode", "-t", out, `${dir}/latin1.txt`, "-o", `${dir}/ids.json`);
  assertOneLine(r, /invalid UTF-8 at byte 2 \(line 1, column 3\)/);
  assert.ok(!(await entries(dir)).includes("ids.json"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("CLI: bench tokenizer --json prints the figures", async () => {
  const dir = await tempCorpus({ "a.txt": CORPUS });
  const r = await bentevi("bench", "tokenizer", `${dir}/a.txt`, "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  for (const k of ["train_seconds", "encode_mb_per_s", "bytes_per_token", "vocab_size"]) {
    assert.equal(typeof j[k], "number", k);
  }
  assert.ok(j.bytes_per_token > 1);
  await Deno.remove(dir, { recursive: true });
});
