/** `tokenizer.json`: read with `Tokenizer.fromFile`, then encode and decode a sentence. */
import { join } from "node:path";
import { Tokenizer, trainTokenizer } from "../../../src/tokenizer/mod.ts";
import { type FuzzFormat, KnownIssueError } from "../harness.ts";
import { SENTENCES, smallTokenizer, utf8 } from "./_fixtures.ts";

/** Larger than any real vocabulary (2^22 ids). */
const HUGE_ID = 1 << 22;

const PROBE = "Olá, bem-te-vi! <|endoftext|> ação 123 [EOS]";

export const tokenizerJson: FuzzFormat = {
  name: "tokenizer.json",
  async seeds() {
    const trained = await smallTokenizer();
    async function* corpus() {
      yield* SENTENCES;
    }
    const normalized = await trainTokenizer(corpus(), {
      vocabSize: 290,
      minFrequency: 1,
      normalize: "ptbr",
      specialTokens: ["[EOS]", "<|endoftext|>"],
      preTokenizer: "gpt4",
    });
    const json = (t: Tokenizer) => utf8(JSON.stringify(t.toJSON(), null, 1));
    return [
      { label: "trained", files: { "tokenizer.json": json(trained) } },
      { label: "ptbr-gpt4", files: { "tokenizer.json": json(normalized) } },
      { label: "byte-level", files: { "tokenizer.json": json(Tokenizer.byteLevel()) } },
    ];
  },
  async run(_root, file) {
    // Known issue (known.ts, r2-headers, issue 13 item 5): ids far past the vocabulary are
    // believed, and the loader then builds tables that large (seconds to minutes, gigabytes).
    // Such mutants are not loaded until that fix lands.
    const huge = largestId(await Deno.readTextFile(file));
    if (huge > HUGE_ID) {
      throw new KnownIssueError(`${file}: token id ${huge} believed (r2-headers)`);
    }
    const tok = await Tokenizer.fromFile(file);
    const ids = tok.encode(PROBE);
    tok.decode(ids);
  },
};

/** The largest numeric id in `model.vocab` and `added_tokens` (0 when not JSON). */
function largestId(text: string): number {
  let j;
  try {
    j = JSON.parse(text.replace(/^\ufeff/, ""));
  } catch {
    return 0;
  }
  let max = 0;
  const see = (v: unknown) => {
    if (typeof v === "number" && v > max) max = v;
  };
  if (j?.model?.vocab && typeof j.model.vocab === "object") {
    Object.values(j.model.vocab).forEach(see);
  }
  if (Array.isArray(j?.added_tokens)) j.added_tokens.forEach((t: { id?: unknown }) => see(t?.id));
  return max;
}

/** Path of the seed file in a mutant (for tools). */
export function tokenizerPath(root: string): string {
  return join(root, "tokenizer.json");
}
