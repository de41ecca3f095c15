/**
 * What the trainer needs from a model: fixed-size input/target buffers, a forward pass that
 * writes per-token losses (and the gradient of the logits), a backward pass that accumulates
 * into the parameter gradients. Each model family provides one (`ModelFamily.createTrainingModel`).
 *
 * @module
 */
import type { Backend, Tensor } from "../backend/backend.ts";
import type { ModelConfig } from "./config.ts";
import type { ParameterStore } from "./params.ts";

/** A model instance bound to a backend and a batch shape `[B, T]`. */
export interface TrainableModel {
  /** The configuration. */
  readonly config: ModelConfig;
  /** The backend it records on. */
  readonly backend: Backend;
  /**
   * The parameters it trains and their gradients: the optimizer steps exactly this store (a
   * wrapper model over a frozen base can expose only its adapters' store here).
   */
  readonly store: ParameterStore;
  /** Batch size. */
  readonly B: number;
  /** Sequence length of this instance (≤ config.contextLength for GPT). */
  readonly T: number;
  /** i32 `[B·T]` input token ids (write them with `backend.write`). */
  readonly ids: Tensor;
  /** i32 `[B·T]` target ids (negative = ignored). */
  readonly targets: Tensor;
  /** `[B·T]` per-token losses written by {@link TrainableModel.forward}. */
  readonly losses: Tensor;
  /** `[B·T, V]` logits of the last forward pass. */
  readonly logits: Tensor;
  /**
   * Records the forward pass. With `withGrad`, also the gradient of the mean loss times
   * `gradScale` into the logits gradient, ready for {@link TrainableModel.backward}.
   */
  forward(withGrad: boolean, gradScale?: number): void;
  /** Records the backward pass: accumulates into `store.grads`. */
  backward(): void;
  /** Frees the activations (not the store). */
  free(): void;
}
