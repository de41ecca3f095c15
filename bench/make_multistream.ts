/**
 * Builds a multistream `.xml.bz2` dump for the parallel-reader benchmark from any single-stream
 * MediaWiki dump: the `<siteinfo>` header, then 100 pages per bzip2 stream (the layout of
 * Wikipedia's `pages-articles-multistream` files), then the closing tag — the pages repeated
 * `REPEAT` times with fresh ids so the file is large enough to time.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run bench/make_multistream.ts \
 *   ../shared/data/wiki/gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2 \
 *   /tmp/multi.xml.bz2 15
 * time deno task cli wiki /tmp/multi.xml.bz2 --output /tmp/w1 --workers 1
 * time deno task cli wiki /tmp/multi.xml.bz2 --output /tmp/w2 --workers 2
 * ```
 *
 * Needs the `bzip2` command (Debian package `bzip2`).
 *
 * @module
 */

async function bzip2(args: string[], input: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command("bzip2", { args, stdin: "piped", stdout: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  const [out] = await Promise.all([
    child.output(),
    writer.write(input).then(() => writer.close()),
  ]);
  if (!out.success) throw new Error(`bzip2 ${args.join(" ")} failed`);
  return out.stdout;
}

if (import.meta.main) {
  const [src, dst, repeatArg] = Deno.args;
  if (!src || !dst) {
    console.error("usage: make_multistream.ts DUMP.xml.bz2 OUT.xml.bz2 [REPEAT]");
    Deno.exit(2);
  }
  const repeat = Number(repeatArg ?? 5);
  const xml = new TextDecoder().decode(await bzip2(["-dc"], await Deno.readFile(src)));
  const first = xml.indexOf("<page>");
  const last = xml.lastIndexOf("</page>") + "</page>".length;
  const pages = xml.slice(first, last).match(/<page>[\s\S]*?<\/page>/g) ?? [];
  const all: string[] = [];
  for (let r = 0; r < repeat; r++) {
    for (const p of pages) {
      all.push(p.replace(/<id>(\d+)<\/id>/, (_, id) => `<id>${Number(id) + r * 1e7}</id>`));
    }
  }
  const enc = new TextEncoder();
  const parts = [await bzip2(["-9c"], enc.encode(xml.slice(0, first)))];
  for (let i = 0; i < all.length; i += 100) {
    parts.push(await bzip2(["-9c"], enc.encode(all.slice(i, i + 100).join("\n") + "\n")));
  }
  parts.push(await bzip2(["-9c"], enc.encode(xml.slice(last))));
  const tmp = `${dst}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  for (const p of parts) await file.write(p);
  file.close();
  await Deno.rename(tmp, dst);
  console.log(`${dst}: ${all.length} pages in ${parts.length} bzip2 streams`);
}
