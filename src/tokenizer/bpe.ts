/**
 * The BPE model: turns one pre-tokenized piece into token ids by applying merges in rank
 * order, starting from the piece's UTF-8 bytes (byte-level). Short pieces use a simple scan,
 * long ones a heap, so a 1 MB run of punctuation stays O(n log n). Results are kept in a
 * bounded cache keyed by the piece.
 *
 * @module
 */
import { BYTE_TO_CHAR } from "./byte_level.ts";

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
  /** Id used for bytes missing from the vocabulary (`unk_token`); such bytes are dropped if unset. */
  unkId?: number;
  /** Use a piece's own vocabulary entry when it has one, before merging (Llama-3 style). */
  ignoreMerges?: boolean;
}

/** A byte-level BPE vocabulary and merge list. */
export class BpeModel {
  /** Token string (byte-level form) → id. */
  readonly vocab: Map<string, number>;
  /** Merges in rank order, as pairs of token strings. */
  readonly merges: [string, string][];
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
  // Scratch space, grown on demand.
  private syms = new Int32Array(1024);

  /**
   * @param vocab token → id
   * @param merges merge list in rank order; each part and the result must be in `vocab`
   *   (checked by the caller, see hf_json.ts)
   */
  constructor(vocab: Map<string, number>, merges: [string, string][], options: BpeOptions = {}) {
    this.vocab = vocab;
    this.merges = merges;
    this.unkId = options.unkId ?? -1;
    this.ignoreMerges = options.ignoreMerges ?? false;
    this.byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const id = vocab.get(BYTE_TO_CHAR[b]);
      if (id !== undefined) this.byteIds[b] = id;
    }
    this.ranks = new PairTable(merges.length);
    this.mergeResult = new Int32Array(merges.length);
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = merges[r];
      const ia = vocab.get(a)!;
      const ib = vocab.get(b)!;
      this.mergeResult[r] = vocab.get(a + b)!;
      this.ranks.setIfAbsent(ia, ib, r);
    }
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
    let n = this.pieceBytes(piece);
    const syms = this.syms;
    if (this.ignoreMerges) {
      let s = "";
      for (let i = 0; i < n; i++) s += this.tokenOfId(syms[i]);
      const whole = this.vocab.get(s);
      if (whole !== undefined) return Int32Array.of(whole);
    }
    if (n > HEAP_THRESHOLD) return this.mergeWithHeap(n);
    const ranks = this.ranks;
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
      const a = syms[at];
      const b = syms[at + 1];
      const merged = this.mergeResult[best];
      let w = at;
      for (let i = at; i < n;) {
        if (i + 1 < n && syms[i] === a && syms[i + 1] === b) {
          syms[w++] = merged;
          i += 2;
        } else syms[w++] = syms[i++];
      }
      n = w;
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
    let n = this.pieceBytes(piece);
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
      const merged = this.mergeResult[best];
      const out: number[] = [];
      for (let i = 0; i < n;) {
        if (i + 1 < n && syms[i] === a && syms[i + 1] === b) {
          out.push(merged);
          i += 2;
        } else out.push(syms[i++]);
      }
      syms.length = 0;
      syms.push(...out);
      n = syms.length;
      steps.push({ rank: best, pair: [a, b], ids: out });
    }
    return { steps, bytes };
  }

  private idToTokenCache: string[] | undefined;
  private tokenOfId(id: number): string {
    if (!this.idToTokenCache) {
      this.idToTokenCache = [];
      for (const [t, i] of this.vocab) this.idToTokenCache[i] = t;
    }
    return this.idToTokenCache[id] ?? "";
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
