/**
 * Named buffer lists: a training model writes the shapes of its activations once, allocates
 * from that list, and its family counts the activation memory from the same list — so the
 * memory estimate cannot drift from what the model allocates.
 *
 * @module
 */
import type { Backend, Tensor } from "../backend/backend.ts";

/** The shape and element type of one buffer. */
export interface BufferShape {
  /** Dimensions. */
  shape: number[];
  /** Element type (4 bytes either way). */
  dtype: "f32" | "i32";
}

/** Buffers by name. */
export type BufferPlan<K extends string = string> = Record<K, BufferShape>;

/**
 * An f32 buffer of `shape`.
 *
 * @example
 * ```ts
 * import { f32 } from "./buffers.ts";
 * console.log(f32(4, 8).shape); // [4, 8]
 * ```
 */
export function f32(...shape: number[]): BufferShape {
  return { shape, dtype: "f32" };
}

/** An i32 buffer of `shape` (token ids). */
export function i32(...shape: number[]): BufferShape {
  return { shape, dtype: "i32" };
}

/**
 * Number of 4-byte elements of all buffers of a plan.
 *
 * @example
 * ```ts
 * import { f32, i32, planElements } from "./buffers.ts";
 * console.log(planElements({ ids: i32(8), x: f32(8, 4) })); // 40
 * ```
 */
export function planElements(plan: BufferPlan): number {
  let n = 0;
  for (const { shape } of Object.values(plan)) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * Allocates every buffer of a plan, zeroed, adding each to `owned` (to free later).
 *
 * @example
 * ```ts
 * import { allocatePlan, f32 } from "./buffers.ts";
 * import { createBackend } from "../backend/select.ts";
 * const backend = await createBackend("cpu");
 * const owned: import("../backend/backend.ts").Tensor[] = [];
 * const t = allocatePlan(backend, { x: f32(2, 3) }, owned);
 * console.log(t.x.shape, owned.length); // [2, 3] 1
 * ```
 */
export function allocatePlan<K extends string>(
  backend: Backend,
  plan: BufferPlan<K>,
  owned: Tensor[],
): Record<K, Tensor> {
  const out = {} as Record<K, Tensor>;
  for (const name of Object.keys(plan) as K[]) {
    const t = backend.zeros(plan[name].shape, plan[name].dtype);
    owned.push(t);
    out[name] = t;
  }
  return out;
}
