/**
 * A dataset built with default options always trains (issue 13, item 7): one text file
 * without document breaks used to give a 0-token `.val.bin` and a `train` that refused.
 * Now the text is cut at a paragraph break (else a line break, else a token boundary) near
 * the wanted share, with one notice line, deterministically; `train` from a `.txt` cuts the
 * same way.
 */
import assert from "node:assert/strict";
import { runCli } from "../_cli.ts";
import { buildDataset, openTokenDataset } from "../../src/data/mod.ts";
import { isValidationDocument } from "../../src/data/dataset/build.ts";
import { newlineFlags, splitTail } from "../../src/data/dataset/split.ts";
import { loadTrainingData } from "../../src/train/mod.ts";
import { checkDataFits } from "../../src/train/trainer.ts";
import { trainTokenizer } from "../../src/tokenizer/mod.ts";

const WORDS = ["casa", "rio", "sol", "mar", "verde", "azul", "longo", "dia", "noite", "tempo"];

/** `n` paragraphs of pseudo-random words, one blank line between them (one document). */
function paragraphs(n: number, seed = 1): string {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16) % WORDS.length;
  const out: string[] = [];
  for (let p = 0; p < n; p++) {
    out.push(Array.from({ length: 40 }, () => WORDS[next()]).join(" ") + ".");
  }
  return out.join("\n\n") + "\n";
}

async function setup(text: string) {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/corpus.txt`, text);
  const tok = await trainTokenizer([`${dir}/corpus.txt`], { vocabSize: 300 });
  await tok.save(`${dir}/tok.json`);
  return { dir, tok };
}

Deno.test("dataset build: one text file without document breaks gets a validation split at a paragraph break", async () => {
  const text = paragraphs(200);
  const { dir, tok } = await setup(text);
  try {
    const build = (out: string, workers = 1) =>
      buildDataset([`${dir}/corpus.txt`], {
        tokenizer: `${dir}/tok.json`,
        output: `${dir}/${out}`,
        workers,
        minBytesPerWorker: 1,
      });
    const r = await build("a");
    assert.ok(r.val.tokens > 0, "validation split is not empty");
    const share = (r.val.tokens - 1) / (r.train.tokens + r.val.tokens - 1);
    assert.ok(share > 0.03 && share < 0.07, `about 5% held out, got ${share}`);
    assert.match(r.notice ?? "", /^1 document: .*paragraph break/);
    const train = await openTokenDataset(r.train.path);
    const val = await openTokenDataset(r.val.path);
    const eot = tok.endOfTextId!;
    assert.equal(val.tokens[0], eot);
    const trainText = tok.decode([...train.tokens].filter((t) => t !== eot));
    const valText = tok.decode([...val.tokens].slice(1));
    // Nothing lost or duplicated, and the cut falls after a blank line.
    assert.equal(trainText + valText, text.trimEnd());
    assert.ok(trainText.endsWith("\n\n"), JSON.stringify(trainText.slice(-20)));
    assert.ok(/^[a-z]/.test(valText), JSON.stringify(valText.slice(0, 20)));
    // It trains: both splits hold windows of the default-sized contexts.
    const data = await loadTrainingData(r.train.path, tok);
    checkDataFits(data, 64, r.train.path);
    data.close();
    train.close();
    val.close();
    // Deterministic, and the same with Workers.
    const again = await build("b", 2);
    for (const part of ["train", "val"]) {
      assert.deepEqual(
        await Deno.readFile(`${dir}/b.${part}.bin`),
        await Deno.readFile(`${dir}/a.${part}.bin`),
      );
    }
    assert.equal(again.notice, r.notice);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dataset build: no line breaks at all → cut at a token boundary; a lone document drawn for validation comes back", async () => {
  const flat = paragraphs(60).replaceAll("\n", " ");
  const { dir } = await setup(flat);
  try {
    const r = await buildDataset([`${dir}/corpus.txt`], {
      tokenizer: `${dir}/tok.json`,
      output: `${dir}/flat`,
    });
    assert.ok(r.val.tokens > 1 && r.train.tokens > r.val.tokens);
    assert.match(r.notice ?? "", /token boundary/);

    // The hash sends this single document to validation at 0.99: train would be empty.
    assert.ok(isValidationDocument(flat.trim(), 0.99));
    const v = await buildDataset([`${dir}/corpus.txt`], {
      tokenizer: `${dir}/tok.json`,
      output: `${dir}/v`,
      valFraction: 0.99,
    });
    assert.ok(v.train.tokens > 1 && v.val.tokens > 1, `${v.train.tokens} / ${v.val.tokens}`);

    // Through the CLI: the notice is one line on stderr, exit 0.
    const o = await runCli(
      [
        "dataset",
        "build",
        `${dir}/corpus.txt`,
        "--tokenizer",
        `${dir}/tok.json`,
        "-o",
        `${dir}/cli`,
      ],
      { permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"] },
    );
    const err = o.stderr;
    assert.equal(o.code, 0, err);
    assert.equal(err.split("\n").filter((l) => l.includes("notice")).length, 1, err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train from a .txt: the validation cut falls on a paragraph break and says so", async () => {
  const text = paragraphs(100, 7);
  const { dir, tok } = await setup(text);
  try {
    const data = await loadTrainingData(`${dir}/corpus.txt`, tok);
    assert.match(data.description, /cut at a paragraph break/);
    const head = tok.decode(data.train.tokens);
    assert.ok(head.endsWith("\n\n"), JSON.stringify(head.slice(-20)));
    assert.ok(data.val.tokens.length > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("splitTail: document end, then paragraph, then line, then token", () => {
  const ids = (s: string) => [...s].map((c) => c.charCodeAt(0));
  const flags = newlineFlags(128, (id) => String.fromCharCode(id));
  assert.deepEqual(splitTail(ids("aaaa\n\nbbbbbb"), 5, { flags }), {
    cut: 6,
    boundary: "paragraph",
  });
  assert.deepEqual(splitTail(ids("aaaaa\nbbbbbb"), 5, { flags }), { cut: 6, boundary: "line" });
  assert.deepEqual(splitTail(ids("aaaaaabbbbbb"), 5, { flags }), { cut: 7, boundary: "token" });
  assert.deepEqual(splitTail(ids("aaa\n\nb#bbbb"), 5, { flags, endOfTextId: 35 }), {
    cut: 7,
    boundary: "document",
  });
  assert.deepEqual(splitTail(ids("ab"), 5, { flags }), { cut: 1, boundary: "token" });
});
