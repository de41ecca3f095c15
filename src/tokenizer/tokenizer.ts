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
import { Decoder } from "./decoders.ts";
import { PreTokenizer } from "./pre_tokenizer.ts";
import { PostProcessor } from "./post_processor.ts";
import { findTextCut } from "../text/cut.ts";
import { type AddedToken, partsFromHF, partsToHF, type TokenizerParts } from "./hf_json.ts";
import {
  type Aligned,
  FOLD_WHITESPACE_PATTERN,
  identityAligned,
  Lowercase,
  type Normalizer,
  Prepend,
  Replace,
  SequenceNormalizer,
  Strip,
  StripAccents,
  UnicodeForm,
} from "./normalizer.ts";
import { AddedMatcher } from "./added.ts";

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

/** Options of {@link Tokenizer.encode} and the other encoding methods. */
export interface EncodeOptions {
  /**
   * Add the tokens the file's post-processor puts around a text (`TemplateProcessing`, e.g.
   * `<s>` first for Llama-2-style files). Default true, as Hugging Face's
   * `add_special_tokens=True`; files without a template (GPT-2, Bentevi's own) add nothing.
   */
  addSpecialTokens?: boolean;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Leave special tokens (`[EOS]`, `<|endoftext|>`…) out of the text. */
  skipSpecialTokens?: boolean;
}

const EOS_NAMES = ["[EOS]", "<|endoftext|>", "</s>"];

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
  /** What `encode` adds around a text by default (the file's post-processor). */
  readonly postProcessor: PostProcessor;
  private readonly idToTokenTable: (string | undefined)[];
  private readonly decoder: Decoder;
  private readonly byteDecoder: ByteLevelDecoder | undefined;
  private tokenBytesTable: (Uint8Array | undefined)[] | undefined;
  private readonly addedByContent: Map<string, AddedToken>;
  /** Added tokens matched in the raw text (`normalized: false`). */
  private readonly rawAdded: AddedMatcher;
  /** Added tokens matched in the normalized text (`normalized: true`). */
  private readonly normAdded: AddedMatcher | undefined;
  private readonly pre: PreTokenizer;
  private readonly specialIds: Set<number>;
  /** Where {@link encodeStream} may cut: see {@link PreTokenizer.cutKind}. */
  private readonly streamCut: "line" | "space" | "none";

  /** Builds a tokenizer from its parts (see {@link Tokenizer.fromJSON} for files). */
  constructor(parts: TokenizerParts, name = "tokenizer") {
    this.name = name;
    this.parts = parts;
    const table: (string | undefined)[] = [];
    for (const [t, id] of parts.model.vocab) table[id] = t;
    // A `normalized` added token is matched, and decoded, as its normalized text (as Hugging
    // Face does: with a Prepend("▁") normalizer, "olá" is the token "▁olá").
    for (const a of parts.addedTokens) {
      table[a.id] = a.normalized && parts.normalizer
        ? parts.normalizer.normalize(a.content)
        : a.content;
    }
    this.idToTokenTable = table;
    this.vocabSize = table.length;
    this.decoder = parts.decoder ?? Decoder.byteLevel();
    this.byteDecoder = this.decoder.isByteLevel ? new ByteLevelDecoder(table) : undefined;
    this.postProcessor = parts.postProcessor ?? PostProcessor.none();
    this.addedByContent = new Map(parts.addedTokens.map((a) => [a.content, a]));
    const norm = parts.normalizer;
    this.rawAdded = new AddedMatcher(
      parts.addedTokens.filter((a) => !a.normalized || !norm).map((a) => ({
        text: a.content,
        token: a,
      })),
    );
    const normalized = norm ? parts.addedTokens.filter((a) => a.normalized) : [];
    this.normAdded = normalized.length
      ? new AddedMatcher(normalized.map((a) => ({ text: norm!.normalize(a.content), token: a })))
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
    // A SentencePiece-style model without pre-tokenizer sees a whole text as one piece; when
    // its vocabulary never joins a character to a following "▁", cutting before each such
    // "▁" cannot change the ids and keeps pieces short (and cacheable).
    const model = parts.model;
    const cutChar = !model.byteLevel && !model.ignoreMerges && model.neverJoinsBefore("\u2581")
      ? "\u2581"
      : undefined;
    this.pre = cutChar && !parts.preTokenizer.metaspace
      ? parts.preTokenizer.withCutBefore(cutChar)
      : parts.preTokenizer;
    this.streamCut = streamCutOf(parts, cutChar !== undefined);
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
   * Throws {@link BenteviError} when the file is missing, not JSON (e.g. truncated), or uses a
   * construct Bentevi does not support (named in the message).
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

  /** Id of `token` (added tokens, then the vocabulary as the model spells it), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.parts.model.vocab.get(token);
  }

  /** Token string of `id` (as the vocabulary spells it, e.g. `"Ġthe"`, `"▁the"`), or undefined. */
  idToToken(id: number): string | undefined {
    return this.idToTokenTable[id];
  }

  /**
   * The bytes token `id` stands for in the text the model sees (undefined outside the
   * vocabulary): for byte-level files the bytes themselves; otherwise the token's UTF-8
   * (`▁` included), and a `<0xXX>` byte-fallback token its byte.
   */
  tokenBytes(id: number): Uint8Array | undefined {
    if (!this.tokenBytesTable) {
      if (this.parts.model.byteLevel) {
        this.tokenBytesTable = (this.byteDecoder ?? new ByteLevelDecoder(this.idToTokenTable))
          .tokenBytes;
      } else {
        const enc = new TextEncoder();
        const fallback = this.parts.model.byteFallback;
        this.tokenBytesTable = this.idToTokenTable.map((t) => {
          if (t === undefined) return undefined;
          if (fallback && /^<0x[0-9A-F]{2}>$/.test(t)) {
            return Uint8Array.of(parseInt(t.slice(3, 5), 16));
          }
          return enc.encode(t);
        });
      }
    }
    return this.tokenBytesTable[id];
  }

  /**
   * The pipeline up to the model, as Hugging Face runs it: added tokens that match the raw
   * text are cut out first; each stretch between them is normalized (`continuation`: it
   * continues a text begun in an earlier part), added tokens matching the normalized text are
   * cut out, and the rest is pre-tokenized. `piece` gets each piece, `added` each added token.
   */
  private pipeline(
    text: string,
    piece: (p: string) => void,
    added: (id: number) => void,
    continuation = false,
  ): void {
    const norm = this.parts.normalizer;
    const pre = this.pre;
    const normAdded = this.normAdded;
    this.rawAdded.walk(text, (seg, segStart) => {
      const cont = continuation && segStart === 0;
      const t = norm ? norm.normalize(seg, cont) : seg;
      const atStart = segStart === 0 && !continuation;
      if (!normAdded) pre.forEachPiece(t, piece, atStart);
      else {
        normAdded.walk(
          t,
          (sub, subStart) => pre.forEachPiece(sub, piece, atStart && subStart === 0),
          added,
        );
      }
    }, added);
  }

  /**
   * The pipeline's view of `text` before BPE: the pre-tokenized pieces of the normalized text
   * and the added tokens matched whole, in order.
   */
  preTokenize(text: string): { piece: string; addedId?: number }[] {
    const out: { piece: string; addedId?: number }[] = [];
    this.pipeline(
      text,
      (piece) => out.push({ piece }),
      (id) => out.push({ piece: this.idToTokenTable[id]!, addedId: id }),
    );
    return out;
  }

  /**
   * Token ids of `text` (added/special tokens in the text are matched whole). With the
   * file's post-processor template (e.g. `<s>` first), its tokens are added unless
   * `addSpecialTokens: false`.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const add = options.addSpecialTokens ?? true;
    if (add) out.push(...this.postProcessor.single.prefix);
    this.encodeInto(text, out, false);
    if (add) out.push(...this.postProcessor.single.suffix);
    return out;
  }

  private encodeInto(text: string, out: number[], continuation: boolean): void {
    const model = this.parts.model;
    this.pipeline(
      text,
      (p) => {
        const ids = model.encodePieceFast(p);
        if (typeof ids === "number") out.push(ids);
        else for (let i = 0; i < ids.length; i++) out.push(ids[i]);
      },
      (id) => out.push(id),
      continuation,
    );
  }

  /** Number of tokens of `text` (as {@link Tokenizer.encode}), without building the id array. */
  countTokens(text: string, options: EncodeOptions = {}): number {
    let n = 0;
    const model = this.parts.model;
    this.pipeline(text, (p) => {
      const ids = model.encodePieceFast(p);
      n += typeof ids === "number" ? 1 : ids.length;
    }, () => n++);
    if (options.addSpecialTokens ?? true) {
      n += this.postProcessor.single.prefix.length + this.postProcessor.single.suffix.length;
    }
    return n;
  }

  /**
   * Encodes a long text that arrives in chunks (a file read in parts) without holding it all:
   * yields the ids of successive parts, cut only where the pipeline cuts anyway (for GPT-2
   * style files after a newline with non-space characters on both sides, or in a long line
   * before a space between ASCII letters or digits; for SentencePiece-style files only the
   * latter; outside added tokens), so the concatenated ids equal `encode` of the whole text —
   * the post-processor's tokens (unless `addSpecialTokens: false`) once, around the whole. A
   * pipeline with a pattern Bentevi cannot cut safely is encoded whole.
   */
  async *encodeStream(
    chunks: AsyncIterable<string>,
    partChars = 1 << 20,
    options: EncodeOptions = {},
  ): AsyncGenerator<number[]> {
    const add = options.addSpecialTokens ?? true;
    const { prefix, suffix } = this.postProcessor.single;
    let buf = "";
    let continuation = false;
    const part = (text: string, last: boolean) => {
      const out: number[] = [];
      if (add && !continuation) out.push(...prefix);
      this.encodeInto(text, out, continuation);
      if (add && last) out.push(...suffix);
      continuation = true;
      return out;
    };
    for await (const chunk of chunks) {
      buf += chunk;
      if (buf.length < partChars) continue;
      const cut = this.safeCut(buf);
      if (cut > 0) {
        yield part(buf.slice(0, cut), false);
        buf = buf.slice(cut);
      }
    }
    if (buf.length || !continuation) yield part(buf, true);
  }

  /**
   * The last offset in `s` where the text can be cut without changing its encoding, or 0: after
   * a line break, or — in a long line (a file without line breaks) — before a space between
   * ASCII letters or digits (see `findTextCut`), as the pipeline allows; never next to an
   * added token.
   */
  private safeCut(s: string): number {
    if (this.streamCut === "none") return 0;
    const ws = /\p{White_Space}/u;
    const longest = Math.max(this.rawAdded.longest, this.normAdded?.longest ?? 0);
    const lines = this.streamCut === "line";
    const cuts = function* () {
      if (lines) {
        for (
          let nl = s.lastIndexOf("\n", s.length - 2);
          nl > 0;
          nl = s.lastIndexOf("\n", nl - 1)
        ) {
          if (!ws.test(s[nl - 1]) && !ws.test(s[nl + 1])) yield nl + 1;
        }
      }
      const space = findTextCut(s, s.length >> 1);
      if (space?.kind === "space") yield space.at;
      else if (!lines) {
        // findTextCut prefers line breaks; here only a space between ASCII letters/digits.
        for (let sp = s.lastIndexOf(" ", s.length - 2); sp >= 1; sp = s.lastIndexOf(" ", sp - 1)) {
          if (asciiAlnum(s.charCodeAt(sp - 1)) && asciiAlnum(s.charCodeAt(sp + 1))) {
            yield sp;
            break;
          }
        }
      }
    };
    const matchers = [this.rawAdded, this.normAdded].filter((m) => m && !m.empty) as AddedMatcher[];
    for (const cut of cuts()) {
      let touches = false;
      for (const m of matchers) {
        // Added tokens are matched in the raw or normalized text; a window around the cut,
        // with room for stripped whitespace, tells whether one touches it.
        const from = Math.max(0, cut - longest - 64);
        const window = s.slice(from, cut + longest + 64);
        const re = m.pattern();
        for (let x = re.exec(window); x; x = re.exec(window)) {
          const a = from + x.index, b = a + x[0].length;
          if (a <= cut && b >= cut) touches = true;
          if (m.hasFlags && Math.abs(a - cut) < 64 || m.hasFlags && Math.abs(b - cut) < 64) {
            touches = true;
          }
        }
      }
      if (!touches) return cut;
    }
    return 0;
  }

  /** {@link Tokenizer.encode} of each text. */
  encodeBatch(texts: string[], options: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  /**
   * Token ids with each token's `[start, end)` span in `text` (UTF-16 code units). A token
   * holding part of a character's bytes spans the whole character; after normalization a
   * span covers the source characters the token's normalized text came from; a token the
   * post-processor adds spans `[0, 0)`.
   */
  encodeWithOffsets(text: string, options: EncodeOptions = {}): EncodingWithOffsets {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    const add = options.addSpecialTokens ?? true;
    if (add) {
      for (const id of this.postProcessor.single.prefix) {
        ids.push(id);
        offsets.push([0, 0]);
      }
    }
    const model = this.parts.model;
    const norm = this.parts.normalizer;
    const normAdded = this.normAdded;
    this.tokenBytes(0);
    const tokenBytes = this.tokenBytesTable!;
    const onAdded = (s: number, e: number) => (id: number) => {
      ids.push(id);
      offsets.push([s, e]);
    };
    const pieces = (a: Aligned, segStart: number, atStart: boolean) => {
      const t = a.text;
      this.pre.forEachPiece(t, (piece, pStart, inserted) => {
        // Source span (in `text`) of unit u of the piece; inserted units sit at the start.
        const srcStart = (u: number) => {
          const k = Math.min(t.length - 1, pStart + Math.max(0, u - inserted));
          return segStart + (u < inserted ? a.starts[pStart] ?? a.ends[t.length - 1] : a.starts[k]);
        };
        const srcEnd = (u: number) => {
          const k = Math.min(t.length - 1, pStart + Math.max(0, u - inserted));
          return segStart + (u < inserted ? a.starts[pStart] ?? a.ends[t.length - 1] : a.ends[k]);
        };
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
          offsets.push([srcStart(u0), srcEnd(u1)]);
        }
      }, atStart);
    };
    this.rawAdded.walk(text, (segment, segStart) => {
      let a: Aligned = identityAligned(segment);
      if (norm) a = norm.normalizeAligned(a);
      if (!normAdded) pieces(a, segStart, segStart === 0);
      else {
        normAdded.walk(a.text, (sub, subStart) => {
          const e = subStart + sub.length;
          pieces(
            {
              text: sub,
              starts: a.starts.subarray(subStart, e),
              ends: a.ends.subarray(subStart, e),
            },
            segStart,
            segStart === 0 && subStart === 0,
          );
        }, (id) => {
          ids.push(id);
          offsets.push([segStart + a.starts[0], segStart + a.ends[a.text.length - 1]]);
        });
      }
    }, (id, s, e) => onAdded(s, e)(id));
    if (add) {
      for (const id of this.postProcessor.single.suffix) {
        ids.push(id);
        offsets.push([text.length, text.length]);
      }
    }
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
    if (this.byteDecoder) return this.byteDecoder.bytes(ids, skip);
    return new TextEncoder().encode(this.decodeTokens(ids, skip));
  }

  /** The file's decoder over the token strings of `ids` (checked by the caller). */
  private decodeTokens(ids: ArrayLike<number>, skip?: (id: number) => boolean): string {
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (skip?.(ids[i])) continue;
      tokens.push(this.idToTokenTable[ids[i]]!);
    }
    return this.decoder.decode(tokens);
  }

  /**
   * Text of `ids`, through the file's decoder (as Hugging Face's `decode`). Ids that split a
   * character never throw (an incomplete character becomes U+FFFD); ids outside the
   * vocabulary throw {@link BenteviError}.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    if (this.byteDecoder) return new TextDecoder().decode(this.decodeBytes(ids, options));
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i], i);
    const skip = options.skipSpecialTokens && this.specialIds.size
      ? (id: number) => this.specialIds.has(id)
      : undefined;
    return this.decodeTokens(ids, skip);
  }

  /**
   * A decoder for ids arriving one at a time (generation): it holds the bytes of an
   * incomplete UTF-8 character until the ids that complete it arrive. The concatenated
   * output equals {@link Tokenizer.decode} of all the ids.
   */
  streamDecoder(options: DecodeOptions = {}): StreamDecoder {
    let position = 0;
    if (this.byteDecoder) {
      const td = new TextDecoder();
      const dec = this.byteDecoder;
      return {
        push: (id: number) => {
          this.checkId(id, position++);
          if (options.skipSpecialTokens && this.specialIds.has(id)) return "";
          return td.decode(dec.bytesOf(id)!, { stream: true });
        },
        flush: () => td.decode(),
      };
    }
    // Other decoders (Metaspace, ByteFallback, Strip…) act on neighbouring tokens: decode a
    // window of ids and give out what is new once it no longer ends in an incomplete character
    // (Hugging Face's DecodeStream). `emitted` is all the text given out, a prefix of the
    // decoding of all ids so far.
    let window: number[] = [];
    let prefix = "";
    let prefixIndex = 0;
    let pending = false;
    const skip = options.skipSpecialTokens;
    return {
      push: (id: number) => {
        this.checkId(id, position++);
        window.push(id);
        const text = this.decode(window, { skipSpecialTokens: skip });
        if (text.length > prefix.length && !text.endsWith("\ufffd") && text.startsWith(prefix)) {
          const fresh = text.slice(prefix.length);
          const keep = window.length - prefixIndex;
          window = window.slice(prefixIndex);
          prefix = this.decode(window, { skipSpecialTokens: skip });
          prefixIndex = keep;
          pending = false;
          return fresh;
        }
        pending = true;
        return "";
      },
      flush: () => {
        if (!pending) return "";
        pending = false;
        const text = this.decode(window, { skipSpecialTokens: skip });
        return text.startsWith(prefix) ? text.slice(prefix.length) : "";
      },
    };
  }
}

function asciiAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Where a stream may be cut for `parts` (see {@link PreTokenizer.cutKind}). */
function streamCutOf(parts: TokenizerParts, modelCutsAtSpace: boolean): "line" | "space" | "none" {
  let kind = parts.preTokenizer.cutKind;
  if (kind === "model") kind = modelCutsAtSpace ? "space" : "none";
  if (kind === "none") return "none";
  // Normalizers that act within a character cluster keep these cuts; Prepend and Strip act
  // on a text's start (skipped for a continued part); Replace only as whitespace folding or
  // SentencePiece's space → ▁ (the cut sits before a space, never inside a run).
  const ok = (n: Normalizer | undefined): boolean => {
    if (!n) return true;
    if (n instanceof SequenceNormalizer) return n.steps.every(ok);
    if (n instanceof UnicodeForm || n instanceof Lowercase || n instanceof StripAccents) {
      return true;
    }
    if (n instanceof Prepend || n instanceof Strip) {
      // Strip would take a part's final line break: only cuts before a space then.
      if (n instanceof Strip && kind === "line") kind = "space";
      return true;
    }
    if (n instanceof Replace) {
      const p = n.pattern as { String?: string; Regex?: string };
      return p.String === " " || p.Regex === FOLD_WHITESPACE_PATTERN;
    }
    return false;
  };
  return ok(parts.normalizer) ? kind : "none";
}
