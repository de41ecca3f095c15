import assert from "node:assert/strict";
import { countPieces, trainTokenizer } from "../../src/tokenizer/mod.ts";
import { readTextChunks } from "../../src/text/mod.ts";
import { CORPUS, randomText, tempCorpus } from "./_helpers.ts";

Deno.test("line ranges: any set of cut points reads every line exactly once", async () => {
  const text =
    Array.from({ length: 300 }, (_, i) => randomText(i + 1, i % 17 * 7) + "\n").join("") +
    "última linha sem fim";
  const dir = await tempCorpus({ "t.txt": text });
  const size = new TextEncoder().encode(text).length;
  for (let seed = 1; seed <= 20; seed++) {
    const cuts = [0];
    for (let k = 1; k < 1 + (seed % 6); k++) {
      cuts.push(Math.floor(size * ((seed * 7919 * k) % 1000) / 1000));
    }
    cuts.push(size);
    cuts.sort((a, b) => a - b);
    let joined = "";
    for (let k = 0; k + 1 < cuts.length; k++) {
      for await (
        const chunk of readTextChunks(`${dir}/t.txt`, {
          chunkBytes: 64,
          range: { start: cuts[k], end: cuts[k + 1] },
        })
      ) joined += chunk;
    }
    assert.equal(joined, text, `cuts ${cuts}`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("counting Workers give the same counts and the same tokenizer file", async () => {
  const dir = await tempCorpus({ "a.txt": CORPUS.repeat(160), "b.txt": CORPUS.repeat(90) });
  const one = await countPieces([dir], { workers: 1 });
  const two = await countPieces([dir], { workers: 2 });
  assert.deepEqual(new Map([...two].sort()), new Map([...one].sort()));
  const t1 = await trainTokenizer([dir], { vocabSize: 500, workers: 1 });
  const t2 = await trainTokenizer([dir], { vocabSize: 500, workers: 2 });
  assert.equal(JSON.stringify(t2.toJSON()), JSON.stringify(t1.toJSON()));
  await Deno.remove(dir, { recursive: true });
});
