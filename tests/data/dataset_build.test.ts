import assert from "node:assert/strict";
import {
  buildDataset,
  convertWikiDump,
  datasetInfo,
  openTokenDataset,
} from "../../src/data/mod.ts";
import { BenteviError } from "../../src/errors.ts";
import { trainTokenizer } from "../../src/tokenizer/mod.ts";
import { moduleTempDir, tempDir } from "../_tmp.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
/** Where {@link setup} makes its folders; removed when the module unloads. */
const TMP = await moduleTempDir();

async function setup() {
  const dir = await Deno.makeTempDir({ dir: TMP });
  await convertWikiDump(`${FIXTURES}mini-ptwiki.xml`, { output: `${dir}/wiki` });
  const docs = [
    "Primeiro documento de texto simples.",
    "Segundo documento, um pouco maior que o primeiro.",
  ];
  await Deno.writeTextFile(`${dir}/textos.txt`, docs.join("\n\n\n") + "\n");
  async function* corpus() {
    yield await Deno.readTextFile(`${FIXTURES}mini-ptwiki.xml`);
    yield docs.join("\n");
  }
  const tok = await trainTokenizer(corpus(), { vocabSize: 400 });
  await tok.save(`${dir}/tok.json`);
  return { dir, tok, docs };
}

function split(tokens: ArrayLike<number>, eot: number): number[][] {
  const docs: number[][] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === eot) docs.push([]);
    else docs[docs.length - 1].push(tokens[i]);
  }
  return docs;
}

Deno.test("dataset build: documents separated by end-of-text, split by document, same with Workers", async () => {
  const { dir, tok, docs } = await setup();
  const eot = tok.endOfTextId!;
  const wiki = (await Deno.readTextFile(`${dir}/wiki/wiki_00000.jsonl`)).trim().split("\n").map((
    l,
  ) => JSON.parse(l).text as string);
  const r1 = await buildDataset([`${dir}/wiki`, `${dir}/textos.txt`], {
    tokenizer: `${dir}/tok.json`,
    output: `${dir}/one`,
    valFraction: 0.4,
    workers: 1,
  });
  assert.equal(r1.train.documents + r1.val.documents, 5);
  assert.equal(r1.version, 1);
  const train = await openTokenDataset(r1.train.path);
  const val = await openTokenDataset(r1.val.path);
  assert.equal(train.tokens[0], eot);
  const decoded = [...split(train.tokens, eot), ...split(val.tokens, eot)].map((d) => tok.decode(d))
    .sort();
  assert.deepEqual(decoded, [...wiki, ...docs].sort());
  assert.equal(r1.train.tokens, train.tokens.length);
  train.close();
  val.close();

  const r2 = await buildDataset([`${dir}/wiki`, `${dir}/textos.txt`], {
    tokenizer: `${dir}/tok.json`,
    output: `${dir}/two`,
    valFraction: 0.4,
    workers: 2,
    minBytesPerWorker: 1,
  });
  assert.equal(r2.workers, 2);
  assert.deepEqual(
    await Deno.readFile(`${dir}/two.train.bin`),
    await Deno.readFile(`${dir}/one.train.bin`),
  );
  assert.deepEqual(
    await Deno.readFile(`${dir}/two.val.bin`),
    await Deno.readFile(`${dir}/one.val.bin`),
  );

  const none = await buildDataset([`${dir}/textos.txt`], {
    tokenizer: `${dir}/tok.json`,
    output: `${dir}/zero`,
    valFraction: 0,
  });
  assert.equal(none.val.tokens, 0);
  assert.equal(none.train.documents, 2);

  const info = await datasetInfo(`${dir}/one.train.bin`, { tokenizer: tok, top: 5 });
  assert.equal(info.tokens, r1.train.tokens);
  assert.equal(info.documents, r1.train.documents);
  assert.equal(info.headerVocabSize, tok.vocabSize);
  assert.equal(info.topTokens.length, 5);
  assert.ok(info.topTokens[0].count >= info.topTokens[4].count);
  assert.equal(typeof info.topTokens[0].text, "string");
});

Deno.test("dataset build: bad inputs fail clearly and leave no .bin files", async () => {
  const { dir } = await setup();
  await Deno.writeTextFile(`${dir}/ruim.jsonl`, '{"text":"ok"}\n{"text": quebrado\n');
  await assert.rejects(
    () => buildDataset([`${dir}/ruim.jsonl`], { tokenizer: `${dir}/tok.json`, output: `${dir}/x` }),
    (e: Error) =>
      e instanceof BenteviError && e.message === `${dir}/ruim.jsonl: line 2 is not valid JSON`,
  );
  await assert.rejects(
    () =>
      buildDataset([`${dir}/textos.txt`], {
        tokenizer: `${dir}/nao-existe.json`,
        output: `${dir}/x`,
      }),
    (e: Error) =>
      e instanceof BenteviError && e.message.includes("nao-existe.json: file not found"),
  );
  await Deno.writeFile(`${dir}/latin.txt`, new Uint8Array([0x63, 0xe3, 0x6f]));
  await assert.rejects(
    () =>
      buildDataset([`${dir}/latin.txt`], {
        tokenizer: `${dir}/tok.json`,
        output: `${dir}/x`,
        workers: 2,
        minBytesPerWorker: 1,
      }),
    (e: Error) =>
      e instanceof BenteviError && /latin\.txt: invalid UTF-8 at byte 1/.test(e.message),
  );
  const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".bin"));
  assert.deepEqual(left, []);
});

const GPT2 =
  new URL("../../../shared/data/tokenizer/gpt2/tokenizer.json", import.meta.url).pathname;
let hasGpt2 = false;
try {
  hasGpt2 = Deno.statSync(GPT2).isFile;
} catch { /* absent */ }

Deno.test({
  name:
    "dataset build: GPT-2's tokenizer (../shared) writes uint16 tokens with <|endoftext|> = 50256",
  ignore: !hasGpt2,
  fn: async () => {
    await using tmp = await tempDir();
    const dir = tmp.path;
    await Deno.writeTextFile(`${dir}/a.txt`, "Olá, mundo!\n\n\nOutro documento.");
    const r = await buildDataset([`${dir}/a.txt`], {
      tokenizer: GPT2,
      output: `${dir}/g`,
      valFraction: 0,
    });
    assert.equal(r.endOfTextId, 50256);
    assert.equal(r.version, 1);
    const ds = await openTokenDataset(r.train.path);
    assert.equal(ds.tokens.filter((t) => t === 50256).length, 2);
    ds.close();
  },
});

Deno.test("dataset build: when the hash picks no validation document, the last one is moved there", async () => {
  const { dir, tok } = await setup();
  // with two documents and a tiny fraction, the hash picks none; the last (the smaller) one
  // is held out whole
  const docs = [
    "Segundo documento, um pouco maior que o primeiro.",
    "Primeiro documento de texto simples.",
  ];
  await Deno.writeTextFile(`${dir}/textos.txt`, docs.join("\n\n\n") + "\n");
  const r = await buildDataset([`${dir}/textos.txt`], {
    tokenizer: `${dir}/tok.json`,
    output: `${dir}/p`,
    valFraction: 1e-9,
  });
  assert.equal(r.train.documents, 1);
  assert.equal(r.val.documents, 1);
  assert.match(r.notice ?? "", /held out the last document/);
  const train = await openTokenDataset(r.train.path);
  const val = await openTokenDataset(r.val.path);
  const eot = tok.endOfTextId!;
  assert.deepEqual(split(train.tokens, eot).map((d) => tok.decode(d)), [docs[0]]);
  assert.deepEqual(split(val.tokens, eot).map((d) => tok.decode(d)), [docs[1]]);
  assert.equal((await Deno.stat(r.train.path)).size, 1024 + 2 * r.train.tokens);
  train.close();
  val.close();
});
