// Issue 13, item 1: no command writes over one of its inputs — the same file by identity
// (device + inode), whatever the spelling: the same name, `dir/../name`, a symbolic link, a
// hard link, or a file inside an input folder. Each refusal is one line and leaves the input
// byte for byte as it was.
import assert from "node:assert/strict";
import { assertOneLineError, runCliInProcess as bentevi } from "../_cli.ts";
import { refuseInputsInside, refuseOutputOverInputs } from "../../src/io/fs.ts";
import { runCommand } from "../../src/generate/commands.ts";
import type { ChatSession } from "../../src/generate/chat.ts";
import { BenteviError } from "../../src/errors.ts";
import { TEXT } from "../train/helpers.ts";
import { moduleTempDir } from "../_tmp.ts";

const dir = await moduleTempDir({ prefix: "bentevi-outputs-test-" });
const corpus = `${dir}/corpus.txt`;
const CORPUS = TEXT.repeat(20);
await Deno.writeTextFile(corpus, CORPUS);
const tokenizer = `${dir}/tokenizer.json`;
{
  const r = await bentevi("tokenizer", "train", corpus, "--vocab-size", "300", "-o", tokenizer);
  assert.equal(r.code, 0, r.stderr);
}
const TOKENIZER = await Deno.readTextFile(tokenizer);

async function assertIntact(): Promise<void> {
  assert.equal(await Deno.readTextFile(corpus), CORPUS, "the corpus was changed");
  assert.equal(await Deno.readTextFile(tokenizer), TOKENIZER, "the tokenizer was changed");
  const leftovers = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".tmp")) leftovers.push(e.name);
  assert.deepEqual(leftovers, []);
}

Deno.test("same file by identity: name, other spelling, symbolic link, hard link", async () => {
  await Deno.mkdir(`${dir}/sub`, { recursive: true });
  await Deno.symlink(corpus, `${dir}/link.txt`);
  await Deno.link(corpus, `${dir}/hard.txt`);
  try {
    for (const out of [corpus, `${dir}/sub/../corpus.txt`, `${dir}/link.txt`, `${dir}/hard.txt`]) {
      const r = await bentevi("tokenizer", "train", corpus, "--vocab-size", "300", "-o", out);
      assertOneLineError(r, /--output is the input .*corpus\.txt.*choose another --output/);
      await assertIntact();
    }
    // A file that is not an input, and a new name, are fine.
    await refuseOutputOverInputs([tokenizer, `${dir}/new.json`], [corpus]);
  } finally {
    await Deno.remove(`${dir}/link.txt`);
    await Deno.remove(`${dir}/hard.txt`);
  }
});

Deno.test("every writing command refuses an output that is one of its inputs", async () => {
  const cases: [string[], RegExp][] = [
    // the tokenizer's corpus, given as a folder: the output is a file read from it
    [["tokenizer", "train", dir, "--vocab-size", "300", "-o", corpus], /inside the input folder/],
    [["tokenizer", "encode", "-t", tokenizer, corpus, "--output", corpus], /is the input/],
    [
      ["tokenizer", "encode", "-t", tokenizer, "--text", "oi", "--output", tokenizer],
      /is the input/,
    ],
    [["clean", corpus, "-o", dir], /corpus\.txt: --output is the input/],
    [["chunk", corpus, "--output", corpus], /is the input/],
    [["convert", "rwkv-cpp", corpus, "--output", corpus], /inside .*replaced by the checkpoint/],
    [["convert", "rwkv-cpp", corpus, "--output", dir], /inside .*replaced by the checkpoint/],
  ];
  for (const [args, pattern] of cases) {
    const r = await bentevi(...args);
    assertOneLineError(r, pattern);
    await assertIntact();
  }
});

Deno.test("dataset build refuses a PREFIX whose .train.bin/.val.bin is an input", async () => {
  const bin = `${dir}/ds.train.bin`;
  await Deno.copyFile(corpus, bin); // a text input that happens to have that name
  try {
    const r = await bentevi("dataset", "build", bin, "--tokenizer", tokenizer, "-o", `${dir}/ds`);
    assertOneLineError(r, /ds\.train\.bin: --output is the input/);
    assert.equal(await Deno.readTextFile(bin), CORPUS);
    const t = await bentevi("dataset", "build", corpus, "--tokenizer", tokenizer, "-o", tokenizer);
    assert.equal(t.code, 0, t.stderr); // tokenizer.json.train.bin: a new name, fine
  } finally {
    for (const f of ["ds.train.bin", "tokenizer.json.train.bin", "tokenizer.json.val.bin"]) {
      await Deno.remove(`${dir}/${f}`).catch(() => {});
    }
  }
  await assertIntact();
});

Deno.test("wiki refuses an output folder where a shard would replace the dump", async () => {
  const out = await Deno.makeTempDir({ dir });
  const dump = `${out}/wiki_00000.jsonl`;
  await Deno.writeTextFile(dump, "<mediawiki></mediawiki>\n");
  const r = await bentevi("wiki", dump, "-o", out, "--workers", "1");
  assertOneLineError(r, /wiki_00000\.jsonl: --output is the input/);
  assert.equal(await Deno.readTextFile(dump), "<mediawiki></mediawiki>\n");
});

Deno.test("train --force and demo refuse to delete a folder holding their inputs", async () => {
  const run = `${dir}/run`;
  await Deno.mkdir(run, { recursive: true });
  const data = `${run}/data.txt`;
  await Deno.writeTextFile(data, CORPUS);
  const r = await bentevi(
    "train",
    "--data",
    data,
    "--tokenizer",
    tokenizer,
    "--out",
    run,
    "--force",
    "--model",
    "gpt-micro",
    "--steps",
    "1",
    "--batch-size",
    "2",
    "--context",
    "16",
    "--device",
    "cpu",
  );
  assertOneLineError(r, /data\.txt: this input is inside .*--force deletes/);
  assert.equal(await Deno.readTextFile(data), CORPUS);
  const d = await bentevi("demo", "--dump", data, "--out", run, "--force", "--device", "cpu");
  assertOneLineError(d, /data\.txt: this input is inside .*demo replaces/);
  assert.equal(await Deno.readTextFile(data), CORPUS);
});

Deno.test("chat /save refuses the checkpoint's files and the feedback file", async () => {
  const ctx = {
    feedbackPath: `${dir}/feedback.jsonl`,
    modelName: "m",
    inputs: [tokenizer],
  };
  const chat = {} as ChatSession; // refused before the session is used
  for (const target of [tokenizer, `${dir}/./tokenizer.json`, ctx.feedbackPath]) {
    if (target === ctx.feedbackPath) await Deno.writeTextFile(target, "{}\n");
    const r = await runCommand(chat, `/save ${target}`, ctx);
    assert.match(r.message, /^error: .*\/save is the input/);
  }
  await assertIntact();
});

Deno.test("refuseInputsInside: an input inside, or equal to, the folder", async () => {
  await refuseInputsInside(`${dir}/nothing-here`, [corpus], "x");
  await assert.rejects(() => refuseInputsInside(dir, [corpus], "x"), BenteviError);
  await assert.rejects(() => refuseInputsInside(corpus, [corpus], "x"), BenteviError);
  await refuseInputsInside(`${dir}/sub`, [corpus], "x");
});
