import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import {
  InvalidUtf8Error,
  isJsonlPath,
  readDocuments,
  type ReadDocumentsOptions,
  type TextDocument,
} from "../../src/text/mod.ts";

async function temp(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bentevi-docs-" });
  for (const [name, data] of Object.entries(files)) {
    if (typeof data === "string") await Deno.writeTextFile(`${dir}/${name}`, data);
    else await Deno.writeFile(`${dir}/${name}`, data);
  }
  return dir;
}

async function all(path: string, options: ReadDocumentsOptions = {}): Promise<TextDocument[]> {
  const out: TextDocument[] = [];
  for await (const d of readDocuments(path, options)) out.push(d);
  return out;
}

/** Asserts that reading `path` fails with exactly `message`, on one line. */
async function failsWith(path: string, message: string | RegExp, options = {}) {
  await assert.rejects(() => all(path, options), (e: Error) => {
    assert.ok(e instanceof BenteviError, String(e));
    assert.ok(!e.message.includes("\n"), e.message);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

const RECORDS = [
  {
    id: "1",
    title: "Rio",
    text: "O rio nasce na serra.\n\nDepois desce ao mar: ação, coração 🐦.",
  },
  { id: "2", title: "Vazio", text: "   " },
  { id: "3", title: "Aspas", text: 'Ele disse "olá" e {saiu}.\\n não é quebra.' },
  { id: "4", title: "Longo", text: "palavra ".repeat(800).trim() },
];

Deno.test("jsonl: each non-blank line's text is a document; blank texts and lines are skipped", async () => {
  const body = RECORDS.map((r) => JSON.stringify(r)).join("\n\n") + "\r\n";
  const dir = await temp({ "a.jsonl": "\ufeff" + body, "b.NDJSON": '{"text":"x"}' });
  assert.ok(isJsonlPath(`${dir}/b.NDJSON`) && !isJsonlPath(`${dir}/a.json`));
  const expected = RECORDS.filter((r) => r.text.trim()).map((r) => r.text);
  // Chunks smaller than a record, of one byte, and the default: the same documents.
  for (const chunkBytes of [1, 3, 7, 64, 1000, undefined]) {
    const docs = await all(`${dir}/a.jsonl`, { chunkBytes });
    assert.deepEqual(docs.map((d) => d.text), expected, `chunk ${chunkBytes}`);
    assert.deepEqual(docs.map((d) => d.line), [1, 5, 7]);
    assert.deepEqual(docs[1].record, RECORDS[2]);
  }
  assert.deepEqual((await all(`${dir}/b.NDJSON`)).map((d) => d.text), ["x"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jsonl: line ranges split a file into runs of whole records, each read once", async () => {
  const records = Array.from(
    { length: 200 },
    (_, i) => ({ text: `documento ${i} ` + "é".repeat(i) }),
  );
  const body = records.map((r) => JSON.stringify(r) + "\n").join("");
  const dir = await temp({ "r.jsonl": body });
  const size = new TextEncoder().encode(body).length;
  for (const parts of [2, 3, 5, 17]) {
    const texts: string[] = [];
    for (let k = 0; k < parts; k++) {
      const range = {
        start: Math.floor(size * k / parts),
        end: Math.floor(size * (k + 1) / parts),
      };
      for (const d of await all(`${dir}/r.jsonl`, { range, chunkBytes: 50 })) texts.push(d.text);
    }
    assert.deepEqual(texts, records.map((r) => r.text), `${parts} parts`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jsonl: invalid JSON, a missing text and bad UTF-8 name the file and line", async () => {
  const dir = await temp({
    "json.jsonl": '{"text":"um"}\n{"text":"dois"}\n{"text": "trê\n',
    "field.jsonl": '{"text":"um"}\n\n{"texto":"dois"}\n',
    "number.jsonl": '{"text":5}\n',
    "array.jsonl": '["text"]\n',
    "utf8.jsonl": new Uint8Array([
      ...new TextEncoder().encode('{"text":"um"}\n{"text":"a'),
      0xe7,
      ...new TextEncoder().encode('"}\n'),
    ]),
  });
  await failsWith(`${dir}/json.jsonl`, `${dir}/json.jsonl: line 3 is not valid JSON`);
  // the same line found from a range that starts inside the file
  await failsWith(`${dir}/json.jsonl`, `${dir}/json.jsonl: line 3 is not valid JSON`, {
    range: { start: 20 },
  });
  await failsWith(`${dir}/field.jsonl`, `${dir}/field.jsonl: line 3 has no "text" string field`);
  await failsWith(`${dir}/number.jsonl`, `${dir}/number.jsonl: line 1 has no "text" string field`);
  await failsWith(`${dir}/array.jsonl`, `${dir}/array.jsonl: line 1 has no "text" string field`);
  await failsWith(
    `${dir}/utf8.jsonl`,
    `${dir}/utf8.jsonl: invalid UTF-8 at byte 24 (line 2, column 11); if the file is Latin-1, pass --encoding latin1`,
    { chunkBytes: 5 },
  );
  // Read leniently, the bad byte is reported and decoded as U+FFFD.
  let at = -1;
  const docs = await all(`${dir}/utf8.jsonl`, { onInvalidUtf8: (o) => at = o });
  assert.equal(at, 24);
  assert.deepEqual(docs.map((d) => d.text), ["um", "a\ufffd"]);
  // As Latin-1 it is a character.
  assert.deepEqual((await all(`${dir}/utf8.jsonl`, { encoding: "latin1" }))[1].text, "aç");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("text files: documents are blocks between two or more blank lines, streamed", async () => {
  const text =
    "Título\n\nPrimeiro parágrafo.\n\n\nSegundo documento,\n  \n com dois parágrafos.\n" +
    "\n \t\n\r\n\nTerceiro, 🐦 ação.\r\n\r\n\r\nQuarto\n\n\n\n";
  const dir = await temp({ "a.txt": text, "one.txt": "Só um documento.\nSem lacunas." });
  const expected = [
    "Título\n\nPrimeiro parágrafo.",
    "Segundo documento,\n  \n com dois parágrafos.",
    "Terceiro, 🐦 ação.",
    "Quarto",
  ];
  for (const chunkBytes of [1, 2, 5, 16, undefined]) {
    const docs = await all(`${dir}/a.txt`, { chunkBytes });
    assert.deepEqual(docs.map((d) => d.text), expected, `chunk ${chunkBytes}`);
  }
  assert.deepEqual((await all(`${dir}/one.txt`)).map((d) => d.text), [
    "Só um documento.\nSem lacunas.",
  ]);
  assert.deepEqual((await all(`${dir}/one.txt`, { split: "file" })).map((d) => d.text), [
    "Só um documento.\nSem lacunas.",
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("text files: paragraph pieces join back to the exact text, whatever the chunk size", async () => {
  const text = "\n\nUm.\nDois.\n\nTrês.\r\n\r\n\u00a0\nQuatro\n \n \nCinco 🐦 ação" +
    "\n\n\n" + "linha sem fim ".repeat(100);
  const dir = await temp({ "p.txt": text });
  for (const chunkBytes of [1, 3, 8, 100, undefined]) {
    const pieces = (await all(`${dir}/p.txt`, { split: "paragraphs", chunkBytes })).map((d) =>
      d.text
    );
    assert.equal(pieces.join(""), text, `chunk ${chunkBytes}`);
    // every piece but the last ends after a blank line
    for (const p of pieces.slice(0, -1)) assert.match(p, /\n[ \t\r]*\n$/);
    assert.deepEqual(pieces.slice(1, 4), [
      "Um.\nDois.\n\n",
      "Três.\r\n\r\n",
      "\u00a0\nQuatro\n \n \n",
    ]);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("text files: invalid UTF-8 found in a later chunk names byte, line and column", async () => {
  const bytes = new Uint8Array([
    ...new TextEncoder().encode("linha um\n\n\nação "),
    0xe9,
    ...new TextEncoder().encode(" fim\n"),
  ]);
  const dir = await temp({ "x.txt": bytes });
  for (const chunkBytes of [1, 4, 1000]) {
    await assert.rejects(() => all(`${dir}/x.txt`, { chunkBytes }), (e: Error) => {
      assert.ok(e instanceof InvalidUtf8Error);
      assert.equal(
        e.message,
        `${dir}/x.txt: invalid UTF-8 at byte 18 (line 4, column 6); if the file is Latin-1, pass --encoding latin1`,
      );
      return true;
    });
  }
  await Deno.remove(dir, { recursive: true });
});
