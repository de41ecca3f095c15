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
 * Formats the explain-mode lines for the tokens of an answer: id, token, probability and the
 * top-5 candidates.
 *
 * @example
 * ```ts
 * import { formatExplain } from "./commands.ts";
 * console.log(formatExplain([{ id: 5, token: "a", prob: 0.5, top: [{ id: 5, logit: 1, prob: 0.5 }] }], (id) => `t${id}`));
 * ```
 */
export function formatExplain(steps: TokenStep[], show: (id: number) => string): string {
  return steps.map((s, i) => {
    const top = s.top.map((c) => `${JSON.stringify(show(c.id))} ${(100 * c.prob).toFixed(1)}%`)
      .join(", ");
    return `  #${i + 1} id ${s.id} ${JSON.stringify(show(s.id))} p=${(100 * s.prob).toFixed(1)}% ` +
      `| top-5: ${top}`;
  }).join("\n");
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
      case "/explain": {
        const v = rest[0]?.toLowerCase();
        if (v === "on") chat.explain = true;
        else if (v === "off") chat.explain = false;
        else if (v === undefined) chat.explain = !chat.explain;
        else throw new BenteviError(`/explain takes on or off, got "${rest[0]}"`);
        return { message: `explain ${chat.explain ? "on" : "off"}` };
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
