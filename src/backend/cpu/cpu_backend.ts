/**
 * The CPU backend: the raw CPU ops ({@link CpuKernels}) behind the shared argument checks.
 *
 * @module
 */
import type { Tensor } from "../backend.ts";
import { CheckedBackend } from "../checked.ts";
import { type CpuBackendOptions, CpuKernels } from "./kernels.ts";
import type { FloatArray } from "./tensor.ts";

/**
 * The TypeScript reference backend: every op of `Backend` on typed arrays, arguments checked.
 *
 * @example
 * ```ts
 * import { CpuBackend } from "./cpu_backend.ts";
 * const cpu = new CpuBackend();
 * const a = cpu.fromArray([2, 2], new Float32Array([1, 2, 3, 4]));
 * const out = cpu.zeros([2, 2]);
 * cpu.matmul(out, a, a);
 * console.log(await cpu.read(out)); // Float32Array [7, 10, 15, 22]
 * ```
 */
export class CpuBackend extends CheckedBackend<CpuKernels> {
  /** A CPU backend; see {@link CpuBackendOptions}. */
  constructor(options: CpuBackendOptions = {}) {
    super(new CpuKernels(options));
  }

  /** Storage precision of float tensors. */
  get precision(): "f32" | "f64" {
    return this.raw.precision;
  }

  /**
   * The live storage of `t` (Float32Array, Float64Array with `precision: "f64"`, or
   * Int32Array): reads and writes go straight to the tensor. CPU-only, synchronous.
   */
  array(t: Tensor): FloatArray | Int32Array {
    return this.raw.array(t);
  }
}
