// The full parity sweep of Bentevi's tokenizer against Hugging Face `tokenizers` (npm) on the
// real tokenizer.json files of ../shared/data/tokenizer (spm-bpe-32k, llama3, qwen3): every
// Machado file, Os Lusíadas (CRLF), the fortunes and seeded random Unicode — each text encoded
// whole with and without the template's tokens (same ids), decoded (same text as HF's decode,
// and the original text back where HF gives it back), and streamed from the file in parts
// (`encodeStream`: the same ids as the whole). `deno test` runs a seeded sample of this
// (tests/tokenizer/hf_files.test.ts); this is the long version.
// Run (from the repository root):
//   deno task tokenizer-parity [--only llama3] [--random 50]
// (= deno run --allow-read --allow-env --allow-ffi bench/tokenizer_hf_parity.ts …)
// Exits non-zero on any difference, printing the first one per text.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { listInputFiles, readTextChunks, Tokenizer } from "../src/tokenizer/mod.ts";
import { randomText } from "../tests/tokenizer/_helpers.ts";

const SHARED = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const args = [...Deno.args];
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const only = opt("--only")?.split(",");
const nRandom = Number(opt("--random") ?? 50);
const NAMES = only ?? ["spm-bpe-32k", "llama3", "qwen3"];
const hf = await import("tokenizers");

const inputs: { name: string; path?: string; text: string }[] = [];
for (const f of await listInputFiles([`${SHARED}pt/machado`])) {
  inputs.push({
    name: f.path.slice(SHARED.length),
    path: f.path,
    text: await Deno.readTextFile(f.path),
  });
}
for (const f of ["os-lusiadas.txt", "fortunes-br.txt"]) {
  const path = `${SHARED}pt/${f}`;
  if (existsSync(path)) inputs.push({ name: `pt/${f}`, path, text: await Deno.readTextFile(path) });
}
for (let seed = 1; seed <= nRandom; seed++) {
  inputs.push({ name: `random seed ${seed}`, text: randomText(seed * 104729, 20_000) });
}

const firstDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i === a.length && i === b.length ? -1 : i;
};

let failures = 0;
const summary: Record<string, unknown>[] = [];
for (const name of NAMES) {
  const path = `${SHARED}tokenizer/${name}/tokenizer.json`;
  if (!existsSync(path)) {
    console.error(`skipping ${name}: not found`);
    continue;
  }
  const tok = await Tokenizer.fromFile(path);
  const ref = hf.Tokenizer.fromFile(path);
  let texts = 0, tokens = 0, bad = 0, roundTrips = 0, streamed = 0;
  const t0 = performance.now();
  for (const input of inputs) {
    const report = (what: string) => {
      bad++;
      console.log(`${name}: ${input.name}: ${what}`);
    };
    for (const add of [true, false]) {
      const want = (await ref.encode(input.text, null, { addSpecialTokens: add }))
        .getIds() as number[];
      const got = tok.encode(input.text, { addSpecialTokens: add });
      const d = firstDiff(got, want);
      if (d >= 0) {
        report(
          `ids differ at ${d} (add_special_tokens ${add}): ours ${got.slice(d, d + 5)}, HF ${
            Array.from(want).slice(d, d + 5)
          }`,
        );
        continue;
      }
      if (add) tokens += want.length;
      else {
        const ours = tok.decode(got), theirs = await ref.decode(Array.from(want), false);
        if (ours !== theirs) report("decode differs from HF's");
        if (ours === input.text) roundTrips++;
      }
    }
    if (input.path) {
      // Streaming from the file, in parts of 64 Ki characters (the file read in chunks).
      const parts: number[] = [];
      for await (const p of tok.encodeStream(readTextChunks(input.path), 1 << 16)) {
        for (const id of p) parts.push(id);
      }
      const whole = tok.encode(input.text);
      const d = firstDiff(parts, whole);
      if (d >= 0) report(`encodeStream differs from encode at ${d}`);
      else streamed++;
    }
    texts++;
  }
  failures += bad;
  const row = {
    tokenizer: name,
    texts,
    tokens_with_template: tokens,
    differences: bad,
    decoded_back_to_the_input: roundTrips,
    streamed_equal_to_whole: streamed,
    seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
  };
  summary.push(row);
  console.log(JSON.stringify(row));
}
console.log(JSON.stringify({ inputs: inputs.length, failures, summary }));
if (failures) Deno.exit(1);
