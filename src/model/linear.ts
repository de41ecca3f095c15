/**
 * Linear layers of a training model that an adapter can be attached to (LoRA), as each family
 * declares them once ({@link LinearTarget}), and the hook a training model calls around each
 * such matmul ({@link LinearAdapter}). The adapters themselves live in `src/finetune/lora.ts`;
 * a model only knows that an adapter adds to a layer's output and to its input gradient.
 *
 * @module
 */
import type { Tensor } from "../backend/backend.ts";

/**
 * One adaptable linear layer of a family, named as Hugging Face PEFT names it.
 *
 * A layer is computed inside a *site*: one matmul of the training model (GPT-2's `c_attn`;
 * Llama's fused q|k|v projection, whose output rows stack `q_proj`, `k_proj` and `v_proj`).
 * The layer's output is rows `rowOffset … rowOffset + out − 1` of the site's output.
 */
export interface LinearTarget {
  /** PEFT's target-module name (`c_attn`, `q_proj`, `key`…). */
  module: string;
  /** The module's path in the Hugging Face model (`transformer.h.0.attn.c_attn`). */
  path: string;
  /** The canonical name of the layer's weight (`h.0.attn.c_attn.weight`). */
  weight: string;
  /** The site: the parameter view the training model's matmul reads (a weight or a fused view). */
  site: string;
  /** Input features. */
  in: number;
  /** Output features of this layer. */
  out: number;
  /** Output features of the whole site (= `out` unless fused). */
  siteOut: number;
  /** First output row of this layer within its site. */
  rowOffset: number;
  /**
   * Whether the weight is stored `[in, out]` (GPT-2's Conv1D: PEFT's `fan_in_fan_out`), else
   * `[out, in]` (`nn.Linear`).
   */
  fanInFanOut: boolean;
}

/**
 * What a training model calls around one site's matmul `y = x·Wᵀ (+ b)`: `forward` after the
 * base matmul wrote `out`, `backward` after the base wrote the input gradient `dx`.
 */
export interface LinearAdapter {
  /** Adds the adapter's output for input `x [N, in]` to `out [N, siteOut]`. */
  forward(out: Tensor, x: Tensor): void;
  /**
   * Given the output gradient `dout [N, siteOut]` (and the same `x` as forward), accumulates
   * the adapter's parameter gradients and adds its input gradient to `dx [N, in]`.
   */
  backward(dx: Tensor, x: Tensor, dout: Tensor): void;
}

/** Options of a family's training model beyond the batch shape. */
export interface TrainingModelOptions {
  /** Adapters by site name (see {@link LinearTarget.site}). */
  adapters?: ReadonlyMap<string, LinearAdapter>;
  /**
   * The base weights are frozen: the model computes no gradient for them (its store may have
   * none), only the input gradients the adapters need.
   */
  frozen?: boolean;
}
