/**
 * `bentevi serve`: a checkpoint behind the OpenAI HTTP API on `Deno.serve` — chat and text
 * completions (streamed as server-sent events in OpenAI's chunk format), models, embeddings,
 * health — and the chat page at `/`.
 *
 * Chat prompts go through {@link ChatSession}, so the server renders a conversation with the
 * same chat template, personas, end-of-turn tokens and defaults as `bentevi chat`. Each
 * generation runs on its own model from a {@link ModelPool} (at most `maxConcurrent`, a bounded
 * queue behind them, then 429) and yields to the event loop between tokens, so streams
 * interleave and a client that disconnects stops its generation at the next token. Every bad
 * request gets an OpenAI-style error object; nothing a client sends stops the server.
 *
 * @module
 */
import { basename } from "node:path";
import { BenteviError } from "../errors.ts";
import type { DeviceChoice } from "../backend/select.ts";
import { isCheckpointSelector, loadCheckpoint, resolveCheckpointDir } from "../model/checkpoint.ts";
import { describeConfig } from "../model/config.ts";
import { applyGenerationDefaults } from "../model/generation_config.ts";
import { ChatSession, ContextLengthError } from "../generate/chat.ts";
import { generate, type GenerationResult, type TokenStep } from "../generate/generator.ts";
import { createLanguageModel, type LanguageModel } from "../generate/inference.ts";
import { type GenerationModel, openGenerationModel } from "../generate/load.ts";
import { personaAdapter, PERSONAS } from "../generate/personas.ts";
import { EXPLAIN_DEFAULTS } from "../generate/generator.ts";
import type { AdapterBank, AdapterRef } from "../finetune/bank.ts";
import type { SamplingOptions } from "../generate/sampler.ts";
import { embedderOf } from "../chunking/embedding.ts";
import type { ChatTemplate } from "../tokenizer/chat_template.ts";
import type { QuantType } from "../quant/mod.ts";
import { formatSource, Retriever } from "../retrieval/search.ts";
import { type GroundedTurn, groundedTurn, promptRoom, tokenCounter } from "../retrieval/rag.ts";
import { ModelPool, nextTurn, pacedModel, QueueFullError } from "./pool.ts";
import {
  ApiError,
  type ChatCompletionRequest,
  type CompletionRequest,
  finishReason,
  type GenerationParams,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
} from "./protocol.ts";
import { PAGE_ASSETS } from "./page.ts";

/** Options of {@link createServer} and {@link serve}. */
export interface ServeOptions {
  /**
   * The checkpoint directory, or a run directory (its latest checkpoint) or selector
   * (`RUN:best`, `RUN:latest`, `RUN:STEP`), resolved once at start.
   */
  checkpoint: string;
  /** A `tokenizer.json` to use instead of the checkpoint's. */
  tokenizerPath?: string;
  /** Compute device (default `auto`). */
  device?: DeviceChoice;
  /** Address to bind (default `127.0.0.1`: this machine only). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** When set, `/v1/*` requests need `Authorization: Bearer KEY`. */
  apiKey?: string;
  /** Most generations at once, one model (weights + cache) each (default 4). */
  maxConcurrent?: number;
  /** Most requests waiting for a model before 429 (default 32). */
  maxQueue?: number;
  /** The model id the API reports (default: the name of the directory given, e.g. the run's). */
  modelName?: string;
  /**
   * LoRA adapters (`--adapter NAME=DIR`) a request picks by naming one in its `model` field
   * (`NAME`, or `MODEL_ID:NAME`); `/v1/models` lists them after the base. A persona answers with
   * the adapter named after it (or its own `adapter`), as in `bentevi chat`, when the request
   * names the base or no model.
   */
  adapters?: readonly AdapterRef[];
  /**
   * The linear layers as ggml blocks (`q8_0`, `q4_0`), or `f32` to expand a GGUF file's blocks;
   * default: a GGUF file's own block type, else float32. Every pooled model uses the same.
   */
  quantize?: QuantType | "f32";
  /**
   * A retrieval index (`bentevi index build`): chat and text completions answer from its
   * passages (the grounded prompt of `chat --index`) and return them as `sources`.
   */
  index?: string;
  /** Passages to retrieve per question (default 3, as `chat --index`). */
  k?: number;
  /** Tokens for the passages (default: what the context leaves). */
  contextTokens?: number;
  /** One line per request and notices (default: `console.error`). */
  log?: (line: string) => void;
}

/** Defaults of {@link ServeOptions}. */
export const SERVE_DEFAULTS = {
  host: "127.0.0.1",
  port: 8080,
  maxConcurrent: 4,
  maxQueue: 32,
} as const;

/** The largest request body read (bigger ones get 413). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** A loaded server: its request handler, without a socket (see {@link serve}). */
export interface BenteviServer {
  /** Answers one HTTP request. */
  fetch(request: Request): Promise<Response>;
  /** The model id the API reports. */
  readonly modelId: string;
  /** A one-line description of the model and device. */
  readonly description: string;
  /** Slots and queue. */
  readonly pool: ModelPool;
  /** Cancels running generations and frees the models. */
  close(): Promise<void>;
}

/** A running server (see {@link serve}). */
export interface RunningServer extends BenteviServer {
  /** The address it listens on, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Stops accepting requests, cancels generations, frees the models. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

interface Job {
  /** The generation, reporting pieces of text and tokens as they come. */
  run(events: {
    onText: (text: string) => void;
    onToken: (step: TokenStep) => void;
  }): Promise<GenerationResult>;
  /** The passages the prompt was grounded in (with `--index`). */
  sources?: Record<string, unknown>[];
}

const encoder = new TextEncoder();

/**
 * Loads a checkpoint and returns the server's request handler (no socket: {@link serve} adds
 * one; tests can call `fetch` directly).
 *
 * @example
 * ```ts
 * import { createServer } from "./server.ts";
 * try {
 *   const server = await createServer({ checkpoint: "runs/demo", device: "cpu" });
 *   const r = await server.fetch(new Request("http://x/health"));
 *   console.log((await r.json()).status); // "ok"
 *   await server.close();
 * } catch (e) {
 *   console.log((e as Error).message); // no checkpoint here
 * }
 * ```
 */
export async function createServer(options: ServeOptions): Promise<BenteviServer> {
  const log = options.log ?? ((line: string) => console.error(line));
  const maxConcurrent = options.maxConcurrent ?? SERVE_DEFAULTS.maxConcurrent;
  const maxQueue = options.maxQueue ?? SERVE_DEFAULTS.maxQueue;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new BenteviError(`max concurrent must be an integer ≥ 1, got ${maxConcurrent}`);
  }
  if (!Number.isInteger(maxQueue) || maxQueue < 0) {
    throw new BenteviError(`max queue must be an integer ≥ 0, got ${maxQueue}`);
  }
  // A run directory or selector (`RUN:best`) is resolved once: every model of the pool, built
  // later, loads this same checkpoint even if the run saves newer ones meanwhile.
  const checkpointDir = await resolveCheckpointDir(options.checkpoint);
  // Every model starts as the base; a request merges its adapter into the model it gets.
  const opened = await openGenerationModel(checkpointDir, {
    device: options.device,
    tokenizerPath: options.tokenizerPath,
    log,
    adapters: options.adapters,
    quantize: options.quantize,
    activeAdapters: [],
  });
  const given = options.checkpoint.replace(/\/+$/, "");
  const modelId = options.modelName ??
    (basename(isCheckpointSelector(given) ? given.slice(0, given.lastIndexOf(":")) : given) ||
      "bentevi");
  // The checkpoint's template (tokenizer_config.json, or a GGUF file's tokenizer.chat_template).
  const chatTemplate: ChatTemplate | undefined = opened.chatTemplate;
  try {
    if (opened.adapters) {
      if (!opened.model.writeWeight) {
        throw new BenteviError(
          `--adapter: the ${opened.model.config.arch} model cannot switch adapters per request`,
        );
      }
      if (opened.adapters.names.includes(modelId)) {
        throw new BenteviError(
          `--adapter: "${modelId}" is the base model's id; name the adapter otherwise (NAME=DIR)`,
        );
      }
    }
  } catch (e) {
    disposeOpened(opened);
    throw e;
  }
  // Each model's own adapter bank: switching one model never touches another's weights.
  const banks = new WeakMap<LanguageModel, AdapterBank>();
  if (opened.adapters) banks.set(opened.model, opened.adapters);
  // More models (one per concurrent generation) on the same backend, built when needed.
  const create = async (): Promise<LanguageModel> => {
    const ckpt = await loadCheckpoint(opened.dir, { lazy: true });
    const model = createLanguageModel(
      opened.model.backend,
      ckpt.config,
      ckpt.weights,
      ckpt.weightsSource,
      opened.quantize ? { quantize: opened.quantize } : {},
    );
    if (opened.adapters) banks.set(model, opened.adapters.forModel(model));
    return model;
  };
  const pool = new ModelPool(create, { maxConcurrent, maxQueue }, opened.model);
  let retriever: Retriever | undefined;
  if (options.index !== undefined) {
    try {
      retriever = await Retriever.open(options.index, { device: options.device });
    } catch (e) {
      pool.close();
      opened.model.backend.destroy();
      throw e;
    }
    for (const n of retriever.notices) log(`bentevi: ${n}`);
  }
  return new Server(opened, chatTemplate, pool, banks, modelId, options, log, retriever);
}

/** What a request runs on: the model id it answers as, and the adapters merged in (none: the base). */
interface Target {
  id: string;
  adapters: string[];
}

/** Frees the first model and its backend (a server that fails to start). */
function disposeOpened(opened: GenerationModel): void {
  opened.model.dispose();
  opened.model.backend.destroy();
}

class Server implements BenteviServer {
  readonly modelId: string;
  readonly description: string;
  readonly pool: ModelPool;
  readonly #opened: GenerationModel;
  readonly #chatTemplate: ChatTemplate | undefined;
  readonly #apiKey: string | undefined;
  readonly #log: (line: string) => void;
  readonly #created = Math.floor(Date.now() / 1000);
  readonly #running = new Set<AbortController>();
  readonly #retriever: Retriever | undefined;
  readonly #rag: { k?: number; contextTokens?: number };
  readonly #banks: WeakMap<LanguageModel, AdapterBank>;
  readonly #adapterNames: readonly string[];
  #closed = false;

  constructor(
    opened: GenerationModel,
    chatTemplate: ChatTemplate | undefined,
    pool: ModelPool,
    banks: WeakMap<LanguageModel, AdapterBank>,
    modelId: string,
    options: ServeOptions,
    log: (line: string) => void,
    retriever?: Retriever,
  ) {
    this.#retriever = retriever;
    this.#rag = { k: options.k, contextTokens: options.contextTokens };
    this.#opened = opened;
    this.#chatTemplate = chatTemplate;
    this.pool = pool;
    this.#apiKey = options.apiKey;
    this.#log = log;
    this.modelId = modelId;
    this.#banks = banks;
    this.#adapterNames = opened.adapters?.names ?? [];
    this.description = `${describeConfig(opened.model.config)}${
      opened.quantize ? `, ${opened.quantize} blocks` : ""
    } on ${opened.model.backend.kind}`;
  }

  async fetch(request: Request): Promise<Response> {
    const t0 = performance.now();
    let response: Response;
    try {
      response = await this.#route(request);
    } catch (e) {
      response = this.#errorResponse(e);
    }
    const path = new URL(request.url).pathname;
    this.#log(
      `${request.method} ${path} ${response.status} ${(performance.now() - t0).toFixed(0)} ms`,
    );
    return response;
  }

  #errorResponse(e: unknown): Response {
    let err: ApiError;
    if (e instanceof ApiError) err = e;
    else if (e instanceof QueueFullError) {
      err = new ApiError(429, e.message, "rate_limit_error", null, "server_busy");
    } else if (e instanceof ContextLengthError) {
      err = new ApiError(
        400,
        e.message,
        "invalid_request_error",
        "messages",
        "context_length_exceeded",
      );
    } else if (e instanceof BenteviError) err = new ApiError(400, e.message);
    else {
      this.#log(`internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      err = new ApiError(500, "internal server error (see the server's log)", "server_error");
    }
    return json(err.toJSON(), err.status, err.status === 429 ? { "retry-after": "1" } : {});
  }

  async #route(request: Request): Promise<Response> {
    if (this.#closed) throw new ApiError(503, "the server is shutting down", "server_error");
    const path = new URL(request.url).pathname;
    const method = request.method;
    const only = (allowed: string) => {
      if (method !== allowed) {
        throw new ApiError(405, `${path} takes ${allowed}, not ${method}`, "invalid_request_error");
      }
    };
    const asset = PAGE_ASSETS.get(path);
    if (asset) {
      only("GET");
      return new Response(asset.body, {
        headers: { "content-type": asset.type, "cache-control": "no-cache" },
      });
    }
    if (path === "/health") {
      only("GET");
      return json(this.#health());
    }
    if (!path.startsWith("/v1/")) throw new ApiError(404, `no such endpoint: ${path}`);
    this.#authorize(request);
    switch (path) {
      case "/v1/models":
        only("GET");
        return json({ object: "list", data: this.#modelObjects() });
      case "/v1/chat/completions": {
        only("POST");
        const r = parseChatRequest(await readJson(request));
        const job = await this.#chatJob(r);
        // The persona is in effect (and picks its adapter) when no system message replaces it.
        const persona = r.messages.some((m) => m.role === "system") ? undefined : r.persona;
        return await this.#respond(request, r, "chat", job, this.#target(r.model, persona));
      }
      case "/v1/completions": {
        only("POST");
        const r = parseCompletionRequest(await readJson(request));
        const job = await this.#completionJob(r);
        return await this.#respond(request, r, "text", job, this.#target(r.model));
      }
      case "/v1/embeddings": {
        only("POST");
        return await this.#embeddings(request);
      }
    }
    if (path.startsWith("/v1/models/")) {
      only("GET");
      let id: string;
      try {
        id = decodeURIComponent(path.slice("/v1/models/".length));
      } catch {
        id = path.slice("/v1/models/".length);
      }
      const found = this.#modelObjects().find((m) => m.id === id);
      if (!found) throw this.#modelNotFound(id);
      return json(found);
    }
    throw new ApiError(404, `no such endpoint: ${path}`);
  }

  #authorize(request: Request): void {
    if (this.#apiKey === undefined) return;
    const header = request.headers.get("authorization") ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!m || !sameString(m[1], this.#apiKey)) {
      throw new ApiError(
        401,
        m ? "incorrect API key" : "an API key is required (Authorization: Bearer KEY)",
        "authentication_error",
        null,
        "invalid_api_key",
      );
    }
  }

  #health() {
    const c = this.#opened.model;
    return {
      status: "ok",
      model: this.modelId,
      description: this.description,
      context: Number.isFinite(c.maxContext) ? c.maxContext : null,
      slots: this.pool.stats,
      personas: [...PERSONAS.values()].map((p) => ({
        name: p.name,
        description: p.description,
        adapter: personaAdapter(p, this.#adapterNames) ?? null,
      })),
      adapters: this.#adapterNames,
      chat_template: this.#chatTemplate ? "checkpoint" : "built-in",
      index: this.#retriever !== undefined,
      api_key: this.#apiKey !== undefined,
    };
  }

  /** The base model, then one entry per adapter (`parent`: the base, as vLLM lists LoRAs). */
  #modelObjects(): Record<string, unknown>[] {
    const object = (id: string) => ({
      id,
      object: "model",
      created: this.#created,
      owned_by: "bentevi",
    });
    return [
      object(this.modelId),
      ...this.#adapterNames.map((n) => ({ ...object(n), parent: this.modelId })),
    ];
  }

  #modelNotFound(requested: string): ApiError {
    return new ApiError(
      404,
      `the model "${requested}" does not exist here; available: ${
        this.#modelObjects().map((m) => m.id).join(", ")
      }`,
      "invalid_request_error",
      "model",
      "model_not_found",
    );
  }

  /**
   * The model a request's `model` field names: the base (its id, or no model), or an adapter
   * (`NAME` or `BASE:NAME`); with the base, a persona in effect brings its adapter, as in
   * `bentevi chat --persona`. Anything else is a 404 `model_not_found`.
   */
  #target(requested: string | undefined, persona?: string): Target {
    let adapter: string | undefined;
    if (requested === undefined || requested === this.modelId) {
      const p = persona === undefined ? undefined : PERSONAS.get(persona);
      adapter = p && personaAdapter(p, this.#adapterNames);
    } else {
      const prefix = `${this.modelId}:`;
      const name = requested.startsWith(prefix) ? requested.slice(prefix.length) : requested;
      if (!this.#adapterNames.includes(name)) throw this.#modelNotFound(requested);
      adapter = name;
    }
    return { id: adapter ?? this.modelId, adapters: adapter === undefined ? [] : [adapter] };
  }

  /** The sampling knobs of a request, with the checkpoint's generation config for those unset. */
  #sampling(r: GenerationParams): SamplingOptions {
    const given = {
      temperature: r.temperature ?? NaN,
      topK: r.topK ?? NaN,
      topP: r.topP ?? NaN,
      repetitionPenalty: r.repetitionPenalty ?? NaN,
    };
    const knobs = applyGenerationDefaults(
      given,
      this.#opened.generation,
      (k) => Number.isNaN(given[k]),
    );
    const unset = (x: number) => Number.isNaN(x) ? undefined : x;
    return {
      temperature: unset(knobs.temperature),
      topK: unset(knobs.topK),
      topP: unset(knobs.topP),
      repetitionPenalty: unset(knobs.repetitionPenalty),
      // OpenAI's seed is any 64-bit integer; the sampler's PRNG takes 32 bits.
      seed: r.seed === undefined ? undefined : ((r.seed % 2 ** 32) + 2 ** 32) % 2 ** 32,
    };
  }

  #maxTokens(r: GenerationParams): number | undefined {
    return r.maxTokens ?? this.#opened.generation?.maxNewTokens;
  }

  /**
   * The question inside the grounded prompt of `chat --index` (passages from the index within
   * `room` tokens), or undefined without an index or with `rag: false`.
   */
  async #ground(
    r: GenerationParams,
    question: string,
    room: number,
    answerCue: boolean,
  ): Promise<GroundedTurn | undefined> {
    if (!this.#retriever || !r.rag) return undefined;
    const turn = await groundedTurn(this.#retriever, question, {
      k: this.#rag.k,
      contextTokens: this.#rag.contextTokens,
      room,
      counter: tokenCounter(this.#opened.tokenizer),
      answerCue,
    });
    if (turn.notice) this.#log(`retrieval: ${turn.notice}; answering without passages`);
    return turn;
  }

  async #chatJob(r: ChatCompletionRequest): Promise<(model: LanguageModel) => Job> {
    const systems = r.messages.filter((m) => m.role === "system").map((m) => m.content);
    const turns = r.messages.filter((m) => m.role !== "system");
    if (r.persona !== undefined && !PERSONAS.has(r.persona)) {
      throw new ApiError(
        400,
        `unknown persona "${r.persona}"; available: ${[...PERSONAS.keys()].join(", ")}`,
        "invalid_request_error",
        "persona",
      );
    }
    const question = turns[turns.length - 1].content;
    // The passages take the room the rest of the conversation leaves.
    const tok = this.#opened.tokenizer;
    const earlier = [...systems, ...turns.slice(0, -1).map((t) => t.content)]
      .reduce((n, text) => n + tok.encode(text, { addSpecialTokens: false }).length + 4, 8);
    const maxNew = this.#maxTokens(r) ?? 200;
    const grounded = await this.#ground(
      r,
      question,
      promptRoom(this.#opened.model.maxContext, maxNew) - earlier,
      false,
    );
    return (model) => ({
      sources: grounded && sourcesJson(grounded),
      run: async ({ onText, onToken }) => {
        const session = new ChatSession(model, this.#opened.tokenizer, {
          chatTemplate: this.#chatTemplate,
          persona: systems.length ? undefined : r.persona,
          system: systems.length ? systems.join("\n\n") : undefined,
          sampling: this.#sampling(r),
          maxNewTokens: this.#maxTokens(r),
          minNewTokens: r.minTokens,
          explain: r.explain,
          endOfTextIds: this.#opened.generation?.eosTokenIds,
        });
        session.history = turns.slice(0, -1).map((t) =>
          session.turn(t.role as "user" | "assistant", t.content)
        );
        // ChatSession trims the answer: whitespace is streamed only once text follows it.
        let held = "";
        const stream = (piece: string) => {
          const text = held + piece;
          const end = text.trimEnd().length;
          held = text.slice(end);
          if (end > 0) onText(text.slice(0, end));
        };
        const reply = await session.reply(grounded?.prompt ?? question, stream, {
          stop: r.stop,
          dropOldTurns: false,
          onToken,
        });
        return { ...reply.result, text: reply.answer };
      },
    });
  }

  async #completionJob(r: CompletionRequest): Promise<(model: LanguageModel) => Job> {
    const tokenizer = this.#opened.tokenizer;
    const maxContext = this.#opened.model.maxContext;
    const grounded = await this.#ground(
      r,
      r.prompt,
      promptRoom(maxContext, this.#maxTokens(r)),
      true,
    );
    const ids = Array.from(tokenizer.encode(grounded?.prompt ?? r.prompt));
    if (ids.length > maxContext - 1) {
      const e = new ContextLengthError(ids.length, maxContext, "the prompt");
      throw new ApiError(
        400,
        e.message,
        "invalid_request_error",
        "prompt",
        "context_length_exceeded",
      );
    }
    return (model) => ({
      sources: grounded && sourcesJson(grounded),
      run: ({ onText, onToken }) =>
        generate(model, tokenizer, ids, {
          ...this.#sampling(r),
          maxNewTokens: this.#maxTokens(r),
          minNewTokens: r.minTokens,
          stop: r.stop,
          endOfTextIds: this.#opened.generation?.eosTokenIds,
          explainTop: r.explain ? EXPLAIN_DEFAULTS.top : 0,
          explainAttention: r.explain ? EXPLAIN_DEFAULTS.attention : 0,
          onText,
          onToken,
        }),
    });
  }

  /**
   * Runs a generation on a pooled model — with the target's adapters merged into that model
   * alone, which this request holds until it is done — and answers with JSON or a stream of
   * events.
   */
  async #respond(
    request: Request,
    r: GenerationParams,
    kind: "chat" | "text",
    makeJob: (model: LanguageModel) => Job,
    target: Target,
  ): Promise<Response> {
    const abort = new AbortController();
    const onClientGone = () => abort.abort(new DOMException("client disconnected", "AbortError"));
    request.signal.addEventListener("abort", onClientGone, { once: true });
    this.#running.add(abort);
    let model: LanguageModel;
    const wanted = target.adapters.join("\0");
    try {
      // A free model that already has the adapters merged in, if any (no weights to rewrite).
      model = await this.pool.acquire(
        abort.signal,
        (m) => (this.#banks.get(m)?.active ?? []).join("\0") === wanted,
      );
    } catch (e) {
      request.signal.removeEventListener("abort", onClientGone);
      this.#running.delete(abort);
      throw e;
    }
    const finish = () => {
      request.signal.removeEventListener("abort", onClientGone);
      this.#running.delete(abort);
      this.pool.release(model);
    };
    try {
      // Synchronous, before this request's first token: no other request holds this model.
      this.#banks.get(model)?.use(target.adapters);
    } catch (e) {
      finish();
      throw e;
    }
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${
      crypto.randomUUID().replaceAll("-", "")
    }`;
    const created = Math.floor(Date.now() / 1000);
    const job = makeJob(pacedModel(model, abort.signal, nextTurn));
    const usage = (g: GenerationResult) => ({
      prompt_tokens: g.promptTokens,
      completion_tokens: g.tokens.length,
      total_tokens: g.promptTokens + g.tokens.length,
    });
    const choice = (fields: Record<string, unknown>, steps?: TokenStep[]) =>
      steps && steps.length ? { ...fields, explain: steps.map((s) => this.#stepJson(s)) } : fields;
    const sources = job.sources ? { sources: job.sources } : {};

    if (!r.stream) {
      let result: GenerationResult;
      try {
        result = await job.run({ onText: () => {}, onToken: () => {} });
      } finally {
        finish();
      }
      const reason = finishReason(result.finishReason);
      const steps = r.explain ? result.steps : undefined;
      return json(
        kind === "chat"
          ? {
            id,
            object: "chat.completion",
            created,
            model: target.id,
            choices: [choice({
              index: 0,
              message: { role: "assistant", content: result.text },
              logprobs: null,
              finish_reason: reason,
              ...sources,
            }, steps)],
            usage: usage(result),
          }
          : {
            id,
            object: "text_completion",
            created,
            model: target.id,
            choices: [choice(
              { index: 0, text: result.text, logprobs: null, finish_reason: reason, ...sources },
              steps,
            )],
            usage: usage(result),
          },
      );
    }

    // Streaming: the response starts once the first token is out (so a request the model
    // refuses, e.g. too long for the context, still gets its error status), then one event per
    // piece of text.
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let open = true;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      cancel: () => {
        open = false;
        onClientGone();
      },
    });
    const send = (data: unknown) => {
      if (!open) return;
      try {
        controller.enqueue(
          encoder.encode(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`),
        );
      } catch {
        open = false;
      }
    };
    const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const chunk = (c: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      id,
      object,
      created,
      model: target.id,
      choices: [c],
      ...extra,
    });
    const pending: TokenStep[] = [];
    let started!: () => void;
    const firstToken = new Promise<void>((resolve) => started = resolve);
    const onToken = (step: TokenStep) => {
      started();
      if (r.explain) pending.push(step);
    };
    const onText = (text: string) => {
      const steps = pending.splice(0);
      send(chunk(
        kind === "chat"
          ? choice(
            { index: 0, delta: { content: text }, logprobs: null, finish_reason: null },
            steps,
          )
          : choice({ index: 0, text, logprobs: null, finish_reason: null }, steps),
      ));
    };
    // The first chunk opens the answer (chat) and carries the sources (with an index).
    if (kind === "chat") {
      send(
        chunk({
          index: 0,
          delta: { role: "assistant", content: "" },
          logprobs: null,
          finish_reason: null,
          ...sources,
        }),
      );
    } else if (job.sources) {
      send(chunk({ index: 0, text: "", logprobs: null, finish_reason: null, ...sources }));
    }
    const done = job.run({ onText, onToken }).then(
      (result) => {
        const reason = finishReason(result.finishReason);
        const steps = pending.splice(0);
        send(chunk(
          kind === "chat"
            ? choice({ index: 0, delta: {}, logprobs: null, finish_reason: reason }, steps)
            : choice({ index: 0, text: "", logprobs: null, finish_reason: reason }, steps),
        ));
        if (r.includeUsage) send({ ...chunk({}), choices: [], usage: usage(result) });
        send("[DONE]");
      },
    ).finally(finish);
    // Before the first token, an error is the response's status; after it, an error event.
    let failed: unknown;
    await Promise.race([firstToken, done.catch((e) => void (failed = e ?? new Error("failed")))]);
    if (failed !== undefined) {
      open = false;
      if (abort.signal.aborted) throw new ApiError(499, "client disconnected");
      throw failed;
    }
    done.then(
      () => {
        if (open) controller.close();
      },
      (e) => {
        if (!abort.signal.aborted) {
          const err = e instanceof BenteviError
            ? new ApiError(500, e.message, "server_error")
            : new ApiError(500, "internal server error (see the server's log)", "server_error");
          if (!(e instanceof BenteviError)) {
            this.#log(`internal error: ${(e as Error)?.stack ?? e}`);
          }
          send(err.toJSON());
        } else this.#log(`generation ${id} cancelled: client disconnected`);
        if (open) {
          open = false;
          controller.close();
        }
      },
    );
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  }

  /**
   * A token step as the API shows it: every candidate with its text (decoded on its own), and
   * of the attention only each head's strongest positions (not the full weight rows).
   */
  #stepJson(step: TokenStep): Record<string, unknown> {
    const tok = this.#opened.tokenizer;
    const text = (id: number) => tok.decode([id]);
    const out: Record<string, unknown> = {
      ...step,
      text: (step as { text?: string }).text ?? text(step.id),
      top: step.top.map((c) => ({
        ...c,
        token: (c as { token?: string }).token ?? tok.idToToken(c.id) ?? `<${c.id}>`,
        text: (c as { text?: string }).text ?? text(c.id),
      })),
    };
    const att = step.attention;
    if (att) out.attention = { layer: att.layer, positions: att.ids.length, heads: att.heads };
    return out;
  }

  /**
   * `/v1/embeddings`: the served model's own embeddings (`modelEmbedder`'s: mean-pooled last
   * hidden state, L2-normalised), computed on a pooled model like a generation (so they
   * queue behind the running ones, and no second copy of the weights is loaded).
   */
  async #embeddings(request: Request): Promise<Response> {
    const r = parseEmbeddingRequest(await readJson(request));
    // An adapter changes the linear layers, so the hidden states: the request's model counts.
    const target = this.#target(r.model);
    const dimension = this.#opened.model.config.dModel;
    if (r.dimensions !== undefined && r.dimensions !== dimension) {
      throw new ApiError(
        400,
        `'dimensions' must be ${dimension} (this model's embedding width), got ${r.dimensions}`,
        "invalid_request_error",
        "dimensions",
      );
    }
    const wanted = target.adapters.join("\0");
    const model = await this.pool.acquire(
      request.signal,
      (m) => (this.#banks.get(m)?.active ?? []).join("\0") === wanted,
    );
    let vectors: Float32Array[];
    try {
      this.#banks.get(model)?.use(target.adapters);
      vectors = await embedderOf(model, this.#opened.tokenizer).embed(r.input);
    } finally {
      this.pool.release(model);
    }
    let tokens = 0;
    for (const text of r.input) {
      tokens += this.#opened.tokenizer.encode(text, { addSpecialTokens: false }).length;
    }
    const data = vectors.map((v, index) => ({
      object: "embedding",
      index,
      embedding: r.encodingFormat === "base64" ? toBase64(v) : Array.from(v),
    }));
    return json({
      object: "list",
      data,
      model: target.id,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const a of this.#running) a.abort(new DOMException("server shutting down", "AbortError"));
    // Let the cancelled generations reach their next token and give their models back.
    for (let i = 0; i < 100 && this.pool.stats.busy > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.pool.close();
    this.#retriever?.close();
    this.#opened.model.backend.destroy();
  }
}

/** The passages of a grounded prompt as the API returns them (`[n]` in the prompt is `index`). */
function sourcesJson(turn: GroundedTurn): Record<string, unknown>[] {
  return turn.passages.map((p, i) => ({
    index: i + 1,
    path: p.hit.source.path,
    title: p.hit.source.title ?? null,
    line: p.hit.source.line ?? null,
    page: p.hit.source.page ?? null,
    start: p.hit.start,
    end: p.hit.end,
    score: p.hit.score,
    truncated: p.truncated,
    text: p.hit.text,
    citation: `[${i + 1}] ${formatSource(p.hit)}`,
  }));
}

/** Constant-time string comparison (for the API key). */
function sameString(a: string, b: string): boolean {
  const x = encoder.encode(a), y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i % Math.max(x.length, 1)] ?? 0) ^ y[i];
  return diff === 0;
}

function toBase64(v: Float32Array): string {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The request body as parsed JSON: at most {@link MAX_BODY_BYTES}, or an {@link ApiError}. */
async function readJson(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const parts: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      let part;
      try {
        part = await reader.read();
      } catch {
        throw new ApiError(400, "the request body could not be read (cut short?)");
      }
      const { done, value } = part;
      if (done) break;
      size += value.length;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      parts.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(
      400,
      "the request body is not valid UTF-8",
      "invalid_request_error",
      null,
      "invalid_json",
    );
  }
  if (!text.trim()) {
    throw new ApiError(
      400,
      "the request body is empty (expected JSON)",
      "invalid_request_error",
      null,
      "invalid_json",
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(
      400,
      `the request body is not valid JSON (${(e as Error).message})`,
      "invalid_request_error",
      null,
      "invalid_json",
    );
  }
}

function tooLarge(): ApiError {
  return new ApiError(
    413,
    `the request body is larger than ${MAX_BODY_BYTES} bytes`,
    "invalid_request_error",
    null,
    "request_too_large",
  );
}

/**
 * Loads a checkpoint and serves it on `host:port` with `Deno.serve` (needs
 * `--allow-net=HOST:PORT`). SIGINT/SIGTERM are the caller's to handle: call `shutdown`.
 *
 * @example
 * ```ts
 * import { serve } from "./server.ts";
 * try {
 *   const server = await serve({ checkpoint: "runs/demo", port: 0 });
 *   console.log(server.url);
 *   await server.shutdown();
 * } catch (e) {
 *   console.log((e as Error).message); // no checkpoint here, or no --allow-net
 * }
 * ```
 */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const server = await createServer(options);
  const host = options.host ?? SERVE_DEFAULTS.host;
  const port = options.port ?? SERVE_DEFAULTS.port;
  let http: Deno.HttpServer<Deno.NetAddr>;
  try {
    // Binding errors (address in use, no permission) are thrown here, synchronously.
    http = Deno.serve({
      hostname: host,
      port,
      onListen: () => {},
      onError: (e) => {
        (options.log ?? console.error)(`internal error: ${(e as Error)?.stack ?? e}`);
        return json(new ApiError(500, "internal server error", "server_error").toJSON(), 500);
      },
    }, (req) => server.fetch(req));
  } catch (e) {
    await server.close();
    if (e instanceof Deno.errors.AddrInUse) {
      throw new BenteviError(`${host}:${port} is in use (pick another --port)`);
    }
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
      throw new BenteviError(
        `no permission to listen on ${host}:${port}: run with --allow-net=${host}:${port}`,
      );
    }
    if (e instanceof Deno.errors.AddrNotAvailable) {
      throw new BenteviError(`cannot listen on ${host}: not an address of this machine`);
    }
    throw e;
  }
  const addr = http.addr;
  const shown = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let stopping: Promise<void> | undefined;
  return {
    fetch: (req) => server.fetch(req),
    modelId: server.modelId,
    description: server.description,
    pool: server.pool,
    url: `http://${shown}:${addr.port}`,
    finished: http.finished,
    close: () => server.close(),
    shutdown: () =>
      stopping ??= (async () => {
        await server.close();
        await http.shutdown();
      })(),
  };
}
