/**
 * bzip2 decompression: the native shim (system libbz2) against the pure JavaScript fallback
 * (unbzip2-stream), on the same bytes in memory. `bench bz2 FILE` adds `bzip2 -dc` side by side.
 *
 * deno bench --allow-read --allow-write --allow-env --allow-ffi --allow-run bench/bz2.bench.ts
 */
import { createBz2Decompressor, loadNative } from "../src/native/mod.ts";

const SHARED = new URL(
  "../../shared/data/wiki/gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
  import.meta.url,
).pathname;
const FIXTURE = new URL("../tests/native/fixtures/texto-multistream.txt.bz2", import.meta.url)
  .pathname;

let path = SHARED;
try {
  Deno.statSync(SHARED);
} catch {
  console.log("../shared/data absent: benchmarking the small project fixture instead");
  path = FIXTURE;
}
const data = Deno.readFileSync(path);
const native = loadNative({ quiet: true }) !== null;

function run(useNative: boolean): number {
  const bz = createBz2Decompressor({ name: path, native: useNative });
  let n = 0;
  for (let i = 0; i < data.length; i += 256 << 10) {
    for (const c of bz.push(data.subarray(i, i + (256 << 10)))) n += c.length;
  }
  for (const c of bz.end()) n += c.length;
  return n;
}

Deno.bench({
  name: "bz2 native shim (libbz2)",
  group: "bz2",
  baseline: true,
  ignore: !native,
  fn: () => {
    run(true);
  },
});

Deno.bench({
  name: "bz2 pure fallback (unbzip2-stream)",
  group: "bz2",
  fn: () => {
    run(false);
  },
});
