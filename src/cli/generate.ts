/**
 * CLI command group: generation — `generate`, `predict`, `perplexity`, `chat`,
 * `convert rwkv-cpp`, and the `decode` bench suite. Parses flags, calls src/generate, prints.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { BenteviError } from "../errors.ts";
import { join, resolve } from "node:path";
import { refuseOutputOverInputs } from "../io/fs.ts";
import { resolveCheckpointDir } from "../model/checkpoint.ts";
import { consoleProgress } from "../progress.ts";
import { convertRwkvCpp } from "../model/rwkv/cpp.ts";
import { describeConfig, modelSpecConfig, parameterCount } from "../model/config.ts";
import { ChatSession } from "../generate/chat.ts";
import { type CommandContext, formatExplain, runCommand } from "../generate/commands.ts";
import { checkLogits, generate } from "../generate/generator.ts";
import { perplexity } from "../generate/load.ts";
import { findPersona, personaAdapter, PERSONAS } from "../generate/personas.ts";
import { topCandidates } from "../generate/sampler.ts";
import { measureDecodeAlternating, runDecodeBench } from "../generate/bench.ts";
import { createBackend } from "../backend/select.ts";
import { registerBenchSuite } from "./bench.ts";
import {
  adapterOption,
  addSamplingOptions,
  checkpointOption,
  deviceOption,
  ENCODING_HELP,
  encodingOption,
  intOption,
  printJson,
  quantizeOption,
  samplingWithGenerationConfig,
  threadsOption,
  tokenizerOverrideOption,
  withGenerationModel,
} from "./common.ts";
import { readText } from "../text/read.ts";
import { addRagOptions, openRag, type RagContext } from "./index.ts";
import {
  citationLines,
  type GroundedTurn,
  groundedTurn,
  promptRoom,
  RAG_HELP,
  runRagCommand,
  tokenCounter,
} from "../retrieval/rag.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Prints to stdout without a newline. */
async function write(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let n = 0;
  while (n < bytes.length) n += await Deno.stdout.write(bytes.subarray(n));
}

/** Lines of a byte stream (the last one even without a final newline). */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield buf.replace(/\r$/, "");
}

/** Encodes a prompt and cuts it from the left to fit the context, saying so on stderr. */
function fitPrompt(ids: number[], maxContext: number): number[] {
  const room = maxContext - 1;
  if (ids.length <= room) return ids;
  console.error(
    `bentevi: the prompt has ${ids.length} tokens, more than the context of ${maxContext}: ` +
      `keeping its last ${room} tokens`,
  );
  return ids.slice(ids.length - room);
}

/** Registers this group's commands on `program`. */
export function registerGenerate(program: Command): void {
  const generateCommand = program
    .command("generate")
    .description(
      "continue a prompt with a trained model (KV cache for GPT, recurrent state for RWKV)",
    )
    .addOption(checkpointOption("checkpoint directory (Bentevi, HF GPT-2, converted RWKV)"))
    .requiredOption("--prompt <text>", "text to continue")
    .option("--max-tokens <n>", "most new tokens", intOption(0, 1_000_000), 128)
    .option(
      "--min-tokens <n>",
      "fewest new tokens before end-of-text may end the text",
      intOption(0, 1_000_000),
      0,
    );
  addRagOptions(
    addSamplingOptions(generateCommand, {
      temperature: 0.8,
      topK: 0,
      topP: 1,
      repetitionPenalty: 1,
      seedHelp: "random seed (same seed, same text)",
    })
      .option("--stop <text>", "stop before this text (repeatable)", collect)
      .option("--ignore-eos", "keep generating past the end-of-text token")
      .option("--stream", "print tokens as they are produced")
      .option("--json", 'print {"text","tokens","tokens_per_second",…}')
      .addOption(tokenizerOverrideOption())
      .addOption(adapterOption())
      .addOption(quantizeOption())
      .addOption(deviceOption())
      .addOption(threadsOption()),
  )
    .action(async (o, command) => {
      const rag = await openRag(o);
      await withGenerationModel(o, async ({ model, tokenizer, generation }) => {
        const sampling = samplingWithGenerationConfig(o, command, generation);
        let prompt = o.prompt;
        let turn: GroundedTurn | undefined;
        if (rag) {
          turn = await groundedTurn(rag.retriever, o.prompt, {
            k: rag.state.k,
            contextTokens: rag.contextTokens,
            room: promptRoom(model.maxContext, sampling.maxNewTokens),
            counter: tokenCounter(tokenizer),
            answerCue: true,
          });
          if (turn.notice) console.error(`bentevi: ${turn.notice}; generating without passages`);
          prompt = turn.prompt;
          rag.retriever.close();
        }
        const ids = fitPrompt(tokenizer.encode(prompt), model.maxContext);
        const stream = !!o.stream && !o.json;
        if (stream) await write(tokenizer.decode(ids));
        let pending = Promise.resolve();
        const result = await generate(model, tokenizer, ids, {
          minNewTokens: o.minTokens,
          ...sampling,
          stop: o.stop,
          ignoreEndOfText: !!o.ignoreEos,
          onText: stream ? (t) => void (pending = pending.then(() => write(t))) : undefined,
        });
        await pending;
        if (o.json) {
          printJson({
            text: result.text,
            tokens: result.tokens,
            tokens_per_second: result.tokensPerSecond,
            prompt_tokens: result.promptTokens,
            finish_reason: result.finishReason,
            prefill_seconds: result.prefillSeconds,
            ...(turn ? { sources: turn.passages.map((p) => p.hit) } : {}),
          });
        } else {
          if (stream) await write("\n");
          else console.log(tokenizer.decode(ids) + result.text);
          if (turn?.passages.length) console.log(citationLines(turn.passages));
          console.error(
            `bentevi: ${result.tokens.length} tokens, ${
              result.tokensPerSecond.toFixed(1)
            } tokens/s ` +
              `on ${model.backend.kind} (${result.finishReason})`,
          );
        }
      });
    });

  program
    .command("predict")
    .description("show the most likely next tokens after a prompt, with probabilities")
    .addOption(checkpointOption())
    .requiredOption("--prompt <text>", "the text before the token to predict")
    .option("--top <n>", "how many candidates", intOption(1, 1000), 10)
    .option("--json", 'print {"top":[{"id","token","prob","logit"}…]}')
    .addOption(tokenizerOverrideOption())
    .addOption(adapterOption())
    .addOption(quantizeOption())
    .addOption(deviceOption())
    .addOption(threadsOption())
    .action(async (o) => {
      await withGenerationModel(o, async ({ model, tokenizer }) => {
        let ids = tokenizer.encode(o.prompt);
        if (ids.length === 0) {
          if (tokenizer.endOfTextId === undefined) {
            throw new BenteviError("--prompt is empty and the tokenizer has no end-of-text token");
          }
          ids = [tokenizer.endOfTextId];
        }
        ids = fitPrompt(ids, model.maxContext);
        const logits = await model.feed(ids);
        checkLogits(logits, model);
        const top = topCandidates(logits.subarray(0, tokenizer.vocabSize), o.top).map((c) => ({
          id: c.id,
          token: tokenizer.decode([c.id]),
          prob: c.prob,
          logit: c.logit,
        }));
        if (o.json) printJson({ top });
        else {
          console.log("rank      id  prob     logit  token");
          top.forEach((c, i) =>
            console.log(
              `${String(i + 1).padStart(4)} ${String(c.id).padStart(7)}  ${
                (100 * c.prob).toFixed(2).padStart(6)
              }% ${c.logit.toFixed(3).padStart(8)}  ${JSON.stringify(c.token)}`,
            )
          );
        }
      });
    });

  program
    .command("perplexity")
    .description("the model's perplexity on a text file (UTF-8 unless --encoding)")
    .addOption(checkpointOption())
    .argument("<file>", "text file")
    .option("--max-tokens <n>", "score only the first n tokens", intOption(2))
    .option("--json", 'print {"perplexity","mean_loss","tokens","windows"}')
    .addOption(tokenizerOverrideOption())
    .addOption(adapterOption())
    .option("--encoding <name>", ENCODING_HELP, encodingOption, "utf-8" as const)
    .addOption(quantizeOption())
    .addOption(deviceOption())
    .addOption(threadsOption())
    .action(async (file, o) => {
      const text = await readText(file, o.encoding);
      await withGenerationModel(o, async ({ model, tokenizer }) => {
        let ids = tokenizer.encode(text);
        if (o.maxTokens) ids = ids.slice(0, o.maxTokens);
        if (ids.length < 2) throw new BenteviError(`${file}: fewer than 2 tokens to score`);
        const r = await perplexity(model, ids, consoleProgress());
        if (o.json) {
          printJson({
            perplexity: r.perplexity,
            mean_loss: r.meanLoss,
            tokens: r.tokens,
            windows: r.windows,
          });
        } else {
          console.log(
            `perplexity ${r.perplexity.toFixed(3)} (mean loss ${r.meanLoss.toFixed(4)} nats over ` +
              `${r.tokens} tokens, ${r.windows} windows)`,
          );
        }
      }, "compute");
    });

  const chatCommand = program
    .command("chat")
    .description("chat with a model: personas, history within the context, slash commands (/help)")
    .addOption(checkpointOption())
    .option("--persona <name>", `system prompt preset: ${[...PERSONAS.keys()].join(", ")}`)
    .option("--system <text>", "a system prompt of your own (overrides --persona)")
    .option(
      "--educational",
      "educational mode: each token's probability, top-5 candidates, sampling step and the " +
        "tokens the last block's heads attended to most (GPT, Llama); /help lists the demos",
    )
    .option("--explain", "the same as --educational")
    .option("--max-tokens <n>", "most tokens per answer", intOption(1, 100_000), 200)
    .option(
      "--min-tokens <n>",
      "fewest tokens per answer before the model may end its turn",
      intOption(0, 100_000),
      2,
    );
  addRagOptions(
    addSamplingOptions(chatCommand, {
      temperature: 0.8,
      topK: 40,
      topP: 0.95,
      repetitionPenalty: 1.1,
      seedHelp: "random seed",
    })
      .option("--feedback <file>", "where /good and /bad append", "feedback.jsonl")
      .addOption(tokenizerOverrideOption())
      .addOption(
        adapterOption(
          "a LoRA adapter to load (repeatable, NAME=DIR); the first (or the persona's) is active, /adapter switches",
        ),
      )
      .addOption(quantizeOption())
      .addOption(deviceOption())
      .addOption(threadsOption()),
  )
    .action(async (o, command) => {
      const rag = await openRag(o);
      // One adapter is active at a time: the persona's, else the first given.
      const loaded = (o.adapter ?? []).map((a) => a.name);
      const persona = o.persona !== undefined && o.system === undefined
        ? findPersona(o.persona)
        : undefined;
      const first = (persona && personaAdapter(persona, loaded)) ?? loaded[0];
      await withGenerationModel(
        o,
        async (opened) => {
          const { model, tokenizer, chatTemplate, generation, adapters } = opened;
          const { maxNewTokens, endOfTextIds, ...sampling } = samplingWithGenerationConfig(
            o,
            command,
            generation,
          );
          const chat = new ChatSession(model, tokenizer, {
            chatTemplate,
            persona: o.persona,
            system: o.system,
            explain: !!(o.explain || o.educational),
            maxNewTokens,
            minNewTokens: o.minTokens,
            sampling,
            endOfTextIds,
          });
          const inputs = await checkpointFiles(o.checkpoint, o.tokenizer);
          await refuseOutputOverInputs([o.feedback], inputs, "--feedback");
          try {
            // the model as an absolute path: `finetune --feedback` checks the feedback is its own
            await chatLoop(chat, {
              feedbackPath: o.feedback,
              modelName: resolve(o.checkpoint),
              inputs,
              adapters,
            }, rag);
          } finally {
            rag?.retriever.close();
          }
        },
        undefined,
        first === undefined ? [] : [first],
      );
    });

  const convert = program
    .command("convert")
    .description("convert other tools' model files into Bentevi checkpoints");
  convert
    .command("rwkv-cpp")
    .description(
      "an rwkv.cpp (ggmf) RWKV-4, 5.1, 5.2, 6 or 7 file → checkpoint dir (byte tokenizer for 256-token vocabularies)",
    )
    .argument("<file>", "the rwkv.cpp .bin model (FP32 or FP16)")
    .requiredOption("--output <dir>", "checkpoint directory to write")
    .action(async (file, o) => {
      const r = await convertRwkvCpp(file, o.output);
      console.log(
        `wrote ${o.output}: ${describeConfig(r.config)}` +
          (r.byteTokenizer
            ? ", with a byte-level tokenizer.json"
            : ", no tokenizer (pass --tokenizer)"),
      );
    });

  registerBenchSuite({
    name: "decode",
    description:
      "decode tokens/s (gpt-micro, rwkv-micro, gpt2-small; WebGPU and CPU), KV-cache speedup, RWKV late/early; " +
      "inputs: [model…] (PRESET or PRESET:field=value,…) — decode tokens/s of those alone, " +
      "alternately (A B C ×3), vocab 4096; --device limits the devices",
    takesDevice: true,
    run: async (inputs, { json, device }) => {
      const devices = device === undefined || device === "auto" ? undefined : [device];
      const log = json ? undefined : (l: string) => console.error(l);
      if (inputs.length === 0) {
        const r = await runDecodeBench({ devices, log });
        return { json: r.json, text: r.text };
      }
      const models = inputs.map((name) => ({ name, config: modelSpecConfig(name, 4096) }));
      const rows: Record<string, unknown>[] = [];
      const lines = [
        "model                                     params    device   tokens/s (rounds)",
      ];
      for (const d of devices ?? ["native", "cpu"] as const) {
        let backend;
        try {
          backend = await createBackend(d);
        } catch (e) {
          // Without --device, a native backend that cannot load is left out (with a notice).
          if (devices || !(e instanceof BenteviError)) throw e;
          console.error(`bentevi: bench decode: ${d} unavailable (${e.message})`);
          continue;
        }
        try {
          for (const f of await measureDecodeAlternating(backend, models, 32, 64, 3)) {
            const params = parameterCount(modelSpecConfig(f.model, 4096));
            rows.push({
              model: f.model,
              parameters: params,
              device: f.device,
              prompt_tokens: 32,
              new_tokens: 64,
              tokens_per_second: f.tokensPerSecond,
              rounds: f.rounds,
            });
            lines.push(
              `${f.model.padEnd(40)} ${(params / 1e6).toFixed(2).padStart(6)}M  ${
                f.device.padEnd(8)
              } ${f.tokensPerSecond.toFixed(1).padStart(8)} (${
                f.rounds.map((x) => x.toFixed(1)).join(", ")
              })`,
            );
          }
        } finally {
          backend.destroy();
        }
      }
      return { json: { vocab: 4096, decode: rows }, text: lines.join("\n") };
    },
  });
}

/** The files a command read from a checkpoint (or a run's latest) and its tokenizer. */
async function checkpointFiles(checkpoint: string, tokenizer?: string): Promise<string[]> {
  const files = tokenizer ? [tokenizer] : [];
  if ((await Deno.stat(checkpoint).catch(() => null))?.isFile) return [...files, checkpoint]; // GGUF
  const dir = await resolveCheckpointDir(checkpoint);
  try {
    for await (const e of Deno.readDir(dir)) if (!e.isDirectory) files.push(join(dir, e.name));
  } catch { /* opened already: cannot fail here but for a race, and then nothing to protect */ }
  return files;
}

/** The REPL: a terminal gets a prompt and streamed answers; a pipe gets one answer per line. */
async function chatLoop(
  chat: ChatSession,
  ctx: CommandContext,
  rag?: RagContext,
): Promise<void> {
  const tty = Deno.stdin.isTerminal();
  const notice = chat.templateNotice;
  if (notice) console.error(`bentevi: ${notice}`);
  if (tty) {
    console.log(
      `Bentevi chat — ${describeConfig(chat.model.config)} on ${chat.model.backend.kind}` +
        `${chat.persona ? `, persona ${chat.persona}` : ""}${
          ctx.adapters?.active.length ? `, adapter ${ctx.adapters.active.join(" + ")}` : ""
        }. Type /help for commands, /quit to leave.`,
    );
    await write("> ");
  }
  for await (const raw of readLines(Deno.stdin.readable)) {
    const line = raw.trim();
    if (line) {
      if (line.startsWith("/")) {
        const r = (rag && runRagCommand(rag.state, line)) ?? await runCommand(chat, line, ctx);
        console.log(rag && /^\/(help|\?)$/i.test(line) ? `${r.message}\n${RAG_HELP}` : r.message);
        if ("quit" in r && r.quit) return;
      } else {
        // With an index: the question goes to the model inside the grounded prompt.
        let turn: GroundedTurn | undefined;
        if (rag?.state.enabled) {
          turn = await groundedTurn(rag.retriever, line, {
            k: rag.state.k,
            contextTokens: rag.contextTokens,
            room: promptRoom(chat.model.maxContext, chat.maxNewTokens) -
              (chat.history.length ? 0 : 8),
            counter: tokenCounter(chat.tokenizer),
          });
          rag.state.last = { query: line, hits: turn.hits, passages: turn.passages };
          if (turn.notice) console.error(`bentevi: ${turn.notice}; answering without passages`);
        }
        let pending = Promise.resolve();
        let reply;
        try {
          reply = await chat.reply(
            turn?.prompt ?? line,
            tty ? (t) => void (pending = pending.then(() => write(t))) : undefined,
          );
        } catch (e) {
          if (!(e instanceof BenteviError)) throw e;
          await pending;
          // The chat goes on; a piped session still gets one (empty) line for this message.
          console.error(`bentevi: ${e.message}`);
          if (!tty) console.log("");
          else await write("> ");
          continue;
        }
        await pending;
        if (tty) await write("\n");
        else console.log(reply.answer.replace(/\s*\n\s*/g, " "));
        // Sources after the answer (on stderr when piped: stdout keeps one line per answer).
        if (turn?.passages.length) {
          const sources = citationLines(turn.passages);
          if (tty) console.log(sources);
          else console.error(sources);
        }
        if (reply.droppedTurns > 0) {
          console.error(
            `bentevi: dropped the ${reply.droppedTurns} oldest messages to fit the context`,
          );
        }
        if (chat.explain) {
          const lines = formatExplain(reply.result.steps, (id) => chat.tokenizer.decode([id]));
          if (tty) console.log(lines);
          else console.error(lines);
        }
        ctx.lastReply = { ...reply, prompt: line };
      }
    }
    if (tty) await write("> ");
  }
  if (tty) await write("\n");
}
