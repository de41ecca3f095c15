/**
 * Dump → clean text: the wikitext cleaner alone, and the whole `wiki` pipeline (bzip2 + XML +
 * cleaning + shards) in one piece and with 2 Workers on a multistream dump. The
 * mwparserfromhell peer is run separately (see docs/data.md) on the same file.
 *
 * deno bench --allow-read --allow-write --allow-env --allow-ffi --allow-run bench/wiki.bench.ts
 */
import { cleanWikitext, convertWikiDump, readWikiDump } from "../src/data/mod.ts";

const SHARED = new URL(
  "../../shared/data/wiki/gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
  import.meta.url,
).pathname;
const MULTI = new URL("../tests/data/fixtures/mini-ptwiki-multistream.xml.bz2", import.meta.url)
  .pathname;

let dump = SHARED;
try {
  Deno.statSync(SHARED);
} catch {
  console.log("../shared/data absent: benchmarking the small project fixture instead");
  dump = MULTI;
}

const texts: string[] = [];
for await (const page of readWikiDump(dump)) texts.push(page.text);
const out = Deno.makeTempDirSync();

Deno.bench({
  name: `cleanWikitext on ${texts.length} pages`,
  group: "cleaner",
  fn: () => {
    for (const t of texts) cleanWikitext(t);
  },
});

Deno.bench({
  name: "wiki: dump → shards (in-process)",
  group: "wiki",
  baseline: true,
  fn: async () => {
    await convertWikiDump(dump, { output: `${out}/seq` });
  },
});
