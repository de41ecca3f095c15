/**
 * LoRA (Hu et al., 2021) on Bentevi's training models: each adapted linear layer computes
 * `y = x·Wᵀ (+ b) + (alpha/r)·(dropout(x)·Aᵀ)·Bᵀ` with the base `W` frozen, `A [r, in]`
 * initialised as PEFT does (Kaiming-uniform, `a = √5`: U(±1/√in)) and `B [out, r]` zero, so
 * training starts from the base model exactly. Forward and backward are written out llm.c style
 * from the Backend's matmul, scale, mul and addInto ops: no kernel of its own, so it runs on
 * every backend.
 *
 * Where a family fuses several layers into one matmul (Llama's q|k|v), the adapters of the
 * fused layers share that site: their `A`s are stacked (one matmul `u = x·[A_q; A_v]ᵀ`) and
 * their `B`s sit in a block matrix `[siteOut, k·r]` whose off-diagonal blocks stay exactly zero
 * (their gradient is masked), so the site needs two matmuls however many layers it adapts.
 * Files hold PEFT's per-layer `lora_A`/`lora_B` tensors (`adapter_files.ts`).
 *
 * @module
 */
import type { Backend, Tensor } from "../backend/backend.ts";
import { BenteviError } from "../errors.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import type { ModelConfig } from "../model/config.ts";
import { createModel } from "../model/factory.ts";
import { initSpecs } from "../model/init.ts";
import type { LinearAdapter, LinearTarget } from "../model/linear.ts";
import type { TrainableModel } from "../model/model.ts";
import type { ParameterStore } from "../model/params.ts";
import { familyOf } from "../model/registry.ts";
import type { WeightSpec } from "../model/weight_spec.ts";
import { Xoshiro128 } from "../random.ts";

/** The settings of a LoRA adapter (PEFT's `r`, `lora_alpha`, `lora_dropout`, `target_modules`). */
export interface LoraSettings {
  /** Rank `r` of each adapter. */
  rank: number;
  /** `lora_alpha`: the update is scaled by `alpha / rank`. */
  alpha: number;
  /** Dropout probability on the adapter's input during training (0: none). */
  dropout: number;
  /** PEFT target-module names (`c_attn`, `q_proj`…); every adaptable layer when empty. */
  targets: string[];
}

/**
 * The LoRA defaults (one home; the `finetune` flags read them): rank 8 and alpha 16 (scale 2,
 * the common recipe), no dropout (PEFT's default; it is also what keeps a step exact and
 * cheap), and every linear layer the family declares (QLoRA's finding: adapting all of them
 * beats the attention-only default at the same parameter budget).
 */
export const LORA_DEFAULTS: Readonly<LoraSettings> = Object.freeze({
  rank: 8,
  alpha: 16,
  dropout: 0,
  targets: [],
});

/** One matmul of the training model that carries adapters (see {@link LinearTarget.site}). */
export interface LoraSite {
  /** The site (parameter view the base matmul reads). */
  site: string;
  /** Input features. */
  in: number;
  /** Output features of the whole site. */
  out: number;
  /** The adapted layers of the site, in row order. */
  members: LinearTarget[];
  /** Rows of the stacked A: `members.length · rank`. */
  R: number;
  /** The parameter view of the stacked `A [R, in]`. */
  a: string;
  /** The parameter view of `B [out, R]` (a block matrix when the site has several layers or is fused). */
  b: string;
  /** Whether `B` is a block matrix whose blocks outside the members' are kept zero. */
  blockB: boolean;
}

/** The PEFT tensor names of one adapted layer (without PEFT's `base_model.model.` prefix). */
export function loraTensorNames(path: string): { a: string; b: string } {
  return { a: `${path}.lora_A.weight`, b: `${path}.lora_B.weight` };
}

/**
 * What a LoRA adapter is made of over one base configuration: the adapted layers, how they
 * group into the training model's sites, and the weight list of the adapter's parameters.
 *
 * @example
 * ```ts
 * import { LoraPlan } from "./lora.ts";
 * import { presetConfig } from "../model/config.ts";
 * const plan = new LoraPlan(presetConfig("gpt-micro", 64), { rank: 4, alpha: 8, dropout: 0, targets: ["c_attn"] });
 * console.log(plan.layers.length, plan.parameterCount); // 4 8192
 * ```
 */
export class LoraPlan {
  /** The base configuration. */
  readonly config: ModelConfig;
  /** The settings, with `targets` resolved to the modules actually adapted. */
  readonly settings: LoraSettings;
  /** The adapted layers in canonical order. */
  readonly layers: LinearTarget[];
  /** The sites that carry adapters. */
  readonly sites: LoraSite[];
  /** The adapter's parameters (the stacked `A`s and the `B`s), in layout order. */
  readonly specs: WeightSpec[];
  /** The update's scale `alpha / rank`. */
  readonly scale: number;

  /**
   * Resolves `settings` against the family's adaptable layers; a target the family does not
   * have, a rank above a layer's smaller side, or bad numbers are refused with one line.
   */
  constructor(config: ModelConfig, settings: LoraSettings) {
    const family = familyOf(config);
    const all = family.linearTargets?.(config) ?? [];
    if (all.length === 0) {
      throw new BenteviError(`LoRA: the ${config.arch} family declares no adaptable layers`);
    }
    const { rank, alpha, dropout } = settings;
    if (!Number.isInteger(rank) || rank < 1) {
      throw new BenteviError(`LoRA: the rank must be a positive integer, got ${rank}`);
    }
    if (!Number.isFinite(alpha) || alpha <= 0) {
      throw new BenteviError(`LoRA: alpha must be a positive number, got ${alpha}`);
    }
    if (!Number.isFinite(dropout) || dropout < 0 || dropout >= 1) {
      throw new BenteviError(`LoRA: dropout must be in [0, 1), got ${dropout}`);
    }
    const known = [...new Set(all.map((t) => t.module))];
    const targets = settings.targets.length ? [...new Set(settings.targets)] : known;
    const unknown = targets.filter((t) => !known.includes(t));
    if (unknown.length) {
      throw new BenteviError(
        `LoRA: unknown target module ${
          unknown.map((u) => `"${u}"`).join(", ")
        } for ${config.arch} ` +
          `(it has ${known.join(", ")})`,
      );
    }
    this.config = config;
    this.settings = { rank, alpha, dropout, targets: known.filter((k) => targets.includes(k)) };
    this.layers = all.filter((t) => targets.includes(t.module));
    const small = this.layers.find((t) => rank > Math.min(t.in, t.out));
    if (small) {
      throw new BenteviError(
        `LoRA: rank ${rank} is larger than layer ${small.module} (${small.out}×${small.in}) of ${config.arch}; ` +
          `use --lora-rank ≤ ${Math.min(small.in, small.out)}`,
      );
    }
    this.scale = alpha / rank;
    const bySite = new Map<string, LinearTarget[]>();
    for (const t of this.layers) bySite.set(t.site, [...(bySite.get(t.site) ?? []), t]);
    this.sites = [];
    this.specs = [];
    for (const [site, members] of bySite) {
      const first = members[0];
      const fused = members.length > 1 || first.site !== first.weight;
      const R = members.length * rank;
      const stem = site.replace(/\.weight$/, "");
      const a = fused ? `${stem}.lora_A.stacked` : loraTensorNames(first.path).a;
      const b = fused ? `${stem}.lora_B.block` : loraTensorNames(first.path).b;
      for (const m of members) {
        // PEFT: kaiming_uniform_(A, a=√5) → bound = √(6 / ((1 + 5)·fan_in)) = 1/√in.
        this.specs.push({
          name: loraTensorNames(m.path).a,
          shape: [rank, m.in],
          decay: true,
          embedding: false,
          init: { kind: "uniform", limit: 1 / Math.sqrt(m.in) },
          ...(fused ? { fusedAs: a } : {}),
        });
      }
      this.specs.push({
        name: b,
        shape: [first.siteOut, R],
        decay: true,
        embedding: false,
        init: { kind: "const", value: 0 },
      });
      this.sites.push({ site, in: first.in, out: first.siteOut, members, R, a, b, blockB: fused });
    }
  }

  /** Number of trainable adapter parameters (the PEFT tensors' sizes). */
  get parameterCount(): number {
    return this.layers.reduce((n, t) => n + this.settings.rank * (t.in + t.out), 0);
  }

  /**
   * Fresh adapter weights (the layout's names): each `A` Kaiming-uniform from `seed`, `B` zero.
   */
  initialWeights(seed: number): Map<string, NamedTensor> {
    return initSpecs(this.specs, seed);
  }

  /** The adapter weights (layout names) as PEFT's per-layer tensors (`lora_A`, `lora_B`). */
  toPeft(weights: Map<string, NamedTensor>): Map<string, NamedTensor> {
    const r = this.settings.rank;
    const out = new Map<string, NamedTensor>();
    for (const s of this.sites) {
      const B = weights.get(s.b);
      if (!B) throw new Error(`LoraPlan.toPeft: missing ${s.b}`);
      s.members.forEach((m, k) => {
        const names = loraTensorNames(m.path);
        const A = weights.get(names.a);
        if (!A) throw new Error(`LoraPlan.toPeft: missing ${names.a}`);
        out.set(names.a, { shape: [r, m.in], data: A.data.slice() });
        if (!s.blockB) {
          out.set(names.b, { shape: [m.out, r], data: B.data.slice() });
          return;
        }
        const data = new Float32Array(m.out * r);
        for (let i = 0; i < m.out; i++) {
          const row = (m.rowOffset + i) * s.R + k * r;
          data.set(B.data.subarray(row, row + r), i * r);
        }
        out.set(names.b, { shape: [m.out, r], data });
      });
    }
    return out;
  }

  /**
   * PEFT's per-layer tensors as the adapter weights of the layout; a missing tensor or one of
   * the wrong shape is refused naming `source`.
   */
  fromPeft(tensors: Map<string, NamedTensor>, source: string): Map<string, NamedTensor> {
    const r = this.settings.rank;
    const get = (name: string, shape: number[]): Float32Array => {
      const t = tensors.get(name);
      if (!t) throw new BenteviError(`${source}: tensor ${name} is missing`);
      if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
        throw new BenteviError(
          `${source}: tensor ${name} has shape [${t.shape}], this base needs [${shape}]`,
        );
      }
      return t.data;
    };
    const out = new Map<string, NamedTensor>();
    for (const s of this.sites) {
      const B = new Float32Array(s.out * s.R);
      s.members.forEach((m, k) => {
        const names = loraTensorNames(m.path);
        out.set(names.a, { shape: [r, m.in], data: get(names.a, [r, m.in]).slice() });
        const b = get(names.b, [m.out, r]);
        for (let i = 0; i < m.out; i++) {
          B.set(b.subarray(i * r, (i + 1) * r), (m.rowOffset + i) * s.R + k * r);
        }
      });
      out.set(s.b, { shape: [s.out, s.R], data: B });
    }
    return out;
  }
}

/**
 * The adapter of one site as a {@link LinearAdapter}: `out += s·(x̃·Aᵀ)·Bᵀ` forward (x̃ the
 * input after dropout), and backward `dB += doutᵀ·(s·u)`, `du = s·dout·B`, `dA += duᵀ·x̃`,
 * `dx += mask ⊙ (du·A)`.
 */
class LoraSiteAdapter implements LinearAdapter {
  /** Whether the next forward is a training one (dropout on). */
  training = false;
  readonly #be: Backend;
  readonly #site: LoraSite;
  readonly #scale: number;
  readonly #A: Tensor;
  readonly #B: Tensor;
  readonly #gA: Tensor;
  readonly #gB: Tensor;
  /** `s·u = s·x̃·Aᵀ` `[N, R]`, kept for backward. */
  readonly #u: Tensor;
  /** `du` `[N, R]`. */
  readonly #du: Tensor;
  /** 1 on the blocks of `B` the members own, 0 elsewhere (fused sites). */
  readonly #bMask: Tensor | null;
  /** Dropout: the input after dropout, the mask (0 or 1/(1−p)) and `dx̃` `[N, in]`. */
  readonly #drop: { xd: Tensor; mask: Tensor; dxd: Tensor; host: Float32Array } | null;
  readonly #p: number;
  /** Whether the dropout mask of the current forward is in use. */
  #dropped = false;

  constructor(be: Backend, store: ParameterStore, site: LoraSite, plan: LoraPlan, N: number) {
    this.#be = be;
    this.#site = site;
    this.#scale = plan.scale;
    this.#A = store.p(site.a);
    this.#B = store.p(site.b);
    this.#gA = store.g(site.a);
    this.#gB = store.g(site.b);
    this.#u = be.zeros([N, site.R]);
    this.#du = be.zeros([N, site.R]);
    if (site.blockB) {
      const r = plan.settings.rank;
      const mask = new Float32Array(site.out * site.R);
      site.members.forEach((m, k) => {
        for (let i = m.rowOffset; i < m.rowOffset + m.out; i++) {
          mask.fill(1, i * site.R + k * r, i * site.R + (k + 1) * r);
        }
      });
      this.#bMask = be.fromArray([site.out, site.R], mask);
    } else this.#bMask = null;
    this.#p = plan.settings.dropout;
    this.#drop = this.#p > 0
      ? {
        xd: be.zeros([N, site.in]),
        mask: be.zeros([N, site.in]),
        dxd: be.zeros([N, site.in]),
        host: new Float32Array(N * site.in),
      }
      : null;
  }

  /** Draws this forward's dropout mask from `rng` (training forwards only). */
  drawMask(rng: Xoshiro128): void {
    const d = this.#drop;
    if (!d) return;
    const keep = 1 / (1 - this.#p);
    for (let i = 0; i < d.host.length; i++) d.host[i] = rng.next() < this.#p ? 0 : keep;
    this.#be.write(d.mask, d.host);
  }

  #input(x: Tensor): Tensor {
    return this.#dropped ? this.#drop!.xd : x;
  }

  forward(out: Tensor, x: Tensor): void {
    const be = this.#be;
    this.#dropped = this.training && this.#drop !== null;
    if (this.#dropped) be.mul(this.#drop!.xd, x, this.#drop!.mask);
    be.matmul(this.#u, this.#input(x), this.#A, { transB: true });
    be.scale(this.#u, this.#scale);
    be.matmul(out, this.#u, this.#B, { transB: true, accumulate: true });
  }

  backward(dx: Tensor, x: Tensor, dout: Tensor): void {
    const be = this.#be;
    be.matmul(this.#gB, dout, this.#u, { transA: true, accumulate: true });
    if (this.#bMask) be.mul(this.#gB, this.#gB, this.#bMask);
    be.matmul(this.#du, dout, this.#B);
    be.scale(this.#du, this.#scale);
    be.matmul(this.#gA, this.#du, this.#input(x), { transA: true, accumulate: true });
    if (this.#dropped) {
      const d = this.#drop!;
      be.matmul(d.dxd, this.#du, this.#A);
      be.mul(d.dxd, d.dxd, d.mask);
      be.addInto(dx, d.dxd);
    } else {
      be.matmul(dx, this.#du, this.#A, { accumulate: true });
    }
  }

  free(): void {
    const be = this.#be;
    be.free(this.#u);
    be.free(this.#du);
    if (this.#bMask) be.free(this.#bMask);
    if (this.#drop) {
      for (const t of [this.#drop.xd, this.#drop.mask, this.#drop.dxd]) {
        be.free(t);
      }
    }
  }
}

/** Options of {@link LoraModel}. */
export interface LoraModelOptions {
  /** Seed of the dropout masks (the run's seed). */
  seed?: number;
}

/**
 * A training model over a frozen base with LoRA adapters: its {@link TrainableModel.store} is
 * the adapter's, so an optimizer step (`TrainStep`) updates and keeps state for the adapters
 * only; the base store needs no gradients (`new ParameterStore(backend, config, { gradients:
 * false })`).
 *
 * @example
 * ```ts
 * import { LoraModel, LoraPlan, LORA_DEFAULTS } from "./lora.ts";
 * import { initWeights, ParameterStore, presetConfig } from "../model/mod.ts";
 * import { createBackend } from "../backend/select.ts";
 * const backend = await createBackend("cpu");
 * const config = presetConfig("gpt-micro", 64);
 * const base = new ParameterStore(backend, config, { gradients: false });
 * base.load(initWeights(config, 1));
 * const plan = new LoraPlan(config, { ...LORA_DEFAULTS, rank: 4 });
 * const adapter = new ParameterStore(backend, plan.specs);
 * adapter.load(plan.initialWeights(7));
 * const model = new LoraModel(backend, plan, base, adapter, 1, 8);
 * backend.write(model.ids, new Int32Array(8));
 * backend.write(model.targets, new Int32Array(8));
 * model.forward(true, 1 / 8);
 * model.backward();
 * console.log((await backend.read(model.losses)).length); // 8
 * ```
 */
export class LoraModel implements TrainableModel {
  readonly config: ModelConfig;
  readonly backend: Backend;
  /** The adapter's parameters and gradients (what the optimizer steps). */
  readonly store: ParameterStore;
  /** The frozen base. */
  readonly base: ParameterStore;
  /** The adapter's plan. */
  readonly plan: LoraPlan;
  readonly B: number;
  readonly T: number;
  readonly ids: Tensor;
  readonly targets: Tensor;
  readonly losses: Tensor;
  readonly logits: Tensor;
  readonly #inner: TrainableModel;
  readonly #sites: LoraSiteAdapter[];
  readonly #seed: number;
  /** Training forwards so far: the dropout masks' stream position (see {@link forwardCount}). */
  #forwards = 0;

  constructor(
    backend: Backend,
    plan: LoraPlan,
    base: ParameterStore,
    adapter: ParameterStore,
    B: number,
    T: number,
    options: LoraModelOptions = {},
  ) {
    this.backend = backend;
    this.plan = plan;
    this.config = plan.config;
    this.base = base;
    this.store = adapter;
    this.B = B;
    this.T = T;
    this.#seed = options.seed ?? 0;
    this.#sites = plan.sites.map((s) => new LoraSiteAdapter(backend, adapter, s, plan, B * T));
    const adapters = new Map(plan.sites.map((s, i) => [s.site, this.#sites[i]]));
    this.#inner = createModel(backend, plan.config, base, B, T, { adapters, frozen: true });
    this.ids = this.#inner.ids;
    this.targets = this.#inner.targets;
    this.losses = this.#inner.losses;
    this.logits = this.#inner.logits;
  }

  /**
   * Training forwards recorded so far; the dropout masks of forward `n` depend only on the
   * seed and `n`, so a resumed run sets this to continue the same stream.
   */
  get forwardCount(): number {
    return this.#forwards;
  }
  set forwardCount(n: number) {
    this.#forwards = n;
  }

  forward(withGrad: boolean, gradScale = 1): void {
    if (withGrad && this.plan.settings.dropout > 0) {
      const rng = new Xoshiro128((this.#seed ^ Math.imul(this.#forwards + 1, 0x9e3779b1)) >>> 0);
      for (const s of this.#sites) s.drawMask(rng);
    }
    if (withGrad) this.#forwards++;
    for (const s of this.#sites) s.training = withGrad;
    this.#inner.forward(withGrad, gradScale);
  }

  backward(): void {
    this.#inner.backward();
  }

  free(): void {
    this.#inner.free();
    for (const s of this.#sites) s.free();
  }
}

/**
 * Adds `s·B·A` (`A [r, in]`, `B [out, r]`) to `acc`: `[out, in]`, or `[in, out]` for a Conv1D
 * (`fanInFanOut`). Loops run along contiguous rows.
 */
function addUpdate(
  acc: Float64Array,
  A: Float32Array,
  B: Float32Array,
  t: LinearTarget,
  r: number,
  s: number,
): void {
  const nIn = t.in, nOut = t.out;
  if (t.fanInFanOut) {
    // row i += Σ_k A[k, i]·(s·B[:, k]), with B's columns laid out as rows once
    const bt = new Float64Array(r * nOut);
    for (let o = 0; o < nOut; o++) for (let k = 0; k < r; k++) bt[k * nOut + o] = B[o * r + k] * s;
    for (let i = 0; i < nIn; i++) {
      const w = i * nOut;
      for (let k = 0; k < r; k++) {
        const a = A[k * nIn + i];
        if (a === 0) continue;
        const b = k * nOut;
        for (let o = 0; o < nOut; o++) acc[w + o] += a * bt[b + o];
      }
    }
    return;
  }
  // row o += Σ_k (s·B[o, k])·A[k, :]
  for (let o = 0; o < nOut; o++) {
    const w = o * nIn;
    for (let k = 0; k < r; k++) {
      const b = B[o * r + k] * s;
      if (b === 0) continue;
      const a = k * nIn;
      for (let i = 0; i < nIn; i++) acc[w + i] += b * A[a + i];
    }
  }
}

/** An adapter's plan and PEFT tensors: what merging reads. */
export interface LoraUpdate {
  /** The adapter's plan over its base. */
  plan: LoraPlan;
  /** PEFT's per-layer tensors (`….lora_A.weight`, `….lora_B.weight`, without the prefix). */
  peft: Map<string, NamedTensor>;
}

/**
 * The adapted matrices with the updates `(alpha/r)·B·A` of every adapter in `updates` added
 * (summed in float64, added to the float32 base once), each from the base's `base(name)`;
 * GPT-2's Conv1D matrices (`[in, out]`) get the transposed update, as PEFT's `fan_in_fan_out`.
 * Only the matrices some adapter touches are returned (new arrays).
 *
 * @example
 * ```ts
 * import { LoraPlan, LORA_DEFAULTS, mergeUpdates } from "./lora.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 64);
 * const base = initWeights(config, 1);
 * const plan = new LoraPlan(config, { ...LORA_DEFAULTS, rank: 2, targets: ["c_fc"] });
 * const m = mergeUpdates([{ plan, peft: plan.toPeft(plan.initialWeights(1)) }], (n) => base.get(n)!.data);
 * console.log([...m.keys()].length); // 4
 * ```
 */
export function mergeUpdates(
  updates: readonly LoraUpdate[],
  base: (name: string) => Float32Array,
): Map<string, Float32Array> {
  const sums = new Map<string, Float64Array>();
  for (const { plan, peft } of updates) {
    const r = plan.settings.rank, s = plan.scale;
    for (const t of plan.layers) {
      let acc = sums.get(t.weight);
      if (!acc) sums.set(t.weight, acc = new Float64Array(t.in * t.out));
      const names = loraTensorNames(t.path);
      addUpdate(acc, peft.get(names.a)!.data, peft.get(names.b)!.data, t, r, s);
    }
  }
  const out = new Map<string, Float32Array>();
  for (const [name, acc] of sums) {
    const w = base(name).slice();
    if (w.length !== acc.length) throw new Error(`mergeUpdates: ${name} has ${w.length} values`);
    for (let i = 0; i < w.length; i++) w[i] += acc[i];
    out.set(name, w);
  }
  return out;
}

/**
 * Canonical base weights with one adapter merged in (a new map: the adapted matrices are new
 * arrays, every other weight the same object): the merged model's logits equal base + adapter.
 *
 * @example
 * ```ts
 * import { LoraPlan, LORA_DEFAULTS, mergeLora } from "./lora.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 64);
 * const plan = new LoraPlan(config, { ...LORA_DEFAULTS, rank: 2 });
 * const merged = mergeLora(plan, initWeights(config, 1), plan.toPeft(plan.initialWeights(1)));
 * console.log(merged.size > 0); // true
 * ```
 */
export function mergeLora<T extends { shape: readonly number[]; data: Float32Array }>(
  plan: LoraPlan,
  base: Map<string, T>,
  peft: Map<string, NamedTensor>,
): Map<string, T> {
  const out = new Map(base);
  for (const [name, data] of mergeUpdates([{ plan, peft }], (n) => base.get(n)!.data)) {
    // A new plain tensor (spreading a lazily loaded one would read it from disk again).
    out.set(name, { shape: [...base.get(name)!.shape], data } as unknown as T);
  }
  return out;
}
