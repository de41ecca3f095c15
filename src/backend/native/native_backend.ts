/**
 * The native backend: {@link NativeKernels} (C kernels and OpenBLAS over the CPU backend's
 * tensors) behind the shared argument checks.
 *
 * @module
 */
import type { Tensor } from "../backend.ts";
import { CheckedBackend } from "../checked.ts";
import { BenteviError } from "../../errors.ts";
import type { FloatArray } from "../cpu/tensor.ts";
import { NativeKernels } from "./kernels.ts";
import { loadNativeCompute, resolveThreads } from "./load.ts";

/** Options of {@link createNativeBackend}. */
export interface NativeBackendOptions {
  /**
   * Threads for the kernels and OpenBLAS (1 … the machine's cores); default `--threads`
   * ({@link setDefaultThreads}), then `BENTEVI_THREADS`, then the machine's cores.
   */
  threads?: number;
}

/**
 * The native backend: every op of `Backend` on the CPU, the hot ones in C and OpenBLAS,
 * the others in the TypeScript reference; arguments checked. Results depend on the thread
 * count only (fixed work split), so a run is repeatable for a given `threads`.
 *
 * @example
 * ```ts
 * import { createNativeBackend } from "./native_backend.ts";
 * try {
 *   const native = createNativeBackend({ threads: 1 });
 *   const a = native.fromArray([2, 2], new Float32Array([1, 2, 3, 4]));
 *   const out = native.zeros([2, 2]);
 *   native.matmul(out, a, a);
 *   console.log(await native.read(out)); // Float32Array [7, 10, 15, 22]
 * } catch (e) {
 *   console.log((e as Error).message); // e.g. OpenBLAS could not be loaded (…)
 * }
 * ```
 */
export class NativeBackend extends CheckedBackend<NativeKernels> {
  /** Threads the kernels and OpenBLAS use. */
  get threads(): number {
    return this.raw.threads;
  }

  /** Storage precision of float tensors (always f32). */
  get precision(): "f32" {
    return "f32";
  }

  /** GFLOP/s of OpenBLAS alone on `[M,K]·[K,N]`, timed in C (see `bench kernels native`). */
  blasAloneGflops(M: number, K: number, N: number, reps: number): number {
    return this.raw.blasAloneGflops(M, K, N, reps);
  }

  /** The live `Float32Array` (or `Int32Array`) storage of `t`. */
  array(t: Tensor): FloatArray | Int32Array {
    return this.raw.array(t);
  }
}

/**
 * Opens the native backend: a {@link BenteviError} naming the reason (and the fix) when the
 * shim or OpenBLAS cannot be loaded or the thread count is out of range.
 */
export function createNativeBackend(options: NativeBackendOptions = {}): NativeBackend {
  const threads = resolveThreads(options.threads);
  const native = loadNativeCompute();
  if (typeof native === "string") throw new BenteviError(`--device native: ${native}`);
  return new NativeBackend(new NativeKernels(native, threads));
}
