// Bentevi vs Hugging Face `tokenizers` (npm, native Rust) on the real tokenizer.json files of
// ../shared/data/tokenizer (spm-bpe-32k, llama3, qwen3), side by side in ONE process,
// alternating the order within each round so that load changes on a shared machine hit both:
//   - load time: `Tokenizer.fromFile` vs HF `Tokenizer.fromFile` (a fresh instance per round,
//     so each round also encodes with a cold word cache on both sides);
//   - encoding speed on Machado (each book encoded whole, no template tokens), MB/s;
//   - the token counts, which must be equal (exact parity).
// Run (from the repository root; the npm package comes from deno.json):
//   deno run --allow-read --allow-env --allow-ffi bench/tokenizer_hf.ts \
//     [corpus file or folder = ../shared/data/pt/machado] [--rounds 3] [--only llama3,qwen3]
// Prints a table and, as its last line, one JSON object. Run `uptime` before and after.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { listInputFiles, Tokenizer } from "../src/tokenizer/mod.ts";

const SHARED = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const args = [...Deno.args];
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const rounds = Number(opt("--rounds") ?? 3);
const only = opt("--only")?.split(",");
const corpus = args[0] ?? `${SHARED}pt/machado`;
const NAMES = only ?? ["spm-bpe-32k", "llama3", "qwen3"];
if (!existsSync(corpus)) {
  console.error(`needs ${corpus} (../shared/data)`);
  Deno.exit(1);
}
const hf = await import("tokenizers");

const files = await listInputFiles([corpus]);
const texts = await Promise.all(files.map((f) => Deno.readTextFile(f.path)));
const bytes = files.reduce((s, f) => s + f.size, 0);
const now = () => performance.now() / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r3 = (x: number) => Number(x.toFixed(3));

const results: Record<string, unknown>[] = [];
for (const name of NAMES) {
  const path = `${SHARED}tokenizer/${name}/tokenizer.json`;
  if (!existsSync(path)) {
    console.error(`skipping ${name}: ${path} not found`);
    continue;
  }
  const load = { bentevi: [] as number[], hf: [] as number[] };
  const enc = { bentevi: [] as number[], hf: [] as number[] };
  let tokens = { bentevi: 0, hf: 0 };
  for (let round = 0; round < rounds; round++) {
    const sides = round % 2 === 0 ? ["bentevi", "hf"] as const : ["hf", "bentevi"] as const;
    for (const side of sides) {
      let n = 0;
      if (side === "bentevi") {
        let t = now();
        const tok = await Tokenizer.fromFile(path);
        load.bentevi.push(now() - t);
        t = now();
        for (const text of texts) n += tok.encode(text, { addSpecialTokens: false }).length;
        enc.bentevi.push(now() - t);
        tokens = { ...tokens, bentevi: n };
      } else {
        let t = now();
        const tok = hf.Tokenizer.fromFile(path);
        load.hf.push(now() - t);
        t = now();
        for (const text of texts) {
          n += (await tok.encode(text, null, { addSpecialTokens: false })).getLength();
        }
        enc.hf.push(now() - t);
        tokens = { ...tokens, hf: n };
      }
    }
  }
  const row = {
    tokenizer: name,
    tokens_bentevi: tokens.bentevi,
    tokens_hf: tokens.hf,
    load_s_bentevi: r3(median(load.bentevi)),
    load_s_hf: r3(median(load.hf)),
    load_ratio_hf_over_bentevi: r3(median(load.hf) / median(load.bentevi)),
    encode_mb_s_bentevi: r3(bytes / 1e6 / median(enc.bentevi)),
    encode_mb_s_hf: r3(bytes / 1e6 / median(enc.hf)),
    encode_speedup_bentevi_over_hf: r3(median(enc.hf) / median(enc.bentevi)),
  };
  results.push(row);
  console.log(
    `${
      name.padEnd(12)
    } load ${row.load_s_bentevi}s vs HF ${row.load_s_hf}s | encode ${row.encode_mb_s_bentevi} vs HF ${row.encode_mb_s_hf} MB/s (${row.encode_speedup_bentevi_over_hf}×) | tokens ${tokens.bentevi} vs ${tokens.hf}${
      tokens.bentevi === tokens.hf ? "" : "  MISMATCH"
    }`,
  );
}
console.log(JSON.stringify({ corpus, files: files.length, bytes, rounds, results }));
