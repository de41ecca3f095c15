/**
 * The server's model slots: up to `maxConcurrent` inference models (each its own KV cache or
 * recurrent state, over its own copy of the weights), created when first needed, and a bounded
 * queue of requests waiting for one. A generation runs on a {@link pacedModel}, which lets the
 * event loop run between tokens (other streams, network I/O) and stops when its request is
 * cancelled.
 *
 * @module
 */
import type { LanguageModel } from "../generate/inference.ts";

/** Thrown by {@link ModelPool.acquire} when the queue is full (the server answers 429). */
export class QueueFullError extends Error {
  /** @param waiting how many requests were waiting. */
  constructor(readonly waiting: number) {
    super(`the server is busy: ${waiting} requests are already waiting`);
    this.name = "QueueFullError";
  }
}

/** Options of a {@link ModelPool}. */
export interface ModelPoolOptions {
  /** Most generations at once (one model each). */
  maxConcurrent: number;
  /** Most requests waiting for a model; beyond it {@link ModelPool.acquire} refuses. */
  maxQueue: number;
}

interface Waiter {
  resolve: (model: LanguageModel) => void;
  reject: (e: unknown) => void;
}

/**
 * Hands out models to requests: a free one (the most recently released first, whose state most
 * likely starts the next prompt of the same conversation), a new one while fewer than
 * `maxConcurrent` exist, or a place in the queue.
 *
 * @example
 * ```ts
 * import { ModelPool } from "./pool.ts";
 * import { createLanguageModel } from "../generate/inference.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 32);
 * const backend = await createBackend("cpu");
 * const pool = new ModelPool(
 *   () => Promise.resolve(createLanguageModel(backend, config, initWeights(config, 1))),
 *   { maxConcurrent: 2, maxQueue: 4 },
 * );
 * const model = await pool.acquire();
 * pool.release(model);
 * console.log(pool.stats); // { busy: 0, models: 1, waiting: 0, maxConcurrent: 2, maxQueue: 4 }
 * pool.close();
 * ```
 */
export class ModelPool {
  readonly #create: () => Promise<LanguageModel>;
  readonly #options: ModelPoolOptions;
  readonly #free: LanguageModel[] = [];
  readonly #all: LanguageModel[] = [];
  #creating = 0;
  readonly #queue: Waiter[] = [];
  #closed = false;

  /** @param create builds one more model (the first may be handed in already built). */
  constructor(
    create: () => Promise<LanguageModel>,
    options: ModelPoolOptions,
    first?: LanguageModel,
  ) {
    this.#create = create;
    this.#options = options;
    if (first) {
      this.#all.push(first);
      this.#free.push(first);
    }
  }

  /** Models in use, models built, requests waiting, and the limits. */
  get stats(): {
    busy: number;
    models: number;
    waiting: number;
    maxConcurrent: number;
    maxQueue: number;
  } {
    return {
      busy: this.#all.length + this.#creating - this.#free.length,
      models: this.#all.length,
      waiting: this.#queue.length,
      maxConcurrent: this.#options.maxConcurrent,
      maxQueue: this.#options.maxQueue,
    };
  }

  /**
   * A model for one generation; give it back with {@link release}. Waits in the queue when all
   * are busy (an aborted `signal` takes the request out of it), throws {@link QueueFullError}
   * when the queue is full. Among free models, the most recently released one that `prefer`
   * accepts comes first (e.g. one with the request's adapter already merged in).
   */
  async acquire(
    signal?: AbortSignal,
    prefer?: (model: LanguageModel) => boolean,
  ): Promise<LanguageModel> {
    signal?.throwIfAborted();
    if (this.#closed) throw new Error("the model pool is closed");
    const i = prefer ? this.#free.findLastIndex(prefer) : -1;
    const free = i >= 0 ? this.#free.splice(i, 1)[0] : this.#free.pop();
    if (free) return free;
    if (this.#all.length + this.#creating < this.#options.maxConcurrent) {
      this.#creating++;
      try {
        const model = await this.#create();
        this.#all.push(model);
        return model;
      } finally {
        this.#creating--;
      }
    }
    if (this.#queue.length >= this.#options.maxQueue) throw new QueueFullError(this.#queue.length);
    return await new Promise<LanguageModel>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (m) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(m);
        },
        reject,
      };
      const onAbort = () => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Gives a model back: to the first request waiting, else to the free list. */
  release(model: LanguageModel): void {
    const next = this.#queue.shift();
    if (next) next.resolve(model);
    else this.#free.push(model);
  }

  /** Refuses the requests waiting and frees every model (none may be in use). */
  close(): void {
    this.#closed = true;
    for (const w of this.#queue.splice(0)) w.reject(new Error("the server is shutting down"));
    for (const m of this.#all.splice(0)) m.dispose();
    this.#free.length = 0;
  }
}

/** Most milliseconds generation runs before {@link nextTurn} lets the event loop turn. */
export const TURN_MS = 4;

let lastTurn = 0;

/**
 * Lets the event loop run — timers, network I/O (accepting and reading other requests, writing
 * streamed chunks), other generations — once generation has held the thread for {@link TURN_MS}
 * ms; before that it returns at once. The turn is a zero timeout, not a `MessageChannel`
 * message: under `Deno.serve`, a generation yielding through a channel kept new requests from
 * being read until it ended. A timeout costs about a millisecond or more, so it is taken once per
 * slice rather than per token (a tiny model makes a token in well under a millisecond).
 *
 * @example
 * ```ts
 * import { nextTurn } from "./pool.ts";
 * await nextTurn();
 * ```
 */
export async function nextTurn(): Promise<void> {
  const now = performance.now();
  if (now - lastTurn < TURN_MS) return;
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  lastTurn = performance.now();
}

/**
 * `model` as generation sees it, except that each `feed` first lets the event loop run (`pace`)
 * and then throws `signal.reason` if the request was cancelled — so a generation shares the
 * thread with the others and stops at the next token once its client has gone. Every other
 * member is the model's own.
 *
 * @example
 * ```ts
 * import { pacedModel } from "./pool.ts";
 * import { createLanguageModel } from "../generate/inference.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 32);
 * const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 1));
 * const stop = new AbortController();
 * const paced = pacedModel(model, stop.signal, () => Promise.resolve());
 * await paced.feed([1, 2]);
 * stop.abort(new Error("client gone"));
 * await paced.feed([3]).catch((e) => console.log(e.message)); // client gone
 * ```
 */
export function pacedModel(
  model: LanguageModel,
  signal: AbortSignal,
  pace: () => Promise<void>,
): LanguageModel {
  const feed = async (ids: readonly number[]) => {
    await pace();
    signal.throwIfAborted();
    return await model.feed(ids);
  };
  return new Proxy(model, {
    get(target, key) {
      if (key === "feed") return feed;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
