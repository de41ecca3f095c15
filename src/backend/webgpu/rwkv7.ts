/**
 * RWKV-7 ops on WebGPU. Not written yet: each op throws a {@link BenteviError} naming itself,
 * so a model that needs it asks for `--device cpu` instead of computing something wrong.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";

/** Throws the one-line error of an RWKV-7 op that has no WGSL kernel yet. */
export function notOnWebGpu(op: string): never {
  throw new BenteviError(
    `${op}: the RWKV-7 kernels are not written for WebGPU yet; use --device cpu`,
  );
}
