/**
 * Training data for `train`/`eval`: an llm.c `.bin` token file (memory-mapped by the data
 * loader) with its `.val.bin` sibling, or plain text files tokenized on the fly (the last
 * part held out for validation).
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError, fsError } from "../errors.ts";
import { openTokenDataset, type TokenDataset } from "../data/dataset/loader.ts";

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
}

async function listTextFiles(path: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw fsError(e, path);
  }
  if (info.isFile) return [path];
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isFile && /\.(txt|md|text)$/i.test(e.name)) out.push(p);
    }
  };
  await walk(path);
  if (!out.length) throw new BenteviError(`${path}: no .txt files found in this folder`);
  return out;
}

function checkVocab(ds: TokenDataset, vocabSize: number): void {
  if (ds.maxTokenId >= vocabSize) {
    throw new BenteviError(
      `${ds.path}: token id ${ds.maxTokenId} does not fit the tokenizer's vocabulary of ${vocabSize} — the dataset was built with another tokenizer`,
    );
  }
}

/**
 * Opens `path` for training: a `.bin` token file (its validation split is `valPath`, or the
 * `.val.bin` beside a `.train.bin`, or else the last `valFraction` of it), or a text file or
 * folder of `.txt` files tokenized with `tokenizer` (documents separated by the end-of-text
 * token; the last `valFraction` of the tokens is held out). With `wholeAsValidation`, all of
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
  const valFraction = options.wholeAsValidation ? 1 : options.valFraction ?? 0.1;
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
  const files = await listTextFiles(path);
  const ids: number[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (e) {
      throw fsError(e, file);
    }
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw new BenteviError(
        `${file}: not valid UTF-8 (convert it first, e.g. with \`bentevi clean --encoding latin1\`)`,
      );
    }
    const piece = tokenizer.encode(text);
    for (let i = 0; i < piece.length; i++) ids.push(piece[i]);
    if (tokenizer.endOfTextId !== undefined) ids.push(tokenizer.endOfTextId);
  }
  const tokens = tokenizer.vocabSize <= 65536 ? Uint16Array.from(ids) : Uint32Array.from(ids);
  const cut = Math.floor(tokens.length * (1 - valFraction));
  return {
    train: { tokens: tokens.subarray(0, cut), path },
    val: { tokens: tokens.subarray(cut), path },
    description: `${files.length} text file(s) from ${path}: ${cut} training tokens, ${
      tokens.length - cut
    } validation tokens`,
    close: () => {},
  };
}
