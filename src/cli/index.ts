/**
 * CLI command groups `index` (`build`, `update`, `info`, `eval`) and `search`: an SQLite index
 * of documents with BM25 (FTS5) and optional dense vectors, and searching it.
 *
 * @module
 */
import type { Command, OptionValues } from "@commander-js/extra-typings";
import type { DeviceChoice } from "../backend/mod.ts";
import { BenteviError } from "../errors.ts";
import { consoleProgress } from "../progress.ts";
import { buildIndex, type BuildReport, updateIndex } from "../retrieval/build.ts";
import { evaluateRetrieval, readQueries } from "../retrieval/eval.ts";
import { indexInfo } from "../retrieval/info.ts";
import { formatSource, Retriever, SEARCH_MODES, type SearchMode } from "../retrieval/search.ts";
import { describeSettings } from "../retrieval/store.ts";
import type { RagState } from "../retrieval/rag.ts";
import { STRATEGIES, type Strategy } from "../chunking/types.ts";
import {
  deviceOption,
  ENCODING_HELP,
  floatOption,
  intOption,
  printJson,
  threadsOption,
} from "./common.ts";

function parseMode(value: string | undefined): SearchMode | undefined {
  if (value === undefined) return undefined;
  if (!(SEARCH_MODES as readonly string[]).includes(value)) {
    throw new BenteviError(`--mode must be one of ${SEARCH_MODES.join(", ")}, got "${value}"`);
  }
  return value as SearchMode;
}

/**
 * Aborts on SIGINT/SIGTERM while `fn` runs (the build rolls back the file in progress); the
 * exit code is 130 after SIGINT and 143 after SIGTERM, as `train` does.
 */
async function withStopSignals<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let got: Deno.Signal | undefined;
  const stops = new Map<Deno.Signal, () => void>();
  for (const s of ["SIGINT", "SIGTERM"] as Deno.Signal[]) {
    const stop = () => {
      got ??= s;
      ac.abort();
    };
    stops.set(s, stop);
    Deno.addSignalListener(s, stop);
  }
  try {
    return await fn(ac.signal);
  } catch (e) {
    if (got === "SIGTERM" && e instanceof BenteviError && e.exitCode === 130) {
      throw new BenteviError(e.message, 143);
    }
    throw e;
  } finally {
    for (const [s, stop] of stops) Deno.removeSignalListener(s, stop);
  }
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(2)} MB`;
}

function reportText(r: BuildReport): string {
  const lines = [
    `${r.index}: ${r.indexed} file(s) indexed, ${r.unchanged} unchanged, ${r.removed} removed, ${r.skipped.length} skipped` +
    (r.unsupported ? `, ${r.unsupported} of unsupported types ignored` : ""),
    `${r.chunks} chunks written (${mb(r.bytes)} in ${r.seconds.toFixed(1)} s, ${
      r.seconds > 0 ? (r.bytes / 1e6 / r.seconds).toFixed(2) : "?"
    } MB/s); the index holds ${r.totals.documents} documents, ${r.totals.chunks} chunks`,
    r.settings.model
      ? `search: BM25 + dense (${r.settings.model.dimension}-d embeddings of ${r.settings.model.path})`
      : "search: BM25 only (no --model)",
  ];
  return lines.join("\n");
}

/** Registers `index …` and `search` on `program`. */
export function registerIndex(program: Command): void {
  const index = program
    .command("index")
    .description(
      "an SQLite index of documents (txt, md, jsonl, html, pdf, docx) for `search` and `chat --index`",
    );

  index
    .command("build")
    .description(
      "chunk documents and store them with BM25 terms (and embeddings with --model) in an SQLite file",
    )
    .argument("<docs...>", "files and folders (folders: .txt .md .jsonl .html .pdf .docx)")
    .requiredOption("--index <file>", "the index file (SQLite)")
    .option("--strategy <name>", STRATEGIES.join(" | "), "recursive")
    .option(
      "--max-tokens <n>",
      "chunk budget in tokens (needs --tokenizer or --model; default 256)",
      intOption(1),
    )
    .option("--max-chars <n>", "chunk budget in characters (default 1000)", intOption(1))
    .option("--min-tokens <n>", "preferred minimum chunk size", intOption(0))
    .option("--overlap <ratio>", "share of the budget repeated between chunks", floatOption(0, 0.5))
    .option("--tokenizer <file>", "tokenizer.json that counts tokens")
    .option("--model <checkpoint>", "embed chunks with this checkpoint (dense + hybrid search)")
    .option("--stem", "Snowball Portuguese stemming of the BM25 terms (see docs/retrieval.md)")
    .option("--encoding <name>", ENCODING_HELP, "utf-8")
    .option("--force", "delete an existing index first (to rebuild it with other options)")
    .option("--json", "print the report as JSON")
    .addOption(deviceOption())
    .addOption(threadsOption())
    .action(async (docs, opts) => {
      if (opts.maxTokens !== undefined && opts.maxChars !== undefined) {
        throw new BenteviError("give either --max-tokens or --max-chars, not both");
      }
      const hasTokenizer = !!(opts.tokenizer || opts.model);
      if (opts.maxChars !== undefined && hasTokenizer) {
        throw new BenteviError(
          "--max-chars measures characters: drop --tokenizer/--model, or use --max-tokens",
        );
      }
      if (opts.maxTokens !== undefined && !hasTokenizer) {
        throw new BenteviError(
          "--max-tokens needs --tokenizer FILE (or --model), or use --max-chars",
        );
      }
      if (!(STRATEGIES as readonly string[]).includes(opts.strategy)) {
        throw new BenteviError(
          `--strategy: unknown "${opts.strategy}"; use one of ${STRATEGIES.join(", ")}`,
        );
      }
      const r = await withStopSignals((signal) =>
        buildIndex(docs, {
          index: opts.index,
          strategy: opts.strategy as Strategy,
          maxTokens: opts.maxTokens ?? opts.maxChars,
          minTokens: opts.minTokens,
          overlap: opts.overlap,
          tokenizer: opts.tokenizer,
          model: opts.model,
          device: opts.device,
          stem: opts.stem ?? false,
          encoding: opts.encoding,
          force: opts.force,
          progress: consoleProgress(),
          signal,
          onSkip: (path, reason) => console.error(`bentevi: skipped ${path}: ${reason}`),
        })
      );
      if (opts.json) printJson(r);
      else console.log(reportText(r));
    });

  index
    .command("update")
    .description(
      "re-index files whose content changed (by SHA-256), add new ones, drop deleted ones",
    )
    .requiredOption("--index <file>", "the index file")
    .option("--json", "print the report as JSON")
    .addOption(deviceOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const r = await withStopSignals((signal) =>
        updateIndex(opts.index, {
          device: opts.device,
          progress: consoleProgress(),
          signal,
          onSkip: (path, reason) => console.error(`bentevi: skipped ${path}: ${reason}`),
        })
      );
      if (opts.json) printJson(r);
      else console.log(reportText(r));
    });

  index
    .command("info")
    .description("documents, chunks, tokens, size on disk and the options an index was built with")
    .requiredOption("--index <file>", "the index file")
    .option("--json", "print one JSON object")
    .action(async (opts) => {
      const info = await indexInfo(opts.index);
      if (opts.json) return printJson(info);
      const kinds = Object.entries(info.kinds).map(([k, n]) => `${n} ${k}`).join(", ");
      console.log([
        `index       ${info.index} (${info.state})`,
        `documents   ${info.documents}${kinds ? ` (${kinds})` : ""}`,
        `chunks      ${info.chunks} (${
          info.settings.unit === "tokens" ? `${info.tokens} tokens, ` : ""
        }${info.chars} characters)`,
        `embeddings  ${info.embeddings}`,
        `on disk     ${mb(info.bytesOnDisk)}`,
        `search      ${info.search}`,
        `built with  ${describeSettings(info.settings)}`,
        `inputs      ${info.inputs.join(", ")}`,
        ...(info.updated ? [`updated     ${info.updated}`] : []),
      ].join("\n"));
    });

  index
    .command("eval")
    .description("recall@1/5/10 and MRR over a query set (JSONL: {query, relevant: [...]})")
    .requiredOption("--index <file>", "the index file")
    .requiredOption("--queries <file>", "JSONL queries")
    .option("--mode <mode>", "bm25 | dense | hybrid (default: hybrid with embeddings)")
    .option("--json", "print one JSON object")
    .addOption(deviceOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const mode = parseMode(opts.mode);
      const queries = await readQueries(opts.queries);
      const r = await Retriever.open(opts.index, {
        loadModel: mode !== "bm25",
        device: opts.device,
      });
      try {
        for (const n of r.notices) console.error(`bentevi: ${n}`);
        const report = await evaluateRetrieval(r, queries, { mode });
        if (opts.json) return printJson(report);
        console.log(
          `${report.queries} queries, ${report.mode}: recall@1 ${report.recall[1]}  recall@5 ${
            report.recall[5]
          }  recall@10 ${
            report.recall[10]
          }  MRR ${report.mrr}  (p50 ${report.latencyMs.p50} ms, p95 ${report.latencyMs.p95} ms)`,
        );
      } finally {
        r.close();
      }
    });

  program
    .command("search")
    .description("the chunks of an index that best match a query (BM25, dense or hybrid)")
    .argument("<query>", "what to look for (accents and case do not matter)")
    .requiredOption("--index <file>", "the index file")
    .option("--k <n>", "how many hits", intOption(1, 1000), 5)
    .option(
      "--mode <mode>",
      "bm25 | dense | hybrid (default: hybrid when the index has embeddings)",
    )
    .option("--json", "print a JSON list of hits: text, score, source, offsets")
    .addOption(deviceOption())
    .addOption(threadsOption())
    .action(async (query, opts) => {
      const mode = parseMode(opts.mode);
      const r = await Retriever.open(opts.index, {
        loadModel: mode !== "bm25",
        device: opts.device,
      });
      try {
        for (const n of r.notices) console.error(`bentevi: ${n}`);
        const hits = await r.search(query, { k: opts.k, mode });
        if (opts.json) return printJson(hits);
        if (hits.length === 0) {
          console.log(`no chunk matches "${query}"`);
          return;
        }
        for (const h of hits) {
          console.log(`[${h.rank}] ${h.score.toFixed(4)}  ${formatSource(h)}`);
          const text = h.text.replace(/\s+/g, " ").trim();
          console.log(`    ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`);
        }
      } finally {
        r.close();
      }
    });
}

/** The retrieval flags of `chat` and `generate`: `--index`, `--k`, `--context-tokens`. */
export function addRagOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(command: Command<Args, Opts, Globals>) {
  return command
    .option("--index <file>", "answer from the passages of this index (see `index build`)")
    .option("--k <n>", "with --index: passages retrieved per question", intOption(1, 100), 3)
    .option(
      "--context-tokens <n>",
      "with --index: most tokens of passages in the prompt (default: what the context leaves)",
      intOption(1),
    );
}

/** What `chat`/`generate` hold while retrieval is on. */
export interface RagContext {
  /** The open index. */
  retriever: Retriever;
  /** `/rag`, `/k`, `/sources`. */
  state: RagState;
  /** `--context-tokens`. */
  contextTokens?: number;
}

/** Opens `--index` for `chat`/`generate` (undefined without it); prints its notices. */
export async function openRag(
  o: { index?: string; k?: number; contextTokens?: number; device?: DeviceChoice },
): Promise<RagContext | undefined> {
  if (!o.index) {
    if (o.contextTokens !== undefined) throw new BenteviError("--context-tokens needs --index");
    return undefined;
  }
  const retriever = await Retriever.open(o.index, { device: o.device });
  for (const n of retriever.notices) console.error(`bentevi: ${n}`);
  return { retriever, state: { enabled: true, k: o.k ?? 3 }, contextTokens: o.contextTokens };
}
