// Memory on big inputs (issue 13, item 10): a file without blank lines is one document and a
// file without line breaks is one line, yet reading, counting and tokenizing them must hold
// a bounded piece at a time, not the whole input. Tested structurally on small files: the
// pieces come out before the input ends, each bounded, and the results equal the whole's.
import assert from "node:assert/strict";
import { buildDataset, openTokenDataset } from "../../src/data/mod.ts";
import { findTextCut } from "../../src/text/cut.ts";
import { MAX_DOCUMENT_PIECE, readDocuments, type TextDocument } from "../../src/text/documents.ts";
import { PieceCounter } from "../../src/tokenizer/counter.ts";
import { PreTokenizer } from "../../src/tokenizer/pre_tokenizer.ts";
import { trainTokenizer } from "../../src/tokenizer/mod.ts";

/** A line-less text of `n` words ("palavra 17 ação"…), `chars` long at least. */
function lineless(chars: number): string {
  const words = ["palavra", "ação", "Bem-te-vi", "17", "café,", "coração.", "x"];
  const out: string[] = [];
  let n = 0;
  for (let i = 0; n < chars; i++) {
    const w = words[(i * 7 + (i >> 3)) % words.length];
    out.push(w);
    n += w.length + 1;
  }
  return out.join(" ");
}

Deno.test("findTextCut: line breaks first, then a space between ASCII letters, never inside a pair", () => {
  assert.deepEqual(findTextCut("um dois\ntrês quatro", 0), { at: 8, kind: "line" });
  assert.deepEqual(findTextCut("um dois\n\ntrês quatro", 0), { at: 13, kind: "space" });
  assert.deepEqual(findTextCut("ação é\u00a0bom", 0), { at: 9, kind: "forced" });
  assert.deepEqual(findTextCut("ab🐦", 0), { at: 2, kind: "forced" });
  // Both sides of each cut pre-tokenize to the pieces of the whole (GPT-2 and GPT-4 regexes).
  const text = lineless(5000).replace(/ x /g, "\nx\n").replace(/17/g, "17\n\n  ");
  for (const pre of [PreTokenizer.gpt2(), PreTokenizer.gpt4()]) {
    const pieces = (s: string) => {
      const out: string[] = [];
      pre.forEachPiece(s, (p) => out.push(p));
      return out;
    };
    const whole = pieces(text);
    for (const min of [100, 1000, 2500, 4000]) {
      const cut = findTextCut(text.slice(0, min + 200), min)!;
      assert.notEqual(cut.kind, "forced");
      assert.deepEqual([...pieces(text.slice(0, cut.at)), ...pieces(text.slice(cut.at))], whole);
    }
  }
});

Deno.test("readDocuments: a 10 MB line-less document comes in bounded pieces that join to it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bentevi-bounded-" });
  const text = lineless(10_000_000);
  await Deno.writeTextFile(`${dir}/one.txt`, `  ${text}  \n\n\nSegundo documento.\n`);
  const docs: TextDocument[] = [];
  for await (const d of readDocuments(`${dir}/one.txt`)) docs.push(d);
  const first = docs.findIndex((d, i) => i > 0 && !d.continues);
  assert.ok(first > 5, `only ${first} pieces`);
  assert.equal(docs[0].continues, undefined);
  for (const d of docs.slice(1, first)) assert.equal(d.continues, true);
  for (const d of docs) assert.ok(d.text.length <= 2 * MAX_DOCUMENT_PIECE + (1 << 20));
  assert.equal(docs.slice(0, first).map((d) => d.text).join(""), text);
  assert.deepEqual(docs.slice(first).map((d) => [d.text, d.continues]), [
    ["Segundo documento.", undefined],
  ]);
  // Paragraph pieces of one endless line are bounded too, and join to the file exactly.
  let joined = "";
  let pieces = 0;
  for await (const d of readDocuments(`${dir}/one.txt`, { split: "paragraphs" })) {
    assert.ok(d.text.length <= (8 << 20) + (2 << 20));
    joined += d.text;
    pieces++;
  }
  assert.ok(pieces >= 3);
  assert.equal(joined, `  ${text}  \n\n\nSegundo documento.\n`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("tokenizer train: a line-less text is counted while it streams, with the whole line's counts", () => {
  const text = lineless(3 << 20);
  const options = { specialTokens: ["<|endoftext|>"] };
  const streamed = new PieceCounter(options);
  for (let i = 0; i < text.length; i += 1 << 16) streamed.push(text.slice(i, i + (1 << 16)));
  // Counted before the line ends: the counter does not hold the line until its end.
  const before = [...streamed.counts.values()].reduce((a, b) => a + b, 0);
  assert.ok(before > 0, "nothing counted before the end of the line");
  streamed.end();
  const whole = new PieceCounter(options);
  whole.push(text);
  whole.end();
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => a[0] < b[0] ? -1 : 1);
  assert.deepEqual(sorted(streamed.counts), sorted(whole.counts));
  let all = 0;
  const pre = PreTokenizer.gpt2();
  pre.forEachPiece(text, () => all++);
  assert.equal([...streamed.counts.values()].reduce((a, b) => a + b, 0), all);
});

Deno.test("tokenizer encode: a line-less text is encoded in parts that equal the whole's ids", async () => {
  async function* corpus() {
    yield lineless(20_000);
  }
  const tok = await trainTokenizer(corpus(), { vocabSize: 300, specialTokens: ["<|a b|>"] });
  const text = lineless(1 << 20).replace(/ 17 /g, " <|a b|> ");
  async function* chunks() {
    for (let i = 0; i < text.length; i += 1 << 16) yield text.slice(i, i + (1 << 16));
  }
  const parts: number[][] = [];
  for await (const p of tok.encodeStream(chunks(), 1 << 17)) parts.push(p);
  assert.ok(parts.length >= 4, `${parts.length} parts`);
  assert.deepEqual(parts.flat(), tok.encode(text));
});

Deno.test("dataset build: a long line-less document is one document, tokenized as a whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bentevi-bounded-" });
  const text = lineless(Math.round(2.5 * MAX_DOCUMENT_PIECE));
  await Deno.writeTextFile(`${dir}/one.txt`, text);
  async function* corpus() {
    yield lineless(20_000);
  }
  const tok = await trainTokenizer(corpus(), { vocabSize: 300 });
  await tok.save(`${dir}/tok.json`);
  const r = await buildDataset([`${dir}/one.txt`], {
    tokenizer: `${dir}/tok.json`,
    output: `${dir}/ds`,
    valFraction: 0,
  });
  assert.equal(r.train.documents, 1);
  const ds = await openTokenDataset(`${dir}/ds.train.bin`);
  try {
    assert.deepEqual([...ds.tokens], [tok.endOfTextId, ...tok.encode(text)]);
  } finally {
    ds.close();
  }
  await Deno.remove(dir, { recursive: true });
});
