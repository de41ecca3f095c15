/** JSONL shards (what `wiki` writes, what `dataset build`/`tokenizer train`/`audit` read). */
import { readDocuments } from "../../../src/text/documents.ts";
import type { FuzzFormat, Seed } from "../harness.ts";
import { SENTENCES, utf8 } from "./_fixtures.ts";

export const jsonlShard: FuzzFormat = {
  name: "jsonl",
  seeds() {
    const records = SENTENCES.map((text, i) =>
      JSON.stringify({ id: String(i + 1), title: `Artigo ${i + 1}`, text: `${text}\n\n${text}` })
    );
    return Promise.resolve<Seed[]>([
      { label: "wiki", files: { "wiki_00000.jsonl": utf8(records.join("\n") + "\n") } },
      { label: "ndjson", files: { "b.ndjson": utf8(records.slice(0, 2).join("\r\n")) } },
    ]);
  },
  async run(_root, file) {
    let chars = 0;
    for await (const d of readDocuments(file)) chars += d.text.length;
  },
};
