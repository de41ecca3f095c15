/**
 * Tokenizers in GGUF files, both ways, exactly or not at all. Bentevi's byte-level BPE
 * (`tokenizer.json`) is llama.cpp's `gpt2` tokenizer model: the vocabulary as
 * `tokenizer.ggml.tokens` (with `token_type`: special added tokens are control tokens), the
 * merges as `"a b"` strings, and the pre-tokenizer under the llama.cpp name whose regex is the
 * same: GPT-2's (`gpt-2`), or GPT-4's with whole-word vocabulary lookups first
 * (`llama-bpe`, llama.cpp's Llama-3 handling, which ignores merges for a word in the
 * vocabulary). Anything else — a normalizer, another pre-tokenizer, SentencePiece-style
 * (Metaspace) models, whose llama.cpp tokenizer merges by score rather than by rank — is
 * refused by name, never approximated.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { GPT2_PATTERN, GPT4_PATTERN } from "../tokenizer/pre_tokenizer.ts";
import type { GgufValue } from "./reader.ts";
import type { GgufWriteValue } from "./writer.ts";

/** llama.cpp's token types (`llama_token_type`). */
export const GGUF_TOKEN_TYPE = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

interface HfAdded {
  id: number;
  content: string;
  special?: boolean;
}

type Json = Record<string, unknown>;

const GPT2_PRE = { type: "ByteLevel", add_prefix_space: false, use_regex: true };

function gpt4Pre(): Json {
  return {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: GPT4_PATTERN }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
}

/** The llama.cpp `tokenizer.ggml.pre` name of a tokenizer.json pre-tokenizer, or null. */
function preName(pre: unknown, ignoreMerges: boolean): string | null {
  const p = pre as Json | null;
  if (!p || typeof p !== "object") return null;
  if (
    p.type === "ByteLevel" && p.add_prefix_space === false && p.use_regex !== false &&
    !ignoreMerges
  ) return "gpt-2";
  if (p.type === "Sequence" && Array.isArray(p.pretokenizers) && p.pretokenizers.length === 2) {
    const [split, bl] = p.pretokenizers as Json[];
    const pattern = (split.pattern as Json | undefined)?.Regex;
    if (
      split.type === "Split" && pattern === GPT4_PATTERN && split.behavior === "Isolated" &&
      !split.invert && bl.type === "ByteLevel" && bl.add_prefix_space === false &&
      bl.use_regex === false && ignoreMerges
    ) return "llama-bpe";
    if (
      split.type === "Split" && pattern === GPT2_PATTERN && split.behavior === "Isolated" &&
      !split.invert && bl.type === "ByteLevel" && bl.add_prefix_space === false &&
      bl.use_regex === false && !ignoreMerges
    ) return "gpt-2";
  }
  return null;
}

const BOS_NAMES = ["[BOS]", "<s>", "<|begin_of_text|>", "<|endoftext|>"];
const EOS_NAMES = ["[EOS]", "<|endoftext|>", "</s>", "<|end_of_text|>"];

/** What {@link ggufTokenizerMetadata} needs beside the tokenizer.json object. */
export interface GgufTokenizerSource {
  /** `tokenizer.json`, parsed. */
  json: unknown;
  /** `tokenizer_config.json`, parsed, when there is one (chat template, bos/eos names). */
  config?: Json;
  /** The model's vocabulary size (rows of its embedding table; ≥ the tokenizer's). */
  vocabSize: number;
  /** Names the tokenizer in errors. */
  source: string;
}

/**
 * The `tokenizer.*` metadata of a GGUF file for a byte-level BPE tokenizer.json; a tokenizer
 * llama.cpp would not reproduce exactly is refused with its reason.
 *
 * @example
 * ```ts
 * import { ggufTokenizerMetadata } from "./tokenizer.ts";
 * const json = {
 *   model: { type: "BPE", vocab: { "a": 0, "b": 1, "ab": 2 }, merges: [["a", "b"]] },
 *   pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
 *   decoder: { type: "ByteLevel" },
 *   added_tokens: [],
 * };
 * const m = ggufTokenizerMetadata({ json, vocabSize: 3, source: "tokenizer.json" });
 * console.log(m.find(([k]) => k === "tokenizer.ggml.pre")![1].value); // gpt-2
 * ```
 */
export function ggufTokenizerMetadata(src: GgufTokenizerSource): [string, GgufWriteValue][] {
  const { source } = src;
  const j = src.json as Json;
  const refuse = (why: string): never => {
    throw new BenteviError(`${source}: cannot export this tokenizer to GGUF exactly: ${why}`);
  };
  const model = (j?.model ?? {}) as Json;
  if (model.type !== "BPE") refuse(`model type ${JSON.stringify(model.type)} (only BPE)`);
  if (j.normalizer) {
    refuse(
      `its normalizer (${
        (j.normalizer as Json).type
      }) has no llama.cpp equivalent (llama.cpp does not normalize)`,
    );
  }
  const pre = j.pre_tokenizer as Json | null;
  if (pre?.type === "Metaspace") {
    refuse(
      "SentencePiece-style (Metaspace) BPE: llama.cpp's SentencePiece tokenizer merges by score, not by merge rank, and may split differently",
    );
  }
  if (model.byte_fallback) refuse("byte fallback is a SentencePiece-style feature");
  if (model.continuing_subword_prefix || model.end_of_word_suffix) {
    refuse("subword prefixes/suffixes have no llama.cpp equivalent");
  }
  const dec = j.decoder as Json | null;
  if (dec && dec.type !== "ByteLevel") refuse(`decoder ${dec.type} (only ByteLevel)`);
  const name = preName(pre, model.ignore_merges === true) ?? refuse(
    `its pre-tokenizer (${
      JSON.stringify(pre).slice(0, 80)
    }) has no llama.cpp name with the same splitting (gpt-2: GPT-2's regex; llama-bpe: GPT-4's regex with ignore_merges)`,
  );
  const vocab = model.vocab as Record<string, number>;
  const added = (j.added_tokens ?? []) as HfAdded[];
  const tokens: string[] = new Array(src.vocabSize);
  const types = new Int32Array(src.vocabSize);
  for (const [t, id] of Object.entries(vocab)) {
    if (id >= src.vocabSize) refuse(`token id ${id} is past the model's ${src.vocabSize} rows`);
    tokens[id] = t;
    types[id] = GGUF_TOKEN_TYPE.normal;
  }
  for (const a of added) {
    if (a.id >= src.vocabSize) refuse(`token id ${a.id} is past the model's ${src.vocabSize} rows`);
    tokens[a.id] = a.content;
    types[a.id] = a.special ? GGUF_TOKEN_TYPE.control : GGUF_TOKEN_TYPE.userDefined;
  }
  // Rows the model has beyond the tokenizer (a padded vocabulary) get placeholder names.
  for (let i = 0; i < src.vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = GGUF_TOKEN_TYPE.unused;
    }
  }
  const merges = (model.merges ?? []) as (string | string[])[];
  const mergeStrings = merges.map((m) => Array.isArray(m) ? `${m[0]} ${m[1]}` : m);
  const byContent = new Map<string, number>();
  for (const a of added) byContent.set(a.content, a.id);
  const named = (v: unknown): number | undefined => {
    const s = typeof v === "string" ? v : (v as Json | undefined)?.content;
    return typeof s === "string" ? byContent.get(s) ?? vocab[s] : undefined;
  };
  const first = (names: string[]) =>
    names.map((n) => byContent.get(n)).find((x) => x !== undefined);
  const eos = named(src.config?.eos_token) ?? first(EOS_NAMES);
  const bos = named(src.config?.bos_token) ?? first(BOS_NAMES) ?? eos;
  const unk = byContent.get("[UNK]") ?? byContent.get("<unk>");
  const pad = named(src.config?.pad_token) ?? byContent.get("[PAD]") ?? byContent.get("<pad>");
  // What `encode` adds: Bentevi's byte-level post-processors add nothing; a template that
  // adds a leading special token is llama.cpp's add_bos.
  const post = j.post_processor as Json | null;
  let addBos = false;
  if (post && post.type === "TemplateProcessing") {
    const single = (post.single ?? []) as Json[];
    const specials = single.filter((s) => s.SpecialToken);
    const sequenceOnly = single.length === specials.length + 1;
    const lead = (single[0]?.SpecialToken as Json | undefined)?.id;
    if (!(sequenceOnly && specials.length === 1 && single[0].SpecialToken && named(lead) === bos)) {
      refuse("its post-processor adds tokens other than one leading BOS");
    }
    addBos = true;
  } else if (post && post.type !== "ByteLevel") refuse(`post-processor ${post.type}`);
  const out: [string, GgufWriteValue][] = [
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: name }],
    ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: tokens }],
    ["tokenizer.ggml.token_type", { type: "array", itemType: "i32", value: types }],
    ["tokenizer.ggml.merges", { type: "array", itemType: "string", value: mergeStrings }],
  ];
  if (bos !== undefined) out.push(["tokenizer.ggml.bos_token_id", { type: "u32", value: bos }]);
  if (eos !== undefined) out.push(["tokenizer.ggml.eos_token_id", { type: "u32", value: eos }]);
  if (unk !== undefined) {
    out.push(["tokenizer.ggml.unknown_token_id", { type: "u32", value: unk }]);
  }
  if (pad !== undefined) {
    out.push(["tokenizer.ggml.padding_token_id", { type: "u32", value: pad }]);
  }
  out.push(
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: addBos }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
  );
  const template = src.config?.chat_template;
  if (typeof template === "string") {
    out.push(["tokenizer.chat_template", { type: "string", value: template }]);
  }
  return out;
}

/** A tokenizer read back from a GGUF file: tokenizer.json and tokenizer_config.json objects. */
export interface GgufTokenizerFiles {
  /** The tokenizer.json object. */
  json: Json;
  /** A tokenizer_config.json object (chat template, bos/eos tokens). */
  config: Json;
}

/**
 * The tokenizer of a GGUF file as Hugging Face `tokenizer.json` / `tokenizer_config.json`
 * objects: llama.cpp's `gpt2` model with pre-tokenizer `gpt-2` or `llama-bpe`/`llama3`; any
 * other model or pre-tokenizer is refused naming it.
 *
 * @example
 * ```ts
 * import { tokenizerFromGguf } from "./tokenizer.ts";
 * const meta = new Map<string, unknown>([
 *   ["tokenizer.ggml.model", "gpt2"],
 *   ["tokenizer.ggml.pre", "gpt-2"],
 *   ["tokenizer.ggml.tokens", ["a", "b", "ab"]],
 *   ["tokenizer.ggml.merges", ["a b"]],
 * ]);
 * const { json } = tokenizerFromGguf((k) => meta.get(k) as never, "m.gguf");
 * console.log((json.model as { merges: string[][] }).merges); // [ [ "a", "b" ] ]
 * ```
 */
export function tokenizerFromGguf(
  get: (key: string) => GgufValue | undefined,
  source: string,
): GgufTokenizerFiles {
  const fail = (why: string): never => {
    throw new BenteviError(`${source}: ${why}`);
  };
  const model = get("tokenizer.ggml.model");
  if (model === undefined) fail("missing key tokenizer.ggml.model (the file has no tokenizer)");
  if (model !== "gpt2") {
    fail(
      `tokenizer.ggml.model ${
        JSON.stringify(model)
      } is not supported (Bentevi reads llama.cpp's byte-level BPE, "gpt2"; SentencePiece "llama" tokenizers merge by score)`,
    );
  }
  const pre = get("tokenizer.ggml.pre") ?? "default";
  let preTokenizer: Json, ignoreMerges: boolean;
  if (pre === "gpt-2") {
    preTokenizer = { ...GPT2_PRE, trim_offsets: true };
    ignoreMerges = false;
  } else if (pre === "llama-bpe" || pre === "llama3") {
    preTokenizer = gpt4Pre();
    ignoreMerges = true;
  } else {
    return fail(
      `tokenizer.ggml.pre ${
        JSON.stringify(pre)
      } is not supported (Bentevi splits text exactly as "gpt-2" and "llama-bpe")`,
    );
  }
  const tokens = get("tokenizer.ggml.tokens");
  if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== "string")) {
    fail("tokenizer.ggml.tokens is missing or not an array of strings");
  }
  const list = tokens as string[];
  const typesRaw = get("tokenizer.ggml.token_type");
  const types = Array.isArray(typesRaw) ? typesRaw as number[] : [];
  const merges = get("tokenizer.ggml.merges");
  if (!Array.isArray(merges)) fail("missing key tokenizer.ggml.merges");
  const vocab: Record<string, number> = {};
  const added: Json[] = [];
  for (let id = 0; id < list.length; id++) {
    const t = types[id] ?? GGUF_TOKEN_TYPE.normal;
    if (t === GGUF_TOKEN_TYPE.control || t === GGUF_TOKEN_TYPE.userDefined) {
      added.push({
        id,
        content: list[id],
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: t === GGUF_TOKEN_TYPE.control,
      });
    } else if (t !== GGUF_TOKEN_TYPE.unused) {
      if (list[id] in vocab) {
        fail(`token ${JSON.stringify(list[id])} appears twice in tokenizer.ggml.tokens`);
      }
      vocab[list[id]] = id;
    }
  }
  const pairs = (merges as GgufValue[]).map((m, i) => {
    const parts = typeof m === "string" ? m.split(" ") : [];
    if (parts.length !== 2) fail(`tokenizer.ggml.merges[${i}] is not "a b"`);
    return parts;
  });
  const id = (key: string) => {
    const v = get(key);
    return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < list.length
      ? v
      : undefined;
  };
  const bos = id("tokenizer.ggml.bos_token_id");
  const eos = id("tokenizer.ggml.eos_token_id");
  const addBos = get("tokenizer.ggml.add_bos_token") === true && bos !== undefined;
  const json: Json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: addBos
      ? {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: list[bos!], type_id: 0 } }, {
          Sequence: { id: "A", type_id: 0 },
        }],
        pair: [{ SpecialToken: { id: list[bos!], type_id: 0 } }, {
          Sequence: { id: "A", type_id: 0 },
        }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { [list[bos!]]: { id: list[bos!], ids: [bos], tokens: [list[bos!]] } },
      }
      : { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: ignoreMerges,
      vocab,
      merges: pairs,
    },
  };
  const config: Json = {};
  if (bos !== undefined) config.bos_token = list[bos];
  if (eos !== undefined) config.eos_token = list[eos];
  const template = get("tokenizer.chat_template");
  if (typeof template === "string") config.chat_template = template;
  return { json, config };
}
