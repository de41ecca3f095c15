/**
 * Hardware-adaptive defaults (the seeds' "adaptive training"): batch size and context
 * chosen from the backend's memory limits when the user does not give them.
 *
 * @module
 */
import type { Backend } from "../backend/backend.ts";
import type { ModelConfig } from "../model/config.ts";
import { parameterLayout } from "../model/params.ts";
import { familyOf } from "../model/registry.ts";

/** The limits that matter, read from a WebGPU backend when it exposes them. */
export interface MemoryLimits {
  /** Largest single buffer binding in bytes. */
  maxBinding: number;
  /** Budget for parameters + optimizer + activations, in bytes. */
  budget: number;
  /** Where the figures came from. */
  source: string;
}

/** Reads limits from a backend (WebGPU adapters expose `limits`; the CPU uses system memory). */
export function memoryLimits(backend: Backend): MemoryLimits {
  const GiB = 1024 ** 3;
  // The WebGPU backend keeps its device under `ctx`; accept `limits` directly too.
  const b = backend as unknown as {
    limits?: Partial<GPUSupportedLimits>;
    ctx?: { device?: { limits?: Partial<GPUSupportedLimits> } };
  };
  const limits = b.limits ?? b.ctx?.device?.limits;
  if (backend.kind === "webgpu") {
    const maxBinding = Number(limits?.maxStorageBufferBindingSize ?? 128 * 1024 ** 2);
    const maxBuffer = Number(limits?.maxBufferSize ?? 256 * 1024 ** 2);
    return {
      maxBinding: Math.min(maxBinding, maxBuffer),
      budget: 2 * GiB,
      source: `adapter limits (max binding ${(maxBinding / 1024 ** 2).toFixed(0)} MiB)`,
    };
  }
  let total = 8 * GiB;
  let source = "8 GiB of memory assumed (--allow-sys=systemMemoryInfo reads the real size)";
  try {
    total = Deno.systemMemoryInfo().total;
    source = `system memory ${(total / GiB).toFixed(1)} GiB`;
  } catch { /* not permitted: assume 8 GiB, and say so */ }
  return { maxBinding: 2 * GiB, budget: Math.min(4 * GiB, total / 4), source };
}

/**
 * Floats of activations (and their gradients) kept per token by the training model, counted
 * by its family from the buffers the model allocates (every one is proportional to B·T).
 */
export function activationFloatsPerToken(config: ModelConfig): number {
  return familyOf(config).activationFloats(config, 1, 1);
}

/** Bytes a training run of `config` needs at batch shape `[B, T]`. */
export function trainingBytes(config: ModelConfig, B: number, T: number): number {
  const params = parameterLayout(config).total;
  return 4 * (4 * params + B * T * activationFloatsPerToken(config));
}

/**
 * Batch size and context for `config` on `backend`: the given values, or the largest that fit
 * (batch a power of two up to 8 on CPUs and software adapters, 32 on GPUs; context the
 * preset's). Returns a line describing the choice.
 *
 * @example
 * ```ts
 * import { chooseBatchShape } from "./defaults.ts";
 * import { presetConfig } from "../model/config.ts";
 * import { CpuBackend } from "../backend/cpu/mod.ts";
 * const shape = chooseBatchShape(presetConfig("gpt-micro", 4096), new CpuBackend(), {});
 * console.log(shape.batchSize, shape.context); // 8 128
 * ```
 */
export function chooseBatchShape(
  config: ModelConfig,
  backend: Backend,
  given: { batchSize?: number; context?: number },
): { batchSize: number; context: number; note: string } {
  const lim = memoryLimits(backend);
  const software = backend.kind !== "webgpu" ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(backend.description);
  const cap = software ? 8 : 32;
  let T = given.context ?? config.contextLength;
  const fits = (B: number, T: number) =>
    trainingBytes(config, B, T) <= lim.budget && B * T * config.vocabSize * 4 <= lim.maxBinding;
  if (given.context === undefined) {
    while (T > 16 && !fits(given.batchSize ?? 1, T)) T = Math.floor(T / 2);
  }
  let B = given.batchSize ?? 0;
  if (!B) {
    B = 1;
    while (B * 2 <= cap && fits(B * 2, T)) B *= 2;
  }
  const chosen: string[] = [];
  if (given.batchSize === undefined) chosen.push(`batch size ${B}`);
  if (given.context === undefined) chosen.push(`context ${T}`);
  const mib = (trainingBytes(config, B, T) / 1024 ** 2).toFixed(0);
  const note = chosen.length
    ? `${
      chosen.join(", ")
    } chosen for ${backend.kind} from ${lim.source}; ~${mib} MiB needed (override with --batch-size/--context)`
    : `batch size ${B}, context ${T}; ~${mib} MiB needed`;
  return { batchSize: B, context: T, note };
}
