// Shared fixtures for the tokenizer tests: paths to ../shared/data, a small corpus written
// by the tests themselves, and a cached small trained tokenizer.
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { type Tokenizer, trainTokenizer } from "../../src/tokenizer/mod.ts";
import { moduleTempDir } from "../_tmp.ts";

export const SHARED = fileURLToPath(new URL("../../../shared/data/", import.meta.url));
export const GPT2_JSON = `${SHARED}tokenizer/gpt2/tokenizer.json`;
export const GPT2_VECTORS = `${SHARED}tokenizer/gpt2/vectors/ggml-vocab-gpt-2.gguf`;
export const GPT2_RANKS = `${SHARED}tokenizer/gpt2/r50k_base.tiktoken`;
export const MACHADO = `${SHARED}pt/machado`;
export const FOCALINUX = `${SHARED}pt/focalinux`;
export const hasGpt2 = existsSync(GPT2_JSON);
export const hasMachado = existsSync(MACHADO);

/** Logs why a data-dependent test is skipped (a fresh clone has no ../shared). */
export function needs(flag: boolean, what: string): boolean {
  if (!flag) console.log(`skipping: ${what} not found (../shared/data is absent)`);
  return !flag;
}

/** A small Portuguese corpus written for these tests. */
export const CORPUS = [
  "O bem-te-vi pousou no galho da mangueira e cantou alto.\n",
  "A menina abriu a janela, ouviu o bem-te-vi e sorriu.\r\n",
  "Ação, emoção e coração: palavras que terminam em -ção são comuns.\n",
  "Números: 1, 22, 333, 4444 e 55555; datas como 07/09/1822.\n",
  "— Você viu o pássaro? — perguntou o avô. — Vi, sim!\n",
  "Café com pão, pão com café, e o bem-te-vi cantando no quintal.\n",
  "Emoji também: 🐦🌳☀️ e acentos compostos: e\u0301 a\u0303 o\u0302.\n",
  "Linha com NEL\u0085no meio e tab\tno fim.\n",
].join("").repeat(20);

/**
 * Writes `files` (name → text) into a new temporary folder; returns its path. The folder is
 * removed when the test module unloads (earlier if the test removes it).
 */
export async function tempCorpus(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await moduleTempDir({ prefix: "bentevi-tok-" });
  for (const [name, data] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof data === "string") await Deno.writeTextFile(path, data);
    else await Deno.writeFile(path, data);
  }
  return dir;
}

let small: Promise<Tokenizer> | undefined;
/** A tokenizer trained on {@link CORPUS} (vocab 400), shared by several tests. */
export function smallTokenizer(): Promise<Tokenizer> {
  small ??= (async () => {
    async function* texts() {
      yield CORPUS;
    }
    return await trainTokenizer(texts(), { vocabSize: 400 });
  })();
  return small;
}

/** Random text from a mix of scripts, emoji, combining marks, CR/LF/CRLF, NEL and spaces. */
export function randomText(seed: number, length: number): string {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const pools = [
    "abcdefghijklmnopqrstuvwxyz ABCXYZ",
    "áàâãéêíóôõúçÁÀÂÃÉÊÍÓÔÕÚÇ",
    "0123456789",
    " \t\n\r\n\u0085\u00a0\u2028\u3000  ",
    ".,;:!?'\"()[]{}<>-—…«»/\\@#$%&*+=_",
    "\u0301\u0303\u0327\u0308", // combining marks
    "日本語中文한국어Ελληνικάрусский",
    "🐦🌳☀️👍🏽👨‍👩‍👧🇧🇷",
    "'s 've 're 'll 'd 'm 't",
  ];
  let out = "";
  while (out.length < length) {
    const pool = [...pools[Math.floor(rnd() * pools.length)]];
    const n = 1 + Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) out += pool[Math.floor(rnd() * pool.length)];
  }
  return out;
}
