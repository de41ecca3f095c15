/**
 * CLI command group: `chunk <file>` (lossless, token-bounded chunks as JSONL), `chunk analyze`
 * (quality report) and `chunk bench` (every strategy side by side). Also registers the
 * `bench chunking` suite.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { modelEmbedder } from "../chunking/embedding.ts";
import { BenteviError, fsError } from "../errors.ts";
import { withAtomicFile } from "../io/atomic.ts";
import { refuseOutputOverInputs } from "../io/fs.ts";
import { consoleProgress, type Progress, silentProgress } from "../progress.ts";
import { decodeTextStrict, parseEncoding } from "../text/encoding.ts";
import { listInputFiles } from "../text/inputs.ts";
import { readTextChunks } from "../text/read.ts";
import { analyzeChunks, parseChunksJsonl } from "../chunking/analyze.ts";
import { benchChunking, chunkBenchTable } from "../chunking/bench.ts";
import { chunkStream } from "../chunking/engine.ts";
import {
  charCounter,
  type Chunk,
  resolveOptions,
  STRATEGIES,
  type Strategy,
  type TokenCounter,
} from "../chunking/types.ts";
import { Tokenizer } from "../tokenizer/mod.ts";
import { deviceOption, floatOption, intOption, printJson, threadsOption } from "./common.ts";
import { registerBenchSuite } from "./bench.ts";

interface BudgetFlags {
  maxTokens?: number;
  maxChars?: number;
  tokenizer?: string;
}

/** Turns the budget flags into a budget and a counter (characters unless --tokenizer). */
async function budgetFrom(flags: BudgetFlags): Promise<{ max: number; counter: TokenCounter }> {
  if (flags.maxTokens !== undefined && flags.maxChars !== undefined) {
    throw new BenteviError("give either --max-tokens or --max-chars, not both");
  }
  if (flags.maxChars !== undefined) {
    if (flags.tokenizer) {
      throw new BenteviError(
        "--max-chars measures characters: drop --tokenizer, or use --max-tokens with it",
      );
    }
    return { max: flags.maxChars, counter: charCounter };
  }
  if (flags.maxTokens !== undefined && !flags.tokenizer) {
    throw new BenteviError(
      "--max-tokens needs --tokenizer FILE (any tokenizer.json), or use --max-chars",
    );
  }
  if (flags.tokenizer) {
    const tok = await Tokenizer.fromFile(flags.tokenizer);
    return { max: flags.maxTokens ?? 512, counter: tok };
  }
  return { max: 1000, counter: charCounter };
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
}

/** A file's bytes, or every `*.txt` under a folder (in name order) concatenated. */
async function readFileOrFolder(path: string): Promise<Uint8Array> {
  const files = await listInputFiles([path], { extensions: [".txt"] });
  const parts = await Promise.all(files.map((f) => readBytes(f.path)));
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let off = 0;
  for (const b of parts) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

async function* fileStrings(
  path: string,
  encoding: string,
  progress: Progress = silentProgress,
): AsyncGenerator<string> {
  const enc = parseEncoding(encoding);
  let size = 0;
  try {
    size = (await Deno.stat(path)).size;
  } catch (e) {
    throw fsError(e, path);
  }
  let chars = 0, bytes = 0;
  progress.start(`chunking ${path}`, size / 1e6, "MB");
  const onBytes = (n: number) => {
    bytes += n;
    progress.update(bytes / 1e6);
  };
  for await (const s of readTextChunks(path, { encoding: enc, onBytes, chunkBytes: 1 << 16 })) {
    chars += s.length;
    yield s;
  }
  if (chars === 0) throw new BenteviError(`${path}: empty input, nothing to chunk`);
}

function chunkLine(c: Chunk): string {
  return JSON.stringify({
    index: c.index,
    start: c.start,
    end: c.end,
    tokens: c.tokens,
    text: c.text,
  }) +
    "\n";
}

/** Writes chunk lines through `write`, batching them into ~1 MB writes. */
async function writeChunks(
  chunks: AsyncIterable<Chunk>,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<{ count: number; maxTokens: number }> {
  const enc = new TextEncoder();
  let pending: string[] = [];
  let size = 0, count = 0, maxTokens = 0;
  for await (const c of chunks) {
    const line = chunkLine(c);
    pending.push(line);
    size += line.length;
    count++;
    if (c.tokens > maxTokens) maxTokens = c.tokens;
    if (size > 1 << 20) {
      await write(enc.encode(pending.join("")));
      pending = [];
      size = 0;
    }
  }
  if (pending.length) await write(enc.encode(pending.join("")));
  return { count, maxTokens };
}

async function writeAll(file: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

function parseStrategy(value: string): Strategy {
  if (!(STRATEGIES as readonly string[]).includes(value)) {
    throw new BenteviError(`--strategy: unknown "${value}"; use one of ${STRATEGIES.join(", ")}`);
  }
  return value as Strategy;
}

function parsePreserve(value: string | undefined): "none" | "words" | "sentences" | undefined {
  if (value === undefined) return undefined;
  if (value !== "none" && value !== "words" && value !== "sentences") {
    throw new BenteviError(`--preserve must be none, words or sentences, got "${value}"`);
  }
  return value;
}

function analysisText(r: ReturnType<typeof analyzeChunks>): string {
  const lines = [
    `chunks              ${r.chunks}`,
    `tokens              min ${r.tokens.min}  median ${r.tokens.median}  mean ${r.tokens.mean}  p90 ${r.tokens.p90}  max ${r.tokens.max}  (cv ${r.tokens.cv})`,
    `characters          min ${r.chars.min}  median ${r.chars.median}  mean ${r.chars.mean}  max ${r.chars.max}`,
    `sentence starts     ${(r.sentence_start_share * 100).toFixed(1)}%`,
    `sentence ends       ${(r.sentence_end_share * 100).toFixed(1)}%`,
    `cohesion            within ${r.cohesion.within}  across ${r.cohesion.across}  score ${r.cohesion.score}`,
    `overlap             ${(r.overlap_share * 100).toFixed(1)}% of chunk text`,
  ];
  if (r.source_check) {
    lines.push(
      `source check        ${
        r.source_check.ok ? "ok (lossless)" : r.source_check.problems.join("; ")
      }`,
    );
  }
  lines.push("suggestions:", ...r.suggestions.map((s) => `  - ${s}`));
  return lines.join("\n");
}

async function runBench(
  file: string,
  flags: BudgetFlags & { encoding: string; repeat?: number; strategies?: string },
): Promise<{ json: Record<string, unknown>; text: string }> {
  const bytes = await readFileOrFolder(file);
  const text = decodeTextStrict(bytes, { encoding: flags.encoding, path: file });
  if (text.length === 0) throw new BenteviError(`${file}: empty input, nothing to chunk`);
  const { max, counter } = await budgetFrom(flags);
  const strategies = flags.strategies
    ? flags.strategies.split(",").map((s) => parseStrategy(s.trim()))
    : STRATEGIES;
  const rows = benchChunking(text, bytes.length, {
    maxTokens: max,
    counter,
    repeat: flags.repeat,
    strategies,
  });
  const unit = counter.unit ?? "tokens";
  return {
    json: rows as unknown as Record<string, unknown>,
    text: `${file}: ${(bytes.length / 1e6).toFixed(2)} MB, budget ${max} ${unit}, median of ${
      flags.repeat ?? 3
    } runs\n${chunkBenchTable(rows, unit)}`,
  };
}

/**
 * Options that `chunk` shares with `chunk bench`/`chunk analyze` (`--max-tokens`, `--encoding`…):
 * unless the program enables positional options, commander hands them to the parent `chunk`
 * even when typed after the subcommand, so take them from there when the user typed them.
 */
function fromParent(
  parent: { opts(): unknown; getOptionValueSource(key: string): string | undefined },
  keys: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const values = parent.opts() as Record<string, unknown>;
  for (const key of keys) {
    if (parent.getOptionValueSource(key) === "cli") out[key] = values[key];
  }
  return out;
}

/** Registers this group's commands on `program`. */
export function registerChunk(program: Command): void {
  const chunk = program
    .command("chunk")
    .description(
      "split a text file into lossless chunks of at most N tokens or characters (JSONL: index, start, end, tokens, text); see also `chunk analyze` and `chunk bench`",
    )
    .argument("<file>", "text file (UTF-8 unless --encoding)")
    .option(
      "--strategy <name>",
      `fixed | sentence | semantic | adaptive | recursive`,
      "recursive",
    )
    .option("--max-tokens <n>", "budget in tokens (needs --tokenizer; default 512)", intOption(1))
    .option(
      "--max-chars <n>",
      "budget in characters (default 1000 when no tokenizer)",
      intOption(1),
    )
    .option(
      "--min-tokens <n>",
      "preferred minimum chunk size (semantic/adaptive default: max/4)",
      intOption(0),
    )
    .option(
      "--overlap <ratio>",
      "repeat this share of the budget from the previous chunk (0 to 0.5)",
      floatOption(0, 0.5),
    )
    .option(
      "--tokenizer <file>",
      "tokenizer.json that counts tokens (any byte-level BPE, GPT-2's included)",
    )
    .option("--preserve <mode>", "fixed only: snap cuts back to none | words | sentences")
    .option(
      "--model <checkpoint>",
      "semantic only: find topic shifts with this model's embeddings (mean-pooled last hidden state) instead of shared words",
    )
    .addOption(deviceOption())
    .addOption(threadsOption())
    .option(
      "--encoding <name>",
      "input encoding: utf-8, latin1 (ISO-8859-1) or windows-1252",
      "utf-8",
    )
    .option("--output <file>", "write the JSONL here (atomically) instead of stdout")
    .action(async (file, opts) => {
      const { max, counter } = await budgetFrom(opts);
      if (opts.model && opts.strategy !== "semantic") {
        throw new BenteviError("--model is used by --strategy semantic only");
      }
      const embedder = opts.model
        ? await modelEmbedder(opts.model, { device: opts.device })
        : undefined;
      try {
        const options = resolveOptions({
          embed: embedder?.embed,
          strategy: parseStrategy(opts.strategy),
          maxTokens: max,
          minTokens: opts.minTokens,
          overlap: opts.overlap,
          counter,
          preserve: parsePreserve(opts.preserve),
        });
        // progress on stderr only when stdout is not the data
        const progress = opts.output ? consoleProgress() : silentProgress;
        const chunks = chunkStream(fileStrings(file, opts.encoding, progress), options);
        if (opts.output) {
          const output = opts.output;
          await refuseOutputOverInputs(
            [output],
            [file, ...[opts.tokenizer, opts.model].filter((p): p is string => !!p)],
          );
          const r = await withAtomicFile(output, (f) => writeChunks(chunks, (b) => writeAll(f, b)));
          progress.end();
          console.error(
            `bentevi: wrote ${r.count} chunks (largest ${r.maxTokens} ${
              counter.unit ?? "tokens"
            }, budget ${max}) to ${output}`,
          );
        } else {
          await writeChunks(chunks, (b) => writeAll(Deno.stdout, b));
        }
      } finally {
        embedder?.close();
      }
    });

  chunk
    .command("analyze")
    .description(
      "quality of chunk JSONL: sizes, sentence-boundary shares, cohesion, suggestions",
    )
    .argument("<chunks>", "JSONL written by `chunk`")
    .option("--source <file>", "the chunked file: also checks that the offsets are lossless")
    .option("--encoding <name>", "encoding of --source", "utf-8")
    .option("--json", "print one JSON object")
    .action(async (path, options) => {
      const opts = { ...options, ...fromParent(chunk, ["encoding"]) };
      const jsonl = decodeTextStrict(await readBytes(path), { path });
      const chunks = parseChunksJsonl(jsonl, path);
      const source = opts.source
        ? decodeTextStrict(await readBytes(opts.source), {
          encoding: opts.encoding,
          path: opts.source,
        })
        : undefined;
      const report = analyzeChunks(chunks, { source });
      if (opts.json) printJson(report);
      else console.log(analysisText(report));
    });

  chunk
    .command("bench")
    .description("run every strategy on the same input: throughput, chunk counts, sizes, quality")
    .argument("<file>", "text file, or a folder (its *.txt files concatenated, sorted by path)")
    .option("--max-tokens <n>", "budget in tokens (needs --tokenizer)", intOption(1))
    .option("--max-chars <n>", "budget in characters (default 1000)", intOption(1))
    .option("--tokenizer <file>", "tokenizer.json that counts tokens")
    .option("--strategies <list>", "comma-separated subset (default: all)")
    .option("--repeat <n>", "runs per strategy, median reported", intOption(1, 100), 3)
    .option("--encoding <name>", "input encoding", "utf-8")
    .option("--json", 'print {"<strategy>": {"mb_per_s", "chunks", "sentence_end_share", …}}')
    .action(async (file, opts) => {
      const r = await runBench(file, {
        ...opts,
        ...fromParent(chunk, ["maxTokens", "maxChars", "tokenizer", "encoding"]),
      });
      if (opts.json) printJson(r.json);
      else console.log(r.text);
    });

  registerBenchSuite({
    name: "chunking",
    description:
      "every chunking strategy, 1000-character budget, on a file or folder (default ../shared/data/pt/machado)",
    run: async (inputs) => {
      if (inputs.length > 1) {
        throw new BenteviError("bench chunking takes one file or folder: bench chunking [PATH]");
      }
      return await runBench(inputs[0] ?? "../shared/data/pt/machado", { encoding: "utf-8" });
    },
  });
}
