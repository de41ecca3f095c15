/**
 * Retrieval index files (`index build`'s SQLite database): opened for search, searched with
 * BM25, and summarised (`index info`). The seed indexes a text file and a wiki shard; mutants
 * damage the database's pages (header, schema, table and FTS5 b-trees, the options JSON).
 */
import { join } from "node:path";
import { buildIndex } from "../../../src/retrieval/build.ts";
import { indexInfo } from "../../../src/retrieval/info.ts";
import { Retriever } from "../../../src/retrieval/search.ts";
import type { FuzzFormat, Seed } from "../harness.ts";
import { mutateBytes, type Rng, truncate } from "../mutate.ts";
import { SENTENCES, TEXT } from "./_fixtures.ts";

export const indexDb: FuzzFormat = {
  name: "index-db",
  async seeds(work) {
    await Deno.mkdir(join(work, "docs"), { recursive: true });
    await Deno.writeTextFile(join(work, "docs", "texto.txt"), TEXT.repeat(4));
    await Deno.writeTextFile(
      join(work, "docs", "wiki.jsonl"),
      SENTENCES.map((text, i) => JSON.stringify({ title: `Artigo ${i + 1}`, text })).join("\n"),
    );
    const index = join(work, "i.db");
    await buildIndex([join(work, "docs")], { index, maxTokens: 80 });
    return [{ label: "bm25", files: { "index.db": await Deno.readFile(index) } }] as Seed[];
  },
  mutate(rng: Rng, bytes: Uint8Array) {
    const r = rng.next();
    if (r < 0.1) return truncate(rng, bytes);
    if (r < 0.3) {
      // the 100-byte header and the schema page
      const b = bytes.slice();
      for (let k = 0; k < 1 + Math.floor(rng.next() * 4); k++) {
        b[Math.floor(rng.next() * Math.min(b.length, 4096))] = Math.floor(rng.next() * 256);
      }
      return b;
    }
    return mutateBytes(rng, bytes);
  },
  async run(_root, file) {
    const r = await Retriever.open(file);
    try {
      await r.search("sabia laranjeira", { k: 3 });
      await r.search("Santa Luzia", { k: 10 });
    } finally {
      r.close();
    }
    await indexInfo(file);
  },
};
