/**
 * The demo pipeline, end to end: a Wikipedia dump (the bundled demo corpus by default) → clean
 * article text → a BPE tokenizer → an llm.c token dataset → a micro model trained on the chosen
 * device → a few generated Portuguese continuations and one chat exchange. Every stage writes
 * the same files its command would (`wiki`, `tokenizer train`, `dataset build`, `train`), so the
 * output folder can be inspected and each stage re-run on its own.
 *
 * @module
 */
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { autoDeviceKind, createBackend, type DeviceChoice } from "../backend/select.ts";
import type { Backend } from "../backend/backend.ts";
import { buildDataset } from "../data/dataset/build.ts";
import { convertWikiDump } from "../data/wiki/dump.ts";
import type { WikiStats } from "../data/wiki/shards.ts";
import { BenteviError, fsError } from "../errors.ts";
import { CHAT_TOKENS, ChatSession } from "../generate/chat.ts";
import { generate } from "../generate/generator.ts";
import { createLanguageModel } from "../generate/inference.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { type Progress, silentProgress } from "../progress.ts";
import { trainTokenizer } from "../tokenizer/trainer.ts";
import { startTraining } from "../train/run.ts";
import type { TrainSummary } from "../train/trainer.ts";
import { exists, refuseInputsInside } from "../io/fs.ts";
import { buildIndex } from "../retrieval/build.ts";
import { citationLines, groundedTurn } from "../retrieval/rag.ts";
import { Retriever } from "../retrieval/search.ts";

/** The file that marks a folder as a demo's output (a re-run may replace such a folder). */
export const DEMO_MARKER = "demo.json";

/** Sizes of a demo run: the full one and `--quick`. */
export interface DemoPlan {
  /** Tokenizer vocabulary size. */
  vocabSize: number;
  /** Model preset. */
  model: string;
  /** Training steps. */
  steps: number;
  /** Peak learning rate. */
  lr: number;
  /** Evaluate every N steps. */
  evalEvery: number;
  /** New tokens per generated continuation. */
  sampleTokens: number;
  /**
   * Steps and batch size used instead when training falls to the CPU backend (no WebGPU
   * adapter): the CPU trains about a quarter as fast as lavapipe, and the demo should still
   * finish within minutes on a 2-core machine. `--steps` and `--batch-size` override these too.
   */
  cpu: { steps: number; batchSize: number };
}

/**
 * The plans: the full demo (about 5 minutes of training on a 2-core machine through lavapipe)
 * and `--quick` (well under a minute of training).
 */
export const DEMO_PLANS: Readonly<Record<"full" | "quick", DemoPlan>> = {
  full: {
    vocabSize: 2048,
    model: "gpt-micro",
    steps: 600,
    lr: 3e-3,
    evalEvery: 100,
    sampleTokens: 48,
    cpu: { steps: 400, batchSize: 4 },
  },
  quick: {
    vocabSize: 1024,
    model: "gpt-micro",
    steps: 100,
    lr: 3e-3,
    evalEvery: 50,
    sampleTokens: 32,
    cpu: { steps: 100, batchSize: 4 },
  },
};

/** Prompts the demo continues (Portuguese openings of the kind the corpus holds). */
export const DEMO_PROMPTS: readonly string[] = [
  "O rio",
  "A cidade de Santa Luzia do Capim",
  "O bem-te-vi é uma ave",
];

/** The user message of the demo's chat exchange. */
export const DEMO_CHAT_MESSAGE = "Me fala do pão de queijo.";

/** The question the demo answers from its index of the articles. */
export const DEMO_GROUNDED_QUESTION = "Quem descobriu o Cometa Valadares?";

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Output folder (created; a previous demo's folder there is replaced). */
  out: string;
  /** A MediaWiki dump (`.xml.bz2` or `.xml`); default: the bundled demo corpus. */
  dump?: string;
  /** The small plan (see {@link DEMO_PLANS}). */
  quick?: boolean;
  /** Compute device for training and generation (default "auto"). */
  device?: DeviceChoice;
  /** Overrides the plan's training steps. */
  steps?: number;
  /** Overrides the plan's model preset. */
  model?: string;
  /** Sequences per step (default: chosen from the device, as `train` does). */
  batchSize?: number;
  /** Tokens per sequence (default: chosen from the device, as `train` does). */
  context?: number;
  /** Leave the bundled dialogues out of the training text. */
  noDialogues?: boolean;
  /** Replace `out` even when it is not a demo folder. */
  force?: boolean;
  /** Seed for training and sampling (default 1337). */
  seed?: number;
  /** Progress of the long stages. */
  progress?: Progress;
  /** One line per stage and notice. */
  log?: (line: string) => void;
}

/** One generated continuation. */
export interface DemoSample {
  /** The prompt. */
  prompt: string;
  /** Prompt and continuation. */
  text: string;
}

/** What {@link runDemo} did and where it put it. */
export interface DemoResult {
  /** Output folder. */
  out: string;
  /** The dump that was read. */
  dump: string;
  /** Which plan ran. */
  plan: DemoPlan;
  /** What the dump reader found. */
  wiki: WikiStats;
  /** Dialogue documents added to the training text. */
  dialogues: number;
  /** Tokens in the training and validation files. */
  tokens: { train: number; val: number };
  /** The training run. */
  training: TrainSummary;
  /** The backend that trained the model (e.g. "WebGPU: llvmpipe …" or "CPU"). */
  device: string;
  /** Generated continuations. */
  samples: DemoSample[];
  /** The chat exchange. */
  chat: { persona: string; user: string; assistant: string };
  /**
   * The grounded question: the index of the articles (`index.db`), the passages retrieved for
   * {@link DEMO_GROUNDED_QUESTION} (as citation lines), the prompt and the model's answer, and
   * why the prompt holds no passage when the model's context is too small for one.
   */
  grounded: {
    index: string;
    question: string;
    sources: string;
    prompt: string;
    answer: string;
    notice?: string;
  };
  /** Seconds per stage. */
  seconds: Record<"wiki" | "tokenizer" | "dataset" | "train" | "generate" | "total", number>;
}

/** Paths inside a demo folder. */
export function demoPaths(out: string): {
  text: string;
  tokenizer: string;
  dataset: string;
  run: string;
  samples: string;
  summary: string;
  index: string;
} {
  return {
    text: join(out, "text"),
    tokenizer: join(out, "tokenizer.json"),
    dataset: join(out, "dataset", "pt"),
    run: join(out, "run"),
    samples: join(out, "samples.txt"),
    summary: join(out, DEMO_MARKER),
    index: join(out, "index.db"),
  };
}

/**
 * The bundled file `name` of `data/demo/` as a local path, or a clear error when the module was
 * imported from a URL (the corpus is read from a checkout or a compiled binary only).
 */
export function bundledDemoFile(name: string): string {
  const url = new URL(`../../data/demo/${name}`, import.meta.url);
  if (url.protocol !== "file:") {
    throw new BenteviError(
      `the bundled demo corpus is only available from a checkout or a compiled binary ` +
        `(this module was loaded from ${url.origin}); pass --dump FILE`,
    );
  }
  return fileURLToPath(url);
}

/** Empties `out` for a new demo, refusing a folder that is not a demo's unless `force`. */
async function prepareOut(out: string, force: boolean): Promise<void> {
  if (await exists(out)) {
    const info = await Deno.stat(out);
    if (!info.isDirectory) throw new BenteviError(`${out}: exists and is not a folder`);
    let empty = true;
    for await (const _ of Deno.readDir(out)) {
      empty = false;
      break;
    }
    if (!empty && !force && !(await exists(join(out, DEMO_MARKER)))) {
      throw new BenteviError(
        `${out}: the folder exists and is not a demo's output; choose another --out or pass --force`,
      );
    }
    try {
      await Deno.remove(out, { recursive: true });
    } catch (e) {
      throw fsError(e, out);
    }
  }
  try {
    await Deno.mkdir(out, { recursive: true });
  } catch (e) {
    throw fsError(e, out);
  }
}

/**
 * Runs the whole pipeline into `options.out` and returns what it did. Stages log one line each;
 * long stages report through `options.progress`.
 *
 * @example
 * ```ts
 * import { runDemo } from "./demo.ts";
 * const out = await Deno.makeTempDir();
 * const result = await runDemo({ out, quick: true, steps: 2, device: "cpu" });
 * console.log(result.samples[0].text.startsWith(result.samples[0].prompt)); // true
 * ```
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const log = options.log ?? (() => {});
  const progress = options.progress ?? silentProgress;
  const base = options.quick ? DEMO_PLANS.quick : DEMO_PLANS.full;
  const plan: DemoPlan = {
    ...base,
    steps: options.steps ?? base.steps,
    model: options.model ?? base.model,
  };
  if (!Number.isInteger(plan.steps) || plan.steps < 1) {
    throw new BenteviError(`--steps must be a positive integer, got ${plan.steps}`);
  }
  const seed = options.seed ?? 1337;
  const dump = options.dump ?? bundledDemoFile("ptwiki-demo.xml.bz2");
  if (!(await exists(dump))) throw new BenteviError(`${dump}: file not found`);
  const paths = demoPaths(options.out);
  await refuseInputsInside(options.out, [dump], "the demo replaces that folder");
  await prepareOut(options.out, options.force ?? false);
  const seconds = { wiki: 0, tokenizer: 0, dataset: 0, train: 0, generate: 0, total: 0 };
  const t0 = performance.now();
  let mark = t0;
  const lap = () => {
    const now = performance.now();
    const s = (now - mark) / 1000;
    mark = now;
    return s;
  };

  // 1. dump → clean article text (JSONL shards)
  log(`[1/6] wiki: ${dump} → ${paths.text}/`);
  const wiki = await convertWikiDump(dump, { output: paths.text, format: "jsonl", progress });
  if (wiki.kept === 0) {
    throw new BenteviError(`${dump}: no articles left after cleaning; is it a MediaWiki dump?`);
  }
  let dialogues = 0;
  if (!options.noDialogues) {
    const source = bundledDemoFile("dialogos.jsonl");
    const text = await Deno.readTextFile(source).catch((e) => {
      throw fsError(e, source);
    });
    dialogues = text.split("\n").filter((l) => l.trim()).length;
    await writeFileAtomic(join(paths.text, basename(source)), text);
  }
  seconds.wiki = lap();
  log(
    `      ${wiki.kept} articles (${wiki.redirects} redirects, ${wiki.otherNamespaces} other ` +
      `namespaces skipped), ${(wiki.outputChars / 1e3).toFixed(0)} K characters` +
      (dialogues ? `; plus ${dialogues} short dialogues that teach the chat format` : ""),
  );

  // 2. tokenizer
  log(`[2/6] tokenizer: byte-level BPE, vocabulary ${plan.vocabSize} → ${paths.tokenizer}`);
  const tokenizer = await trainTokenizer([paths.text], { vocabSize: plan.vocabSize }, progress);
  await tokenizer.save(paths.tokenizer);
  seconds.tokenizer = lap();

  // 3. dataset
  log(`[3/6] dataset: ${paths.dataset}.train.bin / .val.bin (llm.c format)`);
  const dataset = await buildDataset([paths.text], {
    tokenizer: paths.tokenizer,
    output: paths.dataset,
    valFraction: 0.08,
    progress,
  });
  seconds.dataset = lap();
  log(
    `      ${dataset.train.tokens.toLocaleString("en")} training tokens, ` +
      `${dataset.val.tokens.toLocaleString("en")} validation tokens`,
  );

  // 4. training
  const backend: Backend = await createBackend(options.device ?? "auto", { log });
  let batchSize = options.batchSize;
  if (backend.kind === "cpu") {
    const smaller: string[] = [];
    if (options.steps === undefined && plan.steps !== plan.cpu.steps) {
      plan.steps = plan.cpu.steps;
      smaller.push(`${plan.steps} steps`);
    }
    if (batchSize === undefined) {
      batchSize = plan.cpu.batchSize;
      smaller.push(`batch size ${batchSize}`);
    }
    if (smaller.length) {
      log(
        `      training on the CPU backend: ${smaller.join(", ")} so the demo stays short ` +
          `(--steps/--batch-size choose otherwise)`,
      );
    }
  }
  let training: TrainSummary;
  let samples: DemoSample[] = [];
  let chat: DemoResult["chat"];
  let grounded: DemoResult["grounded"];
  let decodeBackend: Backend | undefined;
  try {
    log(
      `[4/6] train: ${plan.model}, ${plan.steps} steps on ${backend.description} → ${paths.run}/`,
    );
    training = await startTraining({
      data: `${paths.dataset}.train.bin`,
      valData: `${paths.dataset}.val.bin`,
      tokenizer: paths.tokenizer,
      model: plan.model,
      out: paths.run,
      steps: plan.steps,
      batchSize,
      context: options.context,
      lr: plan.lr,
      evalEvery: Math.min(plan.evalEvery, plan.steps),
      saveEvery: plan.steps,
      seed,
      device: backend,
      progress,
      log,
    });
    seconds.train = lap();

    // 5. generation and 6. chat, from the checkpoint just written
    log(`[5/6] generate: ${DEMO_PROMPTS.length} continuations from ${training.checkpoint}`);
    const ckpt = await loadCheckpoint(training.checkpoint);
    // Token-by-token decoding on a software WebGPU adapter is slower than the CPU backend.
    if (
      (options.device ?? "auto") === "auto" && backend.kind === "webgpu" &&
      (await autoDeviceKind("decode")) === "cpu"
    ) {
      decodeBackend = await createBackend("auto", { log, workload: "decode" });
    }
    const model = createLanguageModel(decodeBackend ?? backend, ckpt.config, ckpt.weights);
    // Continuations are prose: the chat tokens the dialogues taught are never generated there.
    const chatTokenIds = Object.values(CHAT_TOKENS).map((t) => tokenizer.tokenToId(t))
      .filter((id): id is number => id !== undefined && id !== null);
    try {
      for (const [i, prompt] of DEMO_PROMPTS.entries()) {
        const ids = tokenizer.encode(prompt);
        const result = await generate(model, tokenizer, ids, {
          maxNewTokens: plan.sampleTokens,
          temperature: 0.8,
          topK: 40,
          repetitionPenalty: 1.1,
          seed: seed + i,
          suppressTokenIds: chatTokenIds,
        });
        samples.push({ prompt, text: prompt + result.text });
      }
      log(`[6/6] chat: one exchange with the "casual" persona`);
      model.reset();
      const session = new ChatSession(model, tokenizer, {
        minNewTokens: 8,
        persona: "casual",
        maxNewTokens: plan.sampleTokens,
        sampling: { seed },
      });
      const reply = await session.reply(DEMO_CHAT_MESSAGE);
      chat = { persona: "casual", user: DEMO_CHAT_MESSAGE, assistant: reply.answer };
      // One question answered from the articles: index them (BM25), retrieve, prompt, answer.
      log(`[6/6] retrieval: index the articles, answer "${DEMO_GROUNDED_QUESTION}" from them`);
      await buildIndex(wiki.shards, { index: paths.index, force: true }); // articles, not dialogues
      const retriever = await Retriever.open(paths.index);
      let turn;
      try {
        turn = await groundedTurn(retriever, DEMO_GROUNDED_QUESTION, {
          k: 3,
          room: model.maxContext - 1 - Math.min(plan.sampleTokens, model.maxContext >> 1),
          counter: tokenizer,
          answerCue: true,
        });
      } finally {
        retriever.close();
      }
      model.reset();
      const answer = await generate(model, tokenizer, tokenizer.encode(turn.prompt), {
        maxNewTokens: plan.sampleTokens,
        temperature: 0.8,
        topK: 40,
        repetitionPenalty: 1.1,
        seed,
        stop: ["\n"],
        suppressTokenIds: chatTokenIds,
      });
      grounded = {
        index: paths.index,
        question: DEMO_GROUNDED_QUESTION,
        // Cited: the passages in the prompt; with a context too small for any, what was found.
        sources: citationLines(
          turn.passages.length
            ? turn.passages
            : turn.hits.map((hit) => ({ hit, truncated: false })),
          options.out,
        ),
        notice: turn.notice,
        prompt: turn.prompt,
        answer: answer.text.trim(),
      };
    } finally {
      model.dispose();
    }
    seconds.generate = lap();
  } finally {
    decodeBackend?.destroy();
    backend.destroy();
  }
  seconds.total = (performance.now() - t0) / 1000;
  samples = samples.map((s) => ({ ...s, text: s.text.trim() }));

  const result: DemoResult = {
    out: options.out,
    dump,
    plan,
    wiki,
    dialogues,
    tokens: { train: dataset.train.tokens, val: dataset.val.tokens },
    training,
    device: backend.description,
    samples,
    chat,
    grounded,
    seconds,
  };
  await writeFileAtomic(paths.samples, formatSamples(result));
  await writeFileAtomic(paths.summary, JSON.stringify(summaryJson(result), null, 2) + "\n");
  return result;
}

/** The generated text of a demo as the `samples.txt` file holds it. */
export function formatSamples(r: DemoResult): string {
  const lines: string[] = [];
  for (const s of r.samples) lines.push(`> ${s.prompt}`, s.text, "");
  lines.push(
    `chat (persona ${r.chat.persona}):`,
    `  você: ${r.chat.user}`,
    `  bentevi: ${r.chat.assistant}`,
    "",
    `grounded question (index ${basename(r.grounded.index)}):`,
    r.grounded.prompt,
    `  bentevi: ${r.grounded.answer}`,
    r.grounded.sources,
    "",
  );
  return lines.join("\n");
}

function summaryJson(r: DemoResult): Record<string, unknown> {
  return {
    dump: r.dump,
    plan: r.plan,
    device: r.device,
    articles: r.wiki.kept,
    dialogues: r.dialogues,
    tokens: r.tokens,
    train_loss: r.training.loss,
    val_loss: r.training.eval?.loss,
    val_perplexity: r.training.eval?.perplexity,
    tokens_per_second: r.training.tokensPerSecond,
    checkpoint: relative(r.out, r.training.checkpoint),
    samples: r.samples,
    chat: r.chat,
    grounded: { ...r.grounded, index: relative(r.out, r.grounded.index) },
    seconds: r.seconds,
  };
}

/**
 * Lists the files under `dir` as an indented tree with sizes (what the demo prints at the end).
 *
 * @example
 * ```ts
 * import { describeTree } from "./demo.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "olá");
 * console.log(await describeTree(dir)); // ["a.txt  4 B"]
 * ```
 */
export async function describeTree(dir: string, depth = 0): Promise<string[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(dir)) entries.push(e);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines: string[] = [];
  const pad = "  ".repeat(depth);
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory) {
      lines.push(`${pad}${e.name}/`);
      lines.push(...await describeTree(path, depth + 1));
    } else {
      const { size } = await Deno.stat(path);
      lines.push(`${pad}${e.name}  ${formatBytes(size)}`);
    }
  }
  return lines;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
