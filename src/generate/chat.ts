/**
 * A chat session over a {@link LanguageModel}: the conversation history rendered with a chat
 * template — the checkpoint's own (`chat_template` of its `tokenizer_config.json`, Jinja), else
 * Bentevi's format when the tokenizer has its chat special tokens, else a plain-text template —
 * kept within the context window by dropping the oldest turns, with adjustable sampling,
 * personas, an explain mode, statistics, and save/load of the conversation.
 *
 * Bentevi's format ({@link BENTEVI_CHAT_TEMPLATE}; one line per message, `[EOS]` closing each
 * answer): `<|system|>SYSTEM\n<|user|>MESSAGE\n<|assistant|>ANSWER[EOS]\n<|user|>…<|assistant|>`.
 * The plain template: `SYSTEM\n\nUsuário: MESSAGE\nAssistente: ANSWER\nUsuário: …`.
 *
 * A template's text is encoded whole, except that an answer the template writes verbatim goes
 * in as the tokens the model generated, so the next prompt extends the previous one exactly and
 * the KV cache (GPT) or recurrent state (RWKV) of the earlier turns is reused.
 *
 * @module
 */
import { BenteviError, fsError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import {
  EXPLAIN_DEFAULTS,
  feedTo,
  generate,
  type GenerationResult,
  type GenerationTokenizer,
  type TokenStep,
} from "./generator.ts";
import type { LanguageModel } from "./inference.ts";
import { familyOf } from "../model/registry.ts";
import { DEFAULT_SYSTEM_PROMPT, findPersona, PERSONAS } from "./personas.ts";
import { checkSamplingValue, Sampler, type SamplingOptions } from "./sampler.ts";
import type { ChatMessage, ChatTemplate } from "../tokenizer/chat_template.ts";
import { CHAT_TOKENS, type ChatFormat, chatFormatFor, encodeChat } from "./chat_format.ts";

export { CHAT_TOKENS };

/** Options of a {@link ChatSession}. */
export interface ChatOptions {
  /** Persona name (see {@link PERSONAS}); ignored when `system` is given. */
  persona?: string;
  /** A system prompt of your own. */
  system?: string;
  /** Sampling knobs (defaults: temperature 0.8, top-k 40, top-p 0.95, repetition penalty 1.1). */
  sampling?: SamplingOptions;
  /** Most tokens per answer (default 200). */
  maxNewTokens?: number;
  /**
   * Fewest tokens per answer before the model may end its turn (default 2), so an answer is
   * never empty; 0 lets the model end its turn at once.
   */
  minNewTokens?: number;
  /** Start in the educational (explain) mode. */
  explain?: boolean;
  /**
   * The checkpoint's chat template (see `ChatTemplate.forTokenizer`). Without one, Bentevi's
   * format is used when the tokenizer has its chat tokens, else the plain template.
   */
  chatTemplate?: ChatTemplate;
  /** More ids that end an answer (a checkpoint's `generation_config.json` `eos_token_id`). */
  endOfTextIds?: readonly number[];
}

/** One message of the conversation. */
export interface ChatTurn {
  /** Who said it. */
  role: "user" | "assistant";
  /** The text. */
  content: string;
  /** Its tokens, as fed to the model. */
  ids: number[];
}

/** Per-answer options of {@link ChatSession.reply}. */
export interface ReplyOptions {
  /** More strings that end the answer (not part of it), besides the template's own. */
  stop?: readonly string[];
  /**
   * `true` (default): the oldest turns are dropped to fit the context, as the chat REPL does.
   * `false`: a conversation that does not fit is refused with a {@link ContextLengthError}
   * (what a server does: the client owns the history).
   */
  dropOldTurns?: boolean;
  /** Called after each token is chosen (see `GenerateOptions.onToken`). */
  onToken?: (step: TokenStep) => void;
}

/**
 * A prompt that does not fit the model's context: the message says how many tokens it takes
 * and how many the context holds.
 *
 * @example
 * ```ts
 * import { ContextLengthError } from "./chat.ts";
 * const e = new ContextLengthError(600, 512, "the messages");
 * console.log(e.message); // the messages take 600 tokens; this model's context holds 512 …
 * ```
 */
export class ContextLengthError extends BenteviError {
  /** Tokens the prompt takes. */
  readonly promptTokens: number;
  /** Tokens the model's context holds. */
  readonly contextSize: number;
  /** @param what names the prompt in the message ("the messages", "the prompt"). */
  constructor(promptTokens: number, contextSize: number, what: string) {
    super(
      `${what} take${what.endsWith("s") ? "" : "s"} ${promptTokens} tokens; this model's ` +
        `context holds ${contextSize} (at most ${contextSize - 1} for the prompt, leaving room ` +
        `for an answer): shorten ${what}`,
    );
    this.name = "ContextLengthError";
    this.promptTokens = promptTokens;
    this.contextSize = contextSize;
  }
}

/** What {@link ChatSession.reply} returns. */
export interface ChatReply {
  /** The answer text (trimmed). */
  answer: string;
  /** The generation details (timing, tokens, explain steps). */
  result: GenerationResult;
  /** Turns dropped from the start of the history to fit the context. */
  droppedTurns: number;
}

/** Figures for `/stats`. */
export interface ChatStats {
  /** Turns in the history. */
  turns: number;
  /** Tokens of the last prompt (system + history kept + message). */
  contextUsed: number;
  /** The model's context (Infinity for RWKV). */
  contextSize: number;
  /** Decode speed of the last answer. */
  tokensPerSecond: number;
  /** Prompt-processing time of the last answer. */
  prefillSeconds: number;
  /** Tokens generated in the session. */
  generatedTokens: number;
}

/**
 * A conversation with a model.
 *
 * @example
 * ```ts
 * import { ChatSession } from "./chat.ts";
 * import { createLanguageModel } from "./inference.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const tok = Tokenizer.byteLevel();
 * const config = presetConfig("rwkv-micro", tok.vocabSize);
 * const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 1));
 * const chat = new ChatSession(model, tok, { persona: "casual", maxNewTokens: 8 });
 * const { answer } = await chat.reply("Oi!");
 * console.log(typeof answer); // "string"
 * ```
 */
export class ChatSession {
  /** The model. */
  readonly model: LanguageModel;
  /** The tokenizer. */
  readonly tokenizer: GenerationTokenizer;
  /**
   * `"chat-tokens"`: Bentevi's format (its template, from the checkpoint or built in);
   * `"chat-template"`: the checkpoint's own template; `"plain"`: no template, the tokenizer
   * lacks the chat tokens.
   */
  readonly template: "chat-tokens" | "chat-template" | "plain";
  /** The chat template in use (undefined with the plain template). */
  readonly chatTemplate: ChatTemplate | undefined;
  /** The conversation so far. */
  history: ChatTurn[] = [];
  /** Most tokens per answer. */
  maxNewTokens: number;
  /** Fewest tokens per answer before the model may end its turn. */
  readonly minNewTokens: number;
  /**
   * Educational mode: each answer's tokens come with their probability, top-5 candidates, the
   * sampling step and (GPT, Llama) the last block's most attended tokens (`result.steps`).
   */
  explain: boolean;
  #persona: string | undefined;
  #system: string;
  #sampling: Required<Omit<SamplingOptions, "seed">> & { seed?: number };
  #sampler: Sampler;
  #ids: { system?: number; user?: number; assistant?: number };
  readonly #format: ChatFormat;
  #stats: ChatStats;
  readonly #endOfTextIds: readonly number[];

  /** @param options persona, system prompt, sampling; bad values throw a {@link BenteviError}. */
  constructor(model: LanguageModel, tokenizer: GenerationTokenizer, options: ChatOptions = {}) {
    this.model = model;
    this.tokenizer = tokenizer;
    const id = (t: string) => tokenizer.tokenToId(t) ?? undefined;
    this.#ids = {
      system: id(CHAT_TOKENS.system),
      user: id(CHAT_TOKENS.user),
      assistant: id(CHAT_TOKENS.assistant),
    };
    this.#format = chatFormatFor(tokenizer, model.config.vocabSize, options.chatTemplate);
    this.template = this.#format.kind;
    this.chatTemplate = this.#format.template;
    this.maxNewTokens = options.maxNewTokens ?? 200;
    this.setMaxNewTokens(this.maxNewTokens);
    this.minNewTokens = options.minNewTokens ?? 2;
    if (!Number.isInteger(this.minNewTokens) || this.minNewTokens < 0) {
      throw new BenteviError(
        `min tokens per answer must be an integer ≥ 0, got ${options.minNewTokens}`,
      );
    }
    this.explain = options.explain ?? false;
    this.#endOfTextIds = options.endOfTextIds ?? [];
    const s = options.sampling ?? {};
    this.#sampling = {
      temperature: s.temperature ?? 0.8,
      topK: s.topK ?? 40,
      topP: s.topP ?? 0.95,
      repetitionPenalty: s.repetitionPenalty ?? 1.1,
      repetitionWindow: s.repetitionWindow ?? 64,
      seed: s.seed,
    };
    this.#sampler = new Sampler(this.#sampling);
    this.#system = DEFAULT_SYSTEM_PROMPT;
    if (options.system !== undefined) this.setSystem(options.system);
    else if (options.persona !== undefined) this.setPersona(options.persona);
    else this.setSystem(DEFAULT_SYSTEM_PROMPT);
    this.#stats = {
      turns: 0,
      contextUsed: 0,
      contextSize: model.maxContext,
      tokensPerSecond: 0,
      prefillSeconds: 0,
      generatedTokens: 0,
    };
  }

  /** A one-time notice for the user when the plain template is in use. */
  get templateNotice(): string | undefined {
    return this.template === "plain"
      ? `this tokenizer has no ${CHAT_TOKENS.user}/${CHAT_TOKENS.assistant} tokens: ` +
        `chatting through the plain template "Usuário:" / "Assistente:"`
      : undefined;
  }

  /** The active persona name (undefined with a custom or the default system prompt). */
  get persona(): string | undefined {
    return this.#persona;
  }

  /** The system prompt in use. */
  get system(): string {
    return this.#system;
  }

  /** The current sampling knobs. */
  get sampling(): Readonly<SamplingOptions> {
    return { ...this.#sampling };
  }

  /** Switches persona; an unknown name throws a {@link BenteviError} listing the known ones. */
  setPersona(name: string): void {
    const p = findPersona(name);
    if (!p) {
      throw new BenteviError(
        `unknown persona "${name}"; available: ${[...PERSONAS.keys()].join(", ")}`,
      );
    }
    this.setSystem(p.system);
    this.#persona = p.name;
  }

  /** Sets a custom system prompt. */
  setSystem(text: string): void {
    this.#system = text;
    this.#persona = undefined;
  }

  /** Changes one sampling knob (validated; the random sequence continues where it was). */
  setSampling(knob: "temperature" | "topK" | "topP" | "repetitionPenalty", value: number): void {
    checkSamplingValue(knob, value);
    this.#sampling[knob] = value;
    const state = this.#sampler.rng.state;
    this.#sampler = new Sampler({ ...this.#sampling, seed: this.#sampler.options.seed });
    this.#sampler.rng.state = state;
  }

  /** Sets the most tokens per answer (1 … 100,000). */
  setMaxNewTokens(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > 100_000) {
      throw new BenteviError(`tokens per answer must be an integer between 1 and 100000, got ${n}`);
    }
    this.maxNewTokens = n;
  }

  /** Forgets the conversation (the system prompt and settings stay). */
  reset(): void {
    this.history = [];
    this.model.reset();
  }

  /** Statistics of the session and of the last answer. */
  get stats(): ChatStats {
    return { ...this.#stats, turns: this.history.length };
  }

  /**
   * A history entry for `content` said by `role`, with its tokens as the model would see them
   * (set `history` to a list of them to start from a conversation held elsewhere).
   */
  turn(role: "user" | "assistant", content: string): ChatTurn {
    const text = role === "assistant" && this.template === "plain" ? " " + content : content;
    return { role, content, ids: this.#encode(text) };
  }

  #encode(text: string): number[] {
    const ids = Array.from(this.tokenizer.encode(text, { addSpecialTokens: false }));
    const V = this.model.config.vocabSize;
    return ids.filter((i) => i < V);
  }

  /**
   * The prompt for the turns from `start` on, through the chat format (`chat_format.ts`, the
   * same encoding `finetune` trains on): each answer goes in as the ids the model generated,
   * so the next prompt extends the previous one exactly.
   */
  #promptIds(start: number): number[] {
    const turns = this.history.slice(start);
    const head: ChatMessage[] = this.template === "chat-tokens" || this.#system.trim()
      ? [{ role: "system", content: this.#system }]
      : [];
    return encodeChat(this.#format, [...head, ...turns], (t) => this.#encode(t), {
      addGenerationPrompt: true,
    }).ids;
  }

  /**
   * The prompt for the next answer; drops the oldest turns that do not fit (or, with `strict`,
   * refuses a conversation that does not fit).
   */
  #prompt(strict = false): { ids: number[]; dropped: number } {
    if (strict) {
      const ids = this.#promptIds(0);
      if (ids.length > this.model.maxContext - 1) {
        throw new ContextLengthError(ids.length, this.model.maxContext, "the messages");
      }
      return { ids, dropped: 0 };
    }
    const budget = this.model.maxContext -
      Math.min(this.maxNewTokens, Math.floor(this.model.maxContext / 2));
    let start = 0;
    let ids = this.#promptIds(start);
    // Drop whole turns from the front (always keeping the newest message).
    while (start < this.history.length - 1 && ids.length > budget) ids = this.#promptIds(++start);
    // Never start the history with an answer.
    if (start > 0 && this.history[start]?.role === "assistant") ids = this.#promptIds(++start);
    return { ids, dropped: start };
  }

  /**
   * Sends a user message and generates the answer (streamed through `onText`). The message
   * and the answer join the history.
   */
  async reply(
    message: string,
    onText?: (text: string) => void,
    options: ReplyOptions = {},
  ): Promise<ChatReply> {
    const text = message.trim();
    if (!text) throw new BenteviError("empty message");
    this.history.push(this.turn("user", text));
    let prompt;
    try {
      prompt = this.#prompt(options.dropOldTurns === false);
    } catch (e) {
      this.history.pop();
      throw e;
    }
    const { ids, dropped } = prompt;
    if (dropped > 0) this.history.splice(0, dropped);
    const plain = this.template === "plain";
    const turnEnds = this.template === "chat-template"
      ? this.chatTemplate!.endOfTurnTokens.map((t) => this.tokenizer.tokenToId(t) ?? undefined)
      : [this.#ids.user, this.#ids.system, this.#ids.assistant];
    const stopTokenIds = turnEnds.filter((i): i is number => i !== undefined);
    // Leading spaces of the answer are dropped from the stream (the template puts none).
    let started = false;
    const stream = onText
      ? (piece: string) => {
        if (!started) {
          piece = piece.trimStart();
          if (!piece) return;
          started = true;
        }
        onText(piece);
      }
      : undefined;
    let result: GenerationResult;
    try {
      result = await generate(this.model, this.tokenizer, ids, {
        maxNewTokens: this.maxNewTokens,
        minNewTokens: Math.min(this.minNewTokens, this.maxNewTokens),
        sampler: this.#sampler,
        stop: [
          ...(plain ? ["\nUsuário:", "Usuário:", "\nAssistente:"] : []),
          ...(options.stop ?? []),
        ],
        stopTokenIds,
        endOfTextIds: this.#endOfTextIds,
        explainTop: this.explain ? EXPLAIN_DEFAULTS.top : 0,
        explainAttention: this.explain ? EXPLAIN_DEFAULTS.attention : 0,
        onText: stream,
        onToken: options.onToken,
      });
    } catch (e) {
      this.history.pop();
      throw e;
    }
    const answer = result.text.trim();
    const answerIds = result.finishReason === "stop" && plain
      ? this.#encode(" " + answer)
      : result.tokens;
    this.history.push({ role: "assistant", content: answer, ids: answerIds });
    this.#stats.contextUsed = Math.min(ids.length + result.tokens.length, this.model.maxContext);
    this.#stats.tokensPerSecond = result.tokensPerSecond;
    this.#stats.prefillSeconds = result.prefillSeconds;
    this.#stats.generatedTokens += result.tokens.length;
    return { answer, result, droppedTurns: dropped };
  }

  /** Runs the current history through the model now (after `/load`), so the next answer starts fast. */
  async warmUp(): Promise<void> {
    const { ids } = this.#prompt();
    await feedTo(this.model, ids);
  }

  /** The conversation and settings as JSON (what `/save` writes, without the model state). */
  toJSON(): Record<string, unknown> {
    return {
      format: "bentevi-chat",
      version: 1,
      persona: this.#persona ?? null,
      system: this.#system,
      sampling: this.sampling,
      maxNewTokens: this.maxNewTokens,
      history: this.history.map(({ role, content, ids }) => ({ role, content, ids })),
    };
  }

  /**
   * Writes the conversation to `path` (JSON, atomically). For RWKV the recurrent state (a few
   * KB) goes with it, so `/load` continues without re-reading the history; a GPT re-reads it in
   * one prefill pass.
   */
  async save(path: string): Promise<void> {
    const json = this.toJSON();
    if (familyOf(this.model.config).recurrent && this.model.tokens.length > 0) {
      const tensors: Record<string, { shape: number[]; data: string }> = {};
      for (const [name, t] of await this.model.exportState()) {
        tensors[name] = { shape: t.shape, data: toBase64(t.data) };
      }
      json.state = {
        config: JSON.stringify(this.model.config),
        tokens: this.model.tokens,
        tensors,
      };
    }
    await writeFileAtomic(path, JSON.stringify(json) + "\n");
  }

  /** Restores a conversation written by {@link save} (a bad file changes nothing). */
  async load(path: string): Promise<void> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw fsError(e, path);
    }
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(text);
    } catch {
      throw new BenteviError(`${path}: not valid JSON`);
    }
    if (j?.format !== "bentevi-chat" || !Array.isArray(j.history)) {
      throw new BenteviError(`${path}: not a saved Bentevi chat (format "bentevi-chat")`);
    }
    const V = this.model.config.vocabSize;
    const history: ChatTurn[] = [];
    for (const [i, t] of (j.history as unknown[]).entries()) {
      const turn = (t ?? {}) as { role?: unknown; content?: unknown; ids?: unknown };
      if ((turn.role !== "user" && turn.role !== "assistant") || typeof turn.content !== "string") {
        throw new BenteviError(`${path}: history entry ${i + 1} needs a role and a content`);
      }
      // The saved ids are what the model saw (an answer's sampled tokens may differ from a
      // re-encoding of its text); another tokenizer's ids would not fit, so re-encode then.
      history.push(
        Array.isArray(turn.ids) && turn.ids.every((x) => Number.isInteger(x) && x >= 0 && x < V)
          ? { role: turn.role, content: turn.content, ids: turn.ids as number[] }
          : this.turn(turn.role, turn.content),
      );
    }
    const state = j.state as
      | {
        config?: unknown;
        tokens?: unknown;
        tensors?: Record<string, { shape: number[]; data: string }>;
      }
      | undefined;
    let restored: { tensors: Map<string, NamedTensor>; tokens: number[] } | undefined;
    if (
      state && state.config === JSON.stringify(this.model.config) && Array.isArray(state.tokens)
    ) {
      try {
        const tensors = new Map<string, NamedTensor>();
        for (const [name, t] of Object.entries(state.tensors ?? {})) {
          tensors.set(name, { shape: t.shape, data: fromBase64(t.data) });
        }
        restored = { tensors, tokens: state.tokens as number[] };
      } catch {
        restored = undefined; // a damaged state is only an optimisation: re-read the history
      }
    }
    if (typeof j.maxNewTokens === "number") {
      try {
        this.setMaxNewTokens(j.maxNewTokens); // checked first: a bad file changes nothing
      } catch (e) {
        if (e instanceof BenteviError) throw new BenteviError(`${path}: ${e.message}`);
        throw e;
      }
    }
    if (typeof j.persona === "string" && findPersona(j.persona)) this.setPersona(j.persona);
    else if (typeof j.system === "string") this.setSystem(j.system);
    this.history = history;
    this.model.reset();
    if (restored) {
      try {
        this.model.importState(restored.tensors, restored.tokens);
      } catch {
        this.model.reset();
      }
    }
  }
}

function toBase64(data: Float32Array): string {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(text: string): Float32Array {
  const s = atob(text);
  if (s.length % 4 !== 0) throw new Error("bad state data");
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}
