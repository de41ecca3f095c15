/**
 * How a conversation becomes token ids — written once, for `chat` (the prompt of the next
 * answer) and for `finetune` (training examples, with the positions the loss is taken on).
 *
 * Three formats, chosen by {@link chatFormatFor} the same way for both:
 * - `chat-template`: the checkpoint's own Jinja template (`tokenizer_config.json`);
 * - `chat-tokens`: Bentevi's format ({@link BENTEVI_CHAT_TEMPLATE}) when the tokenizer has
 *   `<|system|>`, `<|user|>` and `<|assistant|>`;
 * - `plain`: `SYSTEM\n\nUsuário: MESSAGE\nAssistente: ANSWER\n…` when it has neither.
 *
 * A template's text is encoded whole between the answers; each answer goes in as its own ids
 * (the tokens the model generated, in chat; the answer's encoding, in training), found by
 * rendering once more with a marker in place of each answer.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import {
  BENTEVI_CHAT_TEMPLATE,
  type ChatMessage,
  ChatTemplate,
} from "../tokenizer/chat_template.ts";

/** The chat special tokens of Bentevi's format. */
export const CHAT_TOKENS = {
  system: "<|system|>",
  user: "<|user|>",
  assistant: "<|assistant|>",
} as const;

/** What choosing and encoding a format needs from a tokenizer. */
export interface ChatFormatTokenizer {
  /** Text → ids (`addSpecialTokens: false`: no `<s>` around fragments). */
  encode(text: string, options?: { addSpecialTokens?: boolean }): ArrayLike<number>;
  /** The id of a token string, or undefined. */
  tokenToId(token: string): number | undefined | null;
  /** The token string of an id. */
  idToToken(id: number): string | undefined | null;
  /** The end-of-text token. */
  readonly endOfTextId?: number | undefined | null;
}

/** A conversation format, as {@link chatFormatFor} chooses it. */
export interface ChatFormat {
  /** Which of the three formats. */
  kind: "chat-tokens" | "chat-template" | "plain";
  /** The template (absent for `plain`). */
  template?: ChatTemplate;
  /**
   * Ids that end an assistant turn in this format: the template's end-of-turn tokens (for
   * Bentevi's format the `eos_token`), or the newline for `plain`. Training takes the loss on
   * the one after each answer, so the model learns to stop.
   */
  endOfTurnIds: number[];
  /** The newline's ids. */
  newline: number[];
}

/**
 * The format `chat` uses with this tokenizer and model: the checkpoint's template when given,
 * else Bentevi's when the tokenizer has the chat tokens (within `vocabSize`), else plain.
 *
 * @example
 * ```ts
 * import { chatFormatFor } from "./chat_format.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * console.log(chatFormatFor(Tokenizer.byteLevel(), 256).kind); // "plain"
 * ```
 */
export function chatFormatFor(
  tokenizer: ChatFormatTokenizer,
  vocabSize: number,
  given?: ChatTemplate,
): ChatFormat {
  const id = (t: string) => tokenizer.tokenToId(t) ?? undefined;
  const newline = Array.from(tokenizer.encode("\n", { addSpecialTokens: false }));
  const fits = (i: number | undefined) => i !== undefined && i < vocabSize;
  const ends = (template: ChatTemplate) =>
    template.endOfTurnTokens.map(id).filter((i): i is number => fits(i));
  if (given) {
    return {
      kind: given.isBentevi ? "chat-tokens" : "chat-template",
      template: given,
      endOfTurnIds: ends(given),
      newline,
    };
  }
  if ([CHAT_TOKENS.system, CHAT_TOKENS.user, CHAT_TOKENS.assistant].every((t) => fits(id(t)))) {
    const eos = tokenizer.endOfTextId ?? undefined;
    const template = new ChatTemplate(
      BENTEVI_CHAT_TEMPLATE,
      { eosToken: eos === undefined ? undefined : tokenizer.idToToken(eos) ?? undefined },
      "Bentevi's chat template",
    );
    return { kind: "chat-tokens", template, endOfTurnIds: ends(template), newline };
  }
  return { kind: "plain", endOfTurnIds: newline.slice(0, 1), newline };
}

/** A message to encode; an answer's `ids`, when given, go in as they are (what was generated). */
export interface EncodableMessage extends ChatMessage {
  /** The ids of the content (answers: the tokens the model generated). */
  ids?: readonly number[];
}

/** A conversation as ids. */
export interface EncodedChat {
  /** The ids. */
  ids: number[];
  /**
   * Per answer, in order: `[start, end)` of its ids, the end-of-turn token after it included
   * when the format writes one there (the positions training takes the loss on).
   */
  answers: { start: number; end: number }[];
  /** Where each message begins in `ids` (for the plain format; templates: where known). */
  messageStarts: (number | undefined)[];
}

/**
 * Encodes `messages` in `format`. With `addGenerationPrompt`, ends with the header of a new
 * answer (chat's prompt); without, the conversation as training sees it. `encode` turns
 * text into ids (chat drops ids beyond the model's vocabulary there). A template that does not
 * write answers verbatim cannot say which ids are the answers: chat then encodes its text
 * whole (`answers` is empty), and training refuses it.
 *
 * @example
 * ```ts
 * import { chatFormatFor, encodeChat } from "./chat_format.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const tok = Tokenizer.byteLevel();
 * const format = chatFormatFor(tok, 256);
 * const enc = (s: string) => Array.from(tok.encode(s));
 * const { ids, answers } = encodeChat(format, [
 *   { role: "user", content: "Oi" },
 *   { role: "assistant", content: "Olá" },
 * ], enc);
 * console.log(tok.decode(ids.slice(answers[0].start, answers[0].end))); // " Olá\n"
 * ```
 */
export function encodeChat(
  format: ChatFormat,
  messages: readonly EncodableMessage[],
  encode: (text: string) => number[],
  options: { addGenerationPrompt?: boolean } = {},
): EncodedChat {
  return format.template
    ? encodeTemplate(format, format.template, messages, encode, options.addGenerationPrompt)
    : encodePlain(format, messages, encode, options.addGenerationPrompt);
}

function encodePlain(
  format: ChatFormat,
  messages: readonly EncodableMessage[],
  encode: (text: string) => number[],
  addGenerationPrompt = false,
): EncodedChat {
  const nl = format.newline;
  const ids: number[] = [];
  const answers: EncodedChat["answers"] = [];
  const messageStarts: number[] = [];
  for (const m of messages) {
    messageStarts.push(ids.length);
    if (m.role === "system") {
      if (m.content.trim()) ids.push(...encode(m.content), ...nl, ...nl);
    } else if (m.role === "user") {
      ids.push(...encode("Usuário: "), ...(m.ids ?? encode(m.content)), ...nl);
    } else if (m.role === "assistant") {
      // The answer's ids begin with the space the model generated after "Assistente:".
      ids.push(...encode("Assistente:"));
      const start = ids.length;
      ids.push(...(m.ids ?? encode(" " + m.content)));
      // the newline after it ends the turn: trained (its first id)
      answers.push({ start, end: ids.length + Math.min(1, nl.length) });
      ids.push(...nl);
    } else throw new BenteviError(`unknown role "${m.role}" (system, user or assistant)`);
  }
  if (addGenerationPrompt) ids.push(...encode("Assistente:"));
  return { ids, answers, messageStarts };
}

function encodeTemplate(
  format: ChatFormat,
  template: ChatTemplate,
  messages: readonly EncodableMessage[],
  encode: (text: string) => number[],
  addGenerationPrompt = false,
): EncodedChat {
  const render = (marked: boolean) =>
    template.render(
      messages.map((m, i) => ({
        role: m.role,
        content: marked && m.role === "assistant" ? `\uE000${i}\uE001` : m.content,
      })),
      { addGenerationPrompt },
    );
  const text = render(false);
  const marked = render(true);
  const chunks: string[] = [];
  const slots: number[] = [];
  let rebuilt = "", last = 0;
  for (const m of marked.matchAll(/\uE000(\d+)\uE001/g)) {
    const i = Number(m[1]);
    chunks.push(marked.slice(last, m.index));
    slots.push(i);
    rebuilt += marked.slice(last, m.index) + messages[i].content;
    last = m.index + m[0].length;
  }
  chunks.push(marked.slice(last));
  rebuilt += marked.slice(last);
  const expected = messages.flatMap((m, i) => m.role === "assistant" ? [i] : []);
  if (rebuilt !== text || slots.join() !== expected.join()) {
    return { ids: encode(text), answers: [], messageStarts: messages.map(() => undefined) };
  }
  const ids = encode(chunks[0]);
  const answers: EncodedChat["answers"] = [];
  const messageStarts: (number | undefined)[] = messages.map(() => undefined);
  const ends = new Set(format.endOfTurnIds);
  slots.forEach((i, k) => {
    const start = ids.length;
    messageStarts[i] = start;
    ids.push(...(messages[i].ids ?? encode(messages[i].content)));
    const after = encode(chunks[k + 1]);
    // The end-of-turn token right after the answer (only whitespace before it) is the
    // answer's too: the model learns to end its turn.
    let end = ids.length;
    const at = after.findIndex((id) => ends.has(id));
    if (at >= 0 && (at === 0 || isBlank(chunks[k + 1], at, encode))) end += at + 1;
    answers.push({ start, end });
    ids.push(...after);
  });
  return { ids, answers, messageStarts };
}

/** Whether the text of a chunk's ids before position `at` is only whitespace. */
function isBlank(
  chunk: string,
  at: number,
  encode: (text: string) => number[],
): boolean {
  const m = /^\s*/.exec(chunk)![0];
  return m.length > 0 && encode(m).length === at;
}
