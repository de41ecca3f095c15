import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { loadTrainingData } from "../../src/train/mod.ts";

/** Bytes as tokens, 0 as the end-of-text id: every token is easy to read back. */
const bytes = {
  vocabSize: 256,
  endOfTextId: 0,
  encode: (s: string) => [...new TextEncoder().encode(s)],
};

function documents(tokens: ArrayLike<number>): string[] {
  const out: string[] = [];
  let cur: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === 0) {
      out.push(new TextDecoder().decode(new Uint8Array(cur)));
      cur = [];
    } else cur.push(tokens[i]);
  }
  return out;
}

Deno.test("train --data: .txt files are documents, .jsonl records' texts are documents", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/corpus/wiki`, { recursive: true });
  await Deno.writeTextFile(`${dir}/corpus/a.txt`, "Um livro.\n\nCom dois parágrafos.\n");
  await Deno.writeTextFile(
    `${dir}/corpus/wiki/wiki_00000.jsonl`,
    '{"id":"1","title":"Rio","text":"O rio."}\n{"id":"2","title":"Mar","text":"O mar."}\n',
  );
  await Deno.writeTextFile(`${dir}/corpus/notas.json`, '{"ignorado": true}');
  await Deno.writeTextFile(`${dir}/corpus/.oculto.txt`, "ignorado");
  const data = await loadTrainingData(`${dir}/corpus`, bytes, { valFraction: 0 });
  assert.deepEqual(documents(data.train.tokens), [
    "Um livro.\n\nCom dois parágrafos.\n",
    "O rio.",
    "O mar.",
  ]);
  assert.match(data.description, /3 document\(s\) in 2 file\(s\)/);
  // A .jsonl file on its own works too.
  const one = await loadTrainingData(`${dir}/corpus/wiki/wiki_00000.jsonl`, bytes, {
    valFraction: 0,
  });
  assert.deepEqual(documents(one.train.tokens), ["O rio.", "O mar."]);
  // Bad input: a one-line error naming the file and line, or the byte and how to convert.
  await Deno.writeTextFile(`${dir}/ruim.jsonl`, '{"text":"ok"}\n{"texto":"x"}\n');
  await assert.rejects(
    () => loadTrainingData(`${dir}/ruim.jsonl`, bytes),
    (e: Error) =>
      e instanceof BenteviError &&
      e.message === `${dir}/ruim.jsonl: line 2 has no "text" string field`,
  );
  await Deno.writeFile(`${dir}/latin.txt`, new Uint8Array([0x63, 0xe3, 0x6f]));
  await assert.rejects(
    () => loadTrainingData(`${dir}/latin.txt`, bytes),
    (e: Error) =>
      e instanceof BenteviError &&
      e.message ===
        `${dir}/latin.txt: invalid UTF-8 at byte 1 (line 1, column 2); if the file is Latin-1, convert it first: bentevi clean --encoding latin1 FILE -o DIR`,
  );
  await Deno.mkdir(`${dir}/vazio`);
  await assert.rejects(() => loadTrainingData(`${dir}/vazio`, bytes), /no input files in .*\.txt/);
  await Deno.remove(dir, { recursive: true });
});
