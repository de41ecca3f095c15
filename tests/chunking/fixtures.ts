/**
 * Test helpers for the chunking tests: Portuguese text written for these tests, and a token
 * counter double that, like a byte-level BPE with a GPT-2 pre-tokenizer, is not additive
 * (a space joins the following word) and splits long words into several tokens.
 */
import type { TokenCounter } from "../../src/chunking/mod.ts";

/** Text written for these tests: prose, dialogue, lists, headings, numbers, an emoji, an over-long sentence and word. */
export const SAMPLE = [
  "CAPÍTULO PRIMEIRO",
  "",
  "DA CHEGADA",
  "",
  "O Sr. Almeida chegou à vila numa terça-feira de chuva. Trazia uma mala de couro, um\n" +
  "guarda-chuva velho e a carta do Dr. Souza, que o recomendava à Sra. Costa. A viagem\n" +
  "custara R$ 3,14 a légua, p. ex., e ele pagara tudo sem reclamar... Ninguém o esperava.",
  "",
  "— Não sei quem é o senhor, disse ela.",
  "",
  "— Sou o novo professor. — E acrescentou: — O Prof. Dias me mandou.",
  "",
  "— Ah! — fez a senhora. — Entre, entre.",
  "",
  "A casa tinha três quartos:",
  "1. o da frente, com janela para a rua;",
  "2. o do meio, escuro e úmido;",
  "3. o dos fundos, que dava para o quintal.",
  "",
  "Escolheu o dos fundos 😀 porque gostava de ouvir os pássaros de manhã cedo antes de o sol nascer " +
  "e porque o quintal tinha uma mangueira enorme cujos galhos entravam pela janela e enchiam o " +
  "quarto de folhas e de sombra e de um cheiro doce que lembrava a infância no interior quando " +
  "a mãe ainda era viva e o pai trabalhava na roça desde antes do amanhecer até depois do pôr do " +
  "sol sem jamais reclamar de nada nem de ninguém",
  "",
  "## Notas",
  "",
  "Veja o art. 5º, o nº 12 e V. Exa. decidirá etc. e tal. Palavra comprida: " +
  "inconstitucionalissimamente-anticonstitucionalissimamente-pneumoultramicroscopicossilicovulcanoconiótico.",
  "",
  "O gato mia no telhado. O gato dorme no sofá. O gato come peixe fresco. O gato caça ratos no porão.",
  "",
  "A bolsa de valores subiu hoje. Os investidores compraram ações. O índice da bolsa fechou em alta.",
  "",
].join("\n");

const PIECE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Splits into GPT-2-style pieces; a piece longer than 5 code units counts one token per 5. */
function pieces(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of text.matchAll(PIECE)) {
    const s = m.index!;
    const e = s + m[0].length;
    for (let a = s; a < e; a += 5) {
      let b = Math.min(e, a + 5);
      // never split a surrogate pair inside a token
      const c = text.charCodeAt(b - 1);
      if (b < e && c >= 0xd800 && c <= 0xdbff) b++;
      out.push([a, b]);
      a = b - 5;
    }
  }
  return out;
}

/** A non-additive token counter with offsets (the test double for a BPE tokenizer). */
export const fakeTokens: TokenCounter = {
  countTokens: (text: string) => pieces(text).length,
  encodeWithOffsets: (text: string) => {
    const offsets = pieces(text);
    return { ids: offsets.map((_, i) => i), offsets };
  },
  unit: "tokens",
};

/** The same counter without offsets (so `fixed` must search). */
export const fakeTokensNoOffsets: TokenCounter = {
  countTokens: fakeTokens.countTokens,
  unit: "tokens",
};

/** A small deterministic random generator. */
export function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** Splits `text` into random pieces (sometimes between the halves of a surrogate pair). */
export function randomParts(text: string, seed: number, maxLen = 60): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let p = 0; p < text.length;) {
    const q = Math.min(text.length, p + 1 + Math.floor(r() * maxLen));
    out.push(text.slice(p, q));
    p = q;
  }
  return out;
}

/** Path of the shared real data (absent in a fresh clone). */
export const SHARED = new URL("../../../shared/data/", import.meta.url).pathname;

/** Whether a path exists. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
