import assert from "node:assert/strict";
import { auditCorpus, cleanCorpus, cleanText } from "../../src/data/mod.ts";
import { decodeText } from "../../src/data/corpus/text.ts";
import { BenteviError } from "../../src/errors.ts";

Deno.test("clean: line endings, NEL, NFC, controls, whitespace, duplicates and short paragraphs", () => {
  const stats = {
    files: 0,
    inputChars: 0,
    outputChars: 0,
    paragraphsIn: 0,
    paragraphsOut: 0,
    duplicateParagraphs: 0,
    shortParagraphs: 0,
    controlCharsRemoved: 0,
    cp1252Repaired: 0,
    lineEndingsNormalized: 0,
    nfcChanged: false,
  };
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
  const s = {
    files: 0,
    inputChars: 0,
    outputChars: 0,
    paragraphsIn: 0,
    paragraphsOut: 0,
    duplicateParagraphs: 0,
    shortParagraphs: 0,
    controlCharsRemoved: 0,
    cp1252Repaired: 0,
    lineEndingsNormalized: 0,
    nfcChanged: false,
  };
  const out = cleanText("\u0097 Não sei, disse ele. \u0093Vamos\u0094, respondeu.\u0081", {
    minChars: 1,
    stats: s,
  });
  assert.equal(out, "— Não sei, disse ele. “Vamos”, respondeu.\n");
  assert.equal(s.cp1252Repaired, 3);
  assert.equal(s.controlCharsRemoved, 1); // U+0081 has no Windows-1252 character
});

Deno.test("clean: latin1 input becomes UTF-8; duplicates are removed across files", async () => {
  const dir = await Deno.makeTempDir();
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
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/bom.txt`, "Um arquivo correto e longo o bastante.\n");
  await Deno.writeFile(
    `${dir}/ruim.txt`,
    new Uint8Array([0x6f, 0x6c, 0xc3, 0xa1, 0x20, 0xe7, 0x61, 0x21]),
  );
  await assert.rejects(
    () => cleanCorpus([`${dir}/bom.txt`, `${dir}/ruim.txt`], { output: `${dir}/out` }),
    (e: Error) =>
      e instanceof BenteviError &&
      e.message.startsWith(`${dir}/ruim.txt: invalid UTF-8 at byte 5 (0xe7)`) &&
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
    () => decodeText(new Uint8Array([0xf0, 0x9f]), "x.txt", "utf-8"),
    /x\.txt: invalid UTF-8 at byte 0/,
  );
});

Deno.test("clean: an unwritable output folder is a clear error", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a.txt`, "Texto suficiente para um parágrafo.\n");
  await Deno.writeTextFile(`${dir}/arquivo`, "x");
  await assert.rejects(
    () => cleanCorpus([`${dir}/a.txt`], { output: `${dir}/arquivo/saida` }),
    (e: Error) => e instanceof BenteviError && e.message.includes(`${dir}/arquivo`),
  );
});

Deno.test("audit: counts, duplicates, scripts, top words, sentence lengths, encoding problems", async () => {
  const dir = await Deno.makeTempDir();
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
