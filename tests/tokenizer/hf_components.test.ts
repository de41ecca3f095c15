// Every tokenizer.json component Bentevi reads, checked against Hugging Face `tokenizers` (npm)
// on small files built here: normalizers, pre-tokenizers (Metaspace schemes, Split behaviors,
// ByteLevel options, Sequence), BPE options (byte fallback, unk, fuse_unk, ignore_merges,
// merges as strings or pairs), added-token flags, decoders and TemplateProcessing. Each
// variant must give the same ids (with and without the template) and the same decoded text.
import assert from "node:assert/strict";
import { Tokenizer, trainTokenizer } from "../../src/tokenizer/mod.ts";
import { CORPUS, randomText } from "./_helpers.ts";
import { hfOnce } from "./_peers.ts";

type Json = Record<string, unknown>;

/** A small character-level BPE learned here (greedy, most frequent pair first). */
function learnCharBpe(words: string[], nMerges: number): { vocab: string[]; merges: string[][] } {
  const counts = new Map<string, number>();
  for (const w of words) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  const seqs = [...counts].map(([w, c]) => ({ s: [...w], c }));
  const vocab = new Set<string>();
  for (const { s } of seqs) for (const ch of s) vocab.add(ch);
  const merges: string[][] = [];
  for (let k = 0; k < nMerges; k++) {
    const pairs = new Map<string, number>();
    for (const { s, c } of seqs) {
      for (let i = 0; i + 1 < s.length; i++) {
        const key = s[i] + "\u0000" + s[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + c);
      }
    }
    let best = "", bc = 0;
    for (const [p, c] of pairs) if (c > bc || (c === bc && p < best)) [best, bc] = [p, c];
    if (!bc) break;
    const [a, b] = best.split("\u0000");
    merges.push([a, b]);
    vocab.add(a + b);
    for (const q of seqs) {
      const out: string[] = [];
      for (let i = 0; i < q.s.length; i++) {
        if (i + 1 < q.s.length && q.s[i] === a && q.s[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(q.s[i]);
      }
      q.s = out;
    }
  }
  return { vocab: [...vocab], merges };
}

const SPECIALS = ["<unk>", "<s>", "</s>"];
const BYTES = Array.from(
  { length: 256 },
  (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`,
);

/** A SentencePiece-style file (Llama-2 layout) over `vocab`/`merges`, to be varied. */
function spmFile(bpe: { vocab: string[]; merges: string[][] }, withBytes = true): Json {
  const vocab: Record<string, number> = {};
  for (const t of [...SPECIALS, ...(withBytes ? BYTES : []), ...bpe.vocab]) {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  }
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "▁" },
        { type: "Replace", pattern: { String: " " }, content: "▁" },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<s>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

const TEXTS = [
  CORPUS.slice(0, 2500),
  "  Olá,   mundo!  <s>Oi</s>  e</s> ação <mask>  fim [X]   x olá olá! xolá ΑΣ ΣΑΣ. ",
  "\u00a0\t tab e NEL\u0085 é e\u0301 ﬁm ²³ Ⅻ 🐦 日本 ▁▁ ▁x ",
  randomText(4242, 2500),
  randomText(99, 1500) + " <s> " + randomText(100, 500),
];

async function compare(label: string, json: Json): Promise<void> {
  const HF = await hfOnce();
  if (!HF) return;
  const dir = await Deno.makeTempDir({ prefix: "bentevi-hfc-" });
  try {
    const path = `${dir}/tokenizer.json`;
    await Deno.writeTextFile(path, JSON.stringify(json));
    const hf = HF.fromFile(path);
    const tok = await Tokenizer.fromFile(path);
    for (const [i, text] of TEXTS.entries()) {
      for (const add of [true, false]) {
        const want = Array.from(
          (await hf.encode(text, null, { addSpecialTokens: add })).getIds() as number[],
        );
        assert.deepEqual(
          tok.encode(text, { addSpecialTokens: add }),
          want,
          `${label}: text ${i} ${add}`,
        );
        if (!add) {
          for (const skip of [false, true]) {
            assert.equal(
              tok.decode(want, { skipSpecialTokens: skip }),
              await hf.decode(want, skip),
              `${label}: decode text ${i} skip ${skip}`,
            );
          }
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const WORDS = CORPUS.split(/(?= )/).map((w) => w.replaceAll(" ", "▁"));
const BPE = learnCharBpe([...WORDS, "▁Olá", "▁mundo", "▁<mask>", "▁▁▁"], 150);

Deno.test("HF parity: SentencePiece-style BPE (Prepend/Replace, byte fallback, template)", async () => {
  const base = spmFile(BPE);
  await compare("spm", base);
  const pairs = clone(base);
  (pairs.model as Json).merges = BPE.merges; // merges as pairs
  await compare("merges as pairs", pairs);
  const noFuse = clone(base);
  Object.assign(noFuse.model as Json, { byte_fallback: false, fuse_unk: false });
  await compare("unk, not fused", noFuse);
  const fuse = clone(base);
  Object.assign(fuse.model as Json, { byte_fallback: false, fuse_unk: true });
  await compare("unk, fused", fuse);
  const noUnk = spmFile(BPE, false);
  Object.assign(noUnk.model as Json, { byte_fallback: false, unk_token: null });
  await compare("no unk: unknown characters dropped", noUnk);
  const ignore = clone(base);
  (ignore.model as Json).ignore_merges = true;
  await compare("ignore_merges", ignore);
  const eos = clone(base);
  const pp = eos.post_processor as Json;
  (pp.single as unknown[]).push({ SpecialToken: { id: "</s>", type_id: 0 } });
  (pp.special_tokens as Json)["</s>"] = { id: "</s>", ids: [2], tokens: ["</s>"] };
  await compare("template with EOS", eos);
  const seq = clone(base);
  seq.post_processor = {
    type: "Sequence",
    processors: [
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
      base.post_processor,
    ],
  };
  await compare("post-processor Sequence", seq);
});

Deno.test("HF parity: Metaspace pre-tokenizer, every prepend_scheme, split or not", async () => {
  for (const scheme of ["always", "first", "never"]) {
    for (const split of [true, false]) {
      const f = spmFile(BPE);
      f.normalizer = null;
      f.pre_tokenizer = { type: "Metaspace", replacement: "▁", prepend_scheme: scheme, split };
      f.decoder = {
        type: "Sequence",
        decoders: [
          { type: "Metaspace", replacement: "▁", prepend_scheme: scheme, split },
          { type: "ByteFallback" },
          { type: "Fuse" },
        ],
      };
      await compare(`Metaspace ${scheme} split=${split}`, f);
    }
  }
  const legacy = spmFile(BPE);
  legacy.normalizer = null;
  legacy.pre_tokenizer = { type: "Metaspace", replacement: "▁", add_prefix_space: true };
  legacy.decoder = { type: "Metaspace", replacement: "▁", add_prefix_space: true };
  await compare("Metaspace add_prefix_space (older files)", legacy);
});

Deno.test("HF parity: Split, every behavior, inverted or not, regex and string", async () => {
  const words = CORPUS.split(/(\s+|[,.;:!?])/);
  const bpe = learnCharBpe([...words, "Olá", "mundo"], 120);
  for (
    const behavior of ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]
  ) {
    for (const invert of [false, true]) {
      for (const pattern of [{ Regex: "\\s+|[,.!]" }, { String: " " }]) {
        const f = spmFile(bpe);
        f.normalizer = null;
        f.decoder = { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Fuse" }] };
        f.pre_tokenizer = {
          type: "Sequence",
          pretokenizers: [{ type: "Split", pattern, behavior, invert }],
        };
        await compare(`Split ${behavior} invert=${invert} ${JSON.stringify(pattern)}`, f);
      }
    }
  }
});

Deno.test("HF parity: normalizers (Strip, Lowercase, NFD/NFKC/NFKD, Replace regex)", async () => {
  for (
    const n of [
      { type: "Strip", strip_left: true, strip_right: true },
      { type: "Strip", strip_left: false, strip_right: true },
      { type: "Lowercase" },
      { type: "NFD" },
      { type: "NFKC" },
      { type: "NFKD" },
      { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
      {
        type: "Sequence",
        normalizers: [{ type: "NFKC" }, { type: "Lowercase" }, {
          type: "Strip",
          strip_left: true,
          strip_right: false,
        }],
      },
    ]
  ) {
    const f = spmFile(BPE);
    f.normalizer = {
      type: "Sequence",
      normalizers: [n, ...((f.normalizer as Json).normalizers as Json[])],
    };
    await compare(`normalizer ${JSON.stringify(n)}`, f);
  }
});

Deno.test("HF parity: added tokens with lstrip, rstrip, single_word, normalized", async () => {
  const f = spmFile(BPE);
  const vocab = (f.model as Json).vocab as Record<string, number>;
  let next = Object.keys(vocab).length;
  const add = (content: string, flags: Json) => {
    const id = next++;
    (f.added_tokens as Json[]).push({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: false,
      ...flags,
    });
  };
  add("<mask>", { lstrip: true, special: true });
  add("[X]", { rstrip: true });
  add("olá", { single_word: true });
  add("ação", { normalized: true });
  add(" fim", { normalized: true, lstrip: true, rstrip: true });
  await compare("added-token flags", f);
});

Deno.test("HF parity: ByteLevel options (prefix space, regex off, after a Split)", async () => {
  async function* c() {
    yield CORPUS;
  }
  const trained = await trainTokenizer(c(), { vocabSize: 500 });
  const base = trained.toJSON() as Json;
  for (
    const pre of [
      { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      {
        type: "Sequence",
        pretokenizers: [
          {
            type: "Split",
            pattern: { Regex: "\\p{N}+|\\s+" },
            behavior: "Isolated",
            invert: false,
          },
          { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: false },
        ],
      },
      {
        type: "Sequence",
        pretokenizers: [
          {
            type: "Split",
            pattern: { String: "," },
            behavior: "MergedWithPrevious",
            invert: false,
          },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
        ],
      },
    ]
  ) {
    const f = clone(base);
    f.pre_tokenizer = pre;
    await compare(`ByteLevel ${JSON.stringify(pre).slice(0, 80)}`, f);
  }
});
