/**
 * The CPU backend's tensor: a typed array (or a view into one) with a shape. The argument
 * checks both backends share live in `../checks.ts` (run by the checked wrapper, `../checked.ts`).
 *
 * @module
 */
import type { DType, Tensor } from "../backend.ts";

/** Floating-point storage of the CPU backend: f32 normally, f64 for gradient checks. */
export type FloatArray = Float32Array | Float64Array;

/** A CPU tensor: `data` holds exactly `size` elements; views are `subarray`s of their base. */
export class CpuTensor implements Tensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly size: number;
  /** Element type. */
  readonly dtype: DType;
  /** The elements (a `subarray` of the base's data for views, so writes alias). */
  readonly data: FloatArray | Int32Array;
  /** The tensor this one is a view of, or null when it owns its data. */
  readonly base: CpuTensor | null;
  /** Set by `free`; any later use throws. */
  freed = false;
  /**
   * Non-null while a subclass backend keeps the storage in a layout of its own (the native
   * backend's repacked Q4_0 weights: `N` rows of `K` values). Every access through the
   * backend's checks but that subclass's own op restores the plain layout first; live storage
   * handed out by `array()` before such an op sees the new layout.
   */
  packed: { N: number; K: number } | null = null;

  /** Wraps `data` (which must hold exactly the product of `shape` elements). */
  constructor(
    shape: readonly number[],
    dtype: DType,
    data: FloatArray | Int32Array,
    base: CpuTensor | null = null,
  ) {
    this.shape = Object.freeze([...shape]);
    this.size = data.length;
    this.dtype = dtype;
    this.data = data;
    this.base = base;
  }
}
