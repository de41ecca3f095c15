// Side-by-side comparison of Bentevi's tokenizer with its peers, in ONE process, alternating
// within each round so that load changes on a shared machine hit both sides alike:
//   - training (vocab 30000, the options the npm binding is fixed to): Hugging Face
//     `tokenizers` (npm, native Rust, all cores) vs Bentevi (main thread; and 2 Workers);
//   - encoding with the trained tokenizers: HF (its own file) vs Bentevi (its own file), and
//     bytes per token of both;
//   - GPT-2 encoding: `tiktoken` (npm, Rust compiled to WASM) vs Bentevi (cold word cache).
// Run (from the repository root; needs npm packages `tokenizers` and `tiktoken`, see deno.json):
//   deno run --allow-read --allow-write --allow-env --allow-ffi bench/tokenizer_peers.ts \
//     [corpus file or folder = ../shared/data/pt/machado] [--rounds 3]
// Prints one JSON object (the last line; HF's trainer writes a few blank lines to stdout).
// Run `uptime` before and after to record how shared the machine was.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { listInputFiles, Tokenizer, trainTokenizer } from "../src/tokenizer/mod.ts";

const SHARED = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const args = [...Deno.args];
const ri = args.indexOf("--rounds");
const rounds = ri >= 0 ? Number(args.splice(ri, 2)[1]) : 3;
const corpus = args[0] ?? `${SHARED}pt/machado`;
const GPT2 = `${SHARED}tokenizer/gpt2/tokenizer.json`;
const RANKS = `${SHARED}tokenizer/gpt2/r50k_base.tiktoken`;
if (!existsSync(corpus) || !existsSync(GPT2) || !existsSync(RANKS)) {
  console.error("needs ../shared/data (corpus and GPT-2 files)");
  Deno.exit(1);
}
const hf = await import("tokenizers");
const { Tiktoken } = await import("tiktoken/lite");

const files = await listInputFiles([corpus]);
const paths = files.map((f) => f.path);
const bytes = files.reduce((s, f) => s + f.size, 0);
const texts = await Promise.all(paths.map((p) => Deno.readTextFile(p)));
const SPECIALS = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[SEP]"];
const tmp = await Deno.makeTempDir();
const now = () => performance.now() / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r3 = (x: number) => Number(x.toFixed(3));

const ranks = await Deno.readTextFile(RANKS);
const tiktoken = new Tiktoken(
  ranks,
  { "<|endoftext|>": 50256 },
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
);
const gpt2Json = JSON.parse(await Deno.readTextFile(GPT2));

type Row = Record<string, number>;
const rows: Row[] = [];
for (let round = 0; round < rounds; round++) {
  const row: Row = {};
  // Training.
  let t = now();
  const hfTok = new hf.Tokenizer(hf.BPE.empty());
  hfTok.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
  hfTok.train(paths);
  row.hf_train_s = now() - t;
  hfTok.save(`${tmp}/hf.json`, false);
  t = now();
  const ours = await trainTokenizer(paths, {
    vocabSize: 30000,
    minFrequency: 0,
    specialTokens: SPECIALS,
  });
  row.bentevi_train_s = now() - t;
  t = now();
  await trainTokenizer(paths, {
    vocabSize: 30000,
    minFrequency: 0,
    specialTokens: SPECIALS,
    workers: 2,
  });
  row.bentevi_train_2_workers_s = now() - t;

  // Encoding with the trained tokenizers.
  const hfLoaded = hf.Tokenizer.fromFile(`${tmp}/hf.json`);
  t = now();
  let hfTokens = 0;
  for (const text of texts) {
    hfTokens += (await hfLoaded.encode(text, null, { addSpecialTokens: false })).getLength();
  }
  row.hf_encode_s = now() - t;
  row.hf_bytes_per_token = bytes / hfTokens;
  const fresh = Tokenizer.fromJSON(ours.toJSON());
  t = now();
  let ourTokens = 0;
  for (const text of texts) ourTokens += fresh.encode(text).length;
  row.bentevi_encode_s = now() - t;
  row.bentevi_bytes_per_token = bytes / ourTokens;

  // GPT-2.
  t = now();
  let tt = 0;
  for (const text of texts) tt += tiktoken.encode_ordinary(text).length;
  row.tiktoken_gpt2_s = now() - t;
  const gpt2 = Tokenizer.fromJSON(gpt2Json);
  t = now();
  let bt = 0;
  for (const text of texts) bt += gpt2.encode(text).length;
  row.bentevi_gpt2_s = now() - t;
  if (tt !== bt) throw new Error(`GPT-2 token counts differ: tiktoken ${tt}, Bentevi ${bt}`);
  rows.push(row);
  console.error(`round ${round + 1}: ${JSON.stringify(row)}`);
}
tiktoken.free();
await Deno.remove(tmp, { recursive: true });

const ratio = (a: string, b: string) => r3(median(rows.map((r) => r[a] / r[b])));
const mbps = (k: string) => r3(bytes / 1e6 / median(rows.map((r) => r[k])));
console.log(JSON.stringify({
  corpus,
  files: files.length,
  bytes,
  rounds,
  cores: navigator.hardwareConcurrency,
  train_seconds: {
    hf_tokenizers: r3(median(rows.map((r) => r.hf_train_s))),
    bentevi: r3(median(rows.map((r) => r.bentevi_train_s))),
    bentevi_2_workers: r3(median(rows.map((r) => r.bentevi_train_2_workers_s))),
  },
  train_speedup_over_hf: ratio("hf_train_s", "bentevi_train_s"),
  train_speedup_over_hf_2_workers: ratio("hf_train_s", "bentevi_train_2_workers_s"),
  encode_trained_mb_per_s: {
    hf_tokenizers: mbps("hf_encode_s"),
    bentevi: mbps("bentevi_encode_s"),
  },
  encode_trained_speedup_over_hf: ratio("hf_encode_s", "bentevi_encode_s"),
  bytes_per_token: {
    hf_tokenizers: r3(rows[0].hf_bytes_per_token),
    bentevi: r3(rows[0].bentevi_bytes_per_token),
  },
  gpt2_encode_mb_per_s: { tiktoken_wasm: mbps("tiktoken_gpt2_s"), bentevi: mbps("bentevi_gpt2_s") },
  gpt2_speedup_over_tiktoken: ratio("tiktoken_gpt2_s", "bentevi_gpt2_s"),
}));
