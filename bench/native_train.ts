/**
 * Training tokens/s of the native backend vs PyTorch on the CPU, side by side in one run:
 * for each thread count, rounds of (Bentevi in this process, PyTorch in a child process)
 * alternating, on the tiny GPT (V4096 T128 d128 L4 H4 B8, AdamW) and, with `--rwkv`, the
 * peer's RWKV-4 of the same width (V4096 T128 d128 L4, B8) against Bentevi's RWKV-4 at that
 * shape, and with `--llama`, `llama-micro` (V4096 T128 d128 L4, 4 heads / 2 KV heads, SwiGLU
 * 384, tied; B8) against the PyTorch twin in `bench/reference/train_torch.py` (the peer script
 * has no Llama), both on the same random llm.c token file. Figures are wall-clock tokens/s
 * (median step for PyTorch, mean for Bentevi).
 *
 * ```sh
 * deno run -A bench/native_train.ts [--threads 1,2] [--rounds 2] [--steps 10] [--rwkv] [--llama] [--only-llama]
 * ```
 * PyTorch: `/usr/bin/python3` with torch (Debian's `python3-torch`), the peer script
 * `../shared/peers/train/gpt_torch.py` (or `--peer PATH`). Prints a table and one JSON line.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { createNativeBackend } from "../src/backend/native/mod.ts";
import { type ModelConfig, presetConfig, type RwkvConfig } from "../src/model/mod.ts";
import { BENCH_GPT, benchTrainSteps } from "../src/train/bench.ts";

const args = Deno.args;
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const threadCounts = opt("--threads", "1,2").split(",").map(Number);
const rounds = Number(opt("--rounds", "2"));
const steps = Number(opt("--steps", "10"));
const peer = opt(
  "--peer",
  fileURLToPath(new URL("../../shared/peers/train/gpt_torch.py", import.meta.url)),
);
const models = args.includes("--only-llama") ? ["llama"] : [
  "gpt",
  ...(args.includes("--rwkv") ? ["rwkv"] : []),
  ...(args.includes("--llama") ? ["llama"] : []),
];
const twin = fileURLToPath(new URL("./reference/train_torch.py", import.meta.url));
const LLAMA: ModelConfig = presetConfig("llama-micro", 4096);

/** A random llm.c token file (version 1, uint16) for the twin's sampler; deleted at exit. */
async function randomTokenFile(count: number): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "bentevi-native-train-", suffix: ".bin" });
  const header = new Int32Array(256);
  header.set([20240520, 1, count]);
  const tokens = new Uint16Array(count);
  let x = 12345;
  for (let i = 0; i < count; i++) tokens[i] = (x = (x * 1103515245 + 12345) >>> 0) % 4096;
  const bytes = new Uint8Array(1024 + count * 2);
  bytes.set(new Uint8Array(header.buffer));
  bytes.set(new Uint8Array(tokens.buffer), 1024);
  await Deno.writeFile(path, bytes);
  return path;
}
const tokenFile = models.includes("llama") ? await randomTokenFile(200_000) : "";

async function run(cmd: string, cmdArgs: string[], env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args: cmdArgs, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${cmdArgs.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** The peer's RWKV-4: V4096 T128 d128 L4, channel mix 4·d (rwkv-micro is d256). */
const PEER_RWKV: RwkvConfig = {
  arch: "rwkv",
  vocabSize: 4096,
  contextLength: 128,
  dModel: 128,
  nLayer: 4,
  ffnDim: 512,
  layerNormEps: 1e-5,
};

async function bentevi(model: string, threads: number): Promise<number> {
  const backend = createNativeBackend({ threads });
  try {
    const r = await benchTrainSteps(backend, {
      config: model === "gpt" ? BENCH_GPT : model === "llama" ? LLAMA : PEER_RWKV,
      B: 8,
      steps,
      warmup: 2,
    });
    return r.tokensPerSecond;
  } finally {
    backend.destroy();
  }
}

async function torch(model: string, threads: number): Promise<number> {
  if (model === "llama") {
    const text = await run("/usr/bin/python3", [
      twin,
      ...["--model", "llama-micro", "--vocab", "4096", "--context", "128", "--batch-size", "8"],
      ...["--steps", String(steps), "--eval-batches", "1", "--threads", String(threads)],
      ...["--train", tokenFile, "--val", tokenFile],
    ], { OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) });
    const line = text.split("\n").find((l) => l.startsWith("RESULT "))!;
    return 8 * 128 / JSON.parse(line.slice(7)).step_seconds_median;
  }
  const text = await run("/usr/bin/python3", [
    peer,
    "--threads",
    String(threads),
    "--steps",
    String(steps),
    "--model",
    model,
  ], { OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) });
  const line = text.split("\n").find((l) => l.startsWith("RESULT "))!;
  return JSON.parse(line.slice(7)).tok_s_median;
}

const rows: Record<string, unknown>[] = [];
for (const model of models) {
  for (const threads of threadCounts) {
    const b: number[] = [], t: number[] = [];
    for (let r = 0; r < rounds; r++) {
      b.push(await bentevi(model, threads));
      t.push(await torch(model, threads));
    }
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    rows.push({
      model,
      threads,
      bentevi_native_tok_s: Math.round(mean(b)),
      pytorch_tok_s: Math.round(mean(t)),
      ratio: Math.round(mean(b) / mean(t) * 100) / 100,
      rounds: { bentevi: b.map(Math.round), pytorch: t.map(Math.round) },
    });
    const last = rows.at(-1)!;
    console.log(
      `${model} ${threads} thread(s): native ${last.bentevi_native_tok_s} tok/s, PyTorch ${last.pytorch_tok_s} tok/s → ${last.ratio}× (rounds ${
        b.map(Math.round).join("/")
      } vs ${t.map(Math.round).join("/")})`,
    );
  }
}
console.log(JSON.stringify({ steps, rounds, rows }));
if (tokenFile) await Deno.remove(tokenFile);
