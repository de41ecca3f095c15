/**
 * Public API of src/serve (re-exported by the top-level mod.ts): the OpenAI-compatible HTTP
 * server behind `bentevi serve`, its request checks, model pool and chat page.
 *
 * @example
 * ```ts
 * import { createServer } from "./mod.ts";
 * try {
 *   const server = await createServer({ checkpoint: "runs/demo", device: "cpu" });
 *   const r = await server.fetch(new Request("http://localhost/v1/models"));
 *   console.log((await r.json()).data[0].id);
 *   await server.close();
 * } catch (e) {
 *   console.log((e as Error).message); // no checkpoint here
 * }
 * ```
 *
 * @module
 */
export {
  type BenteviServer,
  createServer,
  MAX_BODY_BYTES,
  type RunningServer,
  serve,
  SERVE_DEFAULTS,
  type ServeOptions,
} from "./server.ts";
export {
  ApiError,
  type ChatCompletionRequest,
  type ChatMessageIn,
  type CompletionRequest,
  type EmbeddingRequest,
  finishReason,
  type GenerationParams,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
} from "./protocol.ts";
export { ModelPool, type ModelPoolOptions, nextTurn, pacedModel, QueueFullError } from "./pool.ts";
export { PAGE_ASSETS, type PageAsset } from "./page.ts";
