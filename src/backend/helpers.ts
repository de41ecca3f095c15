/**
 * Small conveniences over any {@link Backend}: make a tensor from plain numbers, read an f32
 * or i32 tensor back with its type checked.
 *
 * @module
 */
import type { Backend, Tensor } from "./backend.ts";

/**
 * A new f32 tensor (or i32 with `dtype: "i32"`) of `shape` holding `data`.
 *
 * @example
 * ```ts
 * import { CpuBackend } from "./cpu/mod.ts";
 * import { tensorFromArray } from "./helpers.ts";
 * const cpu = new CpuBackend();
 * const x = tensorFromArray(cpu, [2, 3], [1, 2, 3, 4, 5, 6]);
 * const ids = tensorFromArray(cpu, [2], [7, 9], "i32");
 * console.log(x.shape, ids.dtype); // [2, 3] "i32"
 * ```
 */
export function tensorFromArray(
  backend: Backend,
  shape: readonly number[],
  data: ArrayLike<number>,
  dtype: "f32" | "i32" = "f32",
): Tensor {
  const typed = dtype === "i32" ? Int32Array.from(data) : Float32Array.from(data);
  return backend.fromArray(shape, typed);
}

/**
 * Reads an f32 tensor back as a Float32Array (throws for an i32 tensor).
 *
 * @example
 * ```ts
 * import { CpuBackend } from "./cpu/mod.ts";
 * import { readF32, tensorFromArray } from "./helpers.ts";
 * const cpu = new CpuBackend();
 * const x = tensorFromArray(cpu, [3], [1, 2, 3]);
 * cpu.scale(x, 2);
 * console.log(await readF32(cpu, x)); // Float32Array [2, 4, 6]
 * ```
 */
export async function readF32(backend: Backend, t: Tensor): Promise<Float32Array> {
  if (t.dtype !== "f32") throw new Error(`readF32: tensor is ${t.dtype}, not f32`);
  return (await backend.read(t)) as Float32Array;
}

/**
 * Reads an i32 tensor back as an Int32Array (throws for an f32 tensor).
 *
 * @example
 * ```ts
 * import { CpuBackend } from "./cpu/mod.ts";
 * import { readI32, tensorFromArray } from "./helpers.ts";
 * const cpu = new CpuBackend();
 * const logits = tensorFromArray(cpu, [2, 3], [0, 5, 1, 9, 2, 3]);
 * const best = cpu.zeros([2], "i32");
 * cpu.argmaxRows(best, logits);
 * console.log(await readI32(cpu, best)); // Int32Array [1, 0]
 * ```
 */
export async function readI32(backend: Backend, t: Tensor): Promise<Int32Array> {
  if (t.dtype !== "i32") throw new Error(`readI32: tensor is ${t.dtype}, not i32`);
  return (await backend.read(t)) as Int32Array;
}

/**
 * Reads a 1-element f32 tensor (a loss, a norm) as a number.
 *
 * @example
 * ```ts
 * import { CpuBackend } from "./cpu/mod.ts";
 * import { readScalar, tensorFromArray } from "./helpers.ts";
 * const cpu = new CpuBackend();
 * const x = tensorFromArray(cpu, [3], [1, 2, 3]);
 * const total = cpu.zeros([1]);
 * cpu.sum(total, x);
 * console.log(await readScalar(cpu, total)); // 6
 * ```
 */
export async function readScalar(backend: Backend, t: Tensor): Promise<number> {
  if (t.size !== 1) throw new Error(`readScalar: tensor has ${t.size} elements, expected 1`);
  return (await readF32(backend, t))[0];
}
