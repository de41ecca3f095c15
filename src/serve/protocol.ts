/**
 * The OpenAI HTTP API as Bentevi's server speaks it: request bodies checked field by field
 * (unknown fields, wrong types and out-of-range values are refused with OpenAI-style error
 * objects naming the parameter), and the response shapes.
 *
 * @module
 */

/** An error answered to the client as `{"error": {message, type, param, code}}`. */
export class ApiError extends Error {
  /**
   * An error for the client.
   *
   * @param status HTTP status.
   * @param message one line for the client.
   * @param type OpenAI's error type (`invalid_request_error`, `authentication_error`…).
   * @param param the request field at fault.
   * @param code a machine-readable code (`context_length_exceeded`, `unknown_parameter`…).
   */
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The JSON body OpenAI's API answers with. */
  toJSON(): {
    error: { message: string; type: string; param: string | null; code: string | null };
  } {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

/** A 400 for request field `param`. */
function bad(param: string, message: string, code: string | null = "invalid_value"): ApiError {
  return new ApiError(400, message, "invalid_request_error", param, code);
}

type Json = Record<string, unknown>;

/** Field readers: each checks the type and range, or throws a 400 naming the field. */
const read = {
  number(o: Json, key: string, min: number, max: number, open = false): number | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw bad(key, `'${key}' must be a number, got ${describe(v)}`, "invalid_type");
    }
    if (v < min || v > max || (open && v === min)) {
      throw bad(key, `'${key}' must be ${open ? `> ${min}` : `≥ ${min}`} and ≤ ${max}, got ${v}`);
    }
    return v;
  },
  int(o: Json, key: string, min: number, max: number): number | undefined {
    const v = read.number(o, key, min, max);
    if (v !== undefined && !Number.isInteger(v)) {
      throw bad(key, `'${key}' must be an integer, got ${v}`, "invalid_type");
    }
    return v;
  },
  bool(o: Json, key: string): boolean | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") {
      throw bad(key, `'${key}' must be true or false, got ${describe(v)}`, "invalid_type");
    }
    return v;
  },
  string(o: Json, key: string): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") {
      throw bad(key, `'${key}' must be a string, got ${describe(v)}`, "invalid_type");
    }
    return v;
  },
  object(o: Json, key: string): Json | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) {
      throw bad(key, `'${key}' must be an object, got ${describe(v)}`, "invalid_type");
    }
    return v as Json;
  },
};

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `a string (${JSON.stringify(v.slice(0, 20))})`;
  return typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}

/**
 * The request body as an object with only `known` fields (and `unsupported` ones at their
 * neutral value), or a 400.
 */
function checkFields(
  body: unknown,
  known: readonly string[],
  unsupported: Record<string, (v: unknown) => boolean>,
  where = "",
): Json {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(400, `the request body must be a JSON object${where}`);
  }
  const o = body as Json;
  for (const key of Object.keys(o)) {
    if (key in unsupported) {
      if (!unsupported[key](o[key])) {
        throw bad(key, `'${key}' is not supported by this server`, "unsupported_parameter");
      }
    } else if (!known.includes(key)) {
      throw bad(
        key,
        `unknown parameter '${key}'${where}; known: ${known.join(", ")}`,
        "unknown_parameter",
      );
    }
  }
  return o;
}

const neutral = {
  zero: (v: unknown) => v === null || v === 0,
  none: (v: unknown) => v === null || v === undefined,
  falsy: (v: unknown) => v === null || v === false,
  one: (v: unknown) => v === null || v === 1,
  auto: (v: unknown) => v === null || v === "auto" || v === "default",
  text: (v: unknown) =>
    v === null || (typeof v === "object" && (v as Json).type === "text" &&
      Object.keys(v as Json).length === 1),
};

/** Sampling and length fields shared by chat and text completions. */
export interface GenerationParams {
  /** Softmax temperature (0 = greedy). */
  temperature?: number;
  /** Nucleus p. */
  topP?: number;
  /** Top-k (extension; 0 = off). */
  topK?: number;
  /** Repetition penalty (extension; 1 = off). */
  repetitionPenalty?: number;
  /** Most new tokens. */
  maxTokens?: number;
  /** Fewest new tokens before end-of-text may be sampled (extension). */
  minTokens?: number;
  /** Stop strings. */
  stop: string[];
  /** PRNG seed. */
  seed?: number;
  /** Server-sent events. */
  stream: boolean;
  /** A last chunk with the token counts (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** Per-token details (extension `explain`): probability, candidates, sampling step. */
  explain: boolean;
  /** Answer from the server's index (extension `rag`; default true when it has one). */
  rag: boolean;
  /**
   * The model the client asked for: the server's model id or one of its adapters (the server
   * resolves it; another name is a 404 `model_not_found`).
   */
  model?: string;
}

const GENERATION_FIELDS = [
  "model",
  "temperature",
  "top_p",
  "top_k",
  "repetition_penalty",
  "max_tokens",
  "min_tokens",
  "stop",
  "seed",
  "n",
  "stream",
  "stream_options",
  "user",
  "explain",
  "rag",
];

const GENERATION_UNSUPPORTED = {
  frequency_penalty: neutral.zero,
  presence_penalty: neutral.zero,
  logit_bias: (v: unknown) => v === null || (typeof v === "object" && Object.keys(v!).length === 0),
  logprobs: neutral.falsy,
  top_logprobs: neutral.zero,
  service_tier: neutral.auto,
  metadata: neutral.none,
  store: neutral.falsy,
};

function generationParams(o: Json): GenerationParams {
  const n = read.int(o, "n", 1, 128);
  if (n !== undefined && n !== 1) {
    throw bad("n", `'n' must be 1 (one answer per request), got ${n}`, "unsupported_value");
  }
  let stop: string[] = [];
  const s = o.stop;
  if (typeof s === "string") stop = [s];
  else if (Array.isArray(s)) {
    if (s.length > 4 || !s.every((x) => typeof x === "string")) {
      throw bad("stop", "'stop' must be a string or an array of at most 4 strings", "invalid_type");
    }
    stop = s as string[];
  } else if (s !== undefined && s !== null) {
    throw bad("stop", `'stop' must be a string or an array of strings, got ${describe(s)}`);
  }
  const streamOptions = read.object(o, "stream_options");
  let includeUsage = false;
  if (streamOptions) {
    const so = checkFields(streamOptions, ["include_usage"], {}, " in 'stream_options'");
    includeUsage = read.bool(so, "include_usage") ?? false;
  }
  const stream = read.bool(o, "stream") ?? false;
  if (streamOptions && !stream) {
    throw bad("stream_options", "'stream_options' is only allowed with 'stream': true");
  }
  read.string(o, "user");
  const explain = read.bool(o, "explain") ?? false;
  const rag = read.bool(o, "rag") ?? true;
  return {
    model: read.string(o, "model"),
    temperature: read.number(o, "temperature", 0, 1000),
    topP: read.number(o, "top_p", 0, 1, true),
    topK: read.int(o, "top_k", 0, 1e9),
    repetitionPenalty: read.number(o, "repetition_penalty", 0, 1000, true),
    maxTokens: read.int(o, "max_tokens", 1, 100_000),
    minTokens: read.int(o, "min_tokens", 0, 100_000),
    stop,
    seed: read.int(o, "seed", -(2 ** 63), 2 ** 64),
    stream,
    includeUsage,
    explain,
    rag,
  };
}

/** One chat message (text only). */
export interface ChatMessageIn {
  /** `system` (or `developer`), `user` or `assistant`. */
  role: "system" | "user" | "assistant";
  /** Its text (an array of text parts is joined). */
  content: string;
}

/** A checked `POST /v1/chat/completions` body. */
export interface ChatCompletionRequest extends GenerationParams {
  /** The conversation; the last message is the user's. */
  messages: ChatMessageIn[];
  /** A persona (extension), used when the messages have no system message. */
  persona?: string;
}

/**
 * Checks a chat completions body (parsed JSON), or throws an {@link ApiError}.
 *
 * @example
 * ```ts
 * import { parseChatRequest } from "./protocol.ts";
 * const r = parseChatRequest({ model: "x", messages: [{ role: "user", content: "Oi" }] });
 * console.log(r.messages[0].content, r.stream); // Oi false
 * try {
 *   parseChatRequest({ messages: [], temprature: 1 });
 * } catch (e) {
 *   console.log((e as Error).message); // unknown parameter 'temprature'; known: …
 * }
 * ```
 */
export function parseChatRequest(body: unknown): ChatCompletionRequest {
  const o = checkFields(
    body,
    [...GENERATION_FIELDS, "messages", "max_completion_tokens", "persona"],
    {
      ...GENERATION_UNSUPPORTED,
      tools: (v) => v === null || (Array.isArray(v) && v.length === 0),
      tool_choice: (v) => v === null || v === "none",
      functions: neutral.none,
      function_call: (v) => v === null || v === "none",
      parallel_tool_calls: (v) => v === null || typeof v === "boolean",
      response_format: neutral.text,
      modalities: (v) => v === null || (Array.isArray(v) && v.every((m) => m === "text")),
      reasoning_effort: neutral.none,
      audio: neutral.none,
      prediction: neutral.none,
      web_search_options: neutral.none,
    },
  );
  const params = generationParams(o);
  const maxCompletion = read.int(o, "max_completion_tokens", 1, 100_000);
  if (maxCompletion !== undefined) {
    if (params.maxTokens !== undefined && params.maxTokens !== maxCompletion) {
      throw bad("max_completion_tokens", "'max_tokens' and 'max_completion_tokens' differ");
    }
    params.maxTokens = maxCompletion;
  }
  const raw = o.messages;
  if (!Array.isArray(raw)) {
    throw bad("messages", "'messages' must be an array of messages", "invalid_type");
  }
  if (raw.length === 0) throw bad("messages", "'messages' must hold at least one message");
  const messages = raw.map((m, i): ChatMessageIn => {
    const where = ` in messages[${i}]`;
    const msg = checkFields(m, ["role", "content", "name"], {}, where);
    const role = msg.role;
    if (role !== "system" && role !== "developer" && role !== "user" && role !== "assistant") {
      throw bad(
        `messages[${i}].role`,
        `messages[${i}].role must be "system", "developer", "user" or "assistant", got ${
          describe(role)
        }`,
      );
    }
    read.string(msg, "name");
    return { role: role === "developer" ? "system" : role, content: messageText(msg.content, i) };
  });
  const last = messages[messages.length - 1];
  if (last.role !== "user") {
    throw bad("messages", 'the last message must be the user\'s (role "user")');
  }
  if (!last.content.trim()) {
    throw bad(`messages[${messages.length - 1}].content`, "the last message is empty");
  }
  return { ...params, messages, persona: read.string(o, "persona") };
}

function messageText(content: unknown, i: number): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part, j) => {
      const p = part as Json;
      if (
        typeof part !== "object" || part === null || p.type !== "text" ||
        typeof p.text !== "string"
      ) {
        throw bad(
          `messages[${i}].content[${j}]`,
          `messages[${i}].content[${j}]: only text parts ({"type": "text", "text": …}) are supported`,
        );
      }
      return p.text;
    }).join("");
  }
  throw bad(
    `messages[${i}].content`,
    `messages[${i}].content must be a string or an array of text parts, got ${describe(content)}`,
    "invalid_type",
  );
}

/** A checked `POST /v1/completions` body. */
export interface CompletionRequest extends GenerationParams {
  /** The text to continue. */
  prompt: string;
}

/**
 * Checks a text completions body (parsed JSON), or throws an {@link ApiError}.
 *
 * @example
 * ```ts
 * import { parseCompletionRequest } from "./protocol.ts";
 * console.log(parseCompletionRequest({ prompt: "Era uma", max_tokens: 5 }).maxTokens); // 5
 * ```
 */
export function parseCompletionRequest(body: unknown): CompletionRequest {
  const o = checkFields(body, [...GENERATION_FIELDS, "prompt"], {
    ...GENERATION_UNSUPPORTED,
    echo: neutral.falsy,
    suffix: (v) => v === null || v === "",
    best_of: neutral.one,
  });
  const params = generationParams(o);
  let prompt = o.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === "string") {
    prompt = prompt[0];
  }
  if (typeof prompt !== "string") {
    throw bad(
      "prompt",
      Array.isArray(prompt)
        ? "'prompt' must be one string (several prompts or token arrays are not supported)"
        : `'prompt' must be a string, got ${describe(prompt)}`,
      "invalid_type",
    );
  }
  return { ...params, prompt };
}

/** A checked `POST /v1/embeddings` body. */
export interface EmbeddingRequest {
  /** The texts. */
  input: string[];
  /** `float` (default) or `base64` (little-endian float32). */
  encodingFormat: "float" | "base64";
  /** The model name the client asked for. */
  model?: string;
  /** The width asked for (must be the model's). */
  dimensions?: number;
}

/**
 * Checks an embeddings body (parsed JSON), or throws an {@link ApiError}.
 *
 * @example
 * ```ts
 * import { parseEmbeddingRequest } from "./protocol.ts";
 * console.log(parseEmbeddingRequest({ input: ["a", "b"] }).input.length); // 2
 * ```
 */
export function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  const o = checkFields(body, ["input", "model", "encoding_format", "user", "dimensions"], {});
  read.string(o, "user");
  const input = typeof o.input === "string" ? [o.input] : o.input;
  if (!Array.isArray(input) || !input.every((x) => typeof x === "string")) {
    throw bad(
      "input",
      "'input' must be a string or an array of strings (token arrays are not supported)",
      "invalid_type",
    );
  }
  if (input.length === 0) throw bad("input", "'input' must hold at least one string");
  if (input.length > 2048) throw bad("input", "'input' holds more than 2048 strings");
  const format = read.string(o, "encoding_format") ?? "float";
  if (format !== "float" && format !== "base64") {
    throw bad("encoding_format", `'encoding_format' must be "float" or "base64", got "${format}"`);
  }
  return {
    input,
    encodingFormat: format,
    model: read.string(o, "model"),
    dimensions: read.int(o, "dimensions", 1, 1e9),
  };
}

/** OpenAI's `finish_reason` of a Bentevi finish reason. */
export function finishReason(reason: "length" | "end-of-text" | "stop"): "length" | "stop" {
  return reason === "length" ? "length" : "stop";
}
