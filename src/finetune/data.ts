/**
 * Fine-tuning data: reading records (chat conversations and plain documents), checking them,
 * and turning them into training rows of `T` positions whose targets are −1 where no loss is
 * taken.
 *
 * Record forms, one per JSONL line:
 * - `{"messages": [{"role": "system|user|assistant", "content": "…"}, …]}` (the common form);
 * - `{"text": "<|system|>…\n<|user|>…\n<|assistant|>…"}` (the project's `dialogos.jsonl`: a
 *   conversation written out with Bentevi's chat tokens);
 * - `{"text": "…"}` without chat tokens: a document (continued pre-training).
 * A `.txt`/`.md` file is one document.
 *
 * Bad records: a line that is not JSON, a record of another shape, an unknown role, a content
 * that is not a string or is empty → one-line {@link BenteviError} naming `FILE:LINE` (the file
 * is not what it should be; training on the rest would hide it). A conversation without an
 * assistant turn, and an exchange (a user message and its answer) longer than the context on
 * its own → skipped and counted (they are well-formed, there is only nothing to learn from
 * them at this context).
 *
 * @module
 */
import { BenteviError, fsError } from "../errors.ts";
import { type ChatFormat, encodeChat } from "../generate/chat_format.ts";
import { readDocuments } from "../text/documents.ts";
import { InvalidUtf8Error } from "../text/encoding.ts";
import { listInputFiles } from "../text/inputs.ts";
import type { ChatMessage } from "../tokenizer/chat_template.ts";

/** A conversation read from a file. */
export interface ChatRecord {
  /** `"chat"`. */
  kind: "chat";
  /** Its messages (contents trimmed). */
  messages: ChatMessage[];
  /** `FILE:LINE`, for messages. */
  source: string;
}

/** A document read from a file (continued pre-training: every token is trained). */
export interface DocumentRecord {
  /** `"document"`. */
  kind: "document";
  /** Its text. */
  text: string;
  /** `FILE` or `FILE:LINE`. */
  source: string;
}

/** One record of fine-tuning data. */
export type FinetuneRecord = ChatRecord | DocumentRecord;

/** The roles a chat record may have. */
export const CHAT_ROLES: readonly string[] = ["system", "user", "assistant"];

/** Files a folder given as data is searched for. */
const DATA_EXTENSIONS = [".jsonl", ".ndjson", ".txt", ".md"];

/** End-of-text spellings a `dialogos`-form answer may end with (the template writes its own). */
const TRAILING_EOS = ["[EOS]", "<|endoftext|>", "</s>"];

/**
 * Checks one conversation (`messages` as found in a record) and returns it with trimmed
 * contents; `where` prefixes the error.
 */
export function checkMessages(messages: unknown, where: string): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new BenteviError(`${where}: "messages" must be a non-empty list`);
  }
  return messages.map((m, i) => {
    const at = `${where}: message ${i + 1}`;
    if (!m || typeof m !== "object" || Array.isArray(m)) {
      throw new BenteviError(`${at} is not an object with "role" and "content"`);
    }
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== "string" || !CHAT_ROLES.includes(role)) {
      throw new BenteviError(
        `${at}: unknown role ${JSON.stringify(role)} (system, user or assistant)`,
      );
    }
    if (typeof content !== "string") {
      throw new BenteviError(`${at}: "content" must be a string`);
    }
    if (!content.trim()) throw new BenteviError(`${at}: empty ${role} content`);
    return { role, content: content.trim() };
  });
}

/**
 * The messages of a conversation written out with Bentevi's chat tokens (the `dialogos.jsonl`
 * form), or undefined when `text` has none of them (a document).
 *
 * @example
 * ```ts
 * import { parseChatText } from "./data.ts";
 * console.log(parseChatText("<|user|>Oi\n<|assistant|>Olá!", "x"));
 * // [{ role: "user", content: "Oi" }, { role: "assistant", content: "Olá!" }]
 * ```
 */
export function parseChatText(text: string, where: string): ChatMessage[] | undefined {
  const marks = /<\|(system|user|assistant)\|>/g;
  const found = [...text.matchAll(marks)];
  if (!found.length) return undefined;
  if (text.slice(0, found[0].index).trim()) {
    throw new BenteviError(`${where}: text before the first ${found[0][0]} of the conversation`);
  }
  const messages = found.map((m, i) => {
    let content = text.slice(m.index! + m[0].length, found[i + 1]?.index ?? text.length).trim();
    for (const eos of TRAILING_EOS) {
      if (content.endsWith(eos)) content = content.slice(0, -eos.length).trim();
    }
    return { role: m[1], content };
  });
  return checkMessages(messages, where);
}

/**
 * Reads fine-tuning records from files and folders (`.jsonl`/`.ndjson`: one record a line;
 * `.txt`/`.md`: one document a file).
 *
 * @example
 * ```ts
 * import { readFinetuneRecords } from "./data.ts";
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * await Deno.writeTextFile(path, JSON.stringify({ messages: [
 *   { role: "user", content: "Oi" }, { role: "assistant", content: "Olá!" },
 * ] }) + "\n");
 * console.log((await readFinetuneRecords([path]))[0].kind); // "chat"
 * ```
 */
export async function readFinetuneRecords(paths: string[]): Promise<FinetuneRecord[]> {
  const files = await listInputFiles(paths, { extensions: DATA_EXTENSIONS });
  const out: FinetuneRecord[] = [];
  for (const file of files) {
    if (/\.(jsonl|ndjson)$/i.test(file.path)) {
      let text: string;
      try {
        text = await Deno.readTextFile(file.path);
      } catch (e) {
        if (e instanceof TypeError) {
          throw new BenteviError(`${file.path}: not UTF-8 text`);
        }
        throw fsError(e, file.path);
      }
      const lines = text.split("\n");
      lines.forEach((line, i) => {
        if (!line.trim()) return;
        const where = `${file.path}:${i + 1}`;
        let j: unknown;
        try {
          j = JSON.parse(line);
        } catch {
          throw new BenteviError(`${where}: not valid JSON`);
        }
        const r = j as { messages?: unknown; text?: unknown } | null;
        if (r && typeof r === "object" && !Array.isArray(r) && r.messages !== undefined) {
          out.push({ kind: "chat", messages: checkMessages(r.messages, where), source: where });
        } else if (r && typeof r === "object" && typeof r.text === "string") {
          const messages = parseChatText(r.text, where);
          if (messages) out.push({ kind: "chat", messages, source: where });
          else if (r.text.trim()) out.push({ kind: "document", text: r.text, source: where });
        } else {
          throw new BenteviError(
            `${where}: expected {"messages": [{"role": …, "content": …}, …]} or {"text": …}`,
          );
        }
      });
    } else {
      try {
        for await (const doc of readDocuments(file.path, { split: "file" })) {
          out.push({ kind: "document", text: doc.text, source: file.path });
        }
      } catch (e) {
        if (e instanceof InvalidUtf8Error) {
          throw new InvalidUtf8Error(e.path, e.position, "convert it first: bentevi clean");
        }
        throw e;
      }
    }
  }
  if (!out.length) throw new BenteviError(`${paths.join(", ")}: no records found`);
  return out;
}

/** One training example: ids and which of them are trained. */
export interface Example {
  /** Token ids (at most `T + 1`). */
  ids: number[];
  /** 1 where `ids[i]` is a target the loss is taken on (never at 0: nothing predicts it). */
  trained: Uint8Array;
  /** Where it came from. */
  source: string;
}

/** Why records gave no example, counted. */
export interface SkipCounts {
  /** Conversations with no assistant turn. */
  noAssistant: number;
  /** Exchanges longer than the context on their own. */
  tooLong: number;
}

/** What {@link buildExamples} needs. */
export interface ExampleOptions {
  /** The conversation format (the one `chat` uses with this model). */
  format: ChatFormat;
  /** Text → ids (no `<s>` added). */
  encode: (text: string) => number[];
  /** End-of-text id appended to documents. */
  endOfTextId?: number;
  /** Positions per row: an example holds at most `context + 1` ids. */
  context: number;
  /** Train on every token of conversations, not only the answers. */
  trainOnPrompt?: boolean;
}

/**
 * Turns records into examples of at most `context + 1` ids. A conversation longer than that is
 * cut at turn boundaries: each piece is the system prompt and as many whole exchanges (a user
 * message and its answers) as fit — what `chat` shows the model once older turns no longer fit.
 * A document is cut into windows of `context + 1` ids, each overlapping the next by one.
 *
 * @example
 * ```ts
 * import { buildExamples } from "./data.ts";
 * import { chatFormatFor } from "../generate/chat_format.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const tok = Tokenizer.byteLevel();
 * const { examples } = buildExamples([{ kind: "chat", source: "x", messages: [
 *   { role: "user", content: "Oi" }, { role: "assistant", content: "Olá" },
 * ] }], { format: chatFormatFor(tok, 256), encode: (s) => Array.from(tok.encode(s)), context: 64 });
 * console.log(examples[0].trained.reduce((a, b) => a + b)); // 5: " Olá" and the newline
 * ```
 */
export function buildExamples(
  records: readonly FinetuneRecord[],
  o: ExampleOptions,
): { examples: Example[]; skipped: SkipCounts } {
  const examples: Example[] = [];
  const skipped: SkipCounts = { noAssistant: 0, tooLong: 0 };
  const max = o.context + 1;
  for (const r of records) {
    if (r.kind === "document") {
      const ids = o.encode(r.text);
      if (o.endOfTextId !== undefined) ids.push(o.endOfTextId);
      for (let at = 0; at + 1 < ids.length; at += o.context) {
        const piece = ids.slice(at, at + max);
        const trained = new Uint8Array(piece.length).fill(1);
        trained[0] = 0;
        examples.push({ ids: piece, trained, source: r.source });
      }
      continue;
    }
    if (!r.messages.some((m) => m.role === "assistant")) {
      skipped.noAssistant++;
      continue;
    }
    const head = r.messages[0].role === "system" ? [r.messages[0]] : [];
    const groups: ChatMessage[][] = [];
    for (const m of r.messages.slice(head.length)) {
      const g = groups[groups.length - 1];
      if (!g || (m.role === "user" && g.some((x) => x.role === "assistant"))) groups.push([m]);
      else g.push(m);
    }
    const encodeGroups = (from: number, to: number) => {
      const messages = [...head, ...groups.slice(from, to).flat()];
      const enc = encodeChat(o.format, messages, o.encode);
      if (!enc.answers.length && messages.some((m) => m.role === "assistant")) {
        throw new BenteviError(
          `${r.source}: the chat template does not write answers verbatim, so their tokens cannot be told apart from the prompt's`,
        );
      }
      return enc;
    };
    let from = 0;
    while (from < groups.length) {
      let enc = encodeGroups(from, from + 1);
      if (enc.ids.length > max) {
        skipped.tooLong++;
        from++;
        continue;
      }
      let to = from + 1;
      while (to < groups.length) {
        const next = encodeGroups(from, to + 1);
        if (next.ids.length > max) break;
        enc = next;
        to++;
      }
      const trained = new Uint8Array(enc.ids.length);
      if (o.trainOnPrompt) trained.fill(1);
      else for (const a of enc.answers) trained.fill(1, a.start, a.end);
      trained[0] = 0;
      if (groups.slice(from, to).some((g) => g.some((m) => m.role === "assistant"))) {
        examples.push({ ids: enc.ids, trained, source: r.source });
      }
      from = to;
    }
  }
  return { examples, skipped };
}

/**
 * Writes example `e` into row `row` of `inputs`/`targets` (`T` positions a row): the ids from
 * position 0, each target the next id where it is trained and −1 elsewhere; after the example,
 * padding (input `pad`, target −1). Right padding is invisible to the example: attention is
 * causal and RWKV's recurrence runs forward, so no real position sees a padded one.
 */
export function fillRow(
  e: Example | undefined,
  inputs: Int32Array,
  targets: Int32Array,
  row: number,
  T: number,
  pad: number,
): void {
  const at = row * T;
  for (let t = 0; t < T; t++) {
    if (e && t + 1 < e.ids.length) {
      inputs[at + t] = e.ids[t];
      targets[at + t] = e.trained[t + 1] ? e.ids[t + 1] : -1;
    } else {
      inputs[at + t] = e && t < e.ids.length ? e.ids[t] : pad;
      targets[at + t] = -1;
    }
  }
}
