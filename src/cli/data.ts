/**
 * CLI command group: data — `wiki` (dump → clean text), `clean`, `audit`, `dataset build`,
 * `dataset info`, and the `bz2` bench suite. Parses flags, calls src/data and src/native,
 * prints — nothing else.
 *
 * @module
 */
import { type Command, Option } from "@commander-js/extra-typings";
import type { TextEncoding } from "../text/encoding.ts";
import { BenteviError } from "../errors.ts";
import { consoleProgress } from "../progress.ts";
import { convertWikiDump, summarizeStats } from "../data/wiki/dump.ts";
import { cleanCorpus, summarizeClean } from "../data/corpus/clean.ts";
import { auditCorpus, formatAudit } from "../data/corpus/audit.ts";
import { buildDataset } from "../data/dataset/build.ts";
import { datasetInfo, formatDatasetInfo } from "../data/dataset/info.ts";
import { benchBz2 } from "../native/bench.ts";
import { benchWiki } from "../data/wiki/bench.ts";
import { Tokenizer } from "../tokenizer/mod.ts";
import { registerBenchSuite } from "./bench.ts";
import {
  ENCODING_HELP,
  encodingOption,
  floatOption,
  intOption,
  nulNote,
  printJson,
} from "./common.ts";

const encodingFlag = () =>
  new Option("--encoding <name>", ENCODING_HELP).argParser(encodingOption).default(
    "utf-8" as TextEncoding,
  );

const cores = navigator.hardwareConcurrency ?? 1;
// Workers pay from 2 cores on for multistream dumps (measured on a 91 MB multistream dump on 2
// cores: 1.7–2.2× faster than one reader, see bench/README.md); other dumps always use one reader.
const defaultWorkers = Math.max(1, Math.min(8, cores));

/** Registers this group's commands on `program`. */
export function registerData(program: Command): void {
  program
    .command("wiki")
    .description(
      "stream a Wikipedia dump (.xml.bz2 or .xml, UTF-8 or UTF-16) into clean article text shards",
    )
    .argument("<dump>", "pages-articles dump (.xml.bz2, multistream or not, or .xml)")
    .requiredOption("-o, --output <dir>", "folder for the shards (wiki_00000.jsonl, …)")
    .addOption(
      new Option("--format <format>", "shard format").choices(["jsonl", "txt"] as const)
        .default("jsonl" as const),
    )
    .option("--min-chars <n>", "drop articles shorter than this after cleaning", intOption(0), 0)
    .option(
      "--workers <n>",
      "parallel Workers for multistream .bz2 dumps (1 = in-process; other dumps always use 1; default: the number of cores, at most 8)",
      intOption(1, 64),
      defaultWorkers,
    )
    .option("--shard-mb <n>", "start a new shard after this many MB", intOption(1), 64)
    .option("--json", "print the final counts as one JSON line")
    .action(async (dump, options) => {
      const stats = await convertWikiDump(dump, {
        output: options.output,
        format: options.format,
        minChars: options.minChars,
        workers: options.workers,
        shardBytes: options.shardMb * 1e6,
        progress: options.json ? undefined : consoleProgress(),
      });
      if (options.json) printJson(stats);
      else console.log(summarizeStats(stats));
    });

  program
    .command("clean")
    .description(
      'clean text files: NFC, control characters, line endings, whitespace, duplicate and short paragraphs; a .jsonl file (wiki shard) comes out as .jsonl, each record with its other fields and its "text" cleaned (records left empty are dropped)',
    )
    .argument("<inputs...>", "text or .jsonl files, or folders (searched recursively)")
    .requiredOption("-o, --output <dir>", "folder for the cleaned files (same relative names)")
    .addOption(encodingFlag())
    .option(
      "--min-chars <n>",
      "drop paragraphs shorter than this, unless a complete sentence or a dialogue line",
      intOption(0),
      20,
    )
    .option(
      "--dedup-min-chars <n>",
      "remove repeated paragraphs at least this long (shorter repeats are kept)",
      intOption(1),
      32,
    )
    .option("--json", "print the summary as one JSON line")
    .action(async (inputs, options) => {
      const stats = await cleanCorpus(inputs, {
        output: options.output,
        encoding: options.encoding,
        minChars: options.minChars,
        dedupMinChars: options.dedupMinChars,
        progress: options.json ? undefined : consoleProgress(),
      });
      if (options.json) printJson(stats);
      else console.log(summarizeClean(stats));
    });

  program
    .command("audit")
    .description(
      'report what a corpus is made of: sizes, duplicates, scripts, frequent words, sentence lengths, encoding problems; in .jsonl files each record\'s "text" is a document',
    )
    .argument("<inputs...>", "text or .jsonl files, or folders (searched recursively)")
    .addOption(encodingFlag())
    .option("--top <n>", "most frequent words to list", intOption(1, 1000), 20)
    .option("--json", "print one JSON object")
    .action(async (inputs, options) => {
      const report = await auditCorpus(inputs, {
        encoding: options.encoding,
        topWords: options.top,
      });
      if (options.json) printJson(report);
      else console.log(formatAudit(report));
    });

  const dataset = program
    .command("dataset")
    .description("tokenized datasets in llm.c's .bin format");

  dataset
    .command("build")
    .description(
      "tokenize text (files, folders, wiki .jsonl shards) into PREFIX.train.bin and PREFIX.val.bin",
    )
    .argument("<inputs...>", "text or .jsonl files, or folders")
    .requiredOption("--tokenizer <file>", "tokenizer.json")
    .requiredOption("-o, --output <prefix>", "output prefix (PREFIX.train.bin, PREFIX.val.bin)")
    .option(
      "--val-fraction <f>",
      "share of documents for validation (chosen by a hash of each document)",
      floatOption(0, 0.99),
      0.05,
    )
    .option(
      "--workers <n>",
      "tokenizing Workers (1 = in-process)",
      intOption(1, 64),
      defaultWorkers,
    )
    .addOption(encodingFlag())
    .option("--json", "print the result as one JSON line")
    .action(async (inputs, options) => {
      const result = await buildDataset(inputs, {
        tokenizer: options.tokenizer,
        output: options.output,
        valFraction: options.valFraction,
        workers: options.workers,
        encoding: options.encoding,
        progress: options.json ? undefined : consoleProgress(),
      });
      if (result.nulCharacters > 0) console.error(nulNote(result.nulCharacters));
      if (options.json) printJson(result);
      else {
        if (result.notice) console.error(`bentevi: notice: ${result.notice}`);
        console.log(
          `${result.train.path}: ${result.train.tokens} tokens, ${result.train.documents} documents\n` +
            `${result.val.path}: ${result.val.tokens} tokens, ${result.val.documents} documents\n` +
            `vocabulary ${result.vocabSize} (version ${result.version}), ${
              (result.inputBytes / 1e6 / result.seconds).toFixed(2)
            } MB/s with ${result.workers} worker(s)`,
        );
      }
    });

  dataset
    .command("info")
    .description("show a .bin token file's header, size, vocabulary use and most frequent tokens")
    .argument("<file>", "token file (.bin, llm.c format)")
    .option("--tokenizer <file>", "tokenizer.json to decode tokens and count documents")
    .option("--top <n>", "most frequent tokens to list", intOption(1, 10000), 20)
    .option("--json", "print one JSON object")
    .action(async (file, options) => {
      const tokenizer = options.tokenizer ? await Tokenizer.fromFile(options.tokenizer) : undefined;
      const info = await datasetInfo(file, { tokenizer, top: options.top });
      if (options.json) printJson(info);
      else console.log(formatDatasetInfo(info));
    });

  registerBenchSuite({
    name: "wiki",
    description:
      "dump → clean text: MB/s of XML, articles/s and markup-residue lines (DUMP.xml.bz2 or .xml)",
    async run(inputs) {
      if (inputs.length !== 1) throw new BenteviError("bench wiki needs one dump file");
      const r = await benchWiki(inputs[0]);
      return {
        json: r as unknown as Record<string, unknown>,
        text: [
          `${r.file}: ${r.pages_seen} pages, ${r.kept} articles, ${r.xml_bytes} bytes of XML (median of ${r.runs})`,
          `in one piece        ${r.mb_per_s} MB/s of XML, ${r.articles_per_s} articles/s`,
          `with ${r.workers} Workers     ${r.parallel_mb_per_s ?? "n/a (not a multistream dump)"}${
            r.parallel_mb_per_s === null ? "" : " MB/s of XML"
          }`,
          `residue             ${r.residue_lines} of ${r.output_lines} output lines contain {{ }} [[ ]] <ref {| |} thumb| px| miniatura|`,
        ].join("\n"),
      };
    },
  });

  registerBenchSuite({
    name: "bz2",
    description: "bzip2 decompression MB/s: native shim vs pure fallback vs `bzip2 -dc` (FILE.bz2)",
    async run(inputs) {
      if (inputs.length !== 1) throw new BenteviError("bench bz2 needs one FILE.bz2");
      const r = await benchBz2(inputs[0]);
      const f = (x: number | null) => (x === null ? "n/a" : `${x} MB/s`);
      return {
        json: r as unknown as Record<string, unknown>,
        text: [
          `${r.file}: ${r.compressedBytes} → ${r.decompressedBytes} bytes (median of ${r.runs})`,
          `native shim (libbz2)   ${f(r.native_mb_per_s)}`,
          `fallback (pure JS)     ${f(r.fallback_mb_per_s)}`,
          `bzip2 -dc              ${f(r.bzip2_cli_mb_per_s)}`,
          `native / bzip2 -dc     ${r.native_vs_bzip2 ?? "n/a"} (wall), ${
            r.native_vs_bzip2_cpu ?? "n/a"
          } (CPU time: native ${f(r.native_cpu_mb_per_s)}, bzip2 ${
            f(r.bzip2_cli_cpu_mb_per_s)
          }, fallback ${f(r.fallback_cpu_mb_per_s)})`,
        ].join("\n"),
      };
    },
  });
}
