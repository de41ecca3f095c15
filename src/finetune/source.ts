/**
 * Fine-tuning examples as a training source: a seeded sampler that deals the examples in a
 * new shuffled order each epoch, one example per row, right-padded (targets −1), and the
 * validation of the held-out examples (the loss on their trained targets only).
 *
 * Why padding and not packing: packing several examples in a row needs attention that stops at
 * example boundaries (and, for RWKV, a state reset inside the row), which the kernels do not
 * have; right padding needs nothing, since attention is causal and RWKV runs forward, no real
 * position sees a pad. The rows have one length `T` (a model instance's buffers are `[B, T]`),
 * so sorting by length would save no work; `finetune` makes `T` the longest example's length
 * instead, which is where the saving is.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import type { BatchLoaderState } from "../data/dataset/loader.ts";
import { Xoshiro128 } from "../random.ts";
import { evaluateBatches } from "../train/evaluate.ts";
import type { BatchSampler, TrainSource } from "../train/trainer.ts";
import { type Example, fillRow } from "./data.ts";

/**
 * Indices `0…n−1` dealt in a seeded shuffled order that changes each epoch; its state
 * (indices dealt, generator at the epoch's start) restores the same sequence.
 *
 * @example
 * ```ts
 * import { ShuffledDeck } from "./source.ts";
 * const deck = new ShuffledDeck(3, 1);
 * console.log([deck.next(), deck.next(), deck.next()].sort()); // [0, 1, 2]
 * ```
 */
export class ShuffledDeck {
  readonly #n: number;
  #rng: Xoshiro128;
  #epochStart: number[];
  #order: number[] = [];
  #dealt = 0;

  constructor(n: number, seed: number) {
    if (!(n > 0)) throw new BenteviError("nothing to train on");
    this.#n = n;
    this.#rng = new Xoshiro128(seed);
    this.#epochStart = this.#rng.getState();
    this.#shuffle();
  }

  #shuffle(): void {
    this.#epochStart = this.#rng.getState();
    const order = Array.from({ length: this.#n }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.#rng.below(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    this.#order = order;
  }

  /** Indices dealt since the start (all epochs). */
  get dealt(): number {
    return this.#dealt;
  }

  /** The next index. */
  next(): number {
    const i = this.#order[this.#dealt % this.#n];
    this.#dealt++;
    if (this.#dealt % this.#n === 0) this.#shuffle();
    return i;
  }

  /** Its state, for checkpoints. */
  getState(): BatchLoaderState {
    return { position: this.#dealt, rng: [...this.#epochStart] };
  }

  /** Restores a state of {@link ShuffledDeck.getState}. */
  setState(state: BatchLoaderState): void {
    const ok = state && Number.isInteger(state.position) && state.position >= 0 &&
      Array.isArray(state.rng) && state.rng.length === 4 &&
      state.rng.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) &&
      state.rng.some((v) => v !== 0);
    if (!ok) throw new BenteviError("invalid sampler state (position and 4 rng words)");
    this.#rng.setState(state.rng);
    this.#shuffle();
    this.#dealt = state.position;
  }
}

/**
 * Deals `examples` `batchSize` at a time, one a row, from a {@link ShuffledDeck}.
 *
 * @example
 * ```ts
 * import { ExampleSampler } from "./source.ts";
 * const examples = [1, 2, 3].map((n) => ({ ids: [n, n, n], trained: Uint8Array.of(0, 1, 1), source: "x" }));
 * const s = new ExampleSampler(examples, { batchSize: 2, context: 4, seed: 1, pad: 0 });
 * const x = new Int32Array(8), y = new Int32Array(8);
 * s.next(x, y);
 * console.log(y.filter((t) => t >= 0).length); // 4: two trained targets in each of two rows
 * ```
 */
export class ExampleSampler implements BatchSampler {
  readonly #examples: readonly Example[];
  readonly #B: number;
  readonly #T: number;
  readonly #pad: number;
  readonly #deck: ShuffledDeck;

  constructor(
    examples: readonly Example[],
    o: { batchSize: number; context: number; seed: number; pad: number },
  ) {
    if (!examples.length) throw new BenteviError("no training examples");
    this.#examples = examples;
    this.#B = o.batchSize;
    this.#T = o.context;
    this.#pad = o.pad;
    this.#deck = new ShuffledDeck(examples.length, o.seed);
  }

  next(inputs: Int32Array, targets: Int32Array): void {
    for (let r = 0; r < this.#B; r++) {
      fillRow(this.#examples[this.#deck.next()], inputs, targets, r, this.#T, this.#pad);
    }
  }

  getState(): BatchLoaderState {
    return this.#deck.getState();
  }

  setState(state: BatchLoaderState): void {
    this.#deck.setState(state);
  }
}

/**
 * The {@link TrainSource} of fine-tuning examples: {@link ExampleSampler} for training, every
 * held-out example (up to `maxBatches` batches, in order) for validation.
 */
export function exampleSource(
  train: readonly Example[],
  val: readonly Example[],
  o: { pad: number; description: string },
): TrainSource {
  return {
    description: o.description,
    check(T, source) {
      if (!train.length) throw new BenteviError(`${source}: no training example`);
      if (!val.length) throw new BenteviError(`${source}: no validation example`);
      const long = [...train, ...val].find((e) => e.ids.length > T + 1);
      if (long) {
        throw new BenteviError(
          `${long.source}: an example of ${long.ids.length} tokens does not fit context ${T}`,
        );
      }
    },
    loader: (s) => new ExampleSampler(train, { ...s, pad: o.pad }),
    evaluate: (model, maxBatches) => evaluateExamples(model, val, o.pad, maxBatches),
  };
}

/**
 * Loss, perplexity and accuracy of `model` on `examples`' trained targets (assistant tokens
 * and end-of-turn tokens of conversations; all of a document's), up to `maxBatches` batches.
 */
export function evaluateExamples(
  model: { B: number; T: number } & Parameters<typeof evaluateBatches>[0],
  examples: readonly Example[],
  pad: number,
  maxBatches = Infinity,
): ReturnType<typeof evaluateBatches> {
  const { B, T } = model;
  const batches = Math.max(1, Math.min(maxBatches, Math.ceil(examples.length / B)));
  return evaluateBatches(model, batches, (b, inputs, targets) => {
    for (let r = 0; r < B; r++) fillRow(examples[b * B + r], inputs, targets, r, T, pad);
  });
}
