/**
 * Matmul variants of the WebGPU backend and the choice between them:
 *
 * - `"tiled"` (`wgsl/matmul.wgsl`): shared-memory 64×64 tiles, 4×4 outputs per invocation —
 *   the classic kernel for real GPUs, and the fallback for any shape.
 * - `"texture"` (`wgsl/matmul_tex.wgsl`): both operands packed into `rgba32float` textures
 *   (transposes resolved, zero padded), then large register tiles from `textureLoad`s, no
 *   workgroup memory — the fastest form on CPU adapters such as llvmpipe (see LLVMPIPE.md).
 *
 * `"auto"` picks `texture` on fallback (CPU) adapters and `tiled` elsewhere.
 *
 * @module
 */
import type { GpuContext, GpuTensor, KernelSpec } from "./context.ts";
import matmulSrc from "../../../wgsl/matmul.wgsl" with { type: "text" };
import matmulTexSrc from "../../../wgsl/matmul_tex.wgsl" with { type: "text" };
import matmulPackSrc from "../../../wgsl/matmul_pack.wgsl" with { type: "text" };
import matvecSrc from "../../../wgsl/matvec.wgsl" with { type: "text" };

/** A matmul implementation. */
export type MatmulVariant = "tiled" | "texture";

/** Register tile of the texture kernel: TM rows × 4·TN4 columns per invocation. */
export interface TextureTile {
  /** Rows per invocation. */
  TM: number;
  /** vec4 columns per invocation. */
  TN4: number;
  /** Workgroup size x (columns). */
  WGX: number;
  /** Workgroup size y (rows). */
  WGY: number;
}

/** Dimensions of one matmul call (logical, after transposes). */
export interface MatmulDims {
  /** Rows of the output. */
  M: number;
  /** Columns of the output. */
  N: number;
  /** Inner dimension. */
  K: number;
  /** `a` stored `[K, M]`. */
  transA: boolean;
  /** `b` stored `[N, K]`. */
  transB: boolean;
}

const TEX_EXTRA: GPUBindGroupLayoutEntry[] = [
  { binding: 3, visibility: GPUShaderStage.COMPUTE, texture: { sampleType: "unfilterable-float" } },
  { binding: 4, visibility: GPUShaderStage.COMPUTE, texture: { sampleType: "unfilterable-float" } },
];
const PACK_EXTRA: GPUBindGroupLayoutEntry[] = [{
  binding: 5,
  visibility: GPUShaderStage.COMPUTE,
  storageTexture: { access: "write-only", format: "rgba32float" },
}];

const MATVEC_TB: KernelSpec = { code: matvecSrc, entry: "matvec_tb", storage: 5 };
const MATVEC_NB: KernelSpec = { code: matvecSrc, entry: "matvec_nb", storage: 4 };
/** Up to this many output rows go to the matvec kernels (generation). */
export const MATVEC_MAX_ROWS = 8;

const TILED_SPEC: KernelSpec = { code: matmulSrc, entry: "matmul_tiled", storage: 4 };
const PACK_SPEC: KernelSpec = { code: matmulPackSrc, entry: "pack", storage: 1, extra: PACK_EXTRA };
const PACKT4_SPEC: KernelSpec = {
  code: matmulPackSrc,
  entry: "pack_t4",
  storage: 3,
  extra: PACK_EXTRA,
};
const PACK4_SPEC: KernelSpec = {
  code: matmulPackSrc,
  entry: "pack_vec4",
  storage: 3,
  extra: PACK_EXTRA,
};

/** Register tile on CPU adapters for narrow outputs (N < 512): 16×16 outputs, 8×8 workgroup. */
export const NARROW_TILE: TextureTile = { TM: 16, TN4: 4, WGX: 8, WGY: 8 };
/** Register tile for wide outputs (N ≥ 512): 16×32 outputs, 8×4 workgroup. */
export const WIDE_TILE: TextureTile = { TM: 16, TN4: 8, WGX: 8, WGY: 4 };

/**
 * The tile for a shape on llvmpipe. Measured here (GFLOP per CPU-second, 2-core AVX2): the wide
 * tile does 16–17 at 1024³ and 13.4 on 1024×128·128×4096 (vs 13.9 and 11.6 narrow); with
 * N = 128 only half its lanes have columns, so the narrow tile wins there (9–11 vs 6–7).
 */
export function tileFor(d: MatmulDims): TextureTile {
  return d.N >= 512 ? WIDE_TILE : NARROW_TILE;
}

/** Expands the `matmul_tex.wgsl` template for one register tile. */
export function textureKernel({ TM, TN4, WGX, WGY }: TextureTile): string {
  const rows = [...Array(TM).keys()], cols = [...Array(TN4).keys()];
  const declare = rows.flatMap((r) => cols.map((j) => `var acc_${r}_${j} = vec4<f32>(0.0);`));
  const loadB = cols.flatMap((j) =>
    [0, 1, 2, 3].map((q) =>
      `let b${q}_${j} = textureLoad(Bt, vec2<u32>(c4 + ${j}u, k + ${q}u), 0);`
    )
  );
  const multiply = rows.flatMap((r) => [
    `let a${r} = textureLoad(At, vec2<u32>(k4, r0 + ${r}u), 0);`,
    ...cols.map((j) =>
      `acc_${r}_${j} += a${r}.x * b0_${j} + a${r}.y * b1_${j} + a${r}.z * b2_${j} + a${r}.w * b3_${j};`
    ),
  ]);
  const store = rows.flatMap((r) =>
    cols.map((j) => `store4(r0 + ${r}u, c4 + ${j}u, acc_${r}_${j});`)
  );
  const expand = (marker: string, lines: string[]) => (src: string) =>
    src.replace(`//@${marker}`, lines.join("\n    "));
  let code = matmulTexSrc.replace("@workgroup_size(WGX, WGY)", `@workgroup_size(${WGX}, ${WGY})`)
    .replace("TN4u", `${TN4}u`).replace("TMu", `${TM}u`);
  for (
    const f of [
      expand("DECLARE", declare),
      expand("LOAD_B", loadB),
      expand("MULTIPLY", multiply),
      expand("STORE", store),
    ]
  ) code = f(code);
  return code;
}

/** Records matmuls with the variant chosen for the adapter. */
export class MatmulKernels {
  /** The variant used when a shape allows it. */
  readonly variant: MatmulVariant;
  /** Register tile of the texture variant; null picks per shape with {@link tileFor}. */
  tile: TextureTile | null;
  #ctx: GpuContext;
  #textures = new Map<string, { tex: GPUTexture; view: GPUTextureView; id: string }>();
  #texId = 0;
  #texSpecs = new Map<string, KernelSpec>();

  /** `variant` "auto" picks by adapter; `tile` fixes the texture kernel's tile (null: per shape). */
  constructor(ctx: GpuContext, variant: "auto" | MatmulVariant, tile: TextureTile | null = null) {
    this.#ctx = ctx;
    this.variant = variant === "auto"
      ? (ctx.adapter.info.isFallbackAdapter ? "texture" : "tiled")
      : variant;
    this.tile = tile;
  }

  /** `out (=|+=) op(a)·op(b) (+ bias)`; shapes already validated. */
  record(
    out: GpuTensor,
    a: GpuTensor,
    b: GpuTensor,
    bias: GpuTensor | null,
    d: MatmulDims,
    accumulate: boolean,
  ): void {
    if (this.#matvecFits(d)) {
      const flags = (bias ? 4 : 0) | (accumulate ? 8 : 0);
      const groups = [d.transB ? d.N : d.N / 4, Math.ceil(d.M / 4)] as const;
      this.#ctx.dispatch(
        d.transB ? MATVEC_TB : MATVEC_NB,
        d.transB ? [out, null, b, bias, a] : [out, a, b, bias],
        { u: [d.M, d.N, d.K, flags] },
        [Math.ceil(groups[0] / 64), groups[1]],
      );
      return;
    }
    if (this.variant === "texture" && this.#textureFits(d)) {
      this.#recordTexture(out, a, b, bias, d, accumulate);
    } else {
      this.#recordTiled(out, a, b, bias, d, accumulate);
    }
  }

  #recordTiled(
    out: GpuTensor,
    a: GpuTensor,
    b: GpuTensor,
    bias: GpuTensor | null,
    d: MatmulDims,
    accumulate: boolean,
  ): void {
    const flags = (d.transA ? 1 : 0) | (d.transB ? 2 : 0) | (bias ? 4 : 0) | (accumulate ? 8 : 0);
    const gx = Math.ceil(d.N / 64), gy = Math.ceil(d.M / 64);
    this.#ctx.dispatch(
      TILED_SPEC,
      [out, a, b, bias],
      { u: [d.M, d.N, d.K, flags] },
      [gx, gy],
    );
  }

  #dims(d: MatmulDims, tile: TextureTile) {
    const { TM, TN4 } = tile;
    const K4 = Math.ceil(d.K / 4);
    const rowTiles = Math.ceil(d.M / TM);
    const colTiles = Math.ceil(d.N / (4 * TN4));
    // Power-of-two texture sizes: llvmpipe compiles a separate, far slower-to-build shader
    // variant for non-power-of-two textures (18 s on first use here); the padding is never read.
    return {
      K4,
      aW: pot(K4),
      aH: pot(rowTiles * TM),
      bW: pot(colTiles * TN4),
      bH: pot(K4 * 4),
      rowTiles,
      colTiles,
    };
  }

  #matvecFits(d: MatmulDims): boolean {
    return d.M <= MATVEC_MAX_ROWS && !d.transA && d.K % 4 === 0 && (d.transB || d.N % 4 === 0) &&
      Math.ceil((d.transB ? d.N : d.N / 4) / 64) <= 65535;
  }

  #textureFits(d: MatmulDims): boolean {
    const max = this.#ctx.device.limits.maxTextureDimension2D;
    const x = this.#dims(d, this.tile ?? tileFor(d));
    return Math.max(x.aW, x.aH, x.bW, x.bH) <= max;
  }

  #texture(role: string, w: number, h: number) {
    const key = `${role}:${w}x${h}`;
    let t = this.#textures.get(key);
    if (!t) {
      const tex = this.#ctx.device.createTexture({
        size: [w, h],
        format: "rgba32float",
        usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING,
      });
      t = { tex, view: tex.createView(), id: `tex${this.#texId++}` };
      this.#textures.set(key, t);
    }
    return t;
  }

  #pack(
    src: GpuTensor,
    rows: number,
    cols: number,
    trans: boolean,
    tex: { view: GPUTextureView; id: string },
    w: number,
    h: number,
  ): void {
    const vec4 = !trans && cols % 4 === 0;
    const entries = { key: tex.id, entries: [{ binding: 5, resource: tex.view }] };
    const u = [rows, cols, trans ? 1 : 0, 0, w, h];
    if (trans && rows % 4 === 0) {
      const groups = [Math.ceil(w / 8), Math.ceil(h / 32)] as const;
      this.#ctx.dispatch(PACKT4_SPEC, [null, null, src], { u }, groups, entries);
      return;
    }
    this.#ctx.dispatch(
      vec4 ? PACK4_SPEC : PACK_SPEC,
      vec4 ? [null, null, src] : [src],
      { u },
      [Math.ceil(w / 8), Math.ceil(h / 8)],
      entries,
    );
  }

  #recordTexture(
    out: GpuTensor,
    a: GpuTensor,
    b: GpuTensor,
    bias: GpuTensor | null,
    d: MatmulDims,
    accumulate: boolean,
  ): void {
    const tile = this.tile ?? tileFor(d);
    const x = this.#dims(d, tile);
    const at = this.#texture("A", x.aW, x.aH), bt = this.#texture("B", x.bW, x.bH);
    // Only the region the kernel reads is packed (the rest of a pooled texture is never read).
    this.#pack(a, d.M, d.K, d.transA, at, x.K4, x.rowTiles * tile.TM);
    this.#pack(b, d.K, d.N, d.transB, bt, x.colTiles * tile.TN4, x.K4 * 4);
    const { TM, TN4, WGX, WGY } = tile;
    const tileKey = `${TM},${TN4},${WGX},${WGY}`;
    let spec = this.#texSpecs.get(tileKey);
    if (!spec) {
      spec = { code: textureKernel(tile), entry: "matmul_tex", storage: 2, extra: TEX_EXTRA };
      this.#texSpecs.set(tileKey, spec);
    }
    const flags = (bias ? 4 : 0) | (accumulate ? 8 : 0);
    this.#ctx.dispatch(
      spec,
      [out, bias],
      { u: [d.M, d.N, x.K4, flags] },
      [Math.ceil(x.colTiles / WGX), Math.ceil(x.rowTiles / WGY)],
      {
        key: `${at.id}|${bt.id}`,
        entries: [{ binding: 3, resource: at.view }, { binding: 4, resource: bt.view }],
      },
    );
  }

  /** Destroys the cached operand textures. */
  destroy(): void {
    for (const t of this.#textures.values()) t.tex.destroy();
    this.#textures.clear();
  }
}

function pot(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
}
