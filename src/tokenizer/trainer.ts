/**
 * Training a BPE, streaming: the corpus is read in chunks, split into lines, normalized and
 * pre-tokenized, and only the counts of distinct pieces are kept. Merges are then learned with
 * incremental pair counts: each pair knows the words it occurs in, a max-heap (lazily
 * corrected) gives the most frequent pair, and a merge only touches the words that contain it
 * — never a recount. Ties break on the pair's ids, so the result is deterministic and the same
 * as Hugging Face's `BpeTrainer` on the same pieces. Two styles share all of this: byte-level
 * (GPT-2: the 256 bytes as the alphabet) and SentencePiece (Llama-2: `▁` words, characters as
 * the alphabet, byte fallback; its own parts are in `sentencepiece.ts`).
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { type Progress, silentProgress } from "../progress.ts";
import type { TextEncoding } from "../text/encoding.ts";
import { listInputFiles } from "../text/inputs.ts";
import { BYTE_ALPHABET, BYTE_TO_CHAR } from "./byte_level.ts";
import { BpeModel, PairTable } from "./bpe.ts";
import type { CountReply, CountRequest } from "./count_worker.ts";
import {
  type CountOptions,
  countSegments,
  PieceCounter,
  type PieceCounts,
  splitSegments,
} from "./counter.ts";
import type { AddedToken } from "./hf_json.ts";
import { normalizerFromSpec } from "./normalizer.ts";
import { PreTokenizer } from "./pre_tokenizer.ts";
import { Tokenizer } from "./tokenizer.ts";
import { SPM_BASE_SPECIALS, spmInitialSymbols, spmTokenizerJson } from "./sentencepiece.ts";

/** The special tokens a trained tokenizer gets unless told otherwise.
 *
 * @example
 * ```ts
 * import { DEFAULT_SPECIAL_TOKENS } from "./mod.ts";
 * console.log(DEFAULT_SPECIAL_TOKENS.indexOf("[EOS]")); // 3
 * ```
 */
export const DEFAULT_SPECIAL_TOKENS: readonly string[] = [
  "[PAD]",
  "[UNK]",
  "[BOS]",
  "[EOS]",
  "[SEP]",
  "<|system|>",
  "<|user|>",
  "<|assistant|>",
];

/** The special tokens a SentencePiece-style tokenizer gets after `<unk>`, `<s>`, `</s>`. */
export const SPM_DEFAULT_EXTRA_SPECIALS: readonly string[] = [
  "<|system|>",
  "<|user|>",
  "<|assistant|>",
];

/**
 * Options of {@link trainTokenizer} (exported from mod.ts as `TokenizerTrainOptions`, since
 * the model trainer's options are `TrainOptions`).
 */
export interface TrainOptions {
  /**
   * Final vocabulary size: special tokens + 256 bytes (+ the alphabet for `sentencepiece`) +
   * merges.
   */
  vocabSize: number;
  /**
   * `byte-level` (default; GPT-2's design) or `sentencepiece` (Llama-2's: words start with
   * `▁`, characters are the alphabet, others fall back to `<0xNN>` byte tokens; the specials
   * are `<unk>`, `<s>`, `</s>` then `specialTokens`, by default the chat tokens).
   */
  style?: "byte-level" | "sentencepiece";
  /**
   * `sentencepiece` only: the share of the corpus's characters the alphabet covers (the most
   * frequent characters first; default 0.9995, `spm_train`'s `character_coverage`).
   */
  characterCoverage?: number;
  /** Stop when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  /** Special tokens, ids 0… in this order (default {@link DEFAULT_SPECIAL_TOKENS}). */
  specialTokens?: string[];
  /** Longest token, in bytes (`sentencepiece`: in characters; default: unlimited). */
  maxTokenLength?: number;
  /**
   * Normalization, recorded in the file: `none` (default), `nfc`, `nfkc`, `ptbr` (NFC,
   * lowercase, spaces folded), `ptbr-ascii` (also strips accents), or steps joined by commas
   * (`nfc,lowercase,strip-accents,fold-whitespace`).
   */
  normalize?: string;
  /** Encoding of input files (default `utf-8`; `latin1` is ISO-8859-1; see `parseEncoding`). */
  encoding?: TextEncoding;
  /** Pre-tokenizer regex of the byte-level style: GPT-2's (default) or GPT-4's (cl100k). */
  preTokenizer?: "gpt2" | "gpt4";
  /** Workers counting file input in parallel (default 1: the main thread only). */
  workers?: number;
  /**
   * Called once after counting file inputs with the number of NUL characters (U+0000) that
   * were left out of the text (only when there were some): NULs are stray bytes of binary or
   * UTF-16 data, never text to learn.
   */
  onNul?: (count: number) => void;
}

export type { PieceCounts };

/** Files smaller than this in total are counted on the main thread even when workers > 1. */
const MIN_BYTES_PER_WORKER = 1 << 20;

class MaxHeap {
  count = new Float64Array(1 << 16);
  pair = new Int32Array(1 << 16);
  size = 0;
  constructor(private readonly pa: Int32Array[], private readonly pb: Int32Array[]) {}
  private a(p: number): number {
    return this.pa[0][p];
  }
  private b(p: number): number {
    return this.pb[0][p];
  }
  // i before j: higher count, then smaller (a, b).
  private before(ci: number, pi: number, cj: number, pj: number): boolean {
    if (ci !== cj) return ci > cj;
    const ai = this.a(pi), aj = this.a(pj);
    if (ai !== aj) return ai < aj;
    return this.b(pi) < this.b(pj);
  }
  push(c: number, p: number): void {
    if (this.size === this.count.length) {
      const nc = new Float64Array(this.size * 2);
      nc.set(this.count);
      this.count = nc;
      const np = new Int32Array(this.size * 2);
      np.set(this.pair);
      this.pair = np;
    }
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(c, p, this.count[parent], this.pair[parent])) break;
      this.count[i] = this.count[parent];
      this.pair[i] = this.pair[parent];
      i = parent;
    }
    this.count[i] = c;
    this.pair[i] = p;
  }
  /** Removes the top; its count and pair are in `topCount`/`topPair`. */
  topCount = 0;
  topPair = 0;
  pop(): void {
    this.topCount = this.count[0];
    this.topPair = this.pair[0];
    const n = --this.size;
    const c = this.count[n];
    const p = this.pair[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let k = l;
      if (r < n && this.before(this.count[r], this.pair[r], this.count[l], this.pair[l])) k = r;
      if (!this.before(this.count[k], this.pair[k], c, p)) break;
      this.count[i] = this.count[k];
      this.pair[i] = this.pair[k];
      i = k;
    }
    this.count[i] = c;
    this.pair[i] = p;
  }
}

async function countWithWorkers(
  files: { path: string; size: number }[],
  options: CountOptions,
  encoding: TextEncoding,
  workers: number,
  onBytes: (n: number) => void,
  onNul: (count: number) => void,
): Promise<PieceCounts> {
  const parts = splitSegments(files, workers);
  const started: Worker[] = [];
  try {
    const results = await Promise.all(
      parts.map((segments) =>
        new Promise<{ pieces: string[]; counts: Float64Array; nul: number }>((resolve, reject) => {
          const w = new Worker(new URL("./count_worker.ts", import.meta.url).href, {
            type: "module",
          });
          started.push(w);
          w.onmessage = (e: MessageEvent<CountReply>) => {
            const m = e.data;
            if (m.type === "progress") onBytes(m.bytes);
            else if (m.type === "done") resolve(m);
            else reject(m.user ? new BenteviError(m.message) : new Error(m.message));
          };
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`counting worker failed: ${e.message}`));
          };
          w.postMessage({ segments, options, encoding } satisfies CountRequest);
        })
      ),
    );
    const counts: PieceCounts = new Map();
    for (const r of results) {
      if (r.nul) onNul(r.nul);
      for (let i = 0; i < r.pieces.length; i++) {
        const p = r.pieces[i];
        counts.set(p, (counts.get(p) ?? 0) + r.counts[i]);
      }
    }
    return counts;
  } finally {
    for (const w of started) w.terminate();
  }
}

/**
 * Counts the pre-tokenized pieces of `inputs` (file/folder paths or an async iterable of
 * texts), line by line, as Hugging Face's trainer does. A text file is one continuous text; in
 * `.jsonl`/`.ndjson` files (what `wiki` writes) each record's `"text"` is one text, counted
 * exactly as the same string yielded by an async iterable. With `workers > 1`, files are split
 * into that many runs of lines (whole records) counted in parallel Workers (the counts are
 * the same).
 *
 * @example
 * ```ts
 * import { countPieces } from "./mod.ts";
 * async function* texts() {
 *   yield "o bem-te-vi e o bem-te-vi\n";
 * }
 * const counts = await countPieces(texts(), {});
 * console.log(counts.get(" bem")); // 1
 * ```
 */
export async function countPieces(
  inputs: string[] | AsyncIterable<string>,
  options: Pick<
    TrainOptions,
    "normalize" | "encoding" | "preTokenizer" | "specialTokens" | "workers" | "onNul" | "style"
  >,
  progress: Progress = silentProgress,
): Promise<PieceCounts> {
  const countOptions: CountOptions = {
    normalize: options.normalize,
    preTokenizer: options.preTokenizer,
    specialTokens: trainingSpecials(options),
    style: options.style,
  };
  const empty = () => new BenteviError("empty corpus: the inputs contain no text to train on");
  if (Array.isArray(inputs)) {
    const files = await listInputFiles(inputs);
    const total = files.reduce((s, f) => s + f.size, 0);
    const encoding = options.encoding ?? "utf-8";
    progress.start("counting", Math.max(1, Math.round(total / 1e6 * 10) / 10), "MB");
    let done = 0;
    const onBytes = (n: number) => {
      done += n;
      progress.update(Math.round(done / 1e5) / 10);
    };
    const workers = Math.max(1, Math.floor(options.workers ?? 1));
    let nul = 0;
    const onNul = (n: number) => nul += n;
    let counts: PieceCounts;
    let parallel: PieceCounts | undefined;
    if (workers > 1 && total >= MIN_BYTES_PER_WORKER * 2) {
      try {
        parallel = await countWithWorkers(
          files,
          countOptions,
          encoding,
          Math.min(workers, Math.floor(total / MIN_BYTES_PER_WORKER)),
          onBytes,
          onNul,
        );
      } catch (e) {
        // Bad input is reported as such; a Worker that cannot start (e.g. a compiled binary
        // built without the worker module) falls back to counting on this thread.
        if (e instanceof BenteviError) throw e;
        done = 0;
        nul = 0;
      }
    }
    if (parallel) counts = parallel;
    else {
      const counter = new PieceCounter(countOptions);
      await countSegments(
        files.map((f) => ({ path: f.path, start: 0, end: f.size })),
        counter,
        encoding,
        onBytes,
        onNul,
      );
      counts = counter.counts;
    }
    if (nul > 0) options.onNul?.(nul);
    if (counts.size === 0) throw empty();
    progress.end(`${(total / 1e6).toFixed(1)} MB, ${counts.size} distinct pieces`);
    return counts;
  }
  progress.start("counting", undefined, "texts");
  const counter = new PieceCounter(countOptions);
  let n = 0;
  for await (const text of inputs) {
    if (typeof text !== "string") throw new BenteviError("training input must yield strings");
    counter.push(text);
    counter.end();
    progress.update(++n);
  }
  if (counter.counts.size === 0) throw empty();
  progress.end(`${n} texts, ${counter.counts.size} distinct pieces`);
  return counter.counts;
}

/** The special tokens of a training run, in id order (see {@link TrainOptions.style}). */
export function trainingSpecials(options: Pick<TrainOptions, "style" | "specialTokens">): string[] {
  if (options.style === "sentencepiece") {
    const extra = options.specialTokens ?? [...SPM_DEFAULT_EXTRA_SPECIALS];
    return [...SPM_BASE_SPECIALS, ...extra.filter((t) => !SPM_BASE_SPECIALS.includes(t))];
  }
  return options.specialTokens ?? [...DEFAULT_SPECIAL_TOKENS];
}

function checkSpecials(specials: string[]): void {
  if (new Set(specials).size !== specials.length) {
    throw new BenteviError("special tokens must be distinct");
  }
  if (specials.some((s) => s.length === 0)) {
    throw new BenteviError("special tokens must not be empty");
  }
}

/** The smallest vocabulary a style allows before counting (the alphabet is not known yet). */
function checkVocabSize(options: TrainOptions, specials: string[]): void {
  const base = specials.length + 256;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < base) {
    const what = options.style === "sentencepiece"
      ? `the 256 byte-fallback tokens plus ${specials.length} special tokens`
      : `the 256-byte alphabet plus ${specials.length} special tokens`;
    throw new BenteviError(
      `vocab size ${options.vocabSize} is smaller than ${what}; use --vocab-size ${base} or more`,
    );
  }
}

/**
 * The merge loop shared by both styles: starting from `tokens` (extended in place; `lengths`
 * with them) and the words as symbol ids, merges the most frequent pair until the vocabulary
 * has `vocabSize` tokens or no pair occurs `minFrequency` times. Returns the merges in order.
 */
function mergePairs(
  tokens: string[],
  lengths: number[],
  words: Int32Array[],
  wordCount: Float64Array,
  options: { vocabSize: number; minFrequency: number; maxLen: number; base: number },
  progress: Progress,
): [string, string][] {
  const { vocabSize, minFrequency, maxLen, base } = options;
  const tokenIds = new Map<string, number>();
  tokens.forEach((t, i) => tokenIds.set(t, i));
  const add = (t: string, len: number) => {
    tokenIds.set(t, tokens.length);
    tokens.push(t);
    lengths.push(len);
  };
  const nWords = words.length;
  const wordLen = new Int32Array(nWords);
  for (let i = 0; i < nWords; i++) wordLen[i] = words[i].length;

  // Pairs: dense ids through a hash table; counts, word lists and (a, b) per pair id.
  const pairIds = new PairTable(1 << 16);
  let nPairs = 0;
  let pairA = new Int32Array(1 << 16);
  let pairB = new Int32Array(1 << 16);
  let pairCount = new Float64Array(1 << 16);
  let pairStamp = new Int32Array(1 << 16);
  const pairWords: number[][] = [];
  const pa = [pairA];
  const pb = [pairB];
  const pairOf = (a: number, b: number): number => {
    const p = pairIds.setIfAbsent(a, b, nPairs);
    if (p === nPairs) {
      if (nPairs === pairA.length) {
        const grow = <T extends Int32Array | Float64Array>(x: T): T => {
          const y = new (x.constructor as { new (n: number): T })(x.length * 2);
          y.set(x);
          return y;
        };
        pairA = grow(pairA);
        pairB = grow(pairB);
        pairCount = grow(pairCount);
        pairStamp = grow(pairStamp);
        pa[0] = pairA;
        pb[0] = pairB;
      }
      pairA[p] = a;
      pairB[p] = b;
      pairWords.push([]);
      nPairs++;
    }
    return p;
  };
  for (let i = 0; i < nWords; i++) {
    const s = words[i];
    const c = wordCount[i];
    for (let k = 0; k + 1 < s.length; k++) {
      if (lengths[s[k]] + lengths[s[k + 1]] > maxLen) continue;
      const p = pairOf(s[k], s[k + 1]);
      pairCount[p] += c;
      const list = pairWords[p];
      if (list[list.length - 1] !== i) list.push(i);
    }
  }
  const heap = new MaxHeap(pa, pb);
  for (let p = 0; p < nPairs; p++) if (pairCount[p] > 0) heap.push(pairCount[p], p);

  const merges: [string, string][] = [];
  const wordStamp = new Int32Array(nWords).fill(-1);
  const touched: number[] = [];
  const target = vocabSize - tokens.length;
  progress.start("merging", Math.max(0, target), "merges");
  let iter = 0;
  while (tokens.length < vocabSize && heap.size > 0) {
    heap.pop();
    const top = heap.topPair;
    const current = pairCount[top];
    if (heap.topCount !== current) {
      if (current > 0) heap.push(current, top);
      continue;
    }
    if (current < 1 || current < minFrequency) break;
    const a = pairA[top];
    const b = pairB[top];
    const merged = tokens[a] + tokens[b];
    let id = tokenIds.get(merged);
    if (id === undefined) {
      id = tokens.length;
      add(merged, lengths[a] + lengths[b]);
    }
    merges.push([tokens[a], tokens[b]]);
    const newLen = lengths[id];
    iter++;
    touched.length = 0;
    const change = (x: number, y: number, delta: number, word: number) => {
      const p = pairOf(x, y);
      pairCount[p] += delta;
      if (delta > 0) {
        const list = pairWords[p];
        if (list[list.length - 1] !== word) list.push(word);
        if (pairStamp[p] !== iter) {
          pairStamp[p] = iter;
          touched.push(p);
        }
      }
    };
    for (const wi of pairWords[top]) {
      if (wordStamp[wi] === iter) continue;
      wordStamp[wi] = iter;
      const s = words[wi];
      const n = wordLen[wi];
      const c = wordCount[wi];
      let out = 0;
      for (let i = 0; i < n;) {
        if (i + 1 < n && s[i] === a && s[i + 1] === b) {
          if (out > 0) {
            const prev = s[out - 1];
            if (lengths[prev] + lengths[a] <= maxLen) change(prev, a, -c, wi);
            if (lengths[prev] + newLen <= maxLen) change(prev, id, c, wi);
          }
          if (i + 2 < n) {
            const next = s[i + 2];
            if (lengths[b] + lengths[next] <= maxLen) change(b, next, -c, wi);
            if (newLen + lengths[next] <= maxLen) change(id, next, c, wi);
          }
          s[out++] = id;
          i += 2;
        } else s[out++] = s[i++];
      }
      wordLen[wi] = out;
    }
    pairCount[top] = 0;
    pairWords[top] = [];
    for (const p of touched) if (pairCount[p] > 0) heap.push(pairCount[p], p);
    if ((merges.length & 255) === 0) progress.update(tokens.length - base, `count ${current}`);
  }
  progress.end(`${merges.length} merges, vocabulary ${tokens.length}`);
  return merges;
}

/**
 * Learns merges from piece counts and builds the tokenizer (byte-level ids: special tokens,
 * the 256 byte tokens in code-point order, then merge results in merge order; SentencePiece
 * ids: see {@link learnMergesJson}).
 *
 * @example
 * ```ts
 * import { countPieces, learnMerges } from "./mod.ts";
 * async function* texts() {
 *   yield "ana ana ana\n";
 * }
 * const counts = await countPieces(texts(), {});
 * const tok = learnMerges(counts, { vocabSize: 270, minFrequency: 1 });
 * console.log(tok.encode(" ana").length); // 1
 * ```
 */
export function learnMerges(
  counts: PieceCounts,
  options: TrainOptions,
  progress: Progress = silentProgress,
): Tokenizer {
  if (options.style === "sentencepiece") {
    return Tokenizer.fromJSON(learnMergesJson(counts, options, progress), "trained tokenizer");
  }
  const specials = trainingSpecials(options);
  checkSpecials(specials);
  checkVocabSize(options, specials);
  if (counts.size === 0) {
    throw new BenteviError("empty corpus: the inputs contain no text to train on");
  }
  // Vocabulary: specials, then the 256 byte tokens; words as byte-token ids.
  const tokens: string[] = [...specials];
  const lengths: number[] = specials.map((s) => new TextEncoder().encode(s).length);
  const specialSet = new Set(specials);
  for (const c of BYTE_ALPHABET) {
    if (specialSet.has(c)) {
      throw new BenteviError(`special token ${JSON.stringify(c)} collides with a byte token`);
    }
    tokens.push(c);
    lengths.push(1);
  }
  const byteId = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    byteId[b] = specials.length + BYTE_ALPHABET.indexOf(BYTE_TO_CHAR[b]);
  }
  const words: Int32Array[] = new Array(counts.size);
  const wordCount = new Float64Array(counts.size);
  const enc = new TextEncoder();
  let w = 0;
  for (const [piece, c] of counts) {
    const bytes = enc.encode(piece);
    const s = new Int32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) s[i] = byteId[bytes[i]];
    words[w] = s;
    wordCount[w++] = c;
  }
  const merges = mergePairs(tokens, lengths, words, wordCount, {
    vocabSize: options.vocabSize,
    minFrequency: options.minFrequency ?? 2,
    maxLen: options.maxTokenLength ?? Infinity,
    base: specials.length + 256,
  }, progress);

  const vocab = new Map<string, number>();
  tokens.forEach((t, i) => vocab.set(t, i));
  const addedTokens: AddedToken[] = specials.map((content, id) => ({
    id,
    content,
    special: true,
    normalized: false,
  }));
  const normalizer = normalizerFromSpec(options.normalize);
  const preTokenizer = options.preTokenizer === "gpt4" ? PreTokenizer.gpt4() : PreTokenizer.gpt2();
  return new Tokenizer({
    normalizer,
    preTokenizer,
    model: new BpeModel(vocab, merges),
    addedTokens,
  });
}

/**
 * Learns merges from piece counts and returns the Hugging Face `tokenizer.json` object. For the
 * SentencePiece style the ids are: `<unk>`, `<s>`, `</s>` and the other special tokens, the
 * byte-fallback tokens `<0x00>`…`<0xFF>`, the alphabet (by code point), then merge results in
 * merge order.
 *
 * @example
 * ```ts
 * import { countPieces, learnMergesJson } from "./mod.ts";
 * async function* texts() {
 *   yield "ana ana ana\n";
 * }
 * const style = "sentencepiece";
 * const counts = await countPieces(texts(), { style });
 * const json = learnMergesJson(counts, { style, vocabSize: 270, minFrequency: 1 });
 * console.log((json.model as { merges: string[][] }).merges[0]); // ["▁", "a"]
 * ```
 */
export function learnMergesJson(
  counts: PieceCounts,
  options: TrainOptions,
  progress: Progress = silentProgress,
): Record<string, unknown> {
  if (options.style !== "sentencepiece") {
    return learnMerges(counts, options, progress).toJSON() as Record<string, unknown>;
  }
  const specials = trainingSpecials(options);
  checkSpecials(specials);
  checkVocabSize(options, specials);
  if (counts.size === 0) {
    throw new BenteviError("empty corpus: the inputs contain no text to train on");
  }
  const init = spmInitialSymbols(counts, specials, options.characterCoverage ?? 0.9995);
  if (init.tokens.length > options.vocabSize) {
    throw new BenteviError(
      `vocab size ${options.vocabSize} is smaller than the ${specials.length} special tokens, ` +
        `256 byte-fallback tokens and ${
          init.tokens.length - specials.length - 256
        } characters of the alphabet; use --vocab-size ${init.tokens.length} or more, or a lower --character-coverage`,
    );
  }
  const merges = mergePairs(init.tokens, init.lengths, init.words, init.counts, {
    vocabSize: options.vocabSize,
    minFrequency: options.minFrequency ?? 2,
    maxLen: options.maxTokenLength ?? Infinity,
    base: init.tokens.length,
  }, progress);
  return spmTokenizerJson(init.tokens, merges, specials, options.normalize);
}

/**
 * Trains a BPE tokenizer (byte-level, or SentencePiece-style with `style: "sentencepiece"`) on
 * `inputs`: file or folder paths (read streaming; in `.jsonl` files only the records'
 * `"text"` is learned from) or an async iterable of texts. Deterministic: the same corpus and
 * options give the same file.
 *
 * @example
 * ```ts
 * import { trainTokenizer } from "./mod.ts";
 * async function* corpus() {
 *   yield "Capitu tinha olhos de ressaca.\n";
 * }
 * const tok = await trainTokenizer(corpus(), { vocabSize: 280, minFrequency: 1 });
 * console.log(tok.vocabSize); // 280 (8 specials + 256 bytes + 16 merges)
 * ```
 */
export async function trainTokenizer(
  inputs: string[] | AsyncIterable<string>,
  options: TrainOptions,
  progress: Progress = silentProgress,
): Promise<Tokenizer> {
  checkBeforeCounting(options);
  const counts = await countPieces(inputs, options, progress);
  return learnMerges(counts, options, progress);
}

/** Fails early, before a long count, on options that cannot work. */
function checkBeforeCounting(options: TrainOptions): void {
  const specials = trainingSpecials(options);
  checkSpecials(specials);
  checkVocabSize(options, specials);
  normalizerFromSpec(options.normalize); // a bad spec
  const coverage = options.characterCoverage ?? 0.9995;
  if (!(coverage > 0 && coverage <= 1)) {
    throw new BenteviError(`character coverage must be in (0, 1], got ${coverage}`);
  }
}

/**
 * {@link trainTokenizer}, returning the Hugging Face `tokenizer.json` object instead of a
 * loaded tokenizer (what `tokenizer train` writes).
 *
 * @example
 * ```ts
 * import { trainTokenizerJson } from "./mod.ts";
 * async function* corpus() {
 *   yield "Capitu tinha olhos de ressaca.\n";
 * }
 * const json = await trainTokenizerJson(corpus(), { style: "sentencepiece", vocabSize: 300 });
 * console.log((json.pre_tokenizer as { type: string }).type); // "Metaspace"
 * ```
 */
export async function trainTokenizerJson(
  inputs: string[] | AsyncIterable<string>,
  options: TrainOptions,
  progress: Progress = silentProgress,
): Promise<Record<string, unknown>> {
  checkBeforeCounting(options);
  const counts = await countPieces(inputs, options, progress);
  return learnMergesJson(counts, options, progress);
}
