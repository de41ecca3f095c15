// The retrieval index: build from every document kind, search (accents, case, stop words),
// offsets that re-read the source, update by hash, settings that never mix, interrupted
// builds, unreadable and foreign files.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { convertWikiDump } from "../../src/data/wiki/dump.ts";
import { bundledDemoFile } from "../../src/demo/demo.ts";
import { BenteviError } from "../../src/errors.ts";
import {
  analyzeTerms,
  buildIndex,
  evaluateRetrieval,
  ftsQuery,
  indexInfo,
  readQueries,
  retrieve,
  Retriever,
  sectionText,
  updateIndex,
} from "../../src/retrieval/mod.ts";
import { makeDocx, makeHtml, makePdf } from "./_fixtures.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { trainTokenizer } from "../../src/tokenizer/trainer.ts";
import { moduleTempDir, tempDir } from "../_tmp.ts";

const QUERIES = new URL("./demo_queries.jsonl", import.meta.url).pathname;

/** The demo articles as a wiki shard (what `wiki` writes), made once, removed on unload. */
let demoShard: Promise<string> | undefined;
function demoJsonl(): Promise<string> {
  demoShard ??= (async () => {
    const dir = await moduleTempDir({ prefix: "bentevi-retrieval-demo-" });
    await convertWikiDump(bundledDemoFile("ptwiki-demo.xml.bz2"), {
      output: dir,
      format: "jsonl",
    });
    return `${dir}/wiki_00000.jsonl`;
  })();
  return demoShard;
}

async function rejectsWith(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BenteviError, String(e));
    assert.match((e as Error).message, pattern);
    assert.ok(!(e as Error).message.includes("\n"), "one line");
    return true;
  });
}

Deno.test("analyzer: accents and case folded, Portuguese stop words dropped, stemming optional", () => {
  assert.deepEqual(analyzeTerms("A EDUCAÇÃO não é um Privilégio"), ["educacao", "privilegio"]);
  assert.deepEqual(analyzeTerms("educacao nao e um privilegio"), ["educacao", "privilegio"]);
  assert.equal(ftsQuery("o de que não"), undefined);
  assert.equal(ftsQuery("   "), undefined);
  const s = analyzeTerms("roedores roedor", { stem: true });
  assert.equal(s[0], s[1]);
});

Deno.test("demo articles: the Portuguese query set finds its articles; accentless queries too; offsets re-read the record", async () => {
  const shard = await demoJsonl();
  await using tmp = await tempDir();
  const dir = tmp.path;
  const index = `${dir}/demo.db`;
  const r = await buildIndex([shard], { index });
  assert.equal(r.indexed, 1);
  assert.ok(r.chunks > 100, `${r.chunks} chunks`);
  const retriever = await Retriever.open(index);
  try {
    const report = await evaluateRetrieval(retriever, await readQueries(QUERIES));
    assert.equal(report.queries, 40);
    assert.ok(report.recall[5] >= 0.9, JSON.stringify(report));
    assert.ok(report.mrr >= 0.8, JSON.stringify(report));
    // Lower case without accents finds the accented text; the same ranking as typed properly.
    const plain = await retriever.search("observatorio do morro alto refrator", { k: 3 });
    const typed = await retriever.search("Observatório do Morro Alto refrator", { k: 3 });
    assert.equal(plain[0].source.title, "Observatório do Morro Alto");
    assert.deepEqual(plain.map((h) => h.id), typed.map((h) => h.id));
    // Offsets: the hit is the record's text at [start, end), and its UTF-8 bytes there.
    for (const hit of await retriever.search("pão de queijo polvilho", { k: 5 })) {
      assert.equal(hit.source.kind, "jsonl");
      const text = await sectionText(hit.source.path, hit.source.line!);
      assert.equal(text.slice(hit.start, hit.end), hit.text);
      const bytes = new TextEncoder().encode(text);
      assert.equal(new TextDecoder().decode(bytes.subarray(hit.byteStart, hit.byteEnd)), hit.text);
    }
    // Empty and stop-word-only queries are clear errors.
    await assert.rejects(() => retriever.search("  "), /empty query/);
    await assert.rejects(() => retriever.search("o que é de"), /only stop words/);
    // No model: BM25 only, and dense search says so.
    assert.equal(retriever.hasEmbeddings, false);
    await assert.rejects(
      () => retriever.search("capivara", { mode: "dense" }),
      /no embeddings.*--model/,
    );
  } finally {
    retriever.close();
  }
});

Deno.test("every document kind is indexed with its source; offsets re-read it; unreadable files are counted and skipped", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const docs = `${dir}/docs`;
  await Deno.mkdir(`${docs}/sub`, { recursive: true });
  // UTF-8 with a BOM, and Latin-1 is not mixed in (one encoding per index).
  const txt = "\ufeffO ornitorrinco bota ovos.\n\nÉ um mamífero da Austrália, ação rara.\n";
  await Deno.writeTextFile(`${docs}/bicho.txt`, txt);
  await Deno.writeTextFile(
    `${docs}/sub/guia.md`,
    "# Guia do jacarandá\n\nIntrodução ao jacarandá-mimoso.\n\n## Floração\n\nFlores roxas em setembro.\n",
  );
  await Deno.writeTextFile(
    `${docs}/recs.jsonl`,
    '{"text": "Primeiro registro sobre a goiabada cascão."}\n{"text": "Segundo registro: queijo minas."}\n',
  );
  await Deno.writeTextFile(
    `${docs}/pagina.html`,
    makeHtml("Maracatu", [
      "O maracatu é uma manifestação cultural pernambucana com cortejo e tambores alfaias. ".repeat(
        6,
      ),
      "As nações de maracatu desfilam no carnaval do Recife. ".repeat(6),
    ]),
  );
  await Deno.writeFile(
    `${docs}/lei.pdf`,
    makePdf(["Artigo primeiro: da jabuticaba.", null, "Artigo terceiro: do xaxim protegido."]),
  );
  await Deno.writeFile(
    `${docs}/relatorio.docx`,
    makeDocx(["Relatório anual", "O orçamento do carimbó cresceu."], [0]),
  );
  // Unreadable: binary, password-protected PDF, image-only PDF, broken DOCX, invalid UTF-8.
  await Deno.writeFile(`${docs}/dados.txt`, new Uint8Array([1, 2, 0, 0, 3, 255]));
  await Deno.writeFile(`${docs}/cofre.pdf`, makePdf(["segredo"], { encrypted: true }));
  await Deno.writeFile(`${docs}/scan.pdf`, makePdf([null, null]));
  await Deno.writeFile(`${docs}/quebrado.docx`, new TextEncoder().encode("não é zip"));
  await Deno.writeFile(`${docs}/latin.txt`, new Uint8Array([0x61, 0xe7, 0xe3, 0x6f]));
  await Deno.writeFile(`${docs}/foto.png`, new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
  const skipped: string[] = [];
  const index = `${dir}/i.db`;
  const r = await buildIndex([docs], {
    index,
    maxTokens: 200,
    onSkip: (p) => skipped.push(p.split("/").pop()!),
  });
  assert.deepEqual(
    skipped.sort(),
    ["cofre.pdf", "dados.txt", "latin.txt", "quebrado.docx", "scan.pdf"],
  );
  assert.equal(r.indexed, 6);
  assert.equal(r.unsupported, 1); // foto.png
  const reasons = Object.fromEntries(r.skipped.map((s) => [s.path.split("/").pop(), s.reason]));
  assert.match(reasons["cofre.pdf"], /password-protected/);
  assert.match(reasons["scan.pdf"], /no text layer/);
  assert.match(reasons["dados.txt"], /binary/);
  assert.match(reasons["latin.txt"], /invalid UTF-8.*latin1/);
  const info = await indexInfo(index);
  assert.deepEqual(info.kinds, { docx: 1, html: 1, jsonl: 1, markdown: 1, pdf: 1, text: 1 });
  assert.equal(info.state, "complete");

  const top = async (q: string) => (await retrieve(index, q, 1))[0];
  const cases: [string, string, Record<string, unknown>][] = [
    ["mamifero australia", "bicho.txt", { kind: "text" }],
    ["floracao roxa", "guia.md", { kind: "markdown", title: "Guia do jacarandá" }],
    ["goiabada", "recs.jsonl", { kind: "jsonl", line: 1 }],
    ["queijo minas", "recs.jsonl", { kind: "jsonl", line: 2 }],
    ["alfaias pernambucana", "pagina.html", { kind: "html", title: "Maracatu" }],
    ["xaxim", "lei.pdf", { kind: "pdf", page: 3 }],
    ["carimbo orcamento", "relatorio.docx", { kind: "docx" }],
  ];
  for (const [q, file, source] of cases) {
    const hit = await top(q);
    assert.ok(hit, q);
    assert.ok(hit.source.path.endsWith(`/${file}`), `${q}: ${hit.source.path}`);
    for (const [k, v] of Object.entries(source)) {
      assert.equal((hit.source as Record<string, unknown>)[k], v, `${q}: ${k}`);
    }
    const part = hit.source.page ?? hit.source.line ?? 0;
    const text = await sectionText(hit.source.path, part);
    assert.equal(text.slice(hit.start, hit.end), hit.text, q);
  }
  // Text files: byte offsets are into the file itself (after the 3-byte BOM).
  const hit = await top("ornitorrinco");
  const bytes = await Deno.readFile(hit.source.path);
  assert.equal(hit.byteStart, 3);
  assert.equal(new TextDecoder().decode(bytes.subarray(hit.byteStart, hit.byteEnd)), hit.text);
  // The HTML page's navigation, ads, scripts and footer are not indexed.
  for (const q of ["cardapio", "publicidade", "direitos reservados", "tracking indexar"]) {
    assert.equal((await retrieve(index, q, 1)).length, 0, q);
  }
  // The Markdown heading stays with its text (one chunk holds both).
  assert.match((await top("floracao")).text, /## Floração\n\nFlores roxas/);
});

Deno.test("index update re-indexes only changed files, adds new ones and drops deleted ones", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.mkdir(`${dir}/docs`);
  const write = (n: string, t: string) => Deno.writeTextFile(`${dir}/docs/${n}`, t);
  await write("a.txt", "O jequitibá é uma árvore enorme.");
  await write("b.txt", "A seriema canta no cerrado.");
  await write("c.txt", "O tatu-bola se enrola.");
  const index = `${dir}/i.db`;
  const first = await buildIndex([`${dir}/docs`], { index });
  assert.deepEqual([first.indexed, first.unchanged, first.removed], [3, 0, 0]);
  const idsBefore = (await retrieve(index, "seriema", 1))[0].id;
  await write("a.txt", "O jequitibá-rosa é a maior árvore da mata.");
  await Deno.remove(`${dir}/docs/c.txt`);
  await write("d.txt", "O mico-leão-dourado vive na Mata Atlântica.");
  const r = await updateIndex(index);
  assert.deepEqual([r.indexed, r.unchanged, r.removed, r.totals.documents], [2, 1, 1, 3]);
  assert.equal((await retrieve(index, "seriema", 1))[0].id, idsBefore); // untouched
  assert.equal((await retrieve(index, "tatu bola", 1)).length, 0);
  assert.match((await retrieve(index, "jequitiba", 1))[0].text, /maior árvore/);
  assert.equal((await retrieve(index, "enorme", 1)).length, 0); // the old text is gone
  assert.match((await retrieve(index, "mico leao dourado", 1))[0].text, /Mata Atlântica/);
  const again = await updateIndex(index);
  assert.deepEqual([again.indexed, again.unchanged, again.removed], [0, 3, 0]);
  // The FTS rows of removed chunks are gone too: one row per chunk.
  const db = new DatabaseSync(index, { readOnly: true });
  const n = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
  assert.equal(n("SELECT count(*) AS n FROM chunks_fts"), n("SELECT count(*) AS n FROM chunks"));
  db.close();
});

Deno.test("build on an index with other settings refuses (never mixes); --force rebuilds", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.writeTextFile(`${dir}/a.txt`, "Texto sobre o maracujá. ".repeat(100));
  const index = `${dir}/i.db`;
  await buildIndex([`${dir}/a.txt`], { index, maxTokens: 500 });
  const before = (await indexInfo(index)).chunks;
  await rejectsWith(
    buildIndex([`${dir}/a.txt`], { index, maxTokens: 300 }),
    /built with other settings \(maxTokens differ.*--force/,
  );
  await rejectsWith(
    buildIndex([`${dir}/a.txt`], { index, maxTokens: 500, stem: true }),
    /stem differ/,
  );
  assert.equal((await indexInfo(index)).chunks, before);
  // Same settings: nothing to do (resumes or extends).
  const same = await buildIndex([`${dir}/a.txt`], { index, maxTokens: 500 });
  assert.deepEqual([same.indexed, same.unchanged], [0, 1]);
  const forced = await buildIndex([`${dir}/a.txt`], { index, maxTokens: 300, force: true });
  assert.equal(forced.indexed, 1);
  assert.equal((await indexInfo(index)).settings.maxTokens, 300);
  assert.ok((await indexInfo(index)).chunks > before);
});

Deno.test("an interrupted build rolls back the file in progress, stays marked incomplete, and resumes", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.mkdir(`${dir}/docs`);
  for (let i = 0; i < 3; i++) {
    await Deno.writeTextFile(
      `${dir}/docs/${i}.txt`,
      Array.from({ length: 60 }, (_, j) => `Parágrafo ${j} do arquivo ${i}: jabuti${i}.`).join(
        "\n\n",
      ),
    );
  }
  const index = `${dir}/i.db`;
  const ac = new AbortController();
  await rejectsWith(
    buildIndex([`${dir}/docs`], {
      index,
      maxTokens: 100,
      signal: ac.signal,
      progress: {
        start() {},
        update(_done, info) {
          // each file makes about 30 chunks: stop inside the second one
          if (Number(/(\d+) chunks/.exec(info ?? "")?.[1] ?? 0) >= 45) ac.abort();
        },
        end() {},
      },
    }),
    /interrupted after \d+ file\(s\).*rolled back.*run the same command again to resume/,
  );
  const partial = await indexInfo(index);
  assert.equal(partial.state, "building");
  const r = await Retriever.open(index);
  assert.match(r.notices[0], /incomplete/);
  r.close();
  // No half-indexed document: every document has all its chunks.
  const db = new DatabaseSync(index, { readOnly: true });
  const rows = db.prepare(
    "SELECT d.chunks AS want, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS have FROM documents d",
  ).all() as { want: number; have: number }[];
  db.close();
  for (const row of rows) assert.equal(Number(row.have), Number(row.want));
  assert.equal(rows.length, 1);
  const resumed = await buildIndex([`${dir}/docs`], { index, maxTokens: 100 });
  assert.equal(resumed.unchanged, rows.length);
  assert.equal(resumed.indexed, 3 - rows.length);
  const fresh = await buildIndex([`${dir}/docs`], { index: `${dir}/fresh.db`, maxTokens: 100 });
  assert.equal(resumed.totals.chunks, fresh.totals.chunks);
  assert.equal((await indexInfo(index)).state, "complete");
});

Deno.test("a build killed mid-file (no cleanup at all) leaves a consistent, resumable index", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.mkdir(`${dir}/docs`);
  for (let i = 0; i < 2; i++) {
    await Deno.writeTextFile(
      `${dir}/docs/${i}.txt`,
      Array.from({ length: 80 }, (_, j) => `Frase ${j} do arquivo ${i} sobre o sagui.`).join(
        "\n\n",
      ),
    );
  }
  const index = `${dir}/i.db`;
  // The child exits abruptly (like kill -9) in the middle of the second file's transaction.
  const script = `${dir}/child.ts`;
  await Deno.writeTextFile(
    script,
    `import { buildIndex } from ${JSON.stringify(new URL("../../mod.ts", import.meta.url).href)};

await buildIndex([${JSON.stringify(`${dir}/docs`)}], { index: ${
      JSON.stringify(index)
    }, maxTokens: 60,
  progress: { start() {}, end() {}, update(_d, info) {
    // about 80 chunks per file: die inside the second one
    if (Number(/(\\d+) chunks/.exec(info ?? "")?.[1] ?? 0) >= 120) Deno.exit(9);
  } } });
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi", script],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 9, new TextDecoder().decode(out.stderr));
  const db = new DatabaseSync(index);
  assert.equal(
    (db.prepare("PRAGMA integrity_check").get() as Record<string, string>).integrity_check,
    "ok",
  );
  const docs = Number((db.prepare("SELECT count(*) AS n FROM documents").get() as { n: number }).n);
  db.close();
  assert.equal(docs, 1);
  assert.equal((await indexInfo(index)).state, "building");
  const resumed = await buildIndex([`${dir}/docs`], { index, maxTokens: 60 });
  const fresh = await buildIndex([`${dir}/docs`], { index: `${dir}/fresh.db`, maxTokens: 60 });
  assert.equal(resumed.totals.chunks, fresh.totals.chunks);
});

Deno.test("foreign, corrupt and missing index files are one-line errors", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await rejectsWith(Retriever.open(`${dir}/none.db`), /no such index/);
  await Deno.writeTextFile(`${dir}/text.db`, "isto não é um banco de dados SQLite, é texto");
  await rejectsWith(Retriever.open(`${dir}/text.db`), /not a Bentevi index \(not an SQLite/);
  await Deno.writeTextFile(`${dir}/doc.txt`, "Um documento.");
  await rejectsWith(
    buildIndex([`${dir}/doc.txt`], { index: `${dir}/text.db` }),
    /not a Bentevi index/,
  );
  await rejectsWith(
    buildIndex([`${dir}/text.db`], { index: `${dir}/text.db` }),
    /--index is the input/,
  );
  const other = new DatabaseSync(`${dir}/other.db`);
  other.exec(
    "CREATE TABLE clientes(id INTEGER, nome TEXT); INSERT INTO clientes VALUES (1, 'Ana')",
  );
  other.close();
  await rejectsWith(Retriever.open(`${dir}/other.db`), /not a Bentevi index \(an SQLite database/);
  await Deno.writeFile(`${dir}/empty.db`, new Uint8Array());
  await rejectsWith(Retriever.open(`${dir}/empty.db`), /not a Bentevi index \(an empty file\)/);
  // A real index with its pages overwritten.
  await Deno.writeTextFile(`${dir}/a.txt`, "Conteúdo sobre o pirarucu. ".repeat(2000));
  await buildIndex([`${dir}/a.txt`], { index: `${dir}/bad.db` });
  const bytes = await Deno.readFile(`${dir}/bad.db`);
  for (let i = 4096; i < bytes.length; i++) bytes[i] = (i * 7919) & 255;
  await Deno.writeFile(`${dir}/bad.db`, bytes);
  await assert.rejects(
    (async () => {
      const r = await Retriever.open(`${dir}/bad.db`);
      try {
        await r.search("pirarucu");
      } finally {
        r.close();
      }
    })(),
    (e: unknown) => e instanceof BenteviError && /corrupt|not a Bentevi/.test((e as Error).message),
  );
});

Deno.test("an index built with another tokenizer is refused; the index is never its own input", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.mkdir(`${dir}/docs`);
  await Deno.writeTextFile(`${dir}/docs/a.txt`, "O guará vive no cerrado. ".repeat(40));
  const tok = `${dir}/tokenizer.json`;
  await Tokenizer.byteLevel().save(tok);
  const index = `${dir}/docs/i.db`; // inside the input folder: its files are not documents
  const r = await buildIndex([`${dir}/docs`], { index, tokenizer: tok, maxTokens: 64 });
  assert.equal(r.settings.unit, "tokens");
  assert.equal(r.unsupported, 0);
  assert.equal((await updateIndex(index)).unchanged, 1);
  // Same path, other content: update and build refuse, in one line.
  const other = Tokenizer.fromJSON(
    await trainTokenizer([`${dir}/docs/a.txt`], { vocabSize: 300 }).then((t) => t.toJSON()),
  );
  await other.save(tok);
  await rejectsWith(updateIndex(index), /built with another tokenizer .*--force/);
  await rejectsWith(
    buildIndex([`${dir}/docs`], { index, tokenizer: tok, maxTokens: 64 }),
    /built with other settings \(tokenizer differ/,
  );
  // --force with the index named as an input: refused before anything is deleted.
  await rejectsWith(
    buildIndex([`${dir}/docs/a.txt`, index], { index, force: true }),
    /--index is the input/,
  );
  assert.equal((await indexInfo(index)).documents, 1);
});

Deno.test("--encoding latin1: text decoded, byte offsets point into the Latin-1 file", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const text = "Ação e coração.\n\nO pão é de queijo, não de açúcar.\n";
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0)); // ISO-8859-1
  await Deno.writeFile(`${dir}/l.txt`, bytes);
  const index = `${dir}/i.db`;
  const skipped: string[] = [];
  await buildIndex([`${dir}/l.txt`], { index: `${dir}/u.db`, onSkip: (p) => skipped.push(p) });
  assert.equal(skipped.length, 1); // not UTF-8
  await buildIndex([`${dir}/l.txt`], { index, encoding: "latin1", maxTokens: 20 });
  const [hit] = await retrieve(index, "acucar queijo", 1);
  assert.match(hit.text, /açúcar/);
  const piece = bytes.subarray(hit.byteStart, hit.byteEnd);
  assert.equal(String.fromCharCode(...piece), hit.text);
  assert.equal(text.slice(hit.start, hit.end), hit.text);
});
