/**
 * Training data for `train`/`eval`: an llm.c `.bin` token file (memory-mapped by the data
 * loader) with its `.val.bin` sibling, or text tokenized on the fly (the last part held out
 * for validation): text files, each one document, and `.jsonl` files (wiki shards), each
 * record's `"text"` one document.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { openTokenDataset, type TokenDataset } from "../data/dataset/loader.ts";
import { readDocuments } from "../text/documents.ts";
import { InvalidUtf8Error } from "../text/encoding.ts";
import { listInputFiles } from "../text/inputs.ts";
import { newlineFlags, splitTail } from "../data/dataset/split.ts";

/** The token source of a run. */
export interface TrainingData {
  /** Training tokens. */
  train: { tokens: ArrayLike<number> & { length: number }; path?: string };
  /** Validation tokens. */
  val: { tokens: ArrayLike<number> & { length: number }; path?: string };
  /** One line saying where the tokens came from. */
  description: string;
  /** Releases mapped files. */
  close(): void;
}

/** What text tokenization needs from a tokenizer. */
export interface TextTokenizer {
  /** Token ids of a text. */
  encode(text: string): number[];
  /** Vocabulary size. */
  readonly vocabSize: number;
  /** The end-of-text/document separator id, if any. */
  readonly endOfTextId?: number;
  /** Text of token ids; when present, the validation cut falls on a paragraph or line break. */
  decode?(ids: number[]): string;
}

/** Share of the tokens held out for validation when there is no separate validation file. */
export const DEFAULT_VAL_FRACTION = 0.1;

/** What a folder given as `--data` is searched for. */
const TEXT_EXTENSIONS = [".txt", ".md", ".text", ".jsonl", ".ndjson"];

function checkVocab(ds: TokenDataset, vocabSize: number): void {
  if (ds.maxTokenId >= vocabSize) {
    throw new BenteviError(
      `${ds.path}: token id ${ds.maxTokenId} does not fit the tokenizer's vocabulary of ${vocabSize} — the dataset was built with another tokenizer`,
    );
  }
}

/**
 * Opens `path` for training: a `.bin` token file (its validation split is `valPath`, or the
 * `.val.bin` beside a `.train.bin`, or else the last `valFraction` of it), or a text or
 * `.jsonl` file, or a folder of `.txt`/`.md`/`.jsonl` files, tokenized with `tokenizer`: a
 * text file is one document, a JSONL record's `"text"` is one; documents are followed by the
 * end-of-text token, and the last `valFraction` of the tokens is held out. With `wholeAsValidation`, all of
 * `path` is the validation split (for evaluation).
 *
 * @example
 * ```ts
 * import { loadTrainingData } from "./data.ts";
 * const path = await Deno.makeTempFile({ suffix: ".txt" });
 * await Deno.writeTextFile(path, "abc ".repeat(100));
 * const tok = { vocabSize: 256, encode: (s: string) => [...new TextEncoder().encode(s)] };
 * const data = await loadTrainingData(path, tok);
 * console.log(data.train.tokens.length + data.val.tokens.length); // 400
 * ```
 */
export async function loadTrainingData(
  path: string,
  tokenizer: TextTokenizer,
  options: { valPath?: string; valFraction?: number; wholeAsValidation?: boolean } = {},
): Promise<TrainingData> {
  const valFraction = options.wholeAsValidation ? 1 : options.valFraction ?? DEFAULT_VAL_FRACTION;
  if (/\.bin$/i.test(path)) {
    const train = await openTokenDataset(path);
    try {
      checkVocab(train, tokenizer.vocabSize);
      let valPath = options.valPath;
      if (!valPath && !options.wholeAsValidation && /\.train\.bin$/i.test(path)) {
        const sibling = path.replace(/\.train\.bin$/i, ".val.bin");
        try {
          await Deno.stat(sibling);
          valPath = sibling;
        } catch { /* none */ }
      }
      if (valPath) {
        const val = await openTokenDataset(valPath);
        checkVocab(val, tokenizer.vocabSize);
        return {
          train,
          val,
          description:
            `${path} (${train.tokens.length} tokens) + ${valPath} (${val.tokens.length})`,
          close: () => {
            train.close();
            val.close();
          },
        };
      }
      const n = train.tokens.length;
      const cut = Math.floor(n * (1 - valFraction));
      return {
        train: { tokens: train.tokens.subarray(0, cut), path },
        val: { tokens: train.tokens.subarray(cut), path },
        description: `${path}: ${cut} training tokens, last ${n - cut} held out for validation`,
        close: () => train.close(),
      };
    } catch (e) {
      train.close();
      throw e;
    }
  }
  const files = await listInputFiles([path], { extensions: TEXT_EXTENSIONS });
  const ids: number[] = [];
  let documents = 0;
  for (const file of files) {
    try {
      for await (const doc of readDocuments(file.path, { split: "file" })) {
        const piece = tokenizer.encode(doc.text);
        for (let i = 0; i < piece.length; i++) ids.push(piece[i]);
        if (tokenizer.endOfTextId !== undefined) ids.push(tokenizer.endOfTextId);
        documents++;
      }
    } catch (e) {
      if (e instanceof InvalidUtf8Error) {
        // `train` reads UTF-8 only: convert first.
        throw new InvalidUtf8Error(
          e.path,
          e.position,
          "convert it first: bentevi clean --encoding latin1 FILE -o DIR",
        );
      }
      throw e;
    }
  }
  const tokens = tokenizer.vocabSize <= 65536 ? Uint16Array.from(ids) : Uint32Array.from(ids);
  // Hold out about the last `valFraction` of the tokens, cut where a document ends, else at a
  // paragraph or line break near there, else at a token boundary (deterministic).
  let cut = tokens.length, boundary = "";
  if (valFraction >= 1) cut = 0;
  else if (valFraction > 0 && tokens.length >= 2) {
    const decode = tokenizer.decode?.bind(tokenizer);
    const split = splitTail(tokens, tokens.length * valFraction, {
      endOfTextId: tokenizer.endOfTextId,
      flags: decode ? newlineFlags(tokenizer.vocabSize, (id) => decode([id])) : undefined,
    });
    cut = split.cut;
    boundary = split.boundary === "document"
      ? " (cut where a document ends)"
      : ` (cut at a ${split.boundary === "token" ? "token boundary" : `${split.boundary} break`})`;
  }
  return {
    train: { tokens: tokens.subarray(0, cut), path },
    val: { tokens: tokens.subarray(cut), path },
    description:
      `${documents} document(s) in ${files.length} file(s) from ${path}: ${cut} training tokens, ${
        tokens.length - cut
      } validation tokens${boundary}`,
    close: () => {},
  };
}
