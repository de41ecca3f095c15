/**
 * Document ingestion for the index: each supported file becomes one or more sections of text
 * (what the chunker cuts and what chunk offsets point into):
 *
 * - `.txt` (and any file named on its own with another extension): the decoded file, streamed;
 *   offsets are into the file's text, byte offsets into the file itself;
 * - `.md`/`.markdown`: the same (the recursive chunker keeps headings with the text under them);
 *   the title is the first heading;
 * - `.jsonl`/`.ndjson`: one section per record's `"text"` (wiki shards: `title` kept), part =
 *   its line;
 * - `.html`/`.htm`/`.xhtml`: the main content found by Mozilla's Readability over a linkedom
 *   DOM, as text with blank lines between blocks and `#` headings; title from the page;
 * - `.pdf`: one section per page with text (unpdf, PDF.js's serverless build, no network, no
 *   worker), part = page number;
 * - `.docx`: the paragraphs of `word/document.xml` (unzipped with fflate), headings as `#`.
 *
 * A file that cannot be read (binary, invalid UTF-8, password-protected or image-only PDF, a
 * broken DOCX) throws {@link UnreadableFile}, which the index build counts and skips.
 *
 * @module
 */
import { extname } from "node:path";
import {
  parseHTML,
  pdfDocument as getDocumentProxy,
  pdfExtractText as extractText,
  Readability,
  unzipSync,
} from "../deps.ts";
import { BenteviError, fsError } from "../errors.ts";
import { readDocuments } from "../text/documents.ts";
import { decodeTextStrict, type TextEncoding } from "../text/encoding.ts";
import { readTextChunks } from "../text/read.ts";

/** The kinds of files the index reads. */
export type SourceKind = "text" | "markdown" | "jsonl" | "html" | "pdf" | "docx";

/** Extensions taken from folders, by kind. */
export const SOURCE_EXTENSIONS: Readonly<Record<SourceKind, readonly string[]>> = {
  text: [".txt"],
  markdown: [".md", ".markdown"],
  jsonl: [".jsonl", ".ndjson"],
  html: [".html", ".htm", ".xhtml"],
  pdf: [".pdf"],
  docx: [".docx"],
};

/**
 * The kind of a file by its extension; `undefined` for an extension the index does not know
 * (a folder's such files are skipped; a file named on its own is read as text).
 *
 * @example
 * ```ts
 * import { sourceKind } from "./ingest.ts";
 * console.log(sourceKind("a/Leis.PDF"), sourceKind("notas.md"), sourceKind("x.png")); // "pdf" "markdown" undefined
 * ```
 */
export function sourceKind(path: string): SourceKind | undefined {
  const ext = extname(path).toLowerCase();
  for (const [kind, exts] of Object.entries(SOURCE_EXTENSIONS)) {
    if (exts.includes(ext)) return kind as SourceKind;
  }
  return undefined;
}

/** A file the index cannot read: the build reports it and goes on. */
export class UnreadableFile extends BenteviError {}

/** One piece of a file that is chunked on its own. */
export interface Section {
  /** The text, whole or as a stream of pieces (large text files). */
  text: string | AsyncIterable<string>;
  /** Title: the article's (wiki shards), the page's (HTML), the first heading (Markdown). */
  title?: string;
  /** JSONL: the record's 1-based line; PDF: the 1-based page. 0 otherwise. */
  part: number;
  /** Byte offset where the section's text starts in its byte form (a UTF-8 BOM: 3). */
  byteBase: number;
  /** Bytes per character: `utf8` (UTF-8 lengths) or `single` (Latin-1, Windows-1252). */
  bytes: "utf8" | "single";
}

/** Options of {@link readSections}. */
export interface IngestOptions {
  /** Encoding of text, Markdown and HTML files (default UTF-8). */
  encoding?: TextEncoding;
  /** Bytes read so far of the current file (progress). */
  onBytes?: (n: number) => void;
}

async function readAll(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
}

/** Reads the first `n` bytes of a file. */
async function head(path: string, n: number): Promise<Uint8Array> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path);
  } catch (e) {
    throw fsError(e, path);
  }
  try {
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await f.read(buf.subarray(got));
      if (r === null) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    f.close();
  }
}

function hasUtf8Bom(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
}

function looksBinary(b: Uint8Array): boolean {
  if (b.length >= 2 && ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff))) {
    return false; // UTF-16 with a BOM: the decoder says what it thinks of it
  }
  return b.includes(0);
}

/** What the file's text is made of, for the index's `kind` column. */
export function kindOf(path: string): SourceKind {
  return sourceKind(path) ?? "text";
}

/**
 * The sections of one file (see the module doc). Throws {@link UnreadableFile} for a file
 * that cannot be read as its kind; other {@link BenteviError}s (a decode error in a text
 * file) are unreadable too, and the build treats them alike.
 *
 * @example
 * ```ts
 * import { readSections } from "./ingest.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/p.html`, "<html><head><title>Capivara</title></head><body><article><h1>Capivara</h1><p>A capivara é o maior roedor do mundo.</p></article></body></html>");
 * for await (const s of readSections(`${dir}/p.html`)) console.log(s.title, JSON.stringify(s.text));
 * // Capivara "## Capivara\n\nA capivara é o maior roedor do mundo." (Readability makes the h1 an h2)
 * ```
 */
export async function* readSections(
  path: string,
  options: IngestOptions = {},
): AsyncGenerator<Section> {
  const kind = kindOf(path);
  const encoding = options.encoding ?? "utf-8";
  const single = encoding === "utf-8" ? "utf8" : "single";
  switch (kind) {
    case "text":
    case "markdown": {
      const first = await head(path, 8192);
      if (looksBinary(first)) throw new UnreadableFile(`${path}: binary file (it holds NUL bytes)`);
      const title = kind === "markdown" ? markdownTitle(first) : undefined;
      yield {
        text: readTextChunks(path, { encoding, onBytes: options.onBytes, chunkBytes: 1 << 16 }),
        title,
        part: 0,
        byteBase: encoding === "utf-8" && hasUtf8Bom(first) ? 3 : 0,
        bytes: single,
      };
      return;
    }
    case "jsonl": {
      for await (const d of readDocuments(path, { onBytes: options.onBytes })) {
        const title = d.record?.title;
        yield {
          text: d.text,
          title: typeof title === "string" ? title : undefined,
          part: d.line ?? 0,
          byteBase: 0,
          bytes: "utf8",
        };
      }
      return;
    }
    case "html": {
      const bytes = await readAll(path);
      options.onBytes?.(bytes.length);
      const { title, text } = htmlMainText(decodeTextStrict(bytes, { encoding, path }));
      if (text.trim() === "") throw new UnreadableFile(`${path}: no text in the page`);
      yield { text, title, part: 0, byteBase: 0, bytes: "utf8" };
      return;
    }
    case "pdf": {
      const bytes = await readAll(path);
      options.onBytes?.(bytes.length);
      const pages = await pdfPages(path, bytes);
      let any = false;
      for (let i = 0; i < pages.length; i++) {
        if (pages[i].trim() === "") continue;
        any = true;
        yield { text: pages[i], part: i + 1, byteBase: 0, bytes: "utf8" };
      }
      if (!any) {
        throw new UnreadableFile(
          `${path}: no text layer in its ${pages.length} page(s) (an image-only/scanned PDF needs OCR first)`,
        );
      }
      return;
    }
    case "docx": {
      const bytes = await readAll(path);
      options.onBytes?.(bytes.length);
      const text = await docxText(path, bytes);
      if (text.trim() === "") throw new UnreadableFile(`${path}: no text in the document`);
      yield { text, part: 0, byteBase: 0, bytes: "utf8" };
      return;
    }
  }
}

function markdownTitle(first: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(first);
  const m = /^#{1,6}[ \t]+(.+?)[ \t#]*$/m.exec(text);
  return m?.[1];
}

const BLOCKS = new Set([
  "P",
  "DIV",
  "SECTION",
  "ARTICLE",
  "MAIN",
  "HEADER",
  "FOOTER",
  "ASIDE",
  "BLOCKQUOTE",
  "PRE",
  "UL",
  "OL",
  "LI",
  "TABLE",
  "TR",
  "DL",
  "DT",
  "DD",
  "FIGURE",
  "FIGCAPTION",
  "H1",
  "H2",
  "H3",
  "H4",
  "H5",
  "H6",
]);

/** The part of linkedom's document this module uses. */
interface Dom {
  body: DomNode | null;
  documentElement: DomNode | null;
  querySelector(sel: string): { textContent: string | null } | null;
  querySelectorAll(sel: string): Iterable<{ remove(): void }>;
}

function parseDom(html: string): Dom {
  return (parseHTML(html) as unknown as { document: Dom }).document;
}

interface DomNode {
  nodeType: number;
  nodeName: string;
  textContent: string | null;
  childNodes: ArrayLike<DomNode>;
}

/** Text of a DOM subtree: blocks separated by blank lines, headings as `#`, list items as `-`. */
function blockText(root: DomNode): string {
  const blocks: string[] = [];
  let line = "";
  const flush = () => {
    const t = line.replace(/[ \t\r\n\u00a0]+/g, " ").trim();
    if (t) blocks.push(t);
    line = "";
  };
  const walk = (n: DomNode) => {
    if (n.nodeType === 3) {
      line += n.textContent ?? "";
      return;
    }
    if (n.nodeType !== 1) return;
    const name = n.nodeName.toUpperCase();
    if (name === "SCRIPT" || name === "STYLE" || name === "NOSCRIPT" || name === "TEMPLATE") return;
    if (name === "BR") {
      line += " ";
      return;
    }
    const block = BLOCKS.has(name);
    if (block) flush();
    const h = /^H([1-6])$/.exec(name);
    if (h) line += "#".repeat(Number(h[1])) + " ";
    else if (name === "LI") line += "- ";
    for (let i = 0; i < n.childNodes.length; i++) walk(n.childNodes[i]);
    if (block) flush();
  };
  walk(root);
  flush();
  return blocks.join("\n\n");
}

/**
 * The main content of an HTML page as text (Readability's article, or the whole body when it
 * finds none) and its title.
 *
 * @example
 * ```ts
 * import { htmlMainText } from "./ingest.ts";
 * const r = htmlMainText("<html><head><title>T</title></head><body><nav>Menu</nav><main><p>Olá, mundo.</p></main></body></html>");
 * console.log(r.title, JSON.stringify(r.text)); // T "Olá, mundo."
 * ```
 */
export function htmlMainText(html: string): { title?: string; text: string } {
  const page = () => {
    const d = parseDom(/<body[\s>]/i.test(html) ? html : `<html><body>${html}</body></html>`);
    // Navigation, sidebars and footers are never the main content.
    for (const el of [...d.querySelectorAll(NOT_CONTENT)]) el.remove();
    return d;
  };
  const pageTitle = parseDom(html).querySelector("title")?.textContent?.trim() || undefined;
  let article: { title?: string | null; content?: string | null } | null = null;
  try {
    // Readability changes the DOM it reads: give it its own copy.
    // deno-lint-ignore no-explicit-any -- linkedom's document is what Readability reads
    article = new Readability(page() as any).parse();
  } catch {
    article = null;
  }
  let text = "";
  if (article?.content) {
    const body = parseDom(`<html><body>${article.content}</body></html>`).body;
    if (body) text = blockText(body);
  }
  if (text.trim() === "") {
    const body = page().body;
    if (body) text = blockText(body);
  }
  return { title: article?.title?.trim() || pageTitle, text };
}

const NOT_CONTENT = "script, style, noscript, template, nav, footer, aside, title";

/** The text of each page of a PDF (empty strings for pages without a text layer). */
export async function pdfPages(path: string, bytes: Uint8Array): Promise<string[]> {
  try {
    const pdf = await getDocumentProxy(new Uint8Array(bytes));
    const { text } = await extractText(pdf, { mergePages: false });
    await (pdf as { destroy?: () => Promise<void> }).destroy?.();
    return text as string[];
  } catch (e) {
    const name = (e as { name?: string })?.name ?? "";
    if (name === "PasswordException") {
      throw new UnreadableFile(`${path}: password-protected PDF`);
    }
    throw new UnreadableFile(
      `${path}: not a readable PDF (${String((e as Error)?.message ?? e).split("\n")[0]})`,
    );
  }
}

const XML_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function xmlText(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === "#") {
      const n = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(n) && n <= 0x10ffff ? String.fromCodePoint(n) : m;
    }
    return XML_ENTITIES[e] ?? m;
  });
}

/**
 * The text of a DOCX: the paragraphs of `word/document.xml` (runs' `w:t`, tabs and breaks),
 * separated by blank lines, `Heading N`/`Title` paragraphs as Markdown headings so the chunker
 * keeps them with their text. (Read with fflate; mammoth, the usual choice, needs Deno's
 * `--unsafe-proto` because of its bluebird dependency.)
 *
 * @example
 * ```ts
 * import { strToU8, zipSync } from "../deps.ts";
 * import { docxText } from "./ingest.ts";
 * const xml = '<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>Olá &amp; adeus</w:t></w:r></w:p></w:body></w:document>';
 * console.log(await docxText("a.docx", zipSync({ "word/document.xml": strToU8(xml) }))); // "Olá & adeus"
 * ```
 */
export function docxText(path: string, bytes: Uint8Array): Promise<string> {
  let xml: string;
  try {
    const files = unzipSync(bytes, { filter: (f) => f.name === "word/document.xml" });
    const doc = files["word/document.xml"];
    if (!doc) throw new Error("no word/document.xml");
    xml = new TextDecoder("utf-8", { fatal: true }).decode(doc);
  } catch (e) {
    return Promise.reject(
      new UnreadableFile(
        `${path}: not a readable DOCX (${String((e as Error)?.message ?? e).split("\n")[0]})`,
      ),
    );
  }
  const paragraphs: string[] = [];
  for (const p of xml.matchAll(/<w:p[ >][\s\S]*?<\/w:p>|<w:p\/>/g)) {
    const body = p[0];
    let text = "";
    for (const m of body.matchAll(/<w:t(?:\s[^>]*)?>([\s\S]*?)<\/w:t>|<w:(tab|br|cr)\b[^>]*\/>/g)) {
      text += m[1] !== undefined ? xmlText(m[1]) : m[2] === "tab" ? "\t" : "\n";
    }
    if (text.trim() === "") continue;
    const style = /<w:pStyle\s+w:val="([^"]*)"/.exec(body)?.[1] ?? "";
    const h = /^(?:Heading|Ttulo|Titulo)(\d)$/i.exec(style);
    const level = h ? Math.min(6, Number(h[1])) : /^Title$/i.test(style) ? 1 : 0;
    paragraphs.push(level ? `${"#".repeat(level)} ${text.trim()}` : text);
  }
  return Promise.resolve(paragraphs.join("\n\n"));
}

/**
 * The text of one section again, read from the file (to check or show a hit): `part` is the
 * section's part (JSONL line, PDF page). For text and Markdown files this reads the whole
 * file; a span of a large file is better read by its byte offsets.
 *
 * @example
 * ```ts
 * import { sectionText } from "./ingest.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.jsonl`, '{"title":"A","text":"um"}\n{"title":"B","text":"dois"}\n');
 * console.log(await sectionText(`${dir}/a.jsonl`, 2)); // "dois"
 * ```
 */
export async function sectionText(
  path: string,
  part: number,
  options: { encoding?: TextEncoding } = {},
): Promise<string> {
  const kind = kindOf(path);
  if (kind === "text" || kind === "markdown") {
    return decodeTextStrict(await readAll(path), { encoding: options.encoding, path });
  }
  for await (const s of readSections(path, options)) {
    if (s.part === part && typeof s.text === "string") return s.text;
    if (kind === "jsonl" && s.part > part) break;
  }
  throw new BenteviError(`${path}: no section ${part} any more (the file changed?)`);
}
