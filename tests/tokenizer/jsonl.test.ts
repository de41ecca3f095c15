// Training on `.jsonl` files (what `wiki` writes): only each record's "text" is learned from,
// as if the texts were given one by one as an async iterable.
import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { countPieces, trainTokenizer } from "../../src/tokenizer/mod.ts";
import { countSegments, PieceCounter, splitSegments } from "../../src/tokenizer/counter.ts";
import { listInputFiles } from "../../src/text/mod.ts";
import { CORPUS, tempCorpus } from "./_helpers.ts";

/** Wiki-like records: texts with paragraphs and no final newline, ids and titles around them. */
function articles(n: number): { id: string; title: string; text: string }[] {
  const lines = CORPUS.split("\n").filter((l) => l.trim());
  return Array.from({ length: n }, (_, i) => ({
    id: String(i + 1),
    title: `Artigo ${i + 1}: ${lines[i % lines.length].slice(0, 20)}`,
    text: [
      lines[i % lines.length],
      lines[(i * 7 + 3) % lines.length] + " " + lines[(i * 3 + 1) % lines.length],
      `Parágrafo ${i} sobre o bem-te-vi, com "aspas", {chaves} e \\barras.`,
    ].join("\n\n"),
  }));
}

const jsonl = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

async function* texts(records: { text: string }[]) {
  for (const r of records) yield r.text;
}

Deno.test("jsonl: the same tokenizer file as the records' texts given as an async iterable", async () => {
  const records = articles(120);
  const dir = await tempCorpus({ "wiki_00000.jsonl": jsonl(records) });
  const options = { vocabSize: 600, minFrequency: 1 };
  const fromFile = await trainTokenizer([dir], options);
  const fromTexts = await trainTokenizer(texts(records), options);
  assert.equal(JSON.stringify(fromFile.toJSON()), JSON.stringify(fromTexts.toJSON()));
  // Nothing of the JSON around the texts was learned: no `{"`, `":"`, ids or field names.
  const json = fromFile.toJSON() as { model: { vocab: Record<string, number> } };
  const tokens = Object.keys(json.model.vocab);
  assert.equal(tokens.length, 600);
  for (const t of tokens) {
    assert.ok(!/^\{"|":"|","|^"?title|^"?id"/.test(t), `JSON syntax learned: ${JSON.stringify(t)}`);
  }
  const counts = await countPieces([dir], {});
  assert.equal(counts.get("title"), undefined);
  assert.equal(counts.get('":"'), undefined);
  assert.equal(counts.get(" bem"), (await countPieces(texts(records), {})).get(" bem"));
  // The record's "\"" in the text is a quote of the text, not JSON: it is counted as such.
  assert.ok((counts.get(' "') ?? 0) >= records.length);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jsonl: a text file of the same texts differs only by where documents end", async () => {
  // Each text ends with "\n": then one text file of all of them is the same corpus.
  const records = articles(40).map((r) => ({ ...r, text: r.text + "\n" }));
  const dir = await tempCorpus({
    "a.jsonl": jsonl(records),
    "b/a.txt": records.map((r) => r.text).join(""),
  });
  const a = await countPieces([`${dir}/a.jsonl`], {});
  const b = await countPieces([`${dir}/b`], {});
  assert.deepEqual(new Map([...a].sort()), new Map([...b].sort()));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jsonl: counting Workers and any split into line ranges give identical counts", async () => {
  // Over 2 MiB, so that countPieces does start two Workers.
  const records = articles(12000);
  const dir = await tempCorpus({ "w/wiki_00000.jsonl": jsonl(records), "w/z.txt": CORPUS });
  const files = await listInputFiles([`${dir}/w`]);
  assert.ok(files.reduce((s, f) => s + f.size, 0) > 2 << 20);
  const one = await countPieces([`${dir}/w`], { workers: 1 });
  const two = await countPieces([`${dir}/w`], { workers: 2 });
  assert.deepEqual(new Map([...two].sort()), new Map([...one].sort()));
  // Without Workers: every split into runs of whole records counts the same.
  for (const parts of [2, 3, 7]) {
    const merged = new Map<string, number>();
    for (const segments of splitSegments(files, parts)) {
      const counter = new PieceCounter({ specialTokens: [] });
      await countSegments(segments, counter, "utf-8");
      for (const [p, c] of counter.counts) merged.set(p, (merged.get(p) ?? 0) + c);
    }
    const whole = new PieceCounter({ specialTokens: [] });
    await countSegments(
      files.map((f) => ({ path: f.path, start: 0, end: f.size })),
      whole,
      "utf-8",
    );
    assert.deepEqual(new Map([...merged].sort()), new Map([...whole.counts].sort()), `${parts}`);
  }
  const t1 = await trainTokenizer([`${dir}/w`], { vocabSize: 500, workers: 1 });
  const t2 = await trainTokenizer([`${dir}/w`], { vocabSize: 500, workers: 2 });
  assert.equal(JSON.stringify(t2.toJSON()), JSON.stringify(t1.toJSON()));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jsonl: a bad line is a one-line error naming the file and line", async () => {
  const dir = await tempCorpus({
    "bad.jsonl": '{"text":"um"}\n\n{"text": quebrado}\n',
    "notext.jsonl": '{"text":"um"}\n{"title":"sem texto"}\n',
  });
  for (
    const [file, message] of [
      ["bad.jsonl", `${dir}/bad.jsonl: line 3 is not valid JSON`],
      ["notext.jsonl", `${dir}/notext.jsonl: line 2 has no "text" string field`],
    ]
  ) {
    await assert.rejects(
      () => trainTokenizer([`${dir}/${file}`], { vocabSize: 300 }),
      (e: Error) => e instanceof BenteviError && e.message === message,
    );
  }
  await Deno.remove(dir, { recursive: true });
});
