/**
 * All parameters of a model in one flat device buffer (and the gradients in another of the
 * same layout), each weight a view starting at a multiple of `VIEW_ALIGN`, so AdamW and the
 * gradient norm are one dispatch each over the whole model.
 *
 * @module
 */
import { type Backend, type Tensor, VIEW_ALIGN } from "../backend/backend.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import type { ModelConfig } from "./config.ts";
import { type WeightSpec, weightSpecs } from "./weights.ts";
import { BenteviError } from "../errors.ts";

/** A fused view over consecutive weights (see {@link WeightSpec.fusedAs}). */
export interface FusedView {
  /** The view's name (the weights' `fusedAs`). */
  name: string;
  /** Element offset (a multiple of VIEW_ALIGN). */
  offset: number;
  /** The weights' shapes stacked along the first dimension. */
  shape: number[];
}

/** Where each weight lives in the flat buffer. */
export interface ParameterLayout {
  /** Weights in canonical order. */
  specs: WeightSpec[];
  /**
   * Element offset of each weight: a multiple of VIEW_ALIGN, except for the second and later
   * members of a fused group, which follow the previous member directly.
   */
  offsets: number[];
  /** The fused views of the layout. */
  fused: FusedView[];
  /** Buffer length in elements (padded). */
  total: number;
  /** Number of real parameters (without padding). */
  count: number;
}

/**
 * Lays out the weights of `config` (or an explicit weight list: a LoRA adapter's) in one
 * buffer, each at a multiple of `VIEW_ALIGN` (members of a fused group after the first
 * directly after the previous member).
 *
 * @example
 * ```ts
 * import { parameterLayout } from "./params.ts";
 * import { presetConfig } from "./config.ts";
 * const layout = parameterLayout(presetConfig("gpt-micro", 256));
 * console.log(layout.offsets.every((o) => o % 64 === 0)); // true
 * ```
 */
export function parameterLayout(config: ModelConfig | readonly WeightSpec[]): ParameterLayout {
  const specs: WeightSpec[] = Array.isArray(config)
    ? [...(config as readonly WeightSpec[])]
    : weightSpecs(config as ModelConfig);
  const offsets: number[] = [];
  const fused: FusedView[] = [];
  let end = 0; // end of the previous weight
  let count = 0;
  specs.forEach((s, i) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const group = s.fusedAs;
    if (group !== undefined && specs[i - 1]?.fusedAs === group) {
      const view = fused[fused.length - 1];
      if (s.shape.slice(1).join() !== view.shape.slice(1).join()) {
        throw new Error(`parameterLayout: ${s.name} does not fit the fused view ${group}`);
      }
      view.shape[0] += s.shape[0];
      offsets.push(end);
    } else {
      const start = Math.ceil(end / VIEW_ALIGN) * VIEW_ALIGN;
      if (group !== undefined) fused.push({ name: group, offset: start, shape: [...s.shape] });
      offsets.push(start);
    }
    end = offsets[i] + size;
    count += size;
  });
  const total = Math.ceil(end / VIEW_ALIGN) * VIEW_ALIGN;
  return { specs, offsets, fused, total: Math.max(total, VIEW_ALIGN), count };
}

/**
 * The parameters and gradients of a model on a backend, with a named view of each.
 *
 * @example
 * ```ts
 * import { ParameterStore } from "./params.ts";
 * import { presetConfig } from "./config.ts";
 * import { initWeights } from "./init.ts";
 * import { createBackend } from "../backend/select.ts";
 * const backend = await createBackend("cpu");
 * const config = presetConfig("gpt-micro", 64);
 * const store = new ParameterStore(backend, config);
 * store.load(initWeights(config, 1));
 * console.log((await store.weights()).size);
 * ```
 */
export class ParameterStore {
  /** The backend holding the buffers. */
  readonly backend: Backend;
  /** The layout of {@link ParameterStore.params} and {@link ParameterStore.grads}. */
  readonly layout: ParameterLayout;
  /** All parameters, flat. */
  readonly params: Tensor;
  /**
   * All gradients, flat, same layout (a store made with `gradients: false`, a frozen base,
   * has a one-block placeholder here and {@link ParameterStore.g} refuses).
   */
  readonly grads: Tensor;
  /** Whether the store holds gradients (false: a frozen base). */
  readonly hasGradients: boolean;
  readonly #p = new Map<string, Tensor>();
  readonly #g = new Map<string, Tensor>();

  /**
   * Allocates zeroed parameters and gradients for `config` (or an explicit weight list);
   * `gradients: false` allocates no gradients (a frozen base under adapters).
   */
  constructor(
    backend: Backend,
    config: ModelConfig | readonly WeightSpec[],
    options: { gradients?: boolean } = {},
  ) {
    this.backend = backend;
    this.layout = parameterLayout(config);
    this.hasGradients = options.gradients ?? true;
    this.params = backend.zeros([this.layout.total]);
    this.grads = backend.zeros([this.hasGradients ? this.layout.total : VIEW_ALIGN]);
    const views: [string, number, number[]][] = [
      ...this.layout.specs.map((s, i): [string, number, number[]] => [
        s.name,
        this.layout.offsets[i],
        s.shape,
      ]),
      ...this.layout.fused.map((f): [string, number, number[]] => [f.name, f.offset, f.shape]),
    ];
    for (const [name, offset, shape] of views) {
      // A fused member that does not start on a view boundary is reached through its group.
      if (offset % VIEW_ALIGN !== 0) continue;
      this.#p.set(name, backend.view(this.params, offset, shape));
      if (this.hasGradients) this.#g.set(name, backend.view(this.grads, offset, shape));
    }
  }

  /** The view of parameter `name` (a weight, or a fused view of the layout). */
  p(name: string): Tensor {
    const t = this.#p.get(name);
    if (!t) throw new Error(`no parameter view ${name}${this.#fusedHint(name)}`);
    return t;
  }

  /** The view of the gradient of `name` (a weight, or a fused view of the layout). */
  g(name: string): Tensor {
    if (!this.hasGradients) {
      throw new BenteviError(`no gradient of ${name}: the weights are frozen`);
    }
    const t = this.#g.get(name);
    if (!t) throw new Error(`no gradient view ${name}${this.#fusedHint(name)}`);
    return t;
  }

  #fusedHint(name: string): string {
    const group = this.layout.specs.find((s) => s.name === name)?.fusedAs;
    return group ? ` (it is reached through the fused view ${group})` : "";
  }

  /** Packs canonical weights into one flat array of the layout. */
  pack(weights: Map<string, NamedTensor>): Float32Array {
    const flat = new Float32Array(this.layout.total);
    this.layout.specs.forEach((s, i) => {
      const t = weights.get(s.name);
      if (!t) throw new Error(`missing weight ${s.name}`);
      flat.set(t.data, this.layout.offsets[i]);
    });
    return flat;
  }

  /** Splits a flat array of the layout into canonical weights (copies). */
  unpack(flat: Float32Array): Map<string, NamedTensor> {
    const out = new Map<string, NamedTensor>();
    this.layout.specs.forEach((s, i) => {
      const size = s.shape.reduce((a, b) => a * b, 1);
      const off = this.layout.offsets[i];
      out.set(s.name, { shape: [...s.shape], data: flat.slice(off, off + size) });
    });
    return out;
  }

  /**
   * Uploads canonical weights, one at a time into their place in the parameters (no flat copy
   * of the model: lazily loaded weights are read from disk one tensor at a time).
   */
  load(weights: Map<string, NamedTensor>): void {
    for (const s of this.layout.specs) {
      if (!weights.get(s.name)) throw new Error(`missing weight ${s.name}`);
    }
    this.layout.specs.forEach((s, i) => {
      const data = weights.get(s.name)!.data; // read once
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (data.length !== size) {
        throw new Error(`weight ${s.name}: ${data.length} values, the layout needs ${size}`);
      }
      this.backend.write(this.params, data, this.layout.offsets[i]);
    });
  }

  /** Reads the parameters back as canonical weights. */
  async weights(): Promise<Map<string, NamedTensor>> {
    return this.unpack((await this.backend.read(this.params)) as Float32Array);
  }

  /** Reads the gradients back as canonical tensors. */
  async gradients(): Promise<Map<string, NamedTensor>> {
    return this.unpack((await this.backend.read(this.grads)) as Float32Array);
  }

  /**
   * The AdamW decay mask of the layout: 1 for matrices of linear layers, 0 for norms, biases,
   * RWKV time vectors and padding; embeddings get `decayEmbeddings ? 1 : 0`.
   */
  decayMask(decayEmbeddings = false): Float32Array {
    const mask = new Float32Array(this.layout.total);
    this.layout.specs.forEach((s, i) => {
      const on = s.embedding ? decayEmbeddings : s.decay;
      if (!on) return;
      const size = s.shape.reduce((a, b) => a * b, 1);
      mask.fill(1, this.layout.offsets[i], this.layout.offsets[i] + size);
    });
    return mask;
  }

  /** Frees the buffers. */
  free(): void {
    this.backend.free(this.params);
    this.backend.free(this.grads);
  }
}
