/**
 * The CPU backend's tensor: a typed array (or a view into one) with a shape, plus the
 * shape checks every op shares.
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

/** Formats a shape as `[2, 3]` for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Product of the dimensions; throws on a negative or non-integer dimension. */
export function shapeSize(op: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: invalid shape ${fmtShape(shape)} (dimensions must be integers ≥ 0)`);
    }
    n *= d;
  }
  return n;
}

/** Throws unless `t` has exactly `size` elements. */
export function expectSize(
  op: string,
  name: string,
  t: Tensor,
  size: number,
  expected: string,
): void {
  if (t.size !== size) {
    throw new Error(
      `${op}: ${name} has shape ${fmtShape(t.shape)} (${t.size} elements) but ${expected} ` +
        `needs ${size} elements`,
    );
  }
}

/** Throws unless `a` and `b` have the same number of elements. */
export function expectSameSize(op: string, nameA: string, a: Tensor, nameB: string, b: Tensor) {
  if (a.size !== b.size) {
    throw new Error(
      `${op}: ${nameA} ${fmtShape(a.shape)} and ${nameB} ${fmtShape(b.shape)} differ in size ` +
        `(${a.size} vs ${b.size})`,
    );
  }
}

/** Rows and columns of `t` read as a matrix: the last dimension is the columns. */
export function asMatrix(t: Tensor): [rows: number, cols: number] {
  const cols = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1];
  return [cols === 0 ? 0 : t.size / cols, cols];
}
