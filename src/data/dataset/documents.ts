/**
 * Documents for `dataset build`: every line of a `.jsonl` file with a `"text"` field is one
 * document (wiki shards); in other text files documents are separated by two or more blank
 * lines (what `wiki --format txt` writes), so a plain file without such gaps is one document.
 *
 * @module
 */
import { BenteviError, fsError } from "../../errors.ts";
import { type CorpusEncoding, decodeText } from "../corpus/text.ts";

/** One document and where it came from. */
export interface SourceDocument {
  text: string;
  /** File it came from. */
  file: string;
  /** Bytes of input it stands for (for progress). */
  bytes: number;
}

/**
 * Streams the documents of one file.
 *
 * @example
 * ```ts
 * import { readDocuments } from "./documents.ts";
 * const path = (await Deno.makeTempDir()) + "/a.jsonl";
 * await Deno.writeTextFile(path, '{"text":"um"}\n{"text":"dois"}\n');
 * for await (const d of readDocuments(path)) console.log(d.text); // "um", then "dois"
 * ```
 */
export async function* readDocuments(
  path: string,
  encoding: CorpusEncoding = "utf-8",
): AsyncGenerator<SourceDocument> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
  const text = decodeText(bytes, path, encoding);
  if (path.endsWith(".jsonl") || path.endsWith(".ndjson")) {
    let lineNo = 0;
    for (const line of text.split("\n")) {
      lineNo++;
      if (line.trim() === "") continue;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        throw new BenteviError(`${path}: line ${lineNo} is not valid JSON`);
      }
      const t = (obj as { text?: unknown })?.text;
      if (typeof t !== "string") {
        throw new BenteviError(`${path}: line ${lineNo} has no "text" string field`);
      }
      if (t.trim()) yield { text: t, file: path, bytes: line.length + 1 };
    }
    return;
  }
  for (const block of text.split(/\n[ \t]*\n(?:[ \t]*\n)+/)) {
    const doc = block.trim();
    if (doc) yield { text: doc, file: path, bytes: block.length + 2 };
  }
}
