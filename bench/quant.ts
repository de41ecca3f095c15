/**
 * Quantized inference against llama.cpp, side by side on the same GGUF files: for each model,
 * each storage type (F32, Q8_0, Q4_0) is exported once, then for each thread count Bentevi
 * (`--device native`: the C kernels and OpenBLAS with that many threads; `--device cpu`: the
 * TypeScript backend, one JS thread; the file's own type) and node-llama-cpp 3.21.1 (llama.cpp's
 * prebuilt CPU binary, the same thread count, in a child process) are run alternately, twice
 * each (A, B, A, B; `--rounds N` for N rounds): RSS growth while loading, prefill tokens/s (a 64-token Portuguese prompt; `--prompt N` tokens)
 * and decode tokens/s (greedy; `--decode N` tokens instead of the model's default; `--context N` sets
 * every model's context length and llama.cpp's context size, 512 by default for llama-100m). `--kernels avx2,avx512` runs Bentevi once per listed
 * quantized-matmul kernel in each round (A1, A2, B, A1, A2, B; `quantKernelPath`: same bits,
 * different speed; default `auto`, the best this CPU has). Random weights (speed does not depend on them); the tokenizer
 * is trained on Machado's novels (`../shared/data/pt/machado/romance`) or GPT-2's for the
 * reference model.
 *
 * ```sh
 * deno run -A bench/quant.ts [--device native|cpu] [--threads 1,2] [--quick] [--json] \
 *   [--models ref,gpt-mini,llama-100m] [--types f32,q8_0,q4_0] \
 *   [--kernels auto|portable|avx2|avx512,…] [--rounds 2] [--decode N] [--prompt 64] [--context N] \
 *   [--shared ../shared/data] [--work /tmp/gguf-bench]
 * ```
 *
 * Needs `-A`: the peer runs with `--allow-sys=homedir,uid` (tests/gguf/_llama_peer.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  loadNativeCompute,
  type QuantKernelPath,
  quantKernelPath,
  setDefaultThreads,
} from "../src/backend/native/mod.ts";
import { openGenerationModel } from "../src/generate/load.ts";
import { exportGguf, type GgufExportType } from "../src/gguf/export.ts";
import { initWeights, presetConfig, saveCheckpoint } from "../src/model/mod.ts";
import type { ModelConfig } from "../src/model/registry.ts";
import { Tokenizer, trainTokenizer } from "../src/tokenizer/mod.ts";
import { cpuSeconds, runLlamaPeer } from "../tests/gguf/_llama_peer.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    json: { type: "boolean" },
    models: { type: "string", default: "ref,gpt-mini,llama-100m" },
    shared: { type: "string", default: "../shared/data" },
    device: { type: "string", default: "native" },
    threads: { type: "string", default: "1" },
    types: { type: "string", default: "f32,q8_0,q4_0" },
    work: { type: "string", default: "/tmp/gguf-bench" },
    kernels: { type: "string", default: "auto" },
    rounds: { type: "string" },
    decode: { type: "string" },
    prompt: { type: "string", default: "64" },
    context: { type: "string" },
  },
});
const device = values.device as "native" | "cpu";
if (device !== "native" && device !== "cpu") throw new Error(`--device ${device}: native or cpu`);
const threadCounts = values.threads!.split(",").map(Number);
const WORK = values.work!;
const kernels = values.kernels!.split(",") as (QuantKernelPath | "auto")[];
const native = device === "native" ? loadNativeCompute() : null;
if (typeof native === "string") throw new Error(native);
if (!native && values.kernels !== "auto") throw new Error("--kernels needs --device native");
for (const k of kernels) {
  if (native && quantKernelPath(native, k) === null) throw new Error(`--kernels ${k}: not here`);
}
const MACHADO = `${values.shared}/pt/machado/romance`;
const GPT2_TOKENIZER = `${values.shared}/tokenizer/gpt2/tokenizer.json`;
await Deno.mkdir(WORK, { recursive: true });

async function machadoTokenizer(): Promise<Tokenizer> {
  const path = `${WORK}/machado-4096.json`;
  try {
    return await Tokenizer.fromFile(path);
  } catch {
    const files = [...Deno.readDirSync(MACHADO)].map((e) => `${MACHADO}/${e.name}`).sort();
    const tok = await trainTokenizer(files.slice(0, 4), { vocabSize: 4096 });
    await tok.save(path);
    return tok;
  }
}

interface Spec {
  name: string;
  tokenizer: () => Promise<Tokenizer>;
  config: (V: number) => ModelConfig;
  decode: number;
}

const SPECS: Spec[] = [
  {
    // The issue's reference: d 64, 2 layers, GPT-2's vocabulary.
    name: "ref",
    tokenizer: () => Tokenizer.fromFile(GPT2_TOKENIZER),
    config: (V) => ({
      arch: "gpt",
      vocabSize: V,
      contextLength: 256,
      dModel: 64,
      nLayer: 2,
      nHead: 2,
      mlpDim: 256,
      layerNormEps: 1e-5,
    }),
    decode: 64,
  },
  {
    name: "gpt-mini",
    tokenizer: machadoTokenizer,
    config: (V) => presetConfig("gpt-mini", V),
    decode: 64,
  },
  {
    // llama-160m's shape (TeenyTinyLlama) with a 4096-token vocabulary: 116 M parameters.
    name: "llama-100m",
    tokenizer: machadoTokenizer,
    config: (V) => ({ ...presetConfig("llama-160m", V), contextLength: 512 }),
    decode: 16,
  },
];

interface Row {
  model: string;
  params: number;
  type: typeof types[number];
  fileMB: number;
  who: "bentevi" | "llama.cpp";
  /** Bentevi's quantized-matmul kernel (`--kernels`); "" for llama.cpp. */
  kernel: string;
  threads: number;
  loadRssMB: number;
  prefillTps: number;
  decodeTps: number;
  /** Decode tokens per CPU-second of the process (all its threads): less sensitive to load. */
  decodeTpcs: number;
}

const rows: Row[] = [];
const log = (s: string) => values.json || console.error(s);
const text = Deno.readTextFileSync(`${MACHADO}/${[...Deno.readDirSync(MACHADO)][0].name}`);
const types = (["f32", "q8_0", "q4_0"] as const satisfies readonly GgufExportType[]).filter((t) =>
  values.types!.split(",").includes(t)
);
const reps = values.rounds ? Number(values.rounds) : values.quick ? 1 : 2;
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--rounds ${values.rounds}: a count ≥ 1`);
const decodeOverride = values.decode ? Number(values.decode) : null;
const promptTokens = Number(values.prompt);
if (!Number.isInteger(promptTokens) || promptTokens < 9) {
  throw new Error(`--prompt ${values.prompt}: a token count ≥ 9`);
}
if (decodeOverride !== null && !(Number.isInteger(decodeOverride) && decodeOverride >= 1)) {
  throw new Error(`--decode ${values.decode}: a token count ≥ 1`);
}
const contextOverride = values.context ? Number(values.context) : null;
if (contextOverride !== null && !(Number.isInteger(contextOverride) && contextOverride >= 16)) {
  throw new Error(`--context ${values.context}: a token count ≥ 16`);
}

for (const spec of SPECS.filter((s) => values.models!.split(",").includes(s.name))) {
  const tok = await spec.tokenizer();
  const config = spec.config(tok.vocabSize);
  if (contextOverride !== null) config.contextLength = contextOverride;
  if (promptTokens + (decodeOverride ?? spec.decode) + 1 > config.contextLength) {
    throw new Error(
      `${spec.name}: --prompt ${promptTokens} and ${
        decodeOverride ?? spec.decode
      } decoded tokens ` +
        `do not fit its context of ${config.contextLength} (--context N)`,
    );
  }
  const weights = initWeights(config, 1);
  let params = 0;
  for (const t of weights.values()) params += t.data.length;
  const ckpt = `${WORK}/${spec.name}`;
  await saveCheckpoint(ckpt, { config, weights, tokenizer: tok });
  weights.clear();
  const prompt = tok.encode(text.slice(20000, 20000 + 200 * promptTokens)).slice(0, promptTokens);
  if (prompt.length < promptTokens) {
    throw new Error(`--prompt ${promptTokens}: the text is too short`);
  }
  for (const type of types) {
    const file = `${WORK}/${spec.name}-${type}.gguf`;
    await exportGguf(ckpt, { out: file, type });
    const fileMB = Deno.statSync(file).size / 2 ** 20;
    for (const threads of threadCounts) {
      for (let rep = 0; rep < reps; rep++) {
        for (const kernel of kernels) {
          // Bentevi
          if (native) {
            setDefaultThreads(threads);
            quantKernelPath(native, kernel);
          }
          const rss0 = Deno.memoryUsage().rss;
          const g = await openGenerationModel(file, { device, quantize: type, log: () => {} });
          const loadRssMB = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
          // Warm-up (compiles the kernels' JavaScript), then from an empty state.
          await g.model.feed(prompt.slice(0, 8));
          await g.model.feed([prompt[8]]);
          g.model.reset();
          const t0 = performance.now();
          let logits = await g.model.feed(prompt);
          const t1 = performance.now();
          const c2 = cpuSeconds();
          const t2 = performance.now();
          const decode = decodeOverride ?? spec.decode;
          const into = new Float32Array(logits.length); // one logits array, as generate() keeps
          for (let i = 0; i < decode; i++) {
            let best = 0;
            for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
            logits = await g.model.feed([best], into);
          }
          const t3 = performance.now();
          const c3 = cpuSeconds();
          g.model.dispose();
          g.model.backend.destroy();
          rows.push({
            model: spec.name,
            params,
            type,
            fileMB,
            who: "bentevi",
            kernel,
            threads,
            loadRssMB,
            prefillTps: prompt.length / ((t1 - t0) / 1000),
            decodeTps: decode / ((t3 - t2) / 1000),
            decodeTpcs: decode / (c3 - c2),
          });
        }
        // llama.cpp
        const [a] = await runLlamaPeer(
          [{
            model: file,
            bench: {
              prompt,
              decode: decodeOverride ?? spec.decode,
              context: Math.max(512, config.contextLength),
            },
          }],
          threads,
        );
        const b = a.bench!;
        rows.push({
          model: spec.name,
          params,
          type,
          fileMB,
          who: "llama.cpp",
          kernel: "",
          threads,
          loadRssMB: b.loadRssMB,
          prefillTps: prompt.length / b.prefillSeconds,
          decodeTps: b.decoded / b.decodeSeconds,
          decodeTpcs: b.decoded / b.decodeCpuSeconds!,
        });
        const y = rows.at(-1)!;
        for (const x of rows.slice(-1 - kernels.length, -1)) {
          log(
            `${spec.name} ${type} ${threads}t ${x.kernel} rep ${rep}: decode ${
              x.decodeTps.toFixed(1)
            } vs ${y.decodeTps.toFixed(1)} tok/s (per CPU-second ${x.decodeTpcs.toFixed(1)} vs ${
              y.decodeTpcs.toFixed(1)
            }), ` +
              `prefill ${x.prefillTps.toFixed(0)} vs ${y.prefillTps.toFixed(0)} tok/s`,
          );
        }
      }
    }
  }
}

/** Bentevi's decode tokens/s over llama.cpp's, round by round (each pair ran back to back). */
const rounds = new Map<string, number[]>();
for (let i = 0; i + kernels.length < rows.length; i += kernels.length + 1) {
  const peer = rows[i + kernels.length];
  for (const r of rows.slice(i, i + kernels.length)) {
    const k = `${r.model}|${r.type}|${r.threads}|${r.kernel}`;
    rounds.set(k, [...rounds.get(k) ?? [], r.decodeTps / peer.decodeTps]);
  }
}

/** Best of the repetitions per (model, type, who): the least disturbed run on a busy machine. */
const best = new Map<string, Row>();
for (const r of rows) {
  const k = `${r.model}|${r.type}|${r.threads}|${r.who}${r.kernel}`;
  const o = best.get(k);
  if (!o || r.decodeTps > o.decodeTps) {
    best.set(k, {
      ...r,
      prefillTps: Math.max(r.prefillTps, o?.prefillTps ?? 0),
      decodeTpcs: Math.max(r.decodeTpcs, o?.decodeTpcs ?? 0),
    });
  }
}
if (values.json) console.log(JSON.stringify({ rows, best: [...best.values()] }, null, 2));
else {
  console.log(
    `Bentevi: --device ${device}; load average ${
      Deno.loadavg().map((x) => x.toFixed(1)).join(" ")
    } at the end\n` +
      "| model | params | type | threads | kernel | file MB | Bentevi load RSS MB | llama.cpp load RSS MB | Bentevi prefill tok/s | llama.cpp prefill tok/s | Bentevi decode tok/s | llama.cpp decode tok/s | decode ratio | prefill ratio | decode tok per CPU-s (B / l) | decode ratio per round |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const spec of SPECS) {
    for (const type of types) {
      for (const threads of threadCounts) {
        for (const kernel of kernels) {
          const a = best.get(`${spec.name}|${type}|${threads}|bentevi${kernel}`),
            b = best.get(`${spec.name}|${type}|${threads}|llama.cpp`);
          if (!a || !b) continue;
          console.log(
            `| ${spec.name} | ${
              (a.params / 1e6).toFixed(1)
            }M | ${type} | ${threads} | ${kernel} | ${a.fileMB.toFixed(1)} | ${
              a.loadRssMB.toFixed(0)
            } | ${b.loadRssMB.toFixed(0)} | ${a.prefillTps.toFixed(0)} | ${
              b.prefillTps.toFixed(0)
            } | ${a.decodeTps.toFixed(1)} | ${b.decodeTps.toFixed(1)} | ${
              (a.decodeTps / b.decodeTps).toFixed(2)
            }× | ${(a.prefillTps / b.prefillTps).toFixed(2)}× | ${a.decodeTpcs.toFixed(0)} / ${
              b.decodeTpcs.toFixed(0)
            } | ${
              (rounds.get(`${spec.name}|${type}|${threads}|${kernel}`) ?? []).map((r) =>
                r.toFixed(2)
              ).join(
                ", ",
              )
            } |`,
          );
        }
      }
    }
  }
}
