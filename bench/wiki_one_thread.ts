/**
 * The work of `wiki --workers N` done by one thread: every Worker task (decompress a ~256 KiB
 * group of bzip2 streams, decode, parse, clean, encode the records) run one after another with
 * `runWikiTask` on the main thread, without writing shards. The one-thread reference for the
 * parallel reader's speed-up, and a place to profile the Workers' code (V8 profiles only the
 * main thread):
 *
 * ```sh
 * deno run --allow-read --allow-env --allow-ffi --allow-run bench/wiki_one_thread.ts DUMP.xml.bz2
 * deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof bench/wiki_one_thread.ts DUMP.xml.bz2
 * ```
 *
 * Prints tasks, record bytes and seconds.
 *
 * @module
 */
import { scanStreamGroups } from "../src/data/wiki/parallel.ts";
import { runWikiTask } from "../src/data/wiki/worker.ts";

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) {
    console.error("usage: wiki_one_thread.ts DUMP.xml.bz2");
    Deno.exit(2);
  }
  const file = await Deno.open(path);
  const init = { type: "init", path, minChars: 0, format: "jsonl" } as const;
  let seq = 0;
  let bytes = 0;
  const t0 = performance.now();
  for await (const g of scanStreamGroups(path, 256 << 10)) {
    const r = await runWikiTask(init, file, {
      type: "task",
      seq: seq++,
      start: g.start,
      end: g.end,
    });
    bytes += r.records.length;
  }
  file.close();
  const s = (performance.now() - t0) / 1000;
  console.log(`${seq} tasks, ${bytes} bytes of records, ${s.toFixed(2)} s`);
}
