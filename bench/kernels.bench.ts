/**
 * WebGPU kernel benchmarks (on llvmpipe here): square matmuls 256…1024, the micro models'
 * matmul shapes, attention forward + backward at B8 T128 C128 NH4, the other hot ops, and
 * the cost of one dispatch. Every iteration records the op and waits for the GPU, so a
 * figure includes one submit + one completion round trip (~0.3–13 ms on llvmpipe — see
 * `bentevi bench kernels` for amortised GFLOP/s).
 *
 * ```sh
 * deno bench --allow-read --allow-write --allow-env --allow-ffi --allow-run bench/kernels.bench.ts
 * # GFLOP/s table, with PyTorch/OpenBLAS (1 thread) side by side in the same run:
 * deno run -A bench/kernels.bench.ts --torch
 * ```
 * Skips (with a message) when there is no WebGPU adapter.
 *
 * @module
 */
import type { Tensor } from "../src/backend/backend.ts";
import { createWebGpuBackendClass, requestGpuAdapter } from "../src/backend/webgpu/mod.ts";
import {
  formatKernelBench,
  matmulGflops,
  MODEL_SHAPES,
  runKernelBench,
} from "../src/backend/webgpu/kernel_bench.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) {
  try {
    Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync({ prefix: "bentevi-xdg-" }));
  } catch { /* only silences a Mesa warning */ }
}
const adapter = await requestGpuAdapter();
if (!adapter) console.log("kernels bench skipped: no WebGPU adapter (install mesa-vulkan-drivers)");
const gpu = adapter ? await createWebGpuBackendClass(adapter) : null;

function random(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    data[i] = s / 2 ** 32 - 0.5;
  }
  return gpu!.fromArray(shape, data);
}

const opts = { ignore: !gpu, sanitizeResources: false, sanitizeOps: false };

if (import.meta.main && Deno.args.length > 0 && gpu) {
  // Table mode: amortised figures, optionally next to PyTorch's sgemm.
  const r = await runKernelBench(gpu);
  console.log(formatKernelBench(r));
  if (Deno.args.includes("--torch")) {
    for (const n of [256, 512, 1024]) {
      const out = new Deno.Command("/usr/bin/python3", {
        args: ["/tmp/peers/train/sgemm_torch.py", "1", String(n), "10"],
        env: {
          LD_LIBRARY_PATH: "/usr/lib/x86_64-linux-gnu/openblas-openmp",
          OMP_NUM_THREADS: "1",
        },
      }).outputSync();
      const line = new TextDecoder().decode(out.stdout).trim();
      const torch = Number(/median ([\d.]+)/.exec(line)?.[1]);
      const ours = await matmulGflops(gpu, n, n, n);
      console.log(
        `matmul ${n}³: bentevi ${ours.toFixed(2)} GFLOP/s, torch 1-thread ${
          torch.toFixed(2)
        }, ratio ${(ours / torch * 100).toFixed(1)}%`,
      );
    }
  }
  Deno.exit(0);
}

for (const n of [256, 512, 1024]) {
  const a = gpu ? random([n, n], 1) : null, b = gpu ? random([n, n], 2) : null;
  const out = gpu ? gpu.zeros([n, n]) : null;
  Deno.bench({
    name: `matmul ${n}³`,
    group: "matmul",
    ...opts,
    fn: async () => {
      gpu!.matmul(out!, a!, b!);
      await gpu!.sync();
    },
  });
}

for (const [M, K, N] of MODEL_SHAPES) {
  const a = gpu ? random([M, K], 3) : null, b = gpu ? random([K, N], 4) : null;
  const out = gpu ? gpu.zeros([M, N]) : null;
  Deno.bench({
    name: `matmul ${M}x${K}·${K}x${N}`,
    group: "model matmul",
    ...opts,
    fn: async () => {
      gpu!.matmul(out!, a!, b!);
      await gpu!.sync();
    },
  });
}

{
  const dims = { B: 8, T: 128, C: 128, NH: 4 };
  const qkv = gpu ? random([8, 128, 384], 5) : null;
  const out = gpu?.zeros([8, 128, 128]), lse = gpu?.zeros([8, 4, 128]);
  const dout = gpu ? random([8, 128, 128], 6) : null, dqkv = gpu?.zeros([8, 128, 384]);
  Deno.bench({
    name: "attention fwd B8 T128 C128 NH4",
    group: "attention",
    ...opts,
    fn: async () => {
      gpu!.attention({ out: out!, lse: lse!, qkv: qkv!, dims });
      await gpu!.sync();
    },
  });
  Deno.bench({
    name: "attention fwd+bwd B8 T128 C128 NH4",
    group: "attention",
    ...opts,
    fn: async () => {
      gpu!.attention({ out: out!, lse: lse!, qkv: qkv!, dims });
      gpu!.attentionBackward({ dqkv: dqkv!, dout: dout!, out: out!, lse: lse!, qkv: qkv!, dims });
      await gpu!.sync();
    },
  });
}

{
  const logits = gpu ? random([1024, 4096], 7) : null, dlogits = gpu?.zeros([1024, 4096]);
  const losses = gpu?.zeros([1024]);
  const targets = gpu?.fromArray([1024], new Int32Array(1024).map((_, i) => (i * 13) % 4096));
  Deno.bench({
    name: "softmax cross-entropy 1024x4096 (+ dlogits)",
    group: "ops",
    ...opts,
    fn: async () => {
      gpu!.softmaxCrossEntropy({
        losses: losses!,
        dlogits: dlogits!,
        logits: logits!,
        targets: targets!,
        gradScale: 1,
      });
      await gpu!.sync();
    },
  });
  const x = gpu ? random([1024, 128], 8) : null, w = gpu ? random([128], 9) : null;
  const b = gpu ? random([128], 10) : null, o = gpu?.zeros([1024, 128]);
  const mean = gpu?.zeros([1024]), rstd = gpu?.zeros([1024]);
  const dx = gpu?.zeros([1024, 128]), dw = gpu?.zeros([128]), db = gpu?.zeros([128]);
  Deno.bench({
    name: "layerNorm fwd+bwd 1024x128",
    group: "ops",
    ...opts,
    fn: async () => {
      gpu!.layerNorm({ out: o!, mean: mean!, rstd: rstd!, x: x!, w: w!, b: b! });
      gpu!.layerNormBackward({
        dx: dx!,
        dw: dw!,
        db: db!,
        dout: o!,
        x: x!,
        w: w!,
        mean: mean!,
        rstd: rstd!,
      });
      await gpu!.sync();
    },
  });
  const n = 1 << 20;
  const p = gpu ? random([n], 11) : null, g = gpu ? random([n], 12) : null;
  const m = gpu?.zeros([n]), v = gpu?.zeros([n]), ns = gpu?.fromArray([1], new Float32Array([4]));
  const hp = {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: 0.1,
    step: 1,
    gradScale: 1,
  };
  Deno.bench({
    name: "adamw 1M params (+ clip)",
    group: "ops",
    ...opts,
    fn: async () => {
      gpu!.adamw({
        params: p!,
        grads: g!,
        m: m!,
        v: v!,
        decayMask: null,
        hp,
        clip: { normSquared: ns!, maxNorm: 1 },
      });
      await gpu!.sync();
    },
  });
}

{
  const tiny = gpu?.zeros([64]);
  Deno.bench({
    name: "dispatch overhead: 100 tiny ops in one submit",
    group: "dispatch",
    ...opts,
    fn: async () => {
      for (let i = 0; i < 100; i++) gpu!.scale(tiny!, 1.0001);
      await gpu!.sync();
    },
  });
  Deno.bench({
    name: "dispatch overhead: 1 tiny op + submit + wait",
    group: "dispatch",
    baseline: true,
    ...opts,
    fn: async () => {
      gpu!.scale(tiny!, 1.0001);
      await gpu!.sync();
    },
  });
}
