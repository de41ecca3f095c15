import assert from "node:assert/strict";
import { cleanWikitext, convertWikiDump, countResidue, readWikiDump } from "../../src/data/mod.ts";
import { BenteviError } from "../../src/errors.ts";
import { loadNative } from "../../src/native/mod.ts";
import { tempDir } from "../_tmp.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const XML = `${FIXTURES}mini-ptwiki.xml`;
const MULTI = `${FIXTURES}mini-ptwiki-multistream.xml.bz2`;
const hasNative = loadNative({ quiet: true }) !== null;

async function readJsonl(path: string): Promise<{ id: string; title: string; text: string }[]> {
  return (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
}

function noMarkup(text: string) {
  for (
    const p of [
      "{{",
      "}}",
      "[[",
      "]]",
      "<ref",
      "{|",
      "|}",
      "''",
      "==",
      "&nbsp;",
      "thumb|",
      "miniatura|",
      "__",
    ]
  ) {
    assert.ok(!text.includes(p), `residue ${p} in ${JSON.stringify(text)}`);
  }
}

Deno.test("cleaner: links, bold/italic, refs, comments, entities and categories", () => {
  const out = cleanWikitext(
    "O '''rio Claro''' corta a [[Vila do Sabiá|vila]] e o [[Cerrado]]s vizinho.<ref name=a>Fonte</ref>" +
      "<ref name=b /> Suas águas&nbsp;são ''limpas'' &amp; frias.<!-- nota oculta -->\n" +
      "[[Categoria:Rios]] [[Category:Rivers]] [[en:Clear River]]",
  );
  assert.equal(
    out,
    "O rio Claro corta a vila e o Cerrados vizinho. Suas águas são limpas & frias.",
  );
});

Deno.test("cleaner: nested templates and infoboxes vanish; number templates are rendered", () => {
  const out = cleanWikitext(
    "{{Info/Cidade|nome=Pedra Alta|população={{formatnum:8123}}|mapa={{Mapa|{{Coord|1|2}}}}}}\n" +
      "Pedra Alta tem {{formatnum:8123}} habitantes e área de {{convert|45|km2}}. " +
      "Fica a {{convert|10|to|12|km}} do litoral e faz {{convert|30|C}} no verão. " +
      "A densidade é de 180 {{hab/km2}} e o parque tem 12 {{km2}}.",
  );
  assert.equal(
    out,
    "Pedra Alta tem 8123 habitantes e área de 45 km². Fica a 10 a 12 km do litoral e faz 30 °C no verão. " +
      "A densidade é de 180 hab./km² e o parque tem 12 km².",
  );
});

Deno.test("cleaner: a dropped template inside a sentence takes the sentence with it", () => {
  const out = cleanWikitext(
    "A vila tem {{População|BR}} habitantes. O clima é ameno. Foi fundada em {{Data fund}}. " +
      "Há muitas árvores.{{carece de fontes}}",
  );
  assert.equal(out, "O clima é ameno. Há muitas árvores.");
  assert.equal(
    cleanWikitext("A área é <math>\\pi r^2</math> metros. O resto fica."),
    "O resto fica.",
  );
});

Deno.test("cleaner: files and images in Portuguese and English spellings, with nested links", () => {
  const out = cleanWikitext(
    "[[Ficheiro:A.jpg|miniatura|Um [[rio]] ao sol]]\n[[Arquivo:B.png|thumb|x]]\n" +
      "[[Imagem:C.gif|200px|y]]\n[[File:D.svg|left|z]]\n[[Image:E.jpg]]\nTexto que fica.",
  );
  assert.equal(out, "Texto que fica.");
});

Deno.test("cleaner: tables, headings, lists, external links, magic words and trailing sections", () => {
  const out = cleanWikitext(
    "Introdução com [http://exemplo.org um sítio] e http://exemplo.org/cru solto.\n__NOTOC__\n" +
      '{| class="wikitable"\n! A !! B\n|-\n| 1 || {{formatnum:2}}\n{|\n| aninhada\n|}\n|}\n' +
      "== História ==\nPrimeiro parágrafo\ncontinua aqui.\n\n* item um\n# item dois\n; termo : definição\n" +
      "== Ver também ==\n* [[Outro]]\n== Referências ==\n{{Reflist}}\n== Notas ==\nNota solta.",
  );
  assert.equal(
    out,
    "Introdução com um sítio e solto.\n\nPrimeiro parágrafo continua aqui.\n\nitem um\nitem dois\ntermo: definição",
  );
  noMarkup(out);
});

Deno.test("cleaner: {{PAGENAME}}, language and flag templates render as text", () => {
  assert.equal(
    cleanWikitext(
      "{{PAGENAME}} ({{lang-en|Heron Ridge}}) fica no {{flag|Brasil}}.{{bandeira|BRA}} Tem praias.",
      { title: "Serra da Garça" },
    ),
    "Serra da Garça (Heron Ridge) fica no Brasil. Tem praias.",
  );
  assert.equal(cleanWikitext("{{PAGENAME}} é um lugar. Fim."), "Fim.");
});

Deno.test("cleaner: empty when nothing readable is left", () => {
  assert.equal(cleanWikitext("{{Esboço}}\n[[Categoria:X]]\n{| \n| a\n|}"), "");
});

Deno.test("residue counter counts lines with markup", () => {
  const r = countResidue("limpo\n{{sobrou}}\n[[x]] e <ref>\nthumb|legenda");
  assert.equal(r.lines, 4);
  assert.equal(r.linesWithResidue, 3);
  assert.equal(r.patterns["[["], 1);
});

Deno.test("wiki: a plain XML dump → kept articles and counts", async () => {
  await using outTmp = await tempDir();
  const out = outTmp.path;
  const stats = await convertWikiDump(XML, { output: out });
  assert.equal(stats.pagesSeen, 7);
  assert.equal(stats.kept, 3);
  assert.equal(stats.redirects, 1);
  assert.equal(stats.otherNamespaces, 2);
  assert.equal(stats.emptyAfterCleaning, 1);
  const articles = await readJsonl(`${out}/wiki_00000.jsonl`);
  assert.deepEqual(articles.map((a) => a.id), ["101", "104", "107"]);
  assert.equal(articles[0].title, "Vila do Sabiá");
  for (const a of articles) noMarkup(a.text);
  assert.match(articles[0].text, /^Vila do Sabiá é um município brasileiro/);
  assert.match(articles[0].text, /Tem 23456 habitantes e fica a 180 km da capital\./);
  assert.doesNotMatch(articles[0].text, /moradores|comentário|Ver também|fórmula/);
  assert.match(articles[0].text, /Em 12 de maio de 1891 a vila/);
  assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["wiki_00000.jsonl"]);
});

Deno.test("wiki: bz2 multistream, txt format, min-chars, both bzip2 paths give the same shards", async () => {
  await using plainTmp = await tempDir();
  const plain = plainTmp.path;
  await convertWikiDump(XML, { output: plain, format: "txt", minChars: 300 });
  for (const native of hasNative ? [true, false] : [false]) {
    await using outTmp = await tempDir();
    const out = outTmp.path;
    const stats = await convertWikiDump(MULTI, {
      output: out,
      format: "txt",
      minChars: 300,
      native,
    });
    assert.equal(stats.tooShort, 2);
    assert.equal(stats.kept, 1);
    assert.equal(
      await Deno.readTextFile(`${out}/wiki_00000.txt`),
      await Deno.readTextFile(`${plain}/wiki_00000.txt`),
    );
  }
  const txt = await Deno.readTextFile(`${plain}/wiki_00000.txt`);
  assert.ok(txt.startsWith("Vila do Sabiá\n\nVila do Sabiá é"));
});

Deno.test("wiki: parallel Workers give exactly the sequential output, in dump order", async () => {
  await using seqTmp = await tempDir();
  const seq = seqTmp.path;
  await using parTmp = await tempDir();
  const par = parTmp.path;
  const a = await convertWikiDump(MULTI, { output: seq });
  const b = await convertWikiDump(MULTI, { output: par, workers: 2, streamGroupBytes: 1 });
  assert.equal(b.workers, 2);
  assert.equal(b.pagesSeen, a.pagesSeen);
  assert.equal(b.kept, a.kept);
  assert.equal(b.redirects, a.redirects);
  assert.equal(b.otherNamespaces, a.otherNamespaces);
  assert.equal(
    await Deno.readTextFile(`${par}/wiki_00000.jsonl`),
    await Deno.readTextFile(`${seq}/wiki_00000.jsonl`),
  );
});

function utf16le(text: string): Uint8Array {
  const out = new Uint8Array(2 + text.length * 2);
  out[0] = 0xff;
  out[1] = 0xfe;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[2 + 2 * i] = c & 0xff;
    out[3 + 2 * i] = c >> 8;
  }
  return out;
}

Deno.test("wiki: a UTF-16LE dump reads like the UTF-8 one", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/utf16.xml`;
  await Deno.writeFile(path, utf16le(await Deno.readTextFile(XML)));
  const titles: string[] = [];
  for await (const p of readWikiDump(path)) titles.push(p.title);
  assert.equal(titles.length, 7);
  assert.equal(titles[0], "Vila do Sabiá");
});

async function expectFailure(content: Uint8Array | string, name: string, pattern: RegExp) {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/${name}`;
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  const out = `${dir}/out`;
  await assert.rejects(
    () => convertWikiDump(path, { output: out }),
    (e: Error) =>
      e instanceof BenteviError && e.message.startsWith(path) && pattern.test(e.message),
  );
  // no shard under a final name, no temporary folder left
  assert.deepEqual([...Deno.readDirSync(out)], []);
}

Deno.test("wiki: bad input is a clear error and leaves no shard", async () => {
  const xml = await Deno.readTextFile(XML);
  await expectFailure(xml.slice(0, 3000), "cortado.xml", /malformed XML at line \d+/);
  await expectFailure(
    xml.replace("<title>Bentevi-do-brejo</title>", "<title>Bentevi</titulo>"),
    "errado.xml",
    /malformed XML at line 82, column \d+/,
  );
  await expectFailure(
    "<html><body>olá</body></html>",
    "pagina.html",
    /not a MediaWiki XML dump \(root element <html>/,
  );
  await expectFailure("apenas texto, nada de XML", "texto.xml", /malformed XML/);
  await expectFailure("", "vazio.xml", /empty file/);
  const bz = await Deno.readFile(MULTI);
  await expectFailure(bz.subarray(0, bz.length - 100), "cortado.xml.bz2", /truncated/);
  const corrupt = bz.slice();
  corrupt[1500] ^= 0xff;
  await expectFailure(corrupt, "corrompido.xml.bz2", /corrupt|truncated|not bzip2/);
  await assert.rejects(
    () => convertWikiDump(MULTI, { output: bz.length ? `${XML}/sub` : "" }),
    (e: Error) => e instanceof BenteviError && e.message.includes(XML),
  );
});

Deno.test("wiki: a truncated multistream dump fails in parallel mode too, leaving no shard", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const bz = await Deno.readFile(MULTI);
  await Deno.writeFile(`${dir}/cut.xml.bz2`, bz.subarray(0, bz.length - 100));
  await assert.rejects(
    () =>
      convertWikiDump(`${dir}/cut.xml.bz2`, {
        output: `${dir}/out`,
        workers: 2,
        streamGroupBytes: 1,
      }),
    (e: Error) => e instanceof BenteviError && /truncated/.test(e.message),
  );
  assert.deepEqual([...Deno.readDirSync(`${dir}/out`)], []);
});

const SHARED = new URL("../../../shared/data/wiki/", import.meta.url).pathname;
let shared = false;
try {
  shared = Deno.statSync(SHARED).isDirectory;
} catch { /* absent */ }
if (!shared) console.log("../shared/data absent: real-dump tests skipped");

Deno.test({
  name: "wiki: real dumps (ptwiki Berlim, UTF-16LE bgwiki, enwiki) with no markup residue",
  ignore: !shared,
  fn: async () => {
    await using outTmp = await tempDir();
    const out = outTmp.path;
    const pt = await convertWikiDump(`${SHARED}dbpedia-minidump-pt-wiki.xml.bz2`, {
      output: `${out}/pt`,
    });
    assert.equal(pt.kept, 1);
    const [berlim] = await readJsonl(`${out}/pt/wiki_00000.jsonl`);
    assert.equal(berlim.title, "Berlim");
    assert.match(berlim.text, /^Berlim .*capital/);
    assert.equal(countResidue(berlim.text).linesWithResidue, 0);
    const bg = await convertWikiDump(
      `${SHARED}gensim-bgwiki-latest-pages-articles-shortened.xml.bz2`,
      {
        output: `${out}/bg`,
      },
    );
    assert.equal(bg.pagesSeen, 3);
    assert.ok(bg.kept >= 1);
    const en = await convertWikiDump(`${SHARED}gensim-enwiki-table-markup.xml.bz2`, {
      output: `${out}/en`,
    });
    assert.equal(en.kept, 5);
    for (const a of await readJsonl(`${out}/en/wiki_00000.jsonl`)) {
      assert.equal(countResidue(a.text).linesWithResidue, 0, a.title);
    }
  },
});
