/**
 * The chat's slash commands (`/help`, `/temp 0.7`, `/persona formal`, `/good`…) and the
 * feedback file. A bad command or value gives a message; the chat goes on.
 *
 * @module
 */
import { BenteviError, fsError } from "../errors.ts";
import { refuseOutputOverInputs } from "../io/fs.ts";
import type { ChatReply, ChatSession } from "./chat.ts";
import { findPersona, personaAdapter, PERSONAS } from "./personas.ts";
import type { AdapterBank } from "../finetune/bank.ts";
import type { TokenStep } from "./generator.ts";
import { Tokenizer } from "../tokenizer/tokenizer.ts";
import { inspectText } from "../tokenizer/inspect.ts";
import {
  type ChunkDemo,
  chunkDemo,
  formatChunkDemo,
  formatChunkStats,
  formatOptimization,
} from "../explain/chunks.ts";
import { explainStep, formatStepWalkthrough, formatTokenStep } from "../explain/step.ts";
import { STRATEGIES, type Strategy } from "../chunking/types.ts";

/** One line of `feedback.jsonl`. */
export interface FeedbackRecord {
  /** ISO 8601 time. */
  time: string;
  /** The user's rating of the answer. */
  rating: "good" | "bad";
  /** The user message that was answered. */
  prompt: string;
  /** The answer rated. */
  answer: string;
  /** The persona in use, if any. */
  persona: string | null;
  /** The system prompt in use. */
  system: string;
  /** The checkpoint that answered. */
  model: string;
  /** The sampling knobs in use. */
  sampling: Record<string, unknown>;
  /** The LoRA adapters merged in when it answered (absent or empty: the base model). */
  adapters?: string[];
}

/**
 * Appends one record as a JSON line to a feedback file (created when missing).
 *
 * @example
 * ```ts
 * import { appendFeedback } from "./commands.ts";
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * await appendFeedback(path, {
 *   time: new Date().toISOString(), rating: "good", prompt: "Oi", answer: "Olá!",
 *   persona: null, system: "", model: "demo", sampling: {},
 * });
 * ```
 */
export async function appendFeedback(path: string, record: FeedbackRecord): Promise<void> {
  try {
    // One write of one complete line: concurrent chats never interleave partial lines.
    await Deno.writeTextFile(path, JSON.stringify(record) + "\n", { append: true, create: true });
  } catch (e) {
    throw fsError(e, path);
  }
}

/** What the command handler needs besides the session. */
export interface CommandContext {
  /** Where `/good` and `/bad` append. */
  feedbackPath: string;
  /** Name of the checkpoint, recorded with feedback. */
  modelName: string;
  /** The files the chat read (the checkpoint's, the tokenizer): `/save` never overwrites them. */
  inputs?: readonly string[];
  /** The last answer, for `/good`, `/bad`. */
  lastReply?: ChatReply & { prompt: string };
  /** The LoRA adapters loaded with the model (`/adapter`). */
  adapters?: AdapterBank;
  /** The last `/chunk-demo`, for `/chunk-stats` and `/optimize-chunks`. */
  chunkDemo?: ChunkDemo;
}

/** The result of a command: a message to show, and whether to end the chat. */
export interface CommandResult {
  /** Text for the user (may span lines). */
  message: string;
  /** `/quit`. */
  quit?: boolean;
}

/** `/help` text. */
export const CHAT_HELP: string = [
  "Commands:",
  "  /help                 this list",
  "  /temp X               temperature (0 = greedy)",
  "  /top-k K              keep the K most likely tokens (0 = off)",
  "  /top-p P              nucleus sampling, P in (0, 1]",
  "  /tokens N             most tokens per answer",
  `  /persona NAME         ${[...PERSONAS.keys()].join(" | ")} (and its adapter, if loaded)`,
  "  /adapter NAME|off     switch to a loaded LoRA adapter, or to the base model",
  "  /reset                forget the conversation",
  "  /history              show the conversation",
  "  /save FILE            save the conversation (JSON)",
  "  /load FILE            load a saved conversation",
  "  /stats                speed and context use",
  "  /explain on|off       show each token's id and top-5 candidates",
  "  /good, /bad           rate the last answer (appended to the feedback file)",
  "  /quit                 leave",
].join("\n");

function parseNumber(arg: string | undefined, what: string): number {
  if (arg === undefined || arg.trim() === "") throw new BenteviError(`${what} needs a value`);
  const n = Number(arg);
  if (!Number.isFinite(n)) throw new BenteviError(`${what}: "${arg}" is not a number`);
  return n;
}

/**
 * Formats the educational (explain) mode's lines for the tokens of an answer: per token its
 * text, id, probability, top-5 candidates, the sampling step and where the heads looked
 * (see `formatTokenStep` in `src/explain/step.ts`). `show` spells a token for steps that lack
 * their own text.
 *
 * @example
 * ```ts
 * import { formatExplain } from "./commands.ts";
 * console.log(formatExplain([{ id: 5, token: "a", prob: 0.5, top: [] }], (id) => `t${id}`));
 * ```
 */
export function formatExplain(steps: TokenStep[], show: (id: number) => string): string {
  return steps.map((s, i) => formatTokenStep({ ...s, text: s.text ?? show(s.id) }, i)).join("\n");
}

/** A command's text argument without one pair of surrounding quotes. */
function unquote(text: string): string {
  const t = text.trim();
  const m = /^(["'“«])([\s\S]*)(["'”»])$/.exec(t);
  return m ? m[2] : t;
}

/** `/chunk-demo`'s flags before the text. */
function parseChunkDemo(
  arg: string,
): { text: string; strategy?: Strategy; maxTokens?: number; overlap?: number } {
  const out: { text: string; strategy?: Strategy; maxTokens?: number; overlap?: number } = {
    text: "",
  };
  let rest = arg.trim();
  for (;;) {
    const m = /^--(strategy|max-tokens|overlap)(?:=|\s+)(\S+)\s*/.exec(rest);
    if (!m) break;
    rest = rest.slice(m[0].length);
    if (m[1] === "strategy") {
      if (!(STRATEGIES as readonly string[]).includes(m[2])) {
        throw new BenteviError(
          `--strategy: unknown "${m[2]}"; use one of ${STRATEGIES.join(", ")}`,
        );
      }
      out.strategy = m[2] as Strategy;
    } else if (m[1] === "max-tokens") out.maxTokens = parseNumber(m[2], "--max-tokens");
    else out.overlap = parseNumber(m[2], "--overlap");
  }
  out.text = unquote(rest);
  if (rest.startsWith("--")) {
    throw new BenteviError(`/chunk-demo: unknown option ${rest.split(/\s/)[0]}`);
  }
  if (!out.text) {
    throw new BenteviError('/chunk-demo needs a text: /chunk-demo "O bem-te-vi canta."');
  }
  return out;
}

/**
 * Runs one slash command line against a chat session. Bad commands and values come back
 * as a message (never thrown), so the chat keeps running.
 *
 * @example
 * ```ts
 * import { runCommand } from "./commands.ts";
 * import { ChatSession } from "./chat.ts";
 * import { createLanguageModel } from "./inference.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const tok = Tokenizer.byteLevel();
 * const config = presetConfig("rwkv-micro", 256);
 * const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 1));
 * const chat = new ChatSession(model, tok);
 * const ctx = { feedbackPath: "feedback.jsonl", modelName: "demo" };
 * console.log((await runCommand(chat, "/temp 0.5", ctx)).message); // "temperature = 0.5"
 * console.log((await runCommand(chat, "/top-p 2", ctx)).message); // "error: top-p must be in (0, 1], got 2"
 * ```
 */
export async function runCommand(
  chat: ChatSession,
  line: string,
  ctx: CommandContext,
): Promise<CommandResult> {
  const [name, ...rest] = line.trim().split(/\s+/);
  const arg = rest.join(" ");
  try {
    switch (name.toLowerCase()) {
      case "/help":
      case "/?":
        return { message: CHAT_HELP };
      case "/quit":
      case "/exit":
      case "/sair":
        return { message: "bye", quit: true };
      case "/temp":
      case "/temperature":
        chat.setSampling("temperature", parseNumber(rest[0], "/temp"));
        return { message: `temperature = ${chat.sampling.temperature}` };
      case "/top-k":
      case "/topk":
        chat.setSampling("topK", parseNumber(rest[0], "/top-k"));
        return { message: `top-k = ${chat.sampling.topK}` };
      case "/top-p":
      case "/topp":
        chat.setSampling("topP", parseNumber(rest[0], "/top-p"));
        return { message: `top-p = ${chat.sampling.topP}` };
      case "/tokens":
        chat.setMaxNewTokens(parseNumber(rest[0], "/tokens"));
        return { message: `tokens per answer = ${chat.maxNewTokens}` };
      case "/persona":
        if (!arg) {
          return {
            message: `persona: ${chat.persona ?? "(none)"}; available: ${
              [...PERSONAS.keys()].join(", ")
            }`,
          };
        }
        chat.setPersona(arg);
        if (ctx.adapters) {
          const name = personaAdapter(findPersona(arg)!, ctx.adapters.names);
          if (name) {
            ctx.adapters.use([name]);
            return { message: `persona = ${chat.persona}, adapter = ${name}` };
          }
        }
        return { message: `persona = ${chat.persona}` };
      case "/adapter": {
        const bank = ctx.adapters;
        if (!bank) {
          throw new BenteviError("no adapters loaded (start the chat with --adapter NAME=DIR)");
        }
        if (!arg) {
          return {
            message: `adapter: ${bank.active.join(" + ") || "off"}; loaded: ${
              bank.names.join(", ")
            }`,
          };
        }
        bank.use(arg.toLowerCase() === "off" ? [] : [arg]);
        return { message: `adapter = ${bank.active.join(" + ") || "off (the base model)"}` };
      }
      case "/reset":
        chat.reset();
        return { message: "conversation cleared" };
      case "/history": {
        if (chat.history.length === 0) return { message: "(no messages yet)" };
        const lines = chat.history.map((t) =>
          `${t.role === "user" ? "you" : "bot"}: ${t.content.replace(/\s*\n\s*/g, " ")}`
        );
        return { message: lines.join("\n") };
      }
      case "/save":
        if (!arg) throw new BenteviError("/save needs a file name");
        await refuseOutputOverInputs([arg], [...(ctx.inputs ?? []), ctx.feedbackPath], "/save");
        await chat.save(arg);
        return { message: `conversation saved to ${arg}` };
      case "/load":
        if (!arg) throw new BenteviError("/load needs a file name");
        await chat.load(arg);
        return { message: `loaded ${chat.history.length} messages from ${arg}` };
      case "/stats": {
        const s = chat.stats;
        const ctxSize = Number.isFinite(s.contextSize) ? String(s.contextSize) : "unlimited (RNN)";
        return {
          message: `turns ${s.turns} | context used ${s.contextUsed}/${ctxSize} tokens | ` +
            `last answer ${s.tokensPerSecond.toFixed(1)} tokens/s (prompt ${
              (1000 * s.prefillSeconds).toFixed(0)
            } ms) | generated ${s.generatedTokens} tokens`,
        };
      }
      case "/explain":
      case "/educational": {
        const v = rest[0]?.toLowerCase();
        if (rest.length === 1 && (v === "on" || v === "off")) {
          chat.explain = v === "on";
          return { message: `explain ${chat.explain ? "on" : "off"}` };
        }
        if (name.toLowerCase() === "/educational") {
          throw new BenteviError(`/educational takes on or off, got "${arg}"`);
        }
        const text = unquote(arg);
        const ids = text ? text : [...chat.model.tokens];
        if (ids.length === 0) {
          throw new BenteviError('nothing said yet: /explain "O bem-te-vi" walks through a text');
        }
        const w = await explainStep(chat.model, chat.tokenizer, ids, chat.sampling);
        return { message: formatStepWalkthrough(w) };
      }
      case "/tokens-demo": {
        const text = unquote(arg);
        if (!text) throw new BenteviError('/tokens-demo needs a text: /tokens-demo "Olá, mundo!"');
        if (!(chat.tokenizer instanceof Tokenizer)) {
          throw new BenteviError("/tokens-demo needs a Bentevi tokenizer");
        }
        return { message: inspectText(chat.tokenizer, text).text };
      }
      case "/chunk-demo": {
        const { text, ...o } = parseChunkDemo(arg);
        const counter = chat.tokenizer instanceof Tokenizer ? chat.tokenizer : undefined;
        ctx.chunkDemo = chunkDemo(text, { ...o, counter });
        return { message: formatChunkDemo(ctx.chunkDemo) };
      }
      case "/chunk-stats":
      case "/optimize-chunks": {
        if (!ctx.chunkDemo) {
          throw new BenteviError(`${name}: chunk a text first, with /chunk-demo "…"`);
        }
        return {
          message: name === "/chunk-stats"
            ? formatChunkStats(ctx.chunkDemo)
            : formatOptimization(ctx.chunkDemo),
        };
      }
      case "/good":
      case "/bad": {
        const last = ctx.lastReply;
        if (!last) throw new BenteviError(`${name}: there is no answer to rate yet`);
        await appendFeedback(ctx.feedbackPath, {
          time: new Date().toISOString(),
          rating: name === "/good" ? "good" : "bad",
          prompt: last.prompt,
          answer: last.answer,
          persona: chat.persona ?? null,
          system: chat.system,
          model: ctx.modelName,
          sampling: { ...chat.sampling },
          ...(ctx.adapters ? { adapters: [...ctx.adapters.active] } : {}),
        });
        return { message: `thanks: feedback saved to ${ctx.feedbackPath}` };
      }
      default:
        return { message: `unknown command "${name}" (type /help for the list)` };
    }
  } catch (e) {
    if (e instanceof BenteviError) return { message: `error: ${e.message}` };
    throw e;
  }
}
