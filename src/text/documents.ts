/**
 * Reading documents from corpus files, streaming (read in chunks, so a 1 GB shard works):
 * every non-blank line of a `.jsonl`/`.ndjson` file is a JSON object whose `"text"` string is
 * one document (what `wiki` writes: `{"id","title","text"}`); in other files documents are
 * blocks of text separated by blank lines (see {@link PlainTextSplit}).
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { findTextCut } from "./cut.ts";
import { ChunkDecoder, type TextEncoding, Utf8Fault } from "./encoding.ts";
import {
  decodeError,
  positionInFile,
  type ReadChunksOptions,
  readLineRange,
  stripNul,
} from "./read.ts";

/** One document and where it came from. */
export interface TextDocument {
  /** Its text. */
  text: string;
  /** File it came from. */
  file: string;
  /** Input bytes it stands for (exact for JSONL, about for text files; for progress). */
  bytes: number;
  /** JSONL: the 1-based line of its record (when reading from the start of the file). */
  line?: number;
  /** JSONL: the whole record (`text` and the other fields, such as `id` and `title`). */
  record?: Record<string, unknown>;
  /**
   * Text files, `documents` split: this is a further piece of the document before it, not a
   * document of its own. A document longer than {@link MAX_DOCUMENT_PIECE} characters (a file
   * without blank lines is one document) comes in pieces of about that size, cut where
   * `findTextCut` (cut.ts) says, so that reading it never holds more than a piece; joined, the
   * pieces are the document's text.
   */
  continues?: true;
}

/**
 * The longest piece of a text-file document {@link readDocuments} yields at once, in UTF-16
 * units (1 Mi): longer documents come in pieces (see {@link TextDocument.continues}).
 */
export const MAX_DOCUMENT_PIECE = 1 << 20;

/**
 * How a text file (not JSONL) becomes documents:
 * - `documents` (default): blocks separated by two or more blank lines, trimmed, empty ones
 *   skipped — what `wiki --format txt` writes, and what `dataset build` reads. A file without
 *   such gaps is one document; a document over {@link MAX_DOCUMENT_PIECE} characters comes in
 *   pieces (see {@link TextDocument.continues}).
 * - `paragraphs`: the text in pieces that each end after a blank line, untrimmed, so that
 *   joined they are the file's text exactly (a paragraph longer than 8 MiB characters ends at
 *   a line break, or, on one endless line, where `findTextCut` says) — for tools that work
 *   paragraph by paragraph (`audit`, `clean`).
 * - `file`: the whole file is one document (held in memory).
 */
export type PlainTextSplit = "documents" | "paragraphs" | "file";

/** Options of {@link readDocuments}. */
export interface ReadDocumentsOptions extends ReadChunksOptions {
  /** Encoding (default `utf-8`, strict). */
  encoding?: TextEncoding;
  /** How a text file is cut into documents (default `documents`). JSONL ignores it. */
  split?: PlainTextSplit;
  /**
   * Decode invalid UTF-8 as U+FFFD instead of failing, and call this once per file with the
   * byte offset of the first invalid sequence (for reports).
   */
  onInvalidUtf8?: (offset: number) => void;
  /**
   * Remove NUL characters (U+0000) from the documents' text (text files, and JSONL records'
   * `"text"`) and call this with how many, each time some are removed. Default: keep them.
   */
  onNul?: (count: number) => void;
}

/**
 * Whether `path` is read as JSON lines (`.jsonl` or `.ndjson`, any case).
 *
 * @example
 * ```ts
 * import { isJsonlPath } from "./documents.ts";
 * console.log(isJsonlPath("wiki/wiki_00000.jsonl"), isJsonlPath("livro.txt")); // true false
 * ```
 */
export function isJsonlPath(path: string): boolean {
  return /\.(jsonl|ndjson)$/i.test(path);
}

/**
 * Streams the documents of one file: JSONL records' `"text"` (records whose text is blank are
 * skipped; invalid JSON or a record without a `"text"` string is a one-line
 * {@link BenteviError} naming the file and line), or the blocks of a text file as
 * `options.split` says. With `options.range`, only the lines starting in that byte range.
 *
 * @example
 * ```ts
 * import { readDocuments } from "./documents.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.jsonl`, '{"id":"1","text":"um"}\n{"id":"2","text":"dois"}\n');
 * for await (const d of readDocuments(`${dir}/a.jsonl`)) console.log(d.line, d.text); // 1 "um", then 2 "dois"
 * await Deno.writeTextFile(`${dir}/b.txt`, "Primeiro.\n\n\nSegundo,\n\nainda o segundo.\n");
 * for await (const d of readDocuments(`${dir}/b.txt`)) console.log(JSON.stringify(d.text));
 * // "Primeiro.", then "Segundo,\n\nainda o segundo."
 * ```
 */
export function readDocuments(
  path: string,
  options: ReadDocumentsOptions = {},
): AsyncGenerator<TextDocument> {
  return isJsonlPath(path) ? jsonlDocuments(path, options) : textDocuments(path, options);
}

async function* jsonlDocuments(
  path: string,
  options: ReadDocumentsOptions,
): AsyncGenerator<TextDocument> {
  const fromStart = (options.range?.start ?? 0) === 0;
  const decoder = new ChunkDecoder(options.encoding ?? "utf-8", {
    ignoreBOM: !fromStart,
    onInvalidUtf8: options.onInvalidUtf8,
  });
  let lineNo = 0; // lines seen, when reading from the start
  const lineAt = async (offset: number) =>
    fromStart ? lineNo : (await positionInFile(path, offset)).line;
  // One line's bytes, with its "\n" (so a character cut by the line end is caught here).
  async function* record(
    bytes: Uint8Array,
    offset: number,
    last = false,
  ): AsyncGenerator<TextDocument> {
    lineNo++;
    let line: string;
    try {
      line = decoder.decode(bytes, offset) + (last ? decoder.end() : "");
    } catch (e) {
      if (e instanceof Utf8Fault) {
        throw await decodeError(path, e);
      }
      throw e;
    }
    if (decoder.utf16) {
      // Lines are found by their "\n" byte, which UTF-16 text also has inside other characters.
      throw new BenteviError(
        `${path}: a ${decoder.utf16.toUpperCase()} JSONL file is not supported; convert it to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)`,
      );
    }
    if (line.trim() === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new BenteviError(`${path}: line ${await lineAt(offset)} is not valid JSON`);
    }
    const text = (obj as { text?: unknown } | null)?.text;
    if (typeof obj !== "object" || Array.isArray(obj) || typeof text !== "string") {
      throw new BenteviError(`${path}: line ${await lineAt(offset)} has no "text" string field`);
    }
    const kept = stripNul(text, options.onNul);
    if (kept.trim() === "") return;
    yield {
      text: kept,
      file: path,
      bytes: bytes.length,
      line: fromStart ? lineNo : undefined,
      record: obj as Record<string, unknown>,
    };
  }
  let parts: Uint8Array[] = []; // the start of a line cut by a chunk boundary
  let partBytes = 0;
  let lineStart = 0;
  for await (const { bytes, offset } of readLineRange(path, options)) {
    if (parts.length === 0) lineStart = offset;
    let from = 0;
    for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, from)) {
      let line = bytes.subarray(from, nl + 1);
      if (parts.length) {
        parts.push(line);
        line = concat(parts, partBytes + line.length);
        parts = [];
        partBytes = 0;
      }
      yield* record(line, lineStart);
      from = nl + 1;
      lineStart = offset + from;
    }
    if (from < bytes.length) {
      parts.push(bytes.subarray(from));
      partBytes += bytes.length - from;
    }
  }
  yield* record(concat(parts, partBytes), lineStart, true);
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  if (parts.length === 0) return new Uint8Array(0);
  const out = new Uint8Array(length);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// Blank lines (spaces, tabs and CR allowed): two or more end a document, one a paragraph.
const DOCUMENT_GAP = /\n[ \t\r]*\n(?:[ \t\r]*\n)+/g;
const PARAGRAPH_GAP = /\n[ \t\r]*\n(?:[ \t\r]*\n)*/g;
/** After a gap, the text goes on (so more input cannot make the gap longer). */
const GOES_ON = /[ \t\r]*[^ \t\r\n]/y;
const MAX_PIECE = 8 << 20;
/** Whitespace kept back from a document's pieces, in case a gap follows: a gap this long ends it. */
const MAX_OPEN_SPACE = 1 << 16;

/** Where the whitespace (space, tab, CR, LF) that ends `s` starts. */
function trailingSpace(s: string): number {
  let i = s.length;
  for (let c = s.charCodeAt(i - 1); c === 32 || c === 9 || c === 13 || c === 10;) {
    c = s.charCodeAt(--i - 1);
  }
  return i;
}

async function* textDocuments(
  path: string,
  options: ReadDocumentsOptions,
): AsyncGenerator<TextDocument> {
  const split = options.split ?? "documents";
  const decoder = new ChunkDecoder(options.encoding ?? "utf-8", {
    ignoreBOM: (options.range?.start ?? 0) > 0,
    onInvalidUtf8: options.onInvalidUtf8,
  });
  const gap = split === "paragraphs" ? PARAGRAPH_GAP : DOCUMENT_GAP;
  // The text since the last cut: `parts`, where no gap can start any more, and `open`, the
  // text still to scan for gaps (new input, and the whitespace before it). Only `open` is
  // scanned, so a long document costs one pass.
  let parts: string[] = [];
  let partsLength = 0;
  let open = "";
  let continuing = false; // documents: a piece of the current document was yielded already
  const piece = (text: string, ends = true): TextDocument | undefined => {
    if (split === "documents") {
      let doc = continuing ? text : text.trimStart();
      if (ends) doc = doc.trimEnd();
      const continues = continuing;
      continuing = !ends && (continuing || doc !== "");
      if (!doc) return undefined;
      return continues
        ? { text: doc, file: path, bytes: text.length, continues }
        : { text: doc, file: path, bytes: text.length };
    }
    if (split === "file" && text.trim() === "") return undefined;
    return text ? { text, file: path, bytes: text.length } : undefined;
  };
  const take = (end: number): TextDocument | undefined => {
    parts.push(open.slice(0, end));
    open = open.slice(end);
    const text = parts.join("");
    parts = [];
    partsLength = 0;
    return piece(text);
  };
  function* cut(text: string): Generator<TextDocument> {
    open += text;
    if (split !== "file") {
      for (;;) {
        gap.lastIndex = 0;
        const m = gap.exec(open);
        if (!m) break;
        const end = m.index + m[0].length;
        GOES_ON.lastIndex = end;
        if (!GOES_ON.test(open)) break; // the gap ends the input so far: it may grow
        const doc = take(end);
        if (doc) yield doc;
      }
    }
    const keep = trailingSpace(open);
    parts.push(open.slice(0, keep));
    partsLength += keep;
    open = open.slice(keep);
    if (split === "documents") {
      if (open.length > MAX_OPEN_SPACE) {
        // A long run of whitespace: if it holds a gap, the document ends there (the space
        // after it would be trimmed from the next one); else it is inside the document (or
        // before it: trimmed), and only its last line stays open for a gap to come.
        gap.lastIndex = 0;
        const m = gap.exec(open);
        if (m) {
          const doc = take(m.index + m[0].length);
          if (doc) yield doc;
          open = "";
        } else if (partsLength === 0 && !continuing) open = "";
        else {
          const nl = open.lastIndexOf("\n");
          const from = nl >= 0 && open.length - nl <= MAX_OPEN_SPACE ? nl : open.length;
          parts.push(open.slice(0, from));
          partsLength += from;
          open = open.slice(from);
        }
      }
      if (partsLength > MAX_DOCUMENT_PIECE) {
        // A long document: yield all but its end, cut where the pieces tokenize as the whole.
        const joined = parts.join("");
        const at = findTextCut(joined, joined.length >> 1)!.at;
        parts = [joined.slice(at)];
        partsLength = parts[0].length;
        const doc = piece(joined.slice(0, at), false);
        if (doc) yield doc;
      }
    }
    if (split === "paragraphs" && partsLength > MAX_PIECE) {
      // A "paragraph" this long is not one: end it at its last line break (or, on one endless
      // line, where findTextCut says).
      const joined = parts.join("");
      let at = joined.lastIndexOf("\n") + 1;
      if (at === 0) at = findTextCut(joined, joined.length >> 1)!.at;
      parts = [joined.slice(at)];
      partsLength = parts[0].length;
      yield piece(joined.slice(0, at))!;
    }
  }
  try {
    for await (const { bytes, offset } of readLineRange(path, options)) {
      yield* cut(stripNul(decoder.decode(bytes, offset), options.onNul));
    }
    yield* cut(stripNul(decoder.end(), options.onNul));
  } catch (e) {
    if (e instanceof Utf8Fault) {
      throw await decodeError(path, e);
    }
    throw e;
  }
  // The end of the file ends the last document, whatever whitespace it ends with.
  const last = take(open.length);
  if (last) yield last;
}
