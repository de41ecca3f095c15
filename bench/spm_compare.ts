// `tokenizer train --style sentencepiece` side by side with Debian's `spm_train` (package
// `sentencepiece`) at the same vocabulary size on the same Portuguese text, in ONE run,
// alternating A, B, A, B… so that load changes on the shared machine hit both alike:
//   - training: wall seconds and peak RSS of each trainer as its own process (`/usr/bin/time`);
//     Bentevi's CLI on one thread (`deno run … cli.ts tokenizer train --style sentencepiece
//     --no-specials`), `spm_train --model_type bpe --byte_fallback --num_threads 1` with
//     Llama-2's text handling (identity normalization, spaces kept) so both see the same text;
//   - bytes per token on held-out text, line by line (a line is a sentence for spm_encode):
//     UTF-8 bytes of the lines (newlines left out) / tokens.
// Corpus: the Machado .txt files in sorted order; every 10th file is held out, the rest is
// training text. Both get the same vocabulary: <unk> <s> </s>, 256 byte tokens, the rest.
// Run (from the repository root):
//   deno run --allow-read --allow-write --allow-env --allow-ffi --allow-run bench/spm_compare.ts \
//     [--corpus ../shared/data/pt/machado] [--vocab 8000] [--rounds 2]
// Prints a table and one JSON object (last line). Run `uptime` before and after.
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { listInputFiles, Tokenizer } from "../src/tokenizer/mod.ts";

const SHARED = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const { values } = parseArgs({
  args: Deno.args,
  options: {
    corpus: { type: "string", default: `${SHARED}pt/machado` },
    vocab: { type: "string", default: "8000" },
    rounds: { type: "string", default: "2" },
  },
});
const vocab = Number(values.vocab);
const rounds = Number(values.rounds);
const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

async function which(cmd: string): Promise<boolean> {
  try {
    const r = await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`] }).output();
    return r.success;
  } catch {
    return false;
  }
}
for (const cmd of ["spm_train", "spm_encode", "/usr/bin/time"]) {
  if (!(await which(cmd))) {
    console.error(`needs ${cmd} (apt-get install sentencepiece time)`);
    Deno.exit(1);
  }
}

const files = (await listInputFiles([values.corpus!])).filter((f) => f.path.endsWith(".txt"));
const train: string[] = [], held: string[] = [];
files.forEach((f, i) => (i % 10 === 9 ? held : train).push(f.path));
const tmp = await Deno.makeTempDir({ prefix: "spm_compare_" });
const read = async (paths: string[]) =>
  (await Promise.all(paths.map((p) => Deno.readTextFile(p)))).map((t) =>
    t.endsWith("\n") ? t : t + "\n"
  ).join("");
const trainPath = `${tmp}/train.txt`, heldPath = `${tmp}/heldout.txt`;
await Deno.writeTextFile(trainPath, await read(train));
const heldText = (await read(held)).replaceAll("\r\n", "\n");
await Deno.writeTextFile(heldPath, heldText);
const heldLines = heldText.split("\n").filter((l) => l.length > 0);
const heldBytes = heldLines.reduce((s, l) => s + new TextEncoder().encode(l).length, 0);

/** Runs a command under /usr/bin/time: wall seconds and peak RSS (MiB). */
async function timed(cmd: string[]): Promise<{ seconds: number; rssMiB: number; out: string }> {
  const r = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "TIME %e %M", ...cmd],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  const m = err.match(/TIME ([\d.]+) (\d+)/);
  if (!r.success || !m) throw new Error(`${cmd[0]} failed:\n${err.slice(-2000)}`);
  return {
    seconds: Number(m[1]),
    rssMiB: Number(m[2]) / 1024,
    out: new TextDecoder().decode(r.stdout),
  };
}

const bentevi = [
  Deno.execPath(),
  "run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  `--config=${CONFIG}`,
  CLI,
  "tokenizer",
  "train",
  trainPath,
  "--style",
  "sentencepiece",
  "--no-specials",
  "--vocab-size",
  String(vocab),
  "--output",
  `${tmp}/bentevi.json`,
  "--json",
];
const spm = [
  "spm_train",
  `--input=${trainPath}`,
  `--model_prefix=${tmp}/spm`,
  `--vocab_size=${vocab}`,
  "--model_type=bpe",
  "--byte_fallback=true",
  "--character_coverage=0.9995",
  "--normalization_rule_name=identity",
  "--remove_extra_whitespaces=false",
  "--num_threads=1",
  "--max_sentence_length=100000",
  "--minloglevel=2",
];

// Warm-up: Deno's type-check cache for the CLI, the page cache for the text.
await timed([...bentevi.slice(0, 7), "--help"]);
const runs: Record<string, { seconds: number[]; rssMiB: number[]; inner: number[] }> = {
  bentevi: { seconds: [], rssMiB: [], inner: [] },
  spm_train: { seconds: [], rssMiB: [], inner: [] },
};
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? ["bentevi", "spm_train"] : ["spm_train", "bentevi"];
  for (const who of order) {
    const t = await timed(who === "bentevi" ? bentevi : spm);
    runs[who].seconds.push(t.seconds);
    runs[who].rssMiB.push(t.rssMiB);
    if (who === "bentevi") {
      runs[who].inner.push(JSON.parse(t.out.trim().split("\n").pop()!).seconds);
    }
  }
}

// Bytes per token on the held-out lines.
const spmOut = await new Deno.Command("spm_encode", {
  args: [`--model=${tmp}/spm.model`, "--output_format=id", `--input=${heldPath}`],
  stdout: "piped",
}).output();
const spmTokens = new TextDecoder().decode(spmOut.stdout).split("\n").reduce(
  (s, l) => s + (l.trim() ? l.trim().split(/\s+/).length : 0),
  0,
);
const json = await Deno.readTextFile(`${tmp}/bentevi.json`);
const tok = Tokenizer.fromJSON(json, "bentevi.json");
let benteviTokens = 0;
const benteviIds: number[][] = [];
for (const l of heldLines) {
  const ids = tok.encode(l, { addSpecialTokens: false }); // spm_encode adds no <s> either
  benteviTokens += ids.length;
  benteviIds.push(ids);
}
// The same ids in Hugging Face tokenizers, on every held-out line (when its binding loads).
let sameAsHf: boolean | string = "hf-tokenizers not loaded";
try {
  const hf = await import("tokenizers");
  const t = hf.Tokenizer.fromString(json);
  sameAsHf = true;
  for (const [i, l] of heldLines.entries()) {
    const ids = Array.from((await t.encode(l, null, { addSpecialTokens: false })).getIds());
    if (ids.join() !== benteviIds[i].join()) {
      sameAsHf = `line ${i} differs`;
      break;
    }
  }
} catch (e) {
  sameAsHf = `hf-tokenizers not loaded: ${(e as Error).message.split("\n")[0]}`;
}
const spmVocab = (await Deno.readTextFile(`${tmp}/spm.vocab`)).trim().split("\n").length;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r3 = (x: number) => Number(x.toFixed(3));
const result = {
  corpus: values.corpus,
  train_files: train.length,
  train_mb: r3((await Deno.stat(trainPath)).size / 1e6),
  heldout_files: held.length,
  heldout_bytes: heldBytes,
  heldout_lines: heldLines.length,
  vocab,
  rounds,
  bentevi: {
    vocab: Object.keys(JSON.parse(json).model.vocab).length,
    train_seconds: runs.bentevi.seconds,
    train_seconds_in_process: runs.bentevi.inner,
    peak_rss_mib: runs.bentevi.rssMiB.map((x) => Number(x.toFixed(1))),
    heldout_tokens: benteviTokens,
    bytes_per_token: r3(heldBytes / benteviTokens),
    heldout_ids_identical_in_hf_tokenizers: sameAsHf,
  },
  spm_train: {
    vocab: spmVocab,
    train_seconds: runs.spm_train.seconds,
    peak_rss_mib: runs.spm_train.rssMiB.map((x) => Number(x.toFixed(1))),
    heldout_tokens: spmTokens,
    bytes_per_token: r3(heldBytes / spmTokens),
  },
  ratios: {
    train_time_bentevi_over_spm: r3(median(runs.bentevi.seconds) / median(runs.spm_train.seconds)),
    peak_rss_bentevi_over_spm: r3(median(runs.bentevi.rssMiB) / median(runs.spm_train.rssMiB)),
    bytes_per_token_bentevi_over_spm: r3(spmTokens / benteviTokens),
  },
};
console.log(
  `| trainer | train s (each round) | peak RSS MiB | held-out tokens | bytes/token |\n` +
    `|---|---|---|---|---|\n` +
    `| Bentevi --style sentencepiece | ${runs.bentevi.seconds.join(", ")} | ${
      result.bentevi.peak_rss_mib.join(", ")
    } | ${benteviTokens} | ${result.bentevi.bytes_per_token} |\n` +
    `| spm_train --model_type bpe | ${runs.spm_train.seconds.join(", ")} | ${
      result.spm_train.peak_rss_mib.join(", ")
    } | ${spmTokens} | ${result.spm_train.bytes_per_token} |`,
);
console.log(JSON.stringify(result));
await Deno.remove(tmp, { recursive: true });
