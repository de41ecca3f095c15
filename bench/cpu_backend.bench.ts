/**
 * CPU backend benchmarks: matmul (square 256…1024 in every transpose case, and the shapes of
 * the tiny GPT's training step), attention forward + backward, and the other heavy ops.
 *
 * ```sh
 * deno bench --allow-read --allow-write --allow-env --allow-ffi --allow-run bench/cpu_backend.bench.ts
 * # GFLOP/s table (JSON; wall-clock and CPU-time), optionally with PyTorch/OpenBLAS's
 * # torch.mm measured the same way in the same run (Debian python3-torch + libopenblas0-openmp):
 * deno run --allow-run --allow-env --allow-read bench/cpu_backend.bench.ts [--torch] [--threads 1]
 * ```
 *
 * @module
 */
import process from "node:process";
import { CpuBackend } from "../src/backend/cpu/mod.ts";
import type { Tensor } from "../src/backend/backend.ts";

const cpu = new CpuBackend();

function random(shape: number[], seed = 1): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  let s = seed * 2654435761 >>> 0;
  for (let i = 0; i < size; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    data[i] = s / 4294967296 - 0.5;
  }
  return cpu.fromArray(shape, data);
}

interface MatmulCase {
  name: string;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
}

function matmulCase({ M, N, K, transA = false, transB = false }: MatmulCase): () => void {
  const a = random(transA ? [K, M] : [M, K], 1), b = random(transB ? [N, K] : [K, N], 2);
  const out = cpu.zeros([M, N]);
  return () => cpu.matmul(out, a, b, { transA, transB });
}

const SQUARE: MatmulCase[] = [256, 512, 1024].flatMap((n) => [
  { name: `${n}³`, M: n, N: n, K: n },
  { name: `${n}³ transA`, M: n, N: n, K: n, transA: true },
  { name: `${n}³ transB`, M: n, N: n, K: n, transB: true },
]);

// gpt-micro (d 128, 4 heads, MLP 512, vocab 4096) at batch 8 × context 128 = 1024 rows.
const GPT_MICRO: MatmulCase[] = [
  { name: "qkv x·W [1024,128]·[128,384]", M: 1024, N: 384, K: 128 },
  { name: "fc x·W [1024,128]·[128,512]", M: 1024, N: 512, K: 128 },
  { name: "proj x·W [1024,512]·[512,128]", M: 1024, N: 128, K: 512 },
  { name: "lm head x·wteᵀ [1024,128]·[4096,128]ᵀ", M: 1024, N: 4096, K: 128, transB: true },
  { name: "dW = xᵀ·dout [1024,128]ᵀ·[1024,384]", M: 128, N: 384, K: 1024, transA: true },
  { name: "dx = dout·Wᵀ [1024,384]·[128,384]ᵀ", M: 1024, N: 128, K: 384, transB: true },
  { name: "decode lm head [1,128]·[4096,128]ᵀ", M: 1, N: 4096, K: 128, transB: true },
];

for (const c of SQUARE) Deno.bench(`matmul ${c.name}`, { group: "matmul square" }, matmulCase(c));
for (const c of GPT_MICRO) {
  Deno.bench(`matmul ${c.name}`, { group: "matmul gpt-micro" }, matmulCase(c));
}

{
  const dims = { B: 8, T: 128, C: 128, NH: 4 };
  const qkv = random([8, 128, 384]), out = cpu.zeros([8, 128, 128]), lse = cpu.zeros([8, 4, 128]);
  const dout = random([8, 128, 128], 3), dqkv = cpu.zeros([8, 128, 384]);
  Deno.bench("attention forward B8 T128 C128 NH4", { group: "ops" }, () => {
    cpu.attention({ out, lse, qkv, dims });
  });
  Deno.bench("attention forward + backward B8 T128 C128 NH4", { group: "ops" }, () => {
    cpu.attention({ out, lse, qkv, dims });
    cpu.attentionBackward({ dqkv, dout, out, lse, qkv, dims });
  });
}
{
  const logits = random([1024, 4096]),
    dlogits = cpu.zeros([1024, 4096]),
    losses = cpu.zeros([1024]);
  const targets = cpu.fromArray(
    [1024],
    Int32Array.from({ length: 1024 }, (_, i) => (i * 31) % 4096),
  );
  Deno.bench("softmaxCrossEntropy [1024, 4096] with dlogits", { group: "ops" }, () => {
    cpu.softmaxCrossEntropy({ losses, dlogits, logits, targets, gradScale: 1 / 1024 });
  });
}
{
  const x = random([1024, 128]),
    out = cpu.zeros([1024, 128]),
    w = random([128], 2),
    b = random([128], 3);
  const mean = cpu.zeros([1024]), rstd = cpu.zeros([1024]), dx = cpu.zeros([1024, 128]);
  const dw = cpu.zeros([128]), db = cpu.zeros([128]), dout = random([1024, 128], 4);
  Deno.bench("layerNorm forward + backward [1024, 128]", { group: "ops" }, () => {
    cpu.layerNorm({ out, mean, rstd, x, w, b });
    cpu.layerNormBackward({ dx, dw, db, dout, x, w, mean, rstd });
  });
}
{
  const [B, T, C] = [8, 128, 256];
  const k = random([B, T, C], 1), v = random([B, T, C], 2), w = random([C], 3), u = random([C], 4);
  const y = cpu.zeros([B, T, C]), dy = random([B, T, C], 5);
  const dk = cpu.zeros([B, T, C]),
    dv = cpu.zeros([B, T, C]),
    dw = cpu.zeros([C]),
    du = cpu.zeros([C]);
  Deno.bench("wkv forward + backward B8 T128 C256", { group: "ops" }, () => {
    cpu.wkv({ y, k, v, timeDecay: w, timeFirst: u, state: null, B, T });
    cpu.wkvBackward({ dw, du, dk, dv, dy, k, v, timeDecay: w, timeFirst: u, B, T });
  });
}
{
  const n = 1 << 20;
  const params = random([n]), grads = random([n], 2), m = cpu.zeros([n]), v = cpu.zeros([n]);
  const hp = {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: 0.1,
    step: 1,
    gradScale: 1,
  };
  Deno.bench(
    "adamw 1M parameters",
    { group: "ops" },
    () => cpu.adamw({ params, grads, m, v, decayMask: null, hp }),
  );
}

/**
 * GFLOP/s of one matmul case over ~2 s, by wall-clock time and by this process's CPU time.
 * On a machine shared with other jobs the wall-clock figure depends on the load; the
 * CPU-time figure is what one core actually delivers.
 */
function gflops(c: MatmulCase): { wall: number; cpu: number } {
  const run = matmulCase(c);
  run();
  const cpu0 = process.cpuUsage(), wall0 = performance.now();
  let reps = 0;
  while (reps < 3 || performance.now() - wall0 < 2000) {
    run();
    reps++;
  }
  const used = process.cpuUsage(cpu0);
  const flop = 2 * c.M * c.N * c.K * reps;
  return {
    wall: flop / ((performance.now() - wall0) / 1000) / 1e9,
    cpu: flop / ((used.user + used.system) / 1e6) / 1e9,
  };
}

/** The same measurement for PyTorch's `torch.mm` (OpenBLAS), in the same run. */
const TORCH_SCRIPT = `
import sys, time, torch
threads, n = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
torch.mm(a, b, out=c)
p0, w0, reps = time.process_time(), time.perf_counter(), 0
while reps < 3 or time.perf_counter() - w0 < 2:
    torch.mm(a, b, out=c)
    reps += 1
flop = 2 * n ** 3 * reps
print(flop / (time.perf_counter() - w0) / 1e9, flop / (time.process_time() - p0) / 1e9)
`;

async function torchGflops(
  n: number,
  threads: number,
): Promise<{ wall: number; cpu: number } | null> {
  try {
    const cmd = new Deno.Command("/usr/bin/python3", {
      args: ["-c", TORCH_SCRIPT, String(threads), String(n)],
      env: {
        LD_LIBRARY_PATH: "/usr/lib/x86_64-linux-gnu/openblas-openmp",
        OMP_NUM_THREADS: String(threads),
        OMP_WAIT_POLICY: "PASSIVE",
      },
      stdout: "piped",
      stderr: "null",
    });
    const [wall, cpu] = new TextDecoder().decode((await cmd.output()).stdout).trim().split(" ")
      .map(Number);
    return Number.isFinite(wall) && Number.isFinite(cpu) ? { wall, cpu } : null;
  } catch {
    return null; // no python3 / torch here
  }
}

if (import.meta.main) {
  const withTorch = Deno.args.includes("--torch");
  const ti = Deno.args.indexOf("--threads");
  const threads = ti >= 0 ? Number(Deno.args[ti + 1]) : 1;
  const table = (): Record<string, number | null> => ({});
  const report = {
    matmul_gflops: table(),
    matmul_gflops_cpu_time: table(),
    matmul_gflops_transA_cpu_time: table(),
    matmul_gflops_transB_cpu_time: table(),
    ...(withTorch
      ? { torch_gflops: table(), torch_gflops_cpu_time: table(), torch_threads: threads }
      : {}),
  };
  for (const n of [256, 512, 1024]) {
    const plain = gflops({ name: "", M: n, N: n, K: n });
    report.matmul_gflops[n] = round(plain.wall);
    report.matmul_gflops_cpu_time[n] = round(plain.cpu);
    report.matmul_gflops_transA_cpu_time[n] = round(
      gflops({ name: "", M: n, N: n, K: n, transA: true }).cpu,
    );
    report.matmul_gflops_transB_cpu_time[n] = round(
      gflops({ name: "", M: n, N: n, K: n, transB: true }).cpu,
    );
    if (report.torch_gflops && report.torch_gflops_cpu_time) {
      const torch = await torchGflops(n, threads);
      report.torch_gflops[n] = torch && round(torch.wall);
      report.torch_gflops_cpu_time[n] = torch && round(torch.cpu);
    }
  }
  console.log(JSON.stringify(report));
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
