/**
 * Chat templates: the Jinja `chat_template` of a checkpoint's `tokenizer_config.json` (or its
 * `chat_template.jinja`), rendered with `@huggingface/jinja` the way Hugging Face
 * `transformers` renders it in `apply_chat_template` (blocks trimmed, `bos_token`,
 * `eos_token`… and `add_generation_prompt` in the context), so a downloaded model is
 * prompted the way it was trained. Bentevi's own dialogue format is a template too
 * ({@link BENTEVI_CHAT_TEMPLATE}), written into `tokenizer_config.json` when Bentevi saves a
 * tokenizer that has the chat tokens.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { BenteviError, fsError } from "../errors.ts";
import { JinjaTemplate } from "../deps.ts";

/** One message of a conversation, as chat templates expect it. */
export interface ChatMessage {
  /** `system`, `user`, `assistant` (templates may know others, e.g. `tool`). */
  role: string;
  /** Its text. */
  content: string;
}

/** Options of {@link ChatTemplate.render}. */
export interface ChatRenderOptions {
  /** End with the header of an assistant turn, for the model to write the answer (default false). */
  addGenerationPrompt?: boolean;
  /** More variables for the template (e.g. `enable_thinking: false` for Qwen3). */
  variables?: Record<string, unknown>;
}

/** The special tokens a template may use (`bos_token`…), as `tokenizer_config.json` names them. */
export interface ChatTemplateTokens {
  /** `bos_token`. */
  bosToken?: string;
  /** `eos_token`. */
  eosToken?: string;
  /** `unk_token`. */
  unkToken?: string;
  /** `pad_token`. */
  padToken?: string;
}

/**
 * Bentevi's dialogue format as a chat template: one line per message, `[EOS]` (the
 * `eos_token`) closing each answer:
 * `<|system|>SYSTEM\n<|user|>MESSAGE\n<|assistant|>ANSWER[EOS]\n<|user|>…<|assistant|>`.
 */
export const BENTEVI_CHAT_TEMPLATE = "{%- for message in messages -%}" +
  "{%- if message.role == 'system' -%}{{ '<|system|>' + message.content + '\\n' }}" +
  "{%- elif message.role == 'user' -%}{{ '<|user|>' + message.content + '\\n' }}" +
  "{%- elif message.role == 'assistant' -%}" +
  "{{ '<|assistant|>' + message.content + (eos_token or '') + '\\n' }}" +
  "{%- else -%}{{ raise_exception('unknown role ' + message.role) }}" +
  "{%- endif -%}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{ '<|assistant|>' }}{%- endif -%}";

/** Tokens that end an assistant turn in common templates (besides the `eos_token`). */
const END_OF_TURN_TOKENS = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "</s>"];

function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  // Older files write special tokens as AddedToken objects.
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") {
    return (v as { content: string }).content;
  }
  return undefined;
}

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).replace(/\s+/g, " ").trim();
}

/**
 * A compiled chat template.
 *
 * @example
 * ```ts
 * import { BENTEVI_CHAT_TEMPLATE, ChatTemplate } from "./mod.ts";
 * const t = new ChatTemplate(BENTEVI_CHAT_TEMPLATE, { eosToken: "[EOS]" });
 * const text = t.render([
 *   { role: "user", content: "Oi" },
 *   { role: "assistant", content: "Olá!" },
 *   { role: "user", content: "Tudo bem?" },
 * ], { addGenerationPrompt: true });
 * console.log(JSON.stringify(text));
 * // "<|user|>Oi\n<|assistant|>Olá![EOS]\n<|user|>Tudo bem?\n<|assistant|>"
 * ```
 */
export class ChatTemplate {
  /** The Jinja source. */
  readonly source: string;
  /** Where it came from, for messages (a file name). */
  readonly name: string;
  /** The special tokens given to the template. */
  readonly tokens: Readonly<ChatTemplateTokens>;
  readonly #template: InstanceType<typeof JinjaTemplate>;

  /**
   * Compiles `source`; a syntax error throws a one-line {@link BenteviError} naming `name`.
   */
  constructor(source: string, tokens: ChatTemplateTokens = {}, name = "chat_template") {
    this.source = source;
    this.name = name;
    this.tokens = { ...tokens };
    try {
      this.#template = new JinjaTemplate(source);
    } catch (e) {
      throw new BenteviError(`${name}: chat_template does not parse: ${oneLine(e)}`);
    }
  }

  /** Whether this is Bentevi's own dialogue format ({@link BENTEVI_CHAT_TEMPLATE}). */
  get isBentevi(): boolean {
    return this.source === BENTEVI_CHAT_TEMPLATE;
  }

  /** Tokens that end an assistant turn: the `eos_token` and the usual end-of-turn tokens. */
  get endOfTurnTokens(): string[] {
    const out = this.tokens.eosToken ? [this.tokens.eosToken] : [];
    for (const t of END_OF_TURN_TOKENS) {
      if (this.source.includes(t) && !out.includes(t)) out.push(t);
    }
    return out;
  }

  /**
   * The conversation as the text the model was trained on (Hugging Face's
   * `apply_chat_template(messages, tokenize=False)`). Errors of the template (a
   * `raise_exception`, a bad operation) throw a one-line {@link BenteviError} naming the file.
   */
  render(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
    const t = this.tokens;
    try {
      return this.#template.render({
        ...options.variables,
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: options.addGenerationPrompt ?? false,
        bos_token: t.bosToken ?? "",
        eos_token: t.eosToken ?? "",
        unk_token: t.unkToken ?? "",
        pad_token: t.padToken ?? "",
      });
    } catch (e) {
      throw new BenteviError(`${this.name}: chat_template failed: ${oneLine(e)}`);
    }
  }

  /**
   * The template of a parsed `tokenizer_config.json`, or undefined when it has none. A
   * `chat_template` given as a list of named templates yields the one named `default`.
   */
  static fromConfig(config: unknown, name = "tokenizer_config.json"): ChatTemplate | undefined {
    if (!config || typeof config !== "object" || Array.isArray(config)) {
      throw new BenteviError(`${name}: expected a JSON object`);
    }
    const c = config as Record<string, unknown>;
    let source = c.chat_template;
    if (Array.isArray(source)) {
      const named = source.find((x) => (x as { name?: unknown })?.name === "default");
      source = (named as { template?: unknown } | undefined)?.template;
      if (source === undefined) {
        throw new BenteviError(`${name}: chat_template is a list without a "default" template`);
      }
    }
    if (source === undefined || source === null) return undefined;
    if (typeof source !== "string") {
      throw new BenteviError(`${name}: chat_template must be a string`);
    }
    return new ChatTemplate(source, tokensOf(c), name);
  }

  /**
   * The chat template that goes with a `tokenizer.json`: `tokenizer_config.json` beside it
   * (its `chat_template`, else a `chat_template.jinja` file there, as recent `transformers`
   * save it), or undefined when there is none.
   *
   * @example
   * ```ts
   * import { ChatTemplate } from "./mod.ts";
   * const t = await ChatTemplate.forTokenizer("../shared/data/tokenizer/llama3/tokenizer.json");
   * console.log(t?.tokens.bosToken); // "<|begin_of_text|>" (when ../shared is present)
   * ```
   */
  static async forTokenizer(tokenizerPath: string): Promise<ChatTemplate | undefined> {
    const dir = dirname(tokenizerPath);
    const configPath = join(dir, "tokenizer_config.json");
    const config = await readJsonIfPresent(configPath);
    const template = config === undefined ? undefined : ChatTemplate.fromConfig(config, configPath);
    if (template) return template;
    const jinjaPath = join(dir, "chat_template.jinja");
    let source: string;
    try {
      source = await Deno.readTextFile(jinjaPath);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw fsError(e, jinjaPath);
    }
    return new ChatTemplate(
      source,
      config ? tokensOf(config as Record<string, unknown>) : {},
      jinjaPath,
    );
  }
}

function tokensOf(c: Record<string, unknown>): ChatTemplateTokens {
  return {
    bosToken: tokenText(c.bos_token),
    eosToken: tokenText(c.eos_token),
    unkToken: tokenText(c.unk_token),
    padToken: tokenText(c.pad_token),
  };
}

async function readJsonIfPresent(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw fsError(e, path);
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new BenteviError(`${path}: not valid JSON (truncated or corrupt file?): ${oneLine(e)}`);
  }
}

/** The chat special tokens of Bentevi's dialogue format. */
const BENTEVI_CHAT_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"];

/**
 * The `tokenizer_config.json` Bentevi writes beside a `tokenizer.json` (a parsed object) that
 * has its chat tokens: {@link BENTEVI_CHAT_TEMPLATE} as `chat_template`, and the special
 * tokens it uses; undefined for a tokenizer without them (no chat format to record).
 *
 * @example
 * ```ts
 * import { benteviTokenizerConfig, Tokenizer } from "./mod.ts";
 * console.log(benteviTokenizerConfig(Tokenizer.byteLevel().toJSON())); // undefined
 * ```
 */
export function benteviTokenizerConfig(
  tokenizerJson: unknown,
): Record<string, unknown> | undefined {
  const added = (tokenizerJson as { added_tokens?: unknown })?.added_tokens;
  if (!Array.isArray(added)) return undefined;
  const contents = new Set(
    added.map((a) => (a as { content?: unknown })?.content).filter((c) => typeof c === "string"),
  );
  if (!BENTEVI_CHAT_TOKENS.every((t) => contents.has(t))) return undefined;
  const pick = (...names: string[]) => names.find((n) => contents.has(n)) ?? null;
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: pick("[BOS]", "<s>"),
    eos_token: pick("[EOS]", "<|endoftext|>", "</s>"),
    unk_token: pick("[UNK]", "<unk>"),
    pad_token: pick("[PAD]", "<pad>"),
    clean_up_tokenization_spaces: false,
    chat_template: BENTEVI_CHAT_TEMPLATE,
  };
}
