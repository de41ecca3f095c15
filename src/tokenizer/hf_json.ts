/**
 * Reading and writing Hugging Face `tokenizer.json` (the file format of Bentevi's tokenizer,
 * both directions). Reading validates everything a later step relies on, so a bad or
 * truncated file fails here with one clear line instead of deep inside encoding.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { BpeModel } from "./bpe.ts";
import { type Normalizer, normalizerFromHF } from "./normalizer.ts";
import { PreTokenizer } from "./pre_tokenizer.ts";
import { Decoder } from "./decoders.ts";
import { PostProcessor } from "./post_processor.ts";

/** A token added on top of the BPE vocabulary (special tokens among them). */
export interface AddedToken {
  /** Its id. */
  id: number;
  /** Its text, matched whole in the input and never split. */
  content: string;
  /** A special token (`[EOS]`, `<|endoftext|>`…), dropped by `decode(…, {skipSpecialTokens})`. */
  special: boolean;
  /** Hugging Face flags, kept as read. */
  single_word?: boolean;
  /** See {@link AddedToken.single_word}. */
  lstrip?: boolean;
  /** See {@link AddedToken.single_word}. */
  rstrip?: boolean;
  /** See {@link AddedToken.single_word}. */
  normalized?: boolean;
}

/** The pieces of a tokenizer, as read from or written to `tokenizer.json`. */
export interface TokenizerParts {
  /** The optional first stage. */
  normalizer?: Normalizer;
  /** How text is split into pieces. */
  preTokenizer: PreTokenizer;
  /** The BPE model. */
  model: BpeModel;
  /** Tokens matched whole before the pipeline runs. */
  addedTokens: AddedToken[];
  /** What `encode` adds around a text (default: nothing; written as a `ByteLevel` step). */
  postProcessor?: PostProcessor;
  /** Token strings → text (default: GPT-2's `ByteLevel`). */
  decoder?: Decoder;
  /** `unk_token` of the model, if any. */
  unkToken?: string;
}

function fail(name: string, what: string): never {
  throw new BenteviError(`${name}: invalid tokenizer.json: ${what}`);
}

/** Validates a parsed `tokenizer.json` object and builds its parts. */
export function partsFromHF(json: unknown, name: string): TokenizerParts {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    fail(name, "expected a JSON object");
  }
  const o = json as Record<string, unknown>;
  const m = o.model as Record<string, unknown> | undefined;
  if (!m || typeof m !== "object") fail(name, 'missing "model"');
  if (m.type !== undefined && m.type !== "BPE") {
    fail(name, `model.type ${JSON.stringify(m.type)} is not supported (only BPE)`);
  }
  // Both change what encode returns; Bentevi does neither, so such a file is refused.
  for (const k of ["truncation", "padding"]) {
    if (o[k] !== undefined && o[k] !== null) {
      fail(name, `${k} is set; Bentevi does not truncate or pad (set it to null)`);
    }
  }
  const v = m.vocab;
  if (!v || typeof v !== "object" || Array.isArray(v)) fail(name, "model.vocab must be an object");
  const vocab = new Map<string, number>();
  const byId = new Map<number, string>();
  const vocabObj = v as Record<string, unknown>;
  const seen: (string | undefined)[] = [];
  let maxId = -1, maxTok = "";
  for (const tok in vocabObj) {
    const id = vocabObj[tok];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      fail(name, `model.vocab[${JSON.stringify(tok)}] is not a token id (${JSON.stringify(id)})`);
    }
    if (id > 4 * (vocab.size + 1024)) {
      // far past the tokens so far: checked against the final count below (no huge table)
      if (byId.has(id)) {
        fail(
          name,
          `model.vocab gives id ${id} to both ${JSON.stringify(byId.get(id))} and ${
            JSON.stringify(tok)
          }`,
        );
      }
      byId.set(id, tok);
    } else {
      const other = seen[id];
      if (other !== undefined) {
        fail(
          name,
          `model.vocab gives id ${id} to both ${JSON.stringify(other)} and ${JSON.stringify(tok)}`,
        );
      }
      seen[id] = tok;
    }
    if (id > maxId) [maxId, maxTok] = [id, tok];
    vocab.set(tok, id);
  }
  for (let id = 0; id < seen.length; id++) {
    const t = seen[id];
    if (t === undefined) continue;
    const other = byId.get(id);
    if (other !== undefined) {
      fail(
        name,
        `model.vocab gives id ${id} to both ${JSON.stringify(other)} and ${JSON.stringify(t)}`,
      );
    }
    byId.set(id, t);
  }
  if (vocab.size === 0) fail(name, "model.vocab is empty");
  if (!Array.isArray(m.merges)) fail(name, "model.merges must be an array");
  const rawMerges = m.merges as unknown[];
  // Ids of each merge's parts and result, resolved once (the model's rank table uses them);
  // looked up in the parsed object.
  const mergeIds = new Int32Array(rawMerges.length * 3);
  // (Object.prototype has no number-valued property, so a number is an own entry.)
  const idOf = (t: string): number => {
    const id = vocabObj[t];
    return typeof id === "number" ? id : -1;
  };
  for (let i = 0; i < rawMerges.length; i++) {
    const x = rawMerges[i];
    let a: string, b: string;
    if (typeof x === "string") {
      const sp = x.indexOf(" ");
      if (sp < 0 || x.indexOf(" ", sp + 1) >= 0) {
        fail(name, `model.merges[${i}] ${JSON.stringify(x)} is not "a b"`);
      }
      a = x.slice(0, sp);
      b = x.slice(sp + 1);
    } else if (
      Array.isArray(x) && x.length === 2 && typeof x[0] === "string" && typeof x[1] === "string"
    ) {
      a = x[0];
      b = x[1];
    } else fail(name, `model.merges[${i}] is not a pair of strings`);
    const ia = idOf(a), ib = idOf(b), iab = idOf(a + b);
    if (ia < 0 || ib < 0 || iab < 0) {
      const t = ia < 0 ? a : ib < 0 ? b : a + b;
      fail(
        name,
        `model.merges[${i}] ${JSON.stringify([a, b])}: ${
          JSON.stringify(t)
        } is not in the vocabulary`,
      );
    }
    mergeIds[3 * i] = ia;
    mergeIds[3 * i + 1] = ib;
    mergeIds[3 * i + 2] = iab;
  }
  for (const k of ["continuing_subword_prefix", "end_of_word_suffix"]) {
    if (m[k] !== undefined && m[k] !== null && m[k] !== "") {
      fail(name, `model.${k} ${JSON.stringify(m[k])} is not supported (only null or "")`);
    }
  }
  if (m.dropout !== undefined && m.dropout !== null && m.dropout !== 0) {
    fail(name, `model.dropout ${JSON.stringify(m.dropout)} is not supported (only null)`);
  }
  const flag = (k: string): boolean => {
    const x = m[k];
    if (x === undefined || x === null) return false;
    if (typeof x !== "boolean") fail(name, `model.${k} must be true or false`);
    return x;
  };
  const byteFallback = flag("byte_fallback");
  const fuseUnk = flag("fuse_unk");
  const ignoreMerges = flag("ignore_merges");
  let unkId: number | undefined;
  let unkToken: string | undefined;
  if (m.unk_token !== undefined && m.unk_token !== null) {
    if (typeof m.unk_token !== "string") fail(name, "model.unk_token must be a string or null");
    unkToken = m.unk_token;
    unkId = vocab.get(m.unk_token);
  }

  const addedTokens: AddedToken[] = [];
  if (o.added_tokens !== undefined && o.added_tokens !== null) {
    if (!Array.isArray(o.added_tokens)) fail(name, "added_tokens must be an array");
    const addedById = new Map<number, string>(), addedByContent = new Map<string, number>();
    (o.added_tokens as unknown[]).forEach((t, i) => {
      const a = t as Record<string, unknown>;
      if (
        !a || typeof a !== "object" || typeof a.content !== "string" || a.content === "" ||
        typeof a.id !== "number" || !Number.isInteger(a.id) || a.id < 0
      ) fail(name, `added_tokens[${i}] needs an integer "id" and a non-empty "content"`);
      const id = a.id as number, content = a.content as string;
      const inVocab = vocab.get(content);
      if (inVocab !== undefined && inVocab !== id) {
        fail(
          name,
          `added_tokens[${i}] ${
            JSON.stringify(content)
          } has id ${id}, but model.vocab gives it ${inVocab}`,
        );
      }
      const holder = byId.get(id) ?? addedById.get(id);
      if (holder !== undefined && holder !== content) {
        fail(
          name,
          `added_tokens[${i}] ${JSON.stringify(content)} has id ${id}, already the id of ${
            JSON.stringify(holder)
          }`,
        );
      }
      const before = addedByContent.get(content);
      if (before !== undefined && before !== id) {
        fail(
          name,
          `added_tokens[${i}] ${
            JSON.stringify(content)
          } is listed twice, with ids ${before} and ${id}`,
        );
      }
      addedById.set(id, content);
      addedByContent.set(content, id);
      addedTokens.push({
        id: a.id as number,
        content: a.content as string,
        special: a.special === true,
        single_word: a.single_word === true,
        lstrip: a.lstrip === true,
        rstrip: a.rstrip === true,
        normalized: a.normalized === true,
      });
    });
  }
  // Ids index tables (id → token, embedding rows): they must number the tokens densely
  // enough. Real files use every id below their token count; a little slack is allowed.
  let tokenCount = vocab.size;
  for (const c of new Set(addedTokens.map((t) => t.content))) if (!vocab.has(c)) tokenCount++;
  const idLimit = 2 * tokenCount + 256;
  if (maxId >= idLimit) {
    fail(
      name,
      `model.vocab[${
        JSON.stringify(maxTok)
      }] has id ${maxId}, far past the ${tokenCount} tokens the file defines (ids must be below ${idLimit})`,
    );
  }
  addedTokens.forEach((t, i) => {
    if (t.id >= idLimit) {
      fail(
        name,
        `added_tokens[${i}] ${
          JSON.stringify(t.content)
        } has id ${t.id}, far past the ${tokenCount} tokens the file defines (ids must be below ${idLimit})`,
      );
    }
  });
  if (unkId === undefined && unkToken !== undefined) {
    unkId = addedTokens.find((t) => t.content === unkToken)?.id;
    if (unkId === undefined) {
      fail(name, `model.unk_token ${JSON.stringify(unkToken)} is not in the vocabulary`);
    }
  }

  let normalizer: Normalizer | undefined;
  let preTokenizer: PreTokenizer;
  let decoder: Decoder;
  let postProcessor: PostProcessor;
  try {
    normalizer = normalizerFromHF(o.normalizer);
    preTokenizer = PreTokenizer.fromHF(o.pre_tokenizer);
    decoder = Decoder.fromHF(o.decoder);
    const known = (id: number) => byId.has(id) || addedTokens.some((t) => t.id === id);
    postProcessor = PostProcessor.fromHF(o.post_processor, known);
  } catch (e) {
    if (e instanceof BenteviError && !e.message.startsWith(name)) fail(name, e.message);
    throw e;
  }
  const model = new BpeModel(vocab, null, {
    mergeIds,
    unkId,
    ignoreMerges,
    byteLevel: preTokenizer.byteLevel,
    byteFallback,
    fuseUnk,
  });
  return {
    normalizer,
    preTokenizer,
    model,
    addedTokens,
    postProcessor,
    decoder,
    unkToken,
  };
}

/** The `tokenizer.json` object for `parts`. */
export function partsToHF(parts: TokenizerParts): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  for (const [t, id] of [...parts.model.vocab].sort((a, b) => a[1] - b[1])) vocab[t] = id;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: parts.addedTokens.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: t.single_word ?? false,
      lstrip: t.lstrip ?? false,
      rstrip: t.rstrip ?? false,
      normalized: t.normalized ?? false,
      special: t.special,
    })),
    normalizer: parts.normalizer?.toJSON() ?? null,
    pre_tokenizer: parts.preTokenizer.toJSON(),
    post_processor: parts.postProcessor
      ? parts.postProcessor.toJSON()
      : { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: parts.decoder
      ? parts.decoder.toJSON()
      : { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: parts.unkToken ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: parts.model.fuseUnk,
      byte_fallback: parts.model.byteFallback,
      ignore_merges: parts.model.ignoreMerges,
      vocab,
      merges: parts.model.merges,
    },
  };
}
