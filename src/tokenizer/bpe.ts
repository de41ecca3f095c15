/**
 * The BPE model: turns one pre-tokenized piece into token ids by applying merges in rank
 * order, starting from the piece's UTF-8 bytes (byte-level). Short pieces use a simple scan,
 * long ones a heap, so a 1 MB run of punctuation stays O(n log n). Results are kept in a
 * bounded cache keyed by the piece.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { BYTE_TO_CHAR } from "./byte_level.ts";

const utf8 = new TextEncoder();

/**
 * An open-addressing hash table from a pair of ids `(a, b)` to an int (a merge rank).
 * Faster than a `Map` keyed by `a * 2^21 + b`, whose keys are not small integers.
 */
export class PairTable {
  private keysA: Int32Array;
  private keysB: Int32Array;
  private values: Int32Array;
  private mask: number;
  private shift: number;
  /** Number of pairs stored. */
  size = 0;

  constructor(expected: number) {
    let bits = 4;
    while ((1 << bits) < expected * 2) bits++;
    const cap = 1 << bits;
    this.keysA = new Int32Array(cap).fill(-1);
    this.keysB = new Int32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - bits;
  }

  private slot(a: number, b: number): number {
    return Math.imul(Math.imul(a, 0x01000193) ^ b, 0x9e3779b1) >>> this.shift;
  }

  /** The value stored for `(a, b)`, or -1. */
  get(a: number, b: number): number {
    let i = this.slot(a, b);
    const ka = this.keysA;
    for (;;) {
      const k = ka[i];
      if (k === -1) return -1;
      if (k === a && this.keysB[i] === b) return this.values[i];
      i = (i + 1) & this.mask;
    }
  }

  /**
   * Stores `value` for `(a, b)` unless the pair is already present (first one wins); returns
   * the value now stored.
   */
  setIfAbsent(a: number, b: number, value: number): number {
    if ((this.size + 1) * 2 > this.keysA.length) this.grow();
    let i = this.slot(a, b);
    for (;;) {
      const k = this.keysA[i];
      if (k === -1) {
        this.keysA[i] = a;
        this.keysB[i] = b;
        this.values[i] = value;
        this.size++;
        return value;
      }
      if (k === a && this.keysB[i] === b) return this.values[i];
      i = (i + 1) & this.mask;
    }
  }

  /** Stores `value` for `(a, b)`, replacing any value stored before. */
  set(a: number, b: number, value: number): void {
    if ((this.size + 1) * 2 > this.keysA.length) this.grow();
    let i = this.slot(a, b);
    for (;;) {
      const k = this.keysA[i];
      if (k === -1) {
        this.keysA[i] = a;
        this.keysB[i] = b;
        this.values[i] = value;
        this.size++;
        return;
      }
      if (k === a && this.keysB[i] === b) {
        this.values[i] = value;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const { keysA, keysB, values } = this;
    const bigger = new PairTable(keysA.length);
    for (let i = 0; i < keysA.length; i++) {
      if (keysA[i] !== -1) bigger.setIfAbsent(keysA[i], keysB[i], values[i]);
    }
    this.keysA = bigger.keysA;
    this.keysB = bigger.keysB;
    this.values = bigger.values;
    this.mask = bigger.mask;
    this.shift = bigger.shift;
  }
}

const HEAP_THRESHOLD = 96;
const CACHE_CAPACITY = 1 << 17;
const L1_SHIFT = 32 - 12; // 4096 entries
const CACHE_MAX_PIECE = 256;

/** Options of the BPE model as stored in `tokenizer.json`. */
export interface BpeOptions {
  /**
   * Id used for symbols missing from the vocabulary (`unk_token`); such symbols are dropped if
   * unset (as Hugging Face does without an `unk_token`).
   */
  unkId?: number;
  /** Use a piece's own vocabulary entry when it has one, before merging (Llama-3 style). */
  ignoreMerges?: boolean;
  /**
   * Byte-level (GPT-2 style, the default): a piece is seen as its UTF-8 bytes, each written as
   * one of the 256 byte characters. Otherwise (SentencePiece style) a piece is seen as its
   * characters.
   */
  byteLevel?: boolean;
  /** A character missing from the vocabulary becomes its UTF-8 bytes as `<0xXX>` tokens. */
  byteFallback?: boolean;
  /** Consecutive unknown symbols become one `unk` token (`fuse_unk`). */
  fuseUnk?: boolean;
  /** The ids of each merge's parts and result (3 per merge), when the caller resolved them. */
  mergeIds?: Int32Array;
}

/** A byte-level BPE vocabulary and merge list. */
export class BpeModel {
  /** Token string (byte-level form) → id. */
  readonly vocab: Map<string, number>;
  /** Merges in rank order, as pairs of token strings. */
  /** Merges in rank order, as pairs of token strings. */
  get merges(): [string, string][] {
    if (!this.mergeList) {
      const tok: string[] = [];
      for (const [t, i] of this.vocab) tok[i] = t;
      const ids = this.mergeIds!;
      this.mergeList = Array.from(
        { length: ids.length / 3 },
        (_, r) => [tok[ids[3 * r]], tok[ids[3 * r + 1]]] as [string, string],
      );
    }
    return this.mergeList;
  }
  private mergeList: [string, string][] | undefined;
  private readonly mergeIds: Int32Array | undefined;
  /** Id of each of the 256 bytes' tokens (-1 when missing). */
  readonly byteIds: Int32Array;
  private readonly ranks: PairTable;
  private readonly mergeResult: Int32Array;
  private cache = new Map<string, number | Int32Array>();
  private readonly l1Keys: string[] = new Array(1 << (32 - L1_SHIFT)).fill("");
  private readonly l1Values: (number | Int32Array)[] = new Array(1 << (32 - L1_SHIFT)).fill(0);
  private oldCache = new Map<string, number | Int32Array>();
  private readonly unkId: number;
  /** Whether a piece found whole in the vocabulary skips merging. */
  readonly ignoreMerges: boolean;
  /** Whether pieces are seen as UTF-8 bytes (GPT-2 style) rather than characters. */
  readonly byteLevel: boolean;
  /** Whether unknown characters fall back to `<0xXX>` byte tokens. */
  readonly byteFallback: boolean;
  /** Whether consecutive unknown symbols are fused into one `unk`. */
  readonly fuseUnk: boolean;
  /** Byte-level with all 256 byte tokens present: the fast path of {@link pieceBytes}. */
  private readonly allBytes: boolean;
  /** Id of each `<0xXX>` token (-1 when missing), for byte fallback. */
  private readonly fallbackIds: Int32Array;
  /** Id of each BMP character as a one-character token: -2 not looked up yet, -1 missing. */
  private readonly charIds = new Int32Array(65536).fill(-2);
  // Scratch space, grown on demand.
  private syms = new Int32Array(1024);

  /**
   * @param vocab token → id
   * @param merges merge list in rank order; each part and the result must be in `vocab`; may
   *   be null when `options.mergeIds` gives them (the list is then built when first asked for)
   *   (checked by the caller, see hf_json.ts)
   */
  constructor(
    vocab: Map<string, number>,
    merges: [string, string][] | null,
    options: BpeOptions = {},
  ) {
    this.vocab = vocab;
    this.mergeList = merges ?? undefined;
    this.mergeIds = options.mergeIds;
    if (!merges && !options.mergeIds) throw new BenteviError("BpeModel: no merges given");
    const count = merges ? merges.length : options.mergeIds!.length / 3;
    this.unkId = options.unkId ?? -1;
    this.ignoreMerges = options.ignoreMerges ?? false;
    this.byteLevel = options.byteLevel ?? true;
    this.byteFallback = options.byteFallback ?? false;
    this.fuseUnk = options.fuseUnk ?? false;
    this.byteIds = new Int32Array(256).fill(-1);
    this.fallbackIds = new Int32Array(256).fill(-1);
    let all = true;
    for (let b = 0; b < 256; b++) {
      const id = vocab.get(BYTE_TO_CHAR[b]);
      if (id !== undefined) this.byteIds[b] = id;
      else all = false;
      const f = vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
      if (f !== undefined) this.fallbackIds[b] = f;
    }
    this.allBytes = this.byteLevel && all;
    this.ranks = new PairTable(count);
    this.mergeResult = new Int32Array(count);
    const ids = options.mergeIds;
    for (let r = 0; r < count; r++) {
      let ia: number, ib: number;
      if (ids) {
        ia = ids[3 * r];
        ib = ids[3 * r + 1];
        this.mergeResult[r] = ids[3 * r + 2];
      } else {
        const [a, b] = merges![r];
        ia = vocab.get(a)!;
        ib = vocab.get(b)!;
        this.mergeResult[r] = vocab.get(a + b)!;
      }
      // A pair listed twice keeps its last rank, as Hugging Face's merge map does.
      this.ranks.set(ia, ib, r);
    }
  }

  /**
   * True when no token of the vocabulary has `c` right after another character (other than
   * `c`): then no merge ever joins a symbol to a following symbol that starts with `c`, so a
   * piece can be cut before such a `c` without changing its ids. Needs `c` in the vocabulary
   * (it never becomes `unk` or byte tokens).
   */
  neverJoinsBefore(c: string): boolean {
    if (!this.vocab.has(c)) return false;
    for (const t of this.vocab.keys()) {
      for (let i = t.indexOf(c, 1); i > 0; i = t.indexOf(c, i + 1)) {
        if (!t.startsWith(c, i - c.length)) return false;
      }
    }
    return true;
  }

  /** Rank of the merge `(a, b)` (ids), or -1. */
  rank(a: number, b: number): number {
    return this.ranks.get(a, b);
  }

  /** Id produced by the merge of rank `r`. */
  mergeResultId(r: number): number {
    return this.mergeResult[r];
  }

  /** Empties the word cache (to free memory, or to measure cold encoding). */
  clearCache(): void {
    this.cache.clear();
    this.oldCache.clear();
    this.l1Keys.fill("");
  }

  /**
   * Token ids of one pre-tokenized piece: a single id as a number (the common case, no
   * allocation), else an array. Cached; do not modify the result.
   */
  encodePieceFast(piece: string): number | Int32Array {
    // A small direct-mapped table in front of the Map catches the most frequent pieces with
    // a cheap hash (length and three characters) and one string comparison.
    const n = piece.length;
    const h = (Math.imul(piece.charCodeAt(0) ^ (n << 10), 0x9e3779b1) ^
      Math.imul(piece.charCodeAt(n - 1), 0x85ebca6b) ^ piece.charCodeAt(n >> 1)) >>> L1_SHIFT;
    if (this.l1Keys[h] === piece) return this.l1Values[h];
    const v = this.encodePieceCached(piece);
    this.l1Keys[h] = piece;
    this.l1Values[h] = v;
    return v;
  }

  private encodePieceCached(piece: string): number | Int32Array {
    let v = this.cache.get(piece);
    if (v !== undefined) return v;
    v = this.oldCache.get(piece);
    if (v === undefined) {
      const ids = this.encodeUncached(piece);
      v = ids.length === 1 ? ids[0] : ids;
      if (piece.length > CACHE_MAX_PIECE) return v;
    }
    // Two generations: when the young one is full it becomes the old one, so frequent pieces
    // survive (they are copied back on use) and memory stays bounded.
    if (this.cache.size >= CACHE_CAPACITY) {
      this.oldCache = this.cache;
      this.cache = new Map();
    }
    this.cache.set(piece, v);
    return v;
  }

  /** Token ids of one pre-tokenized piece (cached; do not modify the result). */
  encodePiece(piece: string): Int32Array {
    const v = this.encodePieceFast(piece);
    return typeof v === "number" ? Int32Array.of(v) : v;
  }

  /** Writes the initial symbols of `piece` into the scratch buffer; returns the count. */
  private initialSymbols(piece: string): number {
    return this.allBytes ? this.pieceBytes(piece) : this.pieceChars(this.modelText(piece));
  }

  /** The text the model sees: the piece itself, or its bytes as byte characters. */
  private modelText(piece: string): string {
    if (!this.byteLevel) return piece;
    let s = "";
    for (let i = 0; i < piece.length; i++) {
      const c = piece.charCodeAt(i);
      if (c < 0x80) s += BYTE_TO_CHAR[c];
      else if (c < 0x800) s += BYTE_TO_CHAR[0xc0 | (c >> 6)] + BYTE_TO_CHAR[0x80 | (c & 63)];
      else {
        // Three- and four-byte characters (a lone surrogate as U+FFFD) via the encoder.
        const lo = piece.charCodeAt(i + 1);
        const pair = c >= 0xd800 && c <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff;
        for (const b of utf8.encode(piece.slice(i, pair ? i + 2 : i + 1))) s += BYTE_TO_CHAR[b];
        if (pair) i++;
      }
    }
    return s;
  }

  /** Id of the one-character token `ch` (code point `cp`), or -1. */
  private charId(cp: number, ch: string): number {
    if (cp < 65536) {
      let id = this.charIds[cp];
      if (id === -2) id = this.charIds[cp] = this.vocab.get(ch) ?? -1;
      return id;
    }
    return this.vocab.get(ch) ?? -1;
  }

  /**
   * Initial symbols of `text` character by character, as Hugging Face's BPE `merge_word`: a
   * character missing from the vocabulary becomes its `<0xXX>` byte tokens (byte fallback,
   * when all exist), else `unk` (consecutive ones fused with `fuse_unk`), else nothing.
   */
  private pieceChars(text: string): number {
    const need = text.length * 4 + 1;
    if (this.syms.length < need) this.syms = new Int32Array(need * 2);
    const syms = this.syms;
    let n = 0;
    let pendingUnk = false;
    for (let i = 0; i < text.length; i++) {
      let cp = text.charCodeAt(i);
      let ch: string;
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (d - 0xdc00);
          ch = text.slice(i, i + 2);
          i++;
        } else ch = text[i];
      } else ch = text[i];
      const id = this.charId(cp, ch);
      if (id >= 0) {
        if (pendingUnk) {
          syms[n++] = this.unkId;
          pendingUnk = false;
        }
        syms[n++] = id;
        continue;
      }
      if (this.byteFallback) {
        const bytes = cp < 0x80 ? [cp] : utf8.encode(ch);
        let ok = true;
        for (const b of bytes) if (this.fallbackIds[b] < 0) ok = false;
        if (ok) {
          // As Hugging Face: byte tokens go in without first emitting a pending unk.
          for (const b of bytes) syms[n++] = this.fallbackIds[b];
          continue;
        }
      }
      if (this.unkId >= 0) {
        if (pendingUnk && !this.fuseUnk) syms[n++] = this.unkId;
        pendingUnk = true;
      }
    }
    if (pendingUnk) syms[n++] = this.unkId;
    return n;
  }

  /** Writes the initial byte symbols of `piece` into the scratch buffer; returns the count. */
  private pieceBytes(piece: string): number {
    const need = piece.length * 3;
    if (this.syms.length < need) this.syms = new Int32Array(need * 2);
    const syms = this.syms;
    const byteIds = this.byteIds;
    let n = 0;
    const push = (b: number) => {
      const id = byteIds[b];
      if (id >= 0) syms[n++] = id;
      else if (this.unkId >= 0) syms[n++] = this.unkId;
    };
    for (let i = 0; i < piece.length; i++) {
      let c = piece.charCodeAt(i);
      if (c < 0x80) {
        push(c);
        continue;
      }
      if (c < 0x800) {
        push(0xc0 | (c >> 6));
        push(0x80 | (c & 63));
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < piece.length ? piece.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          push(0xf0 | (c >> 18));
          push(0x80 | ((c >> 12) & 63));
          push(0x80 | ((c >> 6) & 63));
          push(0x80 | (c & 63));
          continue;
        }
        c = 0xfffd; // lone surrogate: encoded as U+FFFD, as TextEncoder does
      }
      push(0xe0 | (c >> 12));
      push(0x80 | ((c >> 6) & 63));
      push(0x80 | (c & 63));
    }
    return n;
  }

  private encodeUncached(piece: string): Int32Array {
    if (piece.length === 0) return new Int32Array(0);
    if (this.ignoreMerges) {
      const whole = this.vocab.get(this.modelText(piece));
      if (whole !== undefined) return Int32Array.of(whole);
    }
    let n = this.initialSymbols(piece);
    const syms = this.syms;
    if (n > HEAP_THRESHOLD) return this.mergeWithHeap(n);
    const ranks = this.ranks;
    // One merge at a time, the lowest rank first and the leftmost among equals: exactly the
    // order of Hugging Face's priority queue, even where a merge's result takes part in a
    // lower-ranked merge (converted vocabularies such as Llama-3's have such merges).
    while (n > 1) {
      let best = 0x7fffffff;
      let at = -1;
      for (let i = 0; i < n - 1; i++) {
        const r = ranks.get(syms[i], syms[i + 1]);
        if (r >= 0 && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      syms[at] = this.mergeResult[best];
      syms.copyWithin(at + 1, at + 2, n);
      n--;
    }
    return syms.slice(0, n);
  }

  /**
   * The merges applied to `piece`, in order (for `tokenizer inspect`): each step names the
   * merged pair, its rank and the symbols after it. Not cached; for teaching, not speed.
   */
  trace(
    piece: string,
  ): { steps: { rank: number; pair: [number, number]; ids: number[] }[]; bytes: number[] } {
    let n = this.initialSymbols(piece);
    const syms = Array.from(this.syms.subarray(0, n));
    const bytes = syms.slice();
    const steps: { rank: number; pair: [number, number]; ids: number[] }[] = [];
    for (;;) {
      let best = 0x7fffffff;
      let at = -1;
      for (let i = 0; i < n - 1; i++) {
        const r = this.ranks.get(syms[i], syms[i + 1]);
        if (r >= 0 && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      const a = syms[at];
      const b = syms[at + 1];
      syms.splice(at, 2, this.mergeResult[best]);
      n = syms.length;
      steps.push({ rank: best, pair: [a, b], ids: syms.slice() });
    }
    return { steps, bytes };
  }

  /** Leftmost-lowest-rank merging with a binary heap over a linked list (long pieces). */
  private mergeWithHeap(n: number): Int32Array {
    const sym = this.syms.slice(0, n);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Heap of (rank, position) packed as rank * 2^26 + position (positions < 2^26).
    const heap: number[] = [];
    const SCALE = 67108864;
    if (n >= SCALE) {
      throw new BenteviError(
        `a piece of ${n} symbols is too long for BPE (at most ${
          SCALE - 1
        }); pre-tokenize or cut the text`,
      );
    }
    const push = (v: number) => {
      let i = heap.length;
      heap.push(v);
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heap[p] <= v) break;
        heap[i] = heap[p];
        i = p;
      }
      heap[i] = v;
    };
    const pop = (): number => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length) {
        let i = 0;
        const len = heap.length;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= len) break;
          const r = l + 1;
          const c = r < len && heap[r] < heap[l] ? r : l;
          if (heap[c] >= last) break;
          heap[i] = heap[c];
          i = c;
        }
        heap[i] = last;
      }
      return top;
    };
    for (let i = 0; i + 1 < n; i++) {
      const r = this.ranks.get(sym[i], sym[i + 1]);
      if (r >= 0) push(r * SCALE + i);
    }
    while (heap.length) {
      const v = pop();
      const r = Math.floor(v / SCALE);
      const i = v - r * SCALE;
      if (sym[i] < 0) continue; // removed
      const j = next[i];
      if (j < 0 || this.ranks.get(sym[i], sym[j]) !== r) continue; // stale
      sym[i] = this.mergeResult[r];
      sym[j] = -1;
      const k = next[j];
      next[i] = k;
      if (k >= 0) prev[k] = i;
      const p = prev[i];
      if (p >= 0) {
        const rp = this.ranks.get(sym[p], sym[i]);
        if (rp >= 0) push(rp * SCALE + p);
      }
      if (k >= 0) {
        const rk = this.ranks.get(sym[i], sym[k]);
        if (rk >= 0) push(rk * SCALE + i);
      }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
    return Int32Array.from(out);
  }
}
