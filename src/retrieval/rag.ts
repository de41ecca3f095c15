/**
 * Answering from retrieved passages: the prompt that tells a model to answer from numbered
 * passages (written once here — `chat --index`, `generate --index`, the demo and fine-tuning data
 * all use {@link groundedPrompt}, so a model tuned on it meets the same text at inference),
 * fitting the best passages into a token budget, and the citation lines printed after an answer.
 *
 * @module
 */
import type { TokenCounter } from "../chunking/types.ts";
import { BenteviError } from "../errors.ts";
import { formatSource, type SearchHit } from "./search.ts";

/** The instruction that opens a grounded prompt. */
export const GROUNDED_INSTRUCTION =
  "Responda com base nos trechos abaixo, citando-os pelo número, como [1]; se eles não trazem a resposta, diga que não sabe.";

/** A passage as the prompt shows it: a (possibly shortened) hit. */
export interface Passage {
  /** The hit it comes from (its `text`, `end` and `byteEnd` shortened when cut to fit). */
  hit: SearchHit;
  /** Whether the hit's text was cut to fit the budget. */
  truncated: boolean;
}

/** Options of {@link groundedPrompt}. */
export interface GroundedPromptOptions {
  /** End with `Resposta:` so a plain continuation (`generate`) writes the answer (default false). */
  answerCue?: boolean;
}

/**
 * The grounded prompt for a question and its passages:
 *
 * ```text
 * Responda com base nos trechos abaixo, citando-os pelo número, como [1]; …
 *
 * [1] (Título) texto do primeiro trecho
 * [2] texto do segundo trecho
 *
 * Pergunta: …
 * ```
 *
 * (`Resposta:` on a last line with `answerCue`.) Whitespace inside a passage is collapsed to
 * single spaces so that one passage is one line.
 *
 * @example
 * ```ts
 * import { groundedPrompt } from "./rag.ts";
 * const p = groundedPrompt("Quem descobriu o cometa?", [{ text: "Joaquim Valadares o avistou em 1911.", title: "Cometa Valadares" }]);
 * console.log(p.endsWith("Pergunta: Quem descobriu o cometa?")); // true
 * ```
 */
export function groundedPrompt(
  question: string,
  passages: readonly { text: string; title?: string }[],
  options: GroundedPromptOptions = {},
): string {
  const lines = passages.map((p, i) =>
    `[${i + 1}] ${p.title ? `(${p.title}) ` : ""}${p.text.replace(/\s+/g, " ").trim()}`
  );
  return `${GROUNDED_INSTRUCTION}\n\n${lines.join("\n")}\n\nPergunta: ${question.trim()}` +
    (options.answerCue ? "\nResposta:" : "");
}

/**
 * A training example in chat form (the format `finetune` data uses): the grounded prompt as
 * the user's message and the answer as the assistant's.
 *
 * @example
 * ```ts
 * import { groundedExample } from "./rag.ts";
 * const ex = groundedExample("Onde fica?", [{ text: "Fica em Minas Gerais." }], "Em Minas Gerais [1].");
 * console.log(ex.messages[1].content); // "Em Minas Gerais [1]."
 * ```
 */
export function groundedExample(
  question: string,
  passages: readonly { text: string; title?: string }[],
  answer: string,
): { messages: { role: "user" | "assistant"; content: string }[] } {
  return {
    messages: [
      { role: "user", content: groundedPrompt(question, passages) },
      { role: "assistant", content: answer },
    ],
  };
}

/**
 * The best hits that fit `budget` tokens (counted with `counter`), in rank order: whole hits
 * while they fit, then the next one cut at a word start to the room left (when 8 tokens or
 * more are left), then stop.
 *
 * @example
 * ```ts
 * import { fitPassages } from "./rag.ts";
 * import { charCounter } from "../chunking/types.ts";
 * const hit = (id: number, text: string) => ({ rank: id, id, score: 1, text, source: { path: "a.txt", kind: "text" }, start: 0, end: text.length, byteStart: 0, byteEnd: text.length, tokens: text.length });
 * const ps = fitPassages([hit(1, "Primeiro trecho."), hit(2, "Segundo trecho bem mais longo.")], charCounter, 30);
 * console.log(ps.map((p) => p.hit.text)); // ["Primeiro trecho.", "Segundo "]
 * ```
 */
export function fitPassages(
  hits: readonly SearchHit[],
  counter: TokenCounter,
  budget: number,
): Passage[] {
  const out: Passage[] = [];
  let left = budget;
  for (const hit of hits) {
    const n = counter.countTokens(hit.text, { addSpecialTokens: false });
    if (n <= left) {
      out.push({ hit, truncated: false });
      left -= n;
      continue;
    }
    if (left >= 8) {
      // The longest prefix ending before a word that fits (binary search over word starts).
      const starts = [...hit.text.matchAll(/\s\S/g)].map((m) => m.index! + 1);
      let lo = 0, hi = starts.length - 1, best = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (
          counter.countTokens(hit.text.slice(0, starts[mid]), { addSpecialTokens: false }) <= left
        ) {
          best = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (best >= 0) {
        const text = hit.text.slice(0, starts[best]);
        const bytes = new TextEncoder().encode(text).length;
        out.push({
          hit: { ...hit, text, end: hit.start + text.length, byteEnd: hit.byteStart + bytes },
          truncated: true,
        });
      }
    }
    break;
  }
  return out;
}

/**
 * The citation lines printed after an answer: `[1] file — title (line N, chars A–B)`.
 *
 * @example
 * ```ts
 * import { citationLines } from "./rag.ts";
 * const hit = { rank: 1, id: 7, score: 2, text: "…", source: { path: "/d/wiki.jsonl", kind: "jsonl", title: "Lua", line: 3 }, start: 0, end: 120, byteStart: 0, byteEnd: 121, tokens: 30 };
 * console.log(citationLines([{ hit, truncated: false }], "/d")); // "[1] wiki.jsonl — Lua (line 3, chars 0–120)"
 * ```
 */
export function citationLines(passages: readonly Passage[], cwd?: string): string {
  return passages.map((p, i) => `[${i + 1}] ${formatSource(p.hit, cwd)}`).join("\n");
}

/** What `/sources`, `/rag` and `/k` act on in a chat with retrieval. */
export interface RagState {
  /** Retrieval on (`/rag on|off`). */
  enabled: boolean;
  /** Passages retrieved per question (`/k N`). */
  k: number;
  /** The last retrieval: every hit with its score, and the passages that went into the prompt. */
  last?: { query: string; hits: SearchHit[]; passages: Passage[] };
}

/** The help lines of the retrieval commands. */
export const RAG_HELP: string = [
  "  /sources              the passages of the last answer, with scores",
  "  /rag on|off           answer from the index, or from the model alone",
  "  /k N                  passages retrieved per question",
].join("\n");

/**
 * Runs `/sources`, `/rag` or `/k`; `undefined` for any other line (the chat's own commands).
 * Bad values come back as an `error: …` message.
 *
 * @example
 * ```ts
 * import { runRagCommand } from "./rag.ts";
 * const state = { enabled: true, k: 3 };
 * console.log(runRagCommand(state, "/k 5")?.message, state.k); // "k = 5" 5
 * console.log(runRagCommand(state, "/rag off")?.message); // "retrieval off: answers come from the model alone"
 * ```
 */
export function runRagCommand(state: RagState, line: string): { message: string } | undefined {
  const [name, arg] = line.trim().split(/\s+/);
  try {
    switch (name.toLowerCase()) {
      case "/sources": {
        const last = state.last;
        if (!last) return { message: "(no retrieval yet)" };
        const used = new Set(last.passages.map((p) => p.hit.id));
        return {
          message: [
            `query: ${last.query}`,
            ...last.hits.map((h) =>
              `${used.has(h.id) ? "*" : " "} ${h.score.toFixed(4)}  ${formatSource(h)}\n    ${
                h.text.replace(/\s+/g, " ").trim().slice(0, 160)
              }`
            ),
            "(* = in the prompt)",
          ].join("\n"),
        };
      }
      case "/rag":
        if (arg === "on") state.enabled = true;
        else if (arg === "off") state.enabled = false;
        else throw new BenteviError(`/rag takes on or off, got "${arg ?? ""}"`);
        return {
          message: state.enabled
            ? "retrieval on: answers come from the index's passages"
            : "retrieval off: answers come from the model alone",
        };
      case "/k": {
        const n = Number(arg);
        if (!Number.isInteger(n) || n < 1 || n > 100) {
          throw new BenteviError(`/k takes a whole number from 1 to 100, got "${arg ?? ""}"`);
        }
        state.k = n;
        return { message: `k = ${n}` };
      }
      default:
        return undefined;
    }
  } catch (e) {
    if (e instanceof BenteviError) return { message: `error: ${e.message}` };
    throw e;
  }
}

/** What {@link groundedTurn} returns. */
export interface GroundedTurn {
  /** The text to send the model: the grounded prompt, or the question alone. */
  prompt: string;
  /** The passages in the prompt (empty when retrieval is off or found nothing). */
  passages: Passage[];
  /** Every hit retrieved (for `/sources`), passages or not. */
  hits: SearchHit[];
  /** Why the question goes without passages, when it does. */
  notice?: string;
}

/** Options of {@link groundedTurn}. */
export interface GroundedTurnOptions {
  /** Passages to retrieve (default 3). */
  k?: number;
  /** Tokens for the passages (default: what the room leaves after the instruction and question). */
  contextTokens?: number;
  /** Tokens the whole prompt may take (the model's context minus the answer's room). */
  room: number;
  /** Counts tokens (the model's tokenizer). */
  counter: TokenCounter;
  /** End with `Resposta:` (plain continuation). */
  answerCue?: boolean;
}

/**
 * Retrieves passages for a question and builds the prompt within the token budget. A question
 * with no retrievable words (only stop words) or no matching passage goes alone, with a notice.
 *
 * @example
 * ```ts
 * import { buildIndex } from "./build.ts";
 * import { Retriever } from "./search.ts";
 * import { groundedTurn } from "./rag.ts";
 * import { charCounter } from "../chunking/types.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "O Cometa Valadares foi visto em 1911 por Joaquim Valadares.");
 * await buildIndex([`${dir}/a.txt`], { index: `${dir}/i.db` });
 * const r = await Retriever.open(`${dir}/i.db`);
 * const t = await groundedTurn(r, "Quem viu o cometa?", { room: 2000, counter: charCounter });
 * console.log(t.passages.length, t.prompt.includes("[1] O Cometa Valadares")); // 1 true
 * r.close();
 * ```
 */
export async function groundedTurn(
  retriever: { search(q: string, o: { k: number }): Promise<SearchHit[]> },
  question: string,
  options: GroundedTurnOptions,
): Promise<GroundedTurn> {
  let hits: SearchHit[];
  try {
    hits = await retriever.search(question, { k: options.k ?? 3 });
  } catch (e) {
    if (e instanceof BenteviError && /only stop words|empty query/.test(e.message)) {
      return { prompt: question, passages: [], hits: [], notice: "no words to search for" };
    }
    throw e;
  }
  if (hits.length === 0) {
    return { prompt: question, passages: [], hits, notice: "no passage matches the question" };
  }
  const overhead = options.counter.countTokens(
    groundedPrompt(question, [{ text: "" }], { answerCue: options.answerCue }),
    { addSpecialTokens: false },
  );
  const budget = options.contextTokens ?? Math.max(0, options.room - overhead);
  // Titles go into the prompt too: count them out of the passages' budget.
  const titled = (p: Passage) => ({ text: p.hit.text, title: p.hit.source.title });
  let passages = fitPassages(hits, options.counter, budget);
  const titleCost = passages.reduce(
    (a, p) =>
      a +
      (p.hit.source.title
        ? options.counter.countTokens(` (${p.hit.source.title}) [${passages.length}]`)
        : 0),
    0,
  );
  if (titleCost > 0 && options.contextTokens === undefined) {
    passages = fitPassages(hits, options.counter, Math.max(0, budget - titleCost));
  }
  if (passages.length === 0) {
    return {
      prompt: question,
      passages,
      hits,
      notice: `no room for a passage in the context (${budget} tokens left)`,
    };
  }
  return {
    prompt: groundedPrompt(question, passages.map(titled), { answerCue: options.answerCue }),
    passages,
    hits,
  };
}

/**
 * Tokens a prompt may take: the context, less the room kept for the answer (at most half the
 * context). RWKV, without a limit, counts as 4,096 so that passages stay modest.
 *
 * @example
 * ```ts
 * import { promptRoom } from "./rag.ts";
 * console.log(promptRoom(512, 128)); // 383
 * ```
 */
export function promptRoom(maxContext: number, maxNewTokens = 128): number {
  const context = Number.isFinite(maxContext) ? maxContext : 4096; // RWKV: no limit; stay modest
  return context - 1 - Math.min(maxNewTokens, Math.floor(context / 2));
}

/**
 * A generation tokenizer as a token counter (passage budgets).
 *
 * @example
 * ```ts
 * import { tokenCounter } from "./rag.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * console.log(tokenCounter(Tokenizer.byteLevel()).countTokens("olá")); // 4
 * ```
 */
export function tokenCounter(tokenizer: {
  encode(t: string, o?: { addSpecialTokens?: boolean }): ArrayLike<number>;
}): TokenCounter {
  return { countTokens: (t) => tokenizer.encode(t, { addSpecialTokens: false }).length };
}
