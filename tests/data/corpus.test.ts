import assert from "node:assert/strict";
import { auditCorpus, cleanCorpus, cleanText, formatAudit } from "../../src/data/mod.ts";
import { emptyCleanStats, summarizeClean } from "../../src/data/corpus/clean.ts";
import { decodeTextStrict } from "../../src/text/mod.ts";
import { BenteviError } from "../../src/errors.ts";
import { tempDir } from "../_tmp.ts";

Deno.test("clean: line endings, NEL, NFC, controls, whitespace, duplicates and short paragraphs", () => {
  const stats = emptyCleanStats();
  const input = "Era uma vez\r\numa  casa\tamarela no alto do morro.\r\n\r\n" + // CRLF, spaces, tab
    "O me\u0301dico chegou\u0085cedo.\u0007\n\n\n\n" + // decomposed é, NEL, BEL
    "Era uma vez\numa casa amarela no alto do morro.\n\n" + // duplicate after folding
    "CAPÍTULO II\n\n" + // short, not a sentence: dropped
    "— Eu?\n\nFim.\n\n— Eu?\n\n" + // short dialogue and sentences stay, even repeated
    "\u00a0 Última linha, com espaço inseparável.\u00a0\n";
  const out = cleanText(input, { stats });
  assert.equal(
    out,
    "Era uma vez\numa casa amarela no alto do morro.\n\nO médico chegou\ncedo.\n\n— Eu?\n\nFim.\n\n" +
      "— Eu?\n\nÚltima linha, com espaço inseparável.\n",
  );
  assert.equal(stats.paragraphsIn, 8);
  assert.equal(stats.paragraphsOut, 6);
  assert.equal(stats.duplicateParagraphs, 1);
  assert.equal(stats.shortParagraphs, 1);
  assert.equal(stats.controlCharsRemoved, 1);
  assert.equal(stats.lineEndingsNormalized, 4);
  assert.ok(stats.nfcChanged);
});

Deno.test("clean: C1 characters from Windows-1252 text are repaired (U+0097 → —)", () => {
  const s = emptyCleanStats();
  const out = cleanText("\u0097 Não sei, disse ele. \u0093Vamos\u0094, respondeu.\u0081", {
    minChars: 1,
    stats: s,
  });
  assert.equal(out, "— Não sei, disse ele. “Vamos”, respondeu.\n");
  assert.equal(s.cp1252Repaired, 3);
  assert.equal(s.controlCharsRemoved, 1); // U+0081 has no Windows-1252 character
});

Deno.test("clean: latin1 input becomes UTF-8; duplicates are removed across files", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  // "Ação e coração do sertão.\n\nParágrafo repetido aqui, no outro arquivo.\n" in ISO-8859-1
  const latin = Uint8Array.from(
    "A\xe7\xe3o e cora\xe7\xe3o do sert\xe3o.\n\nPar\xe1grafo repetido aqui, no outro arquivo.\n",
    (c) => c.charCodeAt(0),
  );
  await Deno.mkdir(`${dir}/in/sub`, { recursive: true });
  await Deno.writeFile(`${dir}/in/a.txt`, latin);
  await Deno.writeFile(
    `${dir}/in/sub/b.txt`,
    Uint8Array.from("Par\xe1grafo repetido aqui, no outro arquivo.\n", (c) => c.charCodeAt(0)),
  );
  const stats = await cleanCorpus([`${dir}/in`], {
    output: `${dir}/out`,
    encoding: "latin1",
    minChars: 5,
  });
  assert.equal(stats.files, 2);
  assert.equal(stats.duplicateParagraphs, 1);
  assert.equal(
    await Deno.readTextFile(`${dir}/out/a.txt`),
    "Ação e coração do sertão.\n\nParágrafo repetido aqui, no outro arquivo.\n",
  );
  assert.equal(await Deno.readTextFile(`${dir}/out/sub/b.txt`), "");
});

Deno.test("clean: invalid UTF-8 names the file and byte offset and writes nothing", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.writeTextFile(`${dir}/bom.txt`, "Um arquivo correto e longo o bastante.\n");
  await Deno.writeFile(
    `${dir}/ruim.txt`,
    new Uint8Array([0x6f, 0x6c, 0xc3, 0xa1, 0x20, 0xe7, 0x61, 0x21]),
  );
  await assert.rejects(
    () => cleanCorpus([`${dir}/bom.txt`, `${dir}/ruim.txt`], { output: `${dir}/out` }),
    (e: Error) =>
      e instanceof BenteviError &&
      e.message.startsWith(`${dir}/ruim.txt: invalid UTF-8 at byte 5 (line 1, column 5)`) &&
      /--encoding latin1/.test(e.message),
  );
  let exists = true;
  try {
    Deno.statSync(`${dir}/out/bom.txt`);
  } catch {
    exists = false;
  }
  assert.equal(exists, false);
  assert.throws(
    () => decodeTextStrict(new Uint8Array([0xf0, 0x9f]), { path: "x.txt" }),
    /x\.txt: invalid UTF-8 at byte 0 \(line 1, column 1\)/,
  );
});

Deno.test("clean: an unwritable output folder is a clear error", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.writeTextFile(`${dir}/a.txt`, "Texto suficiente para um parágrafo.\n");
  await Deno.writeTextFile(`${dir}/arquivo`, "x");
  await assert.rejects(
    () => cleanCorpus([`${dir}/a.txt`], { output: `${dir}/arquivo/saida` }),
    (e: Error) => e instanceof BenteviError && e.message.includes(`${dir}/arquivo`),
  );
});

Deno.test("audit: counts, duplicates, scripts, top words, sentence lengths, encoding problems", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.writeTextFile(
    `${dir}/a.txt`,
    "O gato dorme no sofá. O gato sonha!\n\nO gato dorme no sofá. O gato sonha!\n\n" +
      "Москва fica longe. Mañana também. Texto com mojibake: aÃ§Ã£o. \u0097 Travessão.\n",
  );
  await Deno.writeFile(`${dir}/b.txt`, new Uint8Array([0x6f, 0x69, 0x20, 0xff, 0x0a]));
  const r = await auditCorpus([dir]);
  assert.equal(r.files, 2);
  assert.equal(r.paragraphs, 4);
  assert.equal(r.uniqueParagraphRatio, 0.75);
  assert.equal(r.lines, 6);
  // "o": four times, and once more from the mojibake "aÃ§Ã£o"
  assert.deepEqual(r.topWords.slice(0, 2), [{ word: "o", count: 5 }, { word: "gato", count: 4 }]);
  assert.ok(r.nonLatinShare > 0.05 && r.nonLatinShare < 0.2, String(r.nonLatinShare));
  assert.ok(r.nonPortugueseLatinShare > 0, "ñ is Latin but not Portuguese");
  assert.equal(r.sentences, 9);
  assert.equal(r.sentenceLengthHistogram["1-5"], 8);
  const kinds = r.encodingProblems.map((p) => `${p.file.split("/").pop()}:${p.kind}`).sort();
  assert.deepEqual(kinds, ["a.txt:cp1252-as-c1", "a.txt:mojibake", "b.txt:invalid-utf8"]);
  assert.equal(r.encodingProblems.find((p) => p.kind === "invalid-utf8")!.first, 3);
});

/** Wiki-like JSONL records: id, title and a text of paragraphs, without a final newline. */
const ARTICLES = [
  {
    id: "1",
    title: "Rio Jaguaré",
    text: "O rio nasce na serra e desce ao mar.\n\nAs águas do rio são claras. O rio é longo!",
  },
  { id: "2", title: "Cidade", text: "A cidade fica na margem do rio.\nTem uma ponte antiga." },
  { id: "3", title: "Mojibake", text: "Texto com mojibake: aÃ§Ã£o, num parágrafo só." },
];
const toJsonl = (records: unknown[]) => records.map((r) => JSON.stringify(r) + "\n").join("");

Deno.test("audit: a JSONL record is a document; the JSON around its text is not counted", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/jsonl`);
  await Deno.mkdir(`${dir}/txt`);
  await Deno.writeTextFile(`${dir}/jsonl/wiki_00000.jsonl`, toJsonl(ARTICLES));
  await Deno.writeTextFile(
    `${dir}/txt/a.txt`,
    ARTICLES.map((a) => a.text).join("\n\n\n") + "\n",
  );
  const j = await auditCorpus([`${dir}/jsonl`]);
  const t = await auditCorpus([`${dir}/txt`]);
  assert.equal(j.records, 3);
  assert.equal(t.records, 0);
  assert.equal(j.paragraphs, 4);
  assert.equal(j.lines, 6); // the texts' lines: 3 + 2 + 1 (blank line included), not 3
  for (const key of ["paragraphs", "words", "sentences", "letters", "uniqueParagraphRatio"]) {
    assert.equal(j[key as keyof typeof j], t[key as keyof typeof t], key);
  }
  assert.deepEqual(j.topWords, t.topWords);
  assert.deepEqual(j.topWords.slice(0, 2), [{ word: "rio", count: 4 }, { word: "o", count: 3 }]);
  for (const w of ["n", "text", "title", "id"]) {
    assert.ok(!j.topWords.some((x) => x.word === w), `"${w}" counted as a word`);
  }
  const moji = j.encodingProblems.find((p) => p.kind === "mojibake")!;
  assert.deepEqual({ line: moji.line, first: moji.first, count: moji.count }, {
    line: 3,
    first: 21,
    count: 2,
  });
  assert.match(formatAudit(j), /3 JSONL records/);
  assert.match(formatAudit(j), /mojibake ×2 \(first at line 3, character 21\)/);
  await Deno.writeTextFile(`${dir}/ruim.jsonl`, '{"text":"ok"}\n{"text":\n');
  await assert.rejects(
    () => auditCorpus([`${dir}/ruim.jsonl`]),
    (e: Error) =>
      e instanceof BenteviError && e.message === `${dir}/ruim.jsonl: line 2 is not valid JSON`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("clean: JSONL in, JSONL out — other fields kept, texts cleaned, empty records dropped", async () => {
  const dir = await Deno.makeTempDir();
  const records = [
    {
      id: "1",
      title: "Um",
      text: "Primeiro  parágrafo\tdo artigo um.\r\n\r\nCAPÍTULO\r\n\r\nFim.",
    },
    { id: "2", title: "Dois", text: "Primeiro parágrafo do artigo um." }, // a duplicate: nothing left
    { title: "Três", id: "3", text: "Outro texto, e\u0301 bem diferente.", extra: [1, 2] },
  ];
  await Deno.writeTextFile(`${dir}/wiki.jsonl`, toJsonl(records));
  await Deno.writeTextFile(`${dir}/livro.txt`, "Outro texto, é bem diferente.\n\nNovo no livro.\n");
  const stats = await cleanCorpus([`${dir}/wiki.jsonl`, `${dir}/livro.txt`], {
    output: `${dir}/out`,
    dedupMinChars: 10,
  });
  const out = (await Deno.readTextFile(`${dir}/out/wiki.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.deepEqual(out, [
    { id: "1", title: "Um", text: "Primeiro parágrafo do artigo um.\n\nFim." },
    { title: "Três", id: "3", text: "Outro texto, é bem diferente.", extra: [1, 2] },
  ]);
  assert.deepEqual(Object.keys(out[1]), ["title", "id", "text", "extra"]);
  // paragraphs are deduplicated across JSONL records and text files alike
  assert.equal(await Deno.readTextFile(`${dir}/out/livro.txt`), "Novo no livro.\n");
  assert.equal(stats.records, 3);
  assert.equal(stats.recordsDropped, 1);
  assert.equal(stats.duplicateParagraphs, 2);
  assert.equal(stats.shortParagraphs, 1);
  assert.match(summarizeClean(stats), /2\/3 JSONL records kept/);
  // A bad line fails before anything is written.
  await Deno.writeTextFile(
    `${dir}/ruim.jsonl`,
    '{"text":"Um texto válido e longo."}\n{"id":"9"}\n',
  );
  await assert.rejects(
    () => cleanCorpus([`${dir}/livro.txt`, `${dir}/ruim.jsonl`], { output: `${dir}/out2` }),
    (e: Error) =>
      e instanceof BenteviError &&
      e.message === `${dir}/ruim.jsonl: line 2 has no "text" string field`,
  );
  assert.throws(() => Deno.statSync(`${dir}/out2`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("clean: a file cleaned paragraph by paragraph is the file cleaned whole", async () => {
  const dir = await Deno.makeTempDir();
  const text = "\r\n\r\nEra uma vez uma casa amarela.\r\n  \r\nNo alto do morro, longe.\n\n\n" +
    "\u00a0\nEra uma vez uma casa amarela.\n\n\rCurto\n \t\n\nÚltimo parágrafo do texto sem fim";
  await Deno.writeTextFile(`${dir}/a.txt`, text);
  const streamed = await cleanCorpus([`${dir}/a.txt`], { output: `${dir}/out` });
  const whole = emptyCleanStats();
  const expected = cleanText(text, { stats: whole });
  assert.equal(await Deno.readTextFile(`${dir}/out/a.txt`), expected);
  assert.deepEqual({ ...streamed, files: 0 }, whole);
  await Deno.remove(dir, { recursive: true });
});
