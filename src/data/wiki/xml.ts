/**
 * Streaming MediaWiki XML → pages, over `saxes` (a well-kept streaming XML parser). Works on
 * UTF-8 and UTF-16 dumps (detected from the byte-order mark or the first bytes) and on
 * fragments made of whole `<page>` elements (what the parallel reader hands to Workers).
 *
 * @module
 */
import { SaxesParser } from "../../deps.ts";
import { BenteviError } from "../../errors.ts";
import { ChunkDecoder } from "../../text/encoding.ts";

/** One `<page>` of a dump. */
export interface WikiPage {
  /** `<id>` of the page. */
  id: string;
  /** `<title>`. */
  title: string;
  /** `<ns>` (namespace number; -1 when the dump has none and the title shows another one). */
  ns: number;
  /** A `<redirect>` element was present. */
  redirect: boolean;
  /** Wikitext of the (last) revision. */
  text: string;
}

/** Options for {@link WikiXmlParser}. */
export interface WikiXmlParserOptions {
  /** Name used in error messages (the dump's path). */
  name: string;
  /** Parse a fragment of `<page>` elements instead of a whole `<mediawiki>` document. */
  fragment?: boolean;
}

/**
 * Decodes a dump's XML bytes, chunk after chunk, strictly: {@link XmlDecoder.decode} and
 * {@link XmlDecoder.end} throw on invalid input (the callers name the byte range). UTF-8 goes
 * through {@link ChunkDecoder} (fast on big chunks), UTF-16 through a fatal `TextDecoder`.
 *
 * @example
 * ```ts
 * import { XmlDecoder } from "./xml.ts";
 * const d = new XmlDecoder("utf-8");
 * console.log([...d.decode(new Uint8Array([0x3c, 0x61, 0xc3])), ...d.decode(new Uint8Array([0xa7])), d.end()].join("")); // "<aç"
 * ```
 */
export class XmlDecoder {
  readonly encoding: "utf-8" | "utf-16le" | "utf-16be";
  #utf8: ChunkDecoder | null = null;
  #utf16: TextDecoder | null = null;

  constructor(encoding: "utf-8" | "utf-16le" | "utf-16be") {
    this.encoding = encoding;
    if (encoding === "utf-8") this.#utf8 = new ChunkDecoder("utf-8");
    else this.#utf16 = new TextDecoder(encoding, { fatal: true, ignoreBOM: false });
  }

  /**
   * The text of the next chunk, in pieces (a character cut at its end waits for the next
   * chunk); feed them to {@link WikiXmlParser.write} one by one.
   */
  decode(chunk: Uint8Array): string[] {
    return this.#utf8
      ? this.#utf8.decodePieces(chunk)
      : [this.#utf16!.decode(chunk, { stream: true })];
  }

  /** The rest; throws when the bytes end inside a character. */
  end(): string {
    return this.#utf8 ? this.#utf8.end() : this.#utf16!.decode();
  }
}

/** Detects the text encoding of a dump's first bytes. */
export function detectXmlEncoding(bytes: Uint8Array): "utf-8" | "utf-16le" | "utf-16be" {
  if (bytes.length >= 2) {
    if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
    if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
    if (bytes[0] === 0x3c && bytes[1] === 0x00) return "utf-16le";
    if (bytes[0] === 0x00 && bytes[1] === 0x3c) return "utf-16be";
  }
  return "utf-8";
}

/**
 * A push parser: feed decoded text with {@link WikiXmlParser.write}, collect the pages that
 * completed with {@link WikiXmlParser.take}; {@link WikiXmlParser.close} checks the end.
 *
 * @example
 * ```ts
 * import { WikiXmlParser } from "./xml.ts";
 * const p = new WikiXmlParser({ name: "mini.xml" });
 * p.write("<mediawiki><page><title>Olá</title><ns>0</ns><id>7</id>");
 * p.write("<revision><text>Um '''texto'''.</text></revision></page></mediawiki>");
 * p.close();
 * console.log(p.take()[0].title); // "Olá"
 * ```
 */
export class WikiXmlParser {
  readonly name: string;
  #parser: SaxesParser;
  #pages: WikiPage[] = [];
  #stack: string[] = [];
  #page: WikiPage | null = null;
  #collect: string[] | null = null;
  #collectKind = "";
  #nsPrefixes: string[] = [];
  #nsKey: string | null = null;
  #sawRoot = false;
  #sawPageNs = false;

  constructor(options: WikiXmlParserOptions) {
    this.name = options.name;
    const fragment = options.fragment ?? false;
    this.#parser = new SaxesParser({ fragment, position: true });
    this.#parser.on(
      "opentag",
      (tag) => this.#open(tag.name, tag.attributes as Record<string, string>),
    );
    this.#parser.on("closetag", (tag) => this.#close(tag.name));
    this.#parser.on("text", (t) => this.#collect?.push(t));
    this.#parser.on("cdata", (t) => this.#collect?.push(t));
    if (fragment) this.#sawRoot = true;
  }

  #open(name: string, attributes: Record<string, string>): void {
    const parent = this.#stack[this.#stack.length - 1];
    this.#stack.push(name);
    if (!this.#sawRoot) {
      this.#sawRoot = true;
      if (name !== "mediawiki") {
        throw new BenteviError(
          `${this.name}: not a MediaWiki XML dump (root element <${name}> at line ${this.#parser.line}, expected <mediawiki>)`,
        );
      }
    }
    if (name === "page") {
      this.#page = { id: "", title: "", ns: 0, redirect: false, text: "" };
      this.#sawPageNs = false;
      return;
    }
    if (name === "namespace" && parent === "namespaces") {
      this.#nsKey = attributes.key ?? null;
      this.#collect = [];
      this.#collectKind = "namespace";
      return;
    }
    const page = this.#page;
    if (!page) return;
    if (parent === "page") {
      if (name === "title" || name === "ns" || (name === "id" && page.id === "")) {
        this.#collect = [];
        this.#collectKind = name;
      } else if (name === "redirect") {
        page.redirect = true;
      }
    } else if (name === "text" && parent === "revision") {
      this.#collect = [];
      this.#collectKind = "text";
    }
  }

  #close(name: string): void {
    this.#stack.pop();
    if (this.#collect && name === this.#collectKind) {
      const value = this.#collect.join("");
      this.#collect = null;
      const page = this.#page;
      if (name === "namespace") {
        if (this.#nsKey !== null && this.#nsKey !== "0" && value) {
          this.#nsPrefixes.push(value + ":");
        }
      } else if (page) {
        if (name === "title") page.title = value;
        else if (name === "id") page.id = value.trim();
        else if (name === "text") page.text = value;
        else if (name === "ns") {
          page.ns = Number(value.trim());
          this.#sawPageNs = true;
        }
      }
      return;
    }
    if (name === "page" && this.#page) {
      const page = this.#page;
      if (!this.#sawPageNs && this.#nsPrefixes.some((p) => page.title.startsWith(p))) {
        page.ns = -1;
      }
      this.#pages.push(page);
      this.#page = null;
    }
  }

  #wrap(e: unknown): Error {
    if (e instanceof BenteviError) return e;
    const msg = (e as Error)?.message ?? String(e);
    // saxes messages read "line:column: message"
    const m = /^(\d+):(\d+): (.*)$/s.exec(msg);
    return new BenteviError(
      m
        ? `${this.name}: malformed XML at line ${m[1]}, column ${m[2]}: ${m[3]}`
        : `${this.name}: malformed XML: ${msg}`,
    );
  }

  /** Feeds decoded text. Throws a {@link BenteviError} with line and column on bad XML. */
  write(text: string): void {
    try {
      this.#parser.write(text);
    } catch (e) {
      throw this.#wrap(e);
    }
  }

  /** Ends the input; throws when the document is incomplete or was not a dump. */
  close(): void {
    try {
      this.#parser.close();
    } catch (e) {
      throw this.#wrap(e);
    }
    if (!this.#sawRoot) {
      throw new BenteviError(`${this.name}: not a MediaWiki XML dump (no XML element found)`);
    }
  }

  /** Returns (and forgets) the pages completed so far. */
  take(): WikiPage[] {
    const pages = this.#pages;
    this.#pages = [];
    return pages;
  }
}
