/**
 * The tokenizer: added (special) tokens matched whole → normalizer → pre-tokenizer → BPE →
 * ids, and back through the byte-level decoder. Loads and saves Hugging Face `tokenizer.json`.
 *
 * @module
 */
import { BenteviError, fsError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { BYTE_TO_CHAR } from "./byte_level.ts";
import { BpeModel } from "./bpe.ts";
import { ByteLevelDecoder } from "./decoder.ts";
import { PreTokenizer } from "./pre_tokenizer.ts";
import { findTextCut } from "../text/cut.ts";
import { type AddedToken, partsFromHF, partsToHF, type TokenizerParts } from "./hf_json.ts";
import { type Aligned, identityAligned } from "./normalizer.ts";

/** Result of {@link Tokenizer.encodeWithOffsets}. */
export interface EncodingWithOffsets {
  /** Token ids. */
  ids: number[];
  /** `[start, end)` of each token in the input string, in UTF-16 code units. */
  offsets: [number, number][];
}

/** Decodes ids one at a time (see {@link Tokenizer.streamDecoder}). */
export interface StreamDecoder {
  /** Adds one id; returns the text that is now complete (may be ""). */
  push(id: number): string;
  /** Returns what is left (an incomplete character becomes U+FFFD). */
  flush(): string;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Leave special tokens (`[EOS]`, `<|endoftext|>`…) out of the text. */
  skipSpecialTokens?: boolean;
}

const EOS_NAMES = ["[EOS]", "<|endoftext|>", "</s>"];

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A byte-level BPE tokenizer in the Hugging Face design, compatible with `tokenizer.json`.
 *
 * @example
 * ```ts
 * import { Tokenizer, trainTokenizer } from "./mod.ts";
 * async function* corpus() {
 *   yield "O bem-te-vi canta no quintal.\n";
 *   yield "O bem-te-vi voa para o quintal vizinho.\n";
 * }
 * const tok: Tokenizer = await trainTokenizer(corpus(), { vocabSize: 300 });
 * const ids = tok.encode("bem-te-vi");
 * console.log(tok.decode(ids)); // "bem-te-vi"
 * ```
 */
export class Tokenizer {
  /** A name for messages (the file it came from). */
  readonly name: string;
  /** The pipeline's parts. */
  readonly parts: TokenizerParts;
  /** Number of ids (largest id + 1, added tokens included). */
  readonly vocabSize: number;
  /** Special tokens (added tokens marked special) → id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  /** Id of the end-of-text token: `[EOS]`, `<|endoftext|>` or `</s>`, whichever exists. */
  readonly endOfTextId: number | undefined;
  private readonly idToTokenTable: (string | undefined)[];
  private readonly decoder: ByteLevelDecoder;
  private readonly addedByContent: Map<string, AddedToken>;
  private readonly addedRegex: RegExp | undefined;
  private readonly specialIds: Set<number>;

  /** Builds a tokenizer from its parts (see {@link Tokenizer.fromJSON} for files). */
  constructor(parts: TokenizerParts, name = "tokenizer") {
    this.name = name;
    this.parts = parts;
    const table: (string | undefined)[] = [];
    for (const [t, id] of parts.model.vocab) table[id] = t;
    for (const a of parts.addedTokens) table[a.id] = a.content;
    this.idToTokenTable = table;
    this.vocabSize = table.length;
    this.decoder = new ByteLevelDecoder(table);
    this.addedByContent = new Map(parts.addedTokens.map((a) => [a.content, a]));
    const contents = [...this.addedByContent.keys()].sort((a, b) =>
      b.length - a.length || (a < b ? -1 : 1)
    );
    this.addedRegex = contents.length
      ? new RegExp(contents.map(escapeRegex).join("|"), "g")
      : undefined;
    this.specialTokens = new Map(
      parts.addedTokens.filter((a) => a.special).map((a) => [a.content, a.id]),
    );
    this.specialIds = new Set(this.specialTokens.values());
    let eos: number | undefined;
    for (const n of EOS_NAMES) {
      eos = this.tokenToId(n);
      if (eos !== undefined) break;
    }
    this.endOfTextId = eos;
  }

  /**
   * A tokenizer with no merges whose ids are the 256 byte values (id `b` is byte `b`), as
   * byte-level models (e.g. small RWKV models) use.
   *
   * @example
   * ```ts
   * import { Tokenizer } from "./mod.ts";
   * const tok = Tokenizer.byteLevel();
   * console.log(tok.encode("Olá")); // [79, 108, 195, 161]
   * ```
   */
  static byteLevel(): Tokenizer {
    const vocab = new Map<string, number>();
    BYTE_TO_CHAR.forEach((c, b) => vocab.set(c, b));
    return new Tokenizer(
      { preTokenizer: PreTokenizer.gpt2(), model: new BpeModel(vocab, []), addedTokens: [] },
      "byte-level",
    );
  }

  /**
   * Loads a Hugging Face `tokenizer.json` file.
   * Throws {@link BenteviError} when the file is missing, not JSON (e.g. truncated) or not a
   * byte-level BPE tokenizer.
   */
  static async fromFile(path: string): Promise<Tokenizer> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw fsError(e, path);
    }
    return Tokenizer.fromJSON(text, path);
  }

  /**
   * Builds a tokenizer from `tokenizer.json` text (a leading UTF-8 byte-order mark, as some
   * Windows editors write, is ignored) or its parsed object.
   */
  static fromJSON(json: string | unknown, name = "tokenizer.json"): Tokenizer {
    let obj = json;
    if (typeof json === "string") {
      try {
        obj = JSON.parse(json.charCodeAt(0) === 0xfeff ? json.slice(1) : json);
      } catch (e) {
        throw new BenteviError(
          `${name}: not valid JSON (truncated or corrupt file?): ${
            (e as Error).message.replace(/\s+/g, " ") // the parser quotes the text, newlines too
          }`,
        );
      }
    }
    return new Tokenizer(partsFromHF(obj, name), name);
  }

  /** The Hugging Face `tokenizer.json` object. */
  toJSON(): unknown {
    return partsToHF(this.parts);
  }

  /** Writes `tokenizer.json` atomically (a temporary file renamed into place). */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, JSON.stringify(this.toJSON()) + "\n");
  }

  /** Id of `token` (added tokens, then the vocabulary in byte-level form), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.parts.model.vocab.get(token);
  }

  /** Token string of `id` (byte-level form, e.g. `"Ġthe"`), or undefined. */
  idToToken(id: number): string | undefined {
    return this.idToTokenTable[id];
  }

  /** The bytes token `id` stands for (undefined outside the vocabulary). */
  tokenBytes(id: number): Uint8Array | undefined {
    return this.decoder.tokenBytes[id];
  }

  /**
   * Splits `text` on added tokens: `onText` gets each stretch of text between them (with its
   * offset in `text`), `onAdded` each added token, in order.
   */
  private walk(
    text: string,
    onText: (segment: string, start: number) => void,
    onAdded: (id: number, start: number, end: number) => void,
  ): void {
    const re = this.addedRegex;
    if (!re) {
      if (text.length) onText(text, 0);
      return;
    }
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > last) onText(text.slice(last, m.index), last);
      onAdded(this.addedByContent.get(m[0])!.id, m.index, m.index + m[0].length);
      last = m.index + m[0].length;
    }
    if (last < text.length) onText(text.slice(last), last);
  }

  private prepare(segment: string): string {
    let t = this.parts.normalizer ? this.parts.normalizer.normalize(segment) : segment;
    if (this.parts.preTokenizer.addPrefixSpace && t.length && t.charCodeAt(0) !== 32) t = " " + t;
    return t;
  }

  /**
   * The pipeline's view of `text` before BPE: the pre-tokenized pieces of the normalized text
   * and the added tokens matched whole, in order.
   */
  preTokenize(text: string): { piece: string; addedId?: number }[] {
    const out: { piece: string; addedId?: number }[] = [];
    this.walk(
      text,
      (seg) =>
        this.parts.preTokenizer.forEachPiece(this.prepare(seg), (piece) => out.push({ piece })),
      (id) => out.push({ piece: this.idToTokenTable[id]!, addedId: id }),
    );
    return out;
  }

  /** Token ids of `text` (special tokens in the text are matched whole). */
  encode(text: string): number[] {
    const out: number[] = [];
    const model = this.parts.model;
    const pre = this.parts.preTokenizer;
    const piece = (p: string) => {
      const ids = model.encodePieceFast(p);
      if (typeof ids === "number") out.push(ids);
      else for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    };
    this.walk(text, (seg) => pre.forEachPiece(this.prepare(seg), piece), (id) => out.push(id));
    return out;
  }

  /** Number of tokens of `text`, without building the id array. */
  countTokens(text: string): number {
    let n = 0;
    const model = this.parts.model;
    const pre = this.parts.preTokenizer;
    const piece = (p: string) => {
      const ids = model.encodePieceFast(p);
      n += typeof ids === "number" ? 1 : ids.length;
    };
    this.walk(text, (seg) => pre.forEachPiece(this.prepare(seg), piece), () => n++);
    return n;
  }

  /**
   * Encodes a long text that arrives in chunks (a file read in parts) without holding it all:
   * yields the ids of successive parts, cut only where every pre-tokenizer cuts anyway (after
   * a newline with non-space characters on both sides, or in a long line before a space
   * between ASCII letters or digits; outside added tokens), so the concatenated ids equal
   * `encode` of the whole text.
   */
  async *encodeStream(
    chunks: AsyncIterable<string>,
    partChars = 1 << 20,
  ): AsyncGenerator<number[]> {
    let buf = "";
    for await (const chunk of chunks) {
      buf += chunk;
      if (buf.length < partChars) continue;
      const cut = this.safeCut(buf);
      if (cut > 0) {
        yield this.encode(buf.slice(0, cut));
        buf = buf.slice(cut);
      }
    }
    if (buf.length) yield this.encode(buf);
  }

  /**
   * The last offset in `s` where the text can be cut without changing its encoding, or 0: after
   * a line break, or — in a long line (a file without line breaks) — before a space between
   * ASCII letters or digits (see `findTextCut`).
   */
  private safeCut(s: string): number {
    const ws = /\p{White_Space}/u;
    let longest = 0;
    for (const c of this.addedByContent.keys()) longest = Math.max(longest, c.length);
    const cuts = function* () {
      for (let nl = s.lastIndexOf("\n", s.length - 2); nl > 0; nl = s.lastIndexOf("\n", nl - 1)) {
        if (!ws.test(s[nl - 1]) && !ws.test(s[nl + 1])) yield nl + 1;
      }
      const space = findTextCut(s, s.length >> 1);
      if (space?.kind === "space") yield space.at;
    };
    for (const cut of cuts()) {
      if (this.addedRegex && longest > 1) {
        const from = Math.max(0, cut - longest);
        const window = s.slice(from, cut + longest);
        const re = new RegExp(this.addedRegex.source, "g");
        let crosses = false;
        for (let m = re.exec(window); m; m = re.exec(window)) {
          if (from + m.index < cut && from + m.index + m[0].length > cut) crosses = true;
        }
        if (crosses) continue;
      }
      return cut;
    }
    return 0;
  }

  /** {@link Tokenizer.encode} of each text. */
  encodeBatch(texts: string[]): number[][] {
    return texts.map((t) => this.encode(t));
  }

  /**
   * Token ids with each token's `[start, end)` span in `text` (UTF-16 code units). A token
   * holding part of a character's bytes spans the whole character; after normalization a
   * span covers the source characters the token's normalized text came from.
   */
  encodeWithOffsets(text: string): EncodingWithOffsets {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    const model = this.parts.model;
    const tokenBytes = this.decoder.tokenBytes;
    const norm = this.parts.normalizer;
    const addPrefix = this.parts.preTokenizer.addPrefixSpace;
    this.walk(text, (segment, segStart) => {
      let a: Aligned = identityAligned(segment);
      if (norm) a = norm.normalizeAligned(a);
      let t = a.text;
      let shift = 0;
      if (addPrefix && t.length && t.charCodeAt(0) !== 32) {
        t = " " + t;
        shift = 1;
      }
      const srcStart = (u: number) => segStart + (u < shift ? a.starts[0] : a.starts[u - shift]);
      const srcEnd = (u: number) => segStart + (u < shift ? a.starts[0] : a.ends[u - shift]);
      this.parts.preTokenizer.forEachPiece(t, (piece, pStart) => {
        const pieceIds = model.encodePiece(piece);
        // byteUnit[k]: index (in piece) of the UTF-16 unit that byte k belongs to.
        const byteUnit: number[] = [];
        for (let i = 0; i < piece.length; i++) {
          const c = piece.charCodeAt(i);
          let nb = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
          if (c >= 0xd800 && c <= 0xdbff && i + 1 < piece.length) {
            const d = piece.charCodeAt(i + 1);
            if (d >= 0xdc00 && d <= 0xdfff) nb = 4;
          }
          for (let k = 0; k < nb; k++) byteUnit.push(i);
          if (nb === 4) i++;
        }
        let b = 0;
        for (let k = 0; k < pieceIds.length; k++) {
          const id = pieceIds[k];
          const len = Math.max(1, tokenBytes[id]?.length ?? 1);
          const u0 = byteUnit[Math.min(b, byteUnit.length - 1)];
          const lastByte = Math.min(b + len - 1, byteUnit.length - 1);
          let u1 = byteUnit[lastByte];
          // A character of a surrogate pair spans both units.
          const c = piece.charCodeAt(u1);
          const d = u1 + 1 < piece.length ? piece.charCodeAt(u1 + 1) : 0;
          if (c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) u1++;
          b += len;
          ids.push(id);
          offsets.push([srcStart(pStart + u0), srcEnd(pStart + u1)]);
        }
      });
    }, (id, s, e) => {
      ids.push(id);
      offsets.push([s, e]);
    });
    return { ids, offsets };
  }

  private checkId(id: number, position: number): void {
    if (!Number.isInteger(id) || id < 0 || this.idToTokenTable[id] === undefined) {
      throw new BenteviError(
        `token id ${id} at position ${position} is not in the vocabulary of ${this.name} (ids 0..${
          this.vocabSize - 1
        })`,
      );
    }
  }

  /** Bytes of `ids` (throws {@link BenteviError} for ids outside the vocabulary). */
  decodeBytes(ids: ArrayLike<number>, options: DecodeOptions = {}): Uint8Array {
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i], i);
    const skip = options.skipSpecialTokens && this.specialIds.size
      ? (id: number) => this.specialIds.has(id)
      : undefined;
    return this.decoder.bytes(ids, skip);
  }

  /**
   * Text of `ids`. Ids that split a character never throw (an incomplete character becomes
   * U+FFFD); ids outside the vocabulary throw {@link BenteviError}.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    return new TextDecoder().decode(this.decodeBytes(ids, options));
  }

  /**
   * A decoder for ids arriving one at a time (generation): it holds the bytes of an
   * incomplete UTF-8 character until the ids that complete it arrive.
   */
  streamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const td = new TextDecoder();
    let position = 0;
    return {
      push: (id: number) => {
        this.checkId(id, position++);
        if (options.skipSpecialTokens && this.specialIds.has(id)) return "";
        return td.decode(this.decoder.tokenBytes[id]!, { stream: true });
      },
      flush: () => td.decode(),
    };
  }
}
