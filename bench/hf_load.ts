/**
 * Load time and resident memory of a Hugging Face checkpoint directory: writes a random one
 * (`llama-160m`: TeenyTinyLlama-160m's shape, 162 M parameters; or `gpt2-small`) in F32 or
 * BF16 under a temporary folder, then, each in a fresh child process and alternating, opens it
 * for generation on the CPU backend the way `generate` does (`openGenerationModel`: tensors
 * read one at a time straight into the model's buffers) and the way Bentevi did before
 * (`whole`: the file read whole, every tensor decoded, then the model built), and prints the
 * seconds and the peak resident set (`/usr/bin/time -f %M`) of each run. The folder is
 * deleted after.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-ffi --allow-run bench/hf_load.ts \
 *   --shape llama-160m --dtype BF16 --runs 2
 * ```
 *
 * `--keep DIR` writes the checkpoint under DIR and leaves it there (`--runs 0`: only write).
 *
 * Needs GNU time at /usr/bin/time. Permissions: read/write (the temporary folder),
 * env, ffi, run (the children).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { openGenerationModel } from "../src/generate/load.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";
import { canonicalWeights, configFromJson } from "../src/model/mod.ts";
import { createLanguageModel } from "../src/generate/inference.ts";
import { createBackend } from "../src/backend/mod.ts";
import { Tokenizer } from "../src/tokenizer/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    shape: { type: "string", default: "llama-160m" },
    dtype: { type: "string", default: "BF16" },
    runs: { type: "string", default: "2" },
    child: { type: "string" },
    mode: { type: "string" },
    keep: { type: "string" },
  },
});

/** Current resident set of this process, MiB. */
function rss(): number {
  return Deno.memoryUsage().rss / 2 ** 20;
}

if (values.child) {
  // A child: open `dir` one way, report JSON on stdout.
  const dir = values.child;
  const before = rss();
  const t0 = performance.now();
  let params = 0;
  if (values.mode === "bounded") {
    const { model } = await openGenerationModel(dir, { device: "cpu", log: () => {} });
    await model.feed([1]);
    params = model.config.vocabSize;
  } else {
    // What loadCheckpoint + openGenerationModel did before: the file whole, every tensor
    // decoded, then uploaded.
    const config = configFromJson(JSON.parse(await Deno.readTextFile(join(dir, "config.json"))));
    const file = decodeSafetensors(await Deno.readFile(join(dir, "model.safetensors")), "m", {
      finite: true,
    });
    const weights = canonicalWeights(file.tensors, config, "m");
    const model = createLanguageModel(await createBackend("cpu"), config, weights, "m");
    await model.feed([1]);
    params = model.config.vocabSize;
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ seconds, before, after: rss(), params }));
  Deno.exit(0);
}

type Shape = Record<string, number | boolean | string | string[]>;
const SHAPES: Record<string, Shape> = {
  "llama-160m": {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: 32000,
    hidden_size: 768,
    intermediate_size: 3072,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    num_key_value_heads: 12,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    hidden_act: "silu",
  },
  "gpt2-small": {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: 50257,
    n_positions: 1024,
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    layer_norm_epsilon: 1e-5,
    activation_function: "gelu_new",
  },
};

/** The tensors (HF names and shapes) of a shape. */
function tensorsOf(s: Shape): [string, number[]][] {
  const n = (k: string) => s[k] as number;
  const out: [string, number[]][] = [];
  if (s.model_type === "llama") {
    const C = n("hidden_size"), F = n("intermediate_size"), V = n("vocab_size");
    out.push(["model.embed_tokens.weight", [V, C]]);
    for (let l = 0; l < n("num_hidden_layers"); l++) {
      const p = `model.layers.${l}`;
      out.push(
        [`${p}.input_layernorm.weight`, [C]],
        [`${p}.self_attn.q_proj.weight`, [C, C]],
        [`${p}.self_attn.k_proj.weight`, [C, C]],
        [`${p}.self_attn.v_proj.weight`, [C, C]],
        [`${p}.self_attn.o_proj.weight`, [C, C]],
        [`${p}.post_attention_layernorm.weight`, [C]],
        [`${p}.mlp.gate_proj.weight`, [F, C]],
        [`${p}.mlp.up_proj.weight`, [F, C]],
        [`${p}.mlp.down_proj.weight`, [C, F]],
      );
    }
    out.push(["model.norm.weight", [C]], ["lm_head.weight", [V, C]]);
  } else {
    const C = n("n_embd"), V = n("vocab_size"), T = n("n_positions");
    out.push(["transformer.wte.weight", [V, C]], ["transformer.wpe.weight", [T, C]]);
    for (let l = 0; l < n("n_layer"); l++) {
      const p = `transformer.h.${l}`;
      out.push(
        [`${p}.ln_1.weight`, [C]],
        [`${p}.ln_1.bias`, [C]],
        [`${p}.attn.c_attn.weight`, [C, 3 * C]],
        [`${p}.attn.c_attn.bias`, [3 * C]],
        [`${p}.attn.c_proj.weight`, [C, C]],
        [`${p}.attn.c_proj.bias`, [C]],
        [`${p}.ln_2.weight`, [C]],
        [`${p}.ln_2.bias`, [C]],
        [`${p}.mlp.c_fc.weight`, [C, 4 * C]],
        [`${p}.mlp.c_fc.bias`, [4 * C]],
        [`${p}.mlp.c_proj.weight`, [4 * C, C]],
        [`${p}.mlp.c_proj.bias`, [C]],
      );
    }
    out.push(["transformer.ln_f.weight", [C]], ["transformer.ln_f.bias", [C]]);
  }
  return out;
}

/** Writes a random checkpoint tensor by tensor (never the whole file in memory). */
async function writeRandom(dir: string, s: Shape, dtype: "F32" | "BF16"): Promise<number> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(s, null, 2));
  await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(Tokenizer.byteLevel()));
  const width = dtype === "F32" ? 4 : 2;
  const list = tensorsOf(s);
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let off = 0, params = 0;
  for (const [name, shape] of list) {
    const count = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype, shape, data_offsets: [off, off + count * width] };
    off += count * width;
    params += count;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += " ";
  const file = await Deno.open(join(dir, "model.safetensors"), { write: true, create: true });
  const write = async (b: Uint8Array) => {
    for (let o = 0; o < b.length;) o += await file.write(b.subarray(o));
  };
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
  await write(len);
  await write(new TextEncoder().encode(json));
  let state = 12345;
  for (const [name, shape] of list) {
    const count = shape.reduce((a, b) => a * b, 1);
    const f = new Float32Array(count);
    const isNorm = shape.length === 1;
    for (let i = 0; i < count; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      f[i] = isNorm && name.endsWith("weight") ? 1 : (state / 2 ** 32 - 0.5) * 0.04;
    }
    if (dtype === "F32") await write(new Uint8Array(f.buffer));
    else {
      const u = new Uint32Array(f.buffer);
      const h = new Uint16Array(count);
      for (let i = 0; i < count; i++) h[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;
      await write(new Uint8Array(h.buffer));
    }
  }
  file.close();
  return params;
}

const shape = SHAPES[values.shape!];
if (!shape) throw new Error(`--shape: one of ${Object.keys(SHAPES).join(", ")}`);
const dtype = values.dtype === "F32" ? "F32" : "BF16";
const root = values.keep ?? await Deno.makeTempDir({ prefix: "bentevi-hf-load-" });
try {
  const dir = join(root, values.shape!);
  const t0 = performance.now();
  const params = await writeRandom(dir, shape, dtype);
  const size = (await Deno.stat(join(dir, "model.safetensors"))).size;
  console.log(
    `${values.shape} ${dtype}: ${params.toLocaleString("en")} parameters, ` +
      `${(size / 2 ** 20).toFixed(0)} MiB file, written in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
  );
  const results: Record<string, { seconds: number; peak: number; rss: number }[]> = {
    bounded: [],
    whole: [],
  };
  for (let r = 0; r < Number(values.runs); r++) {
    for (const mode of ["bounded", "whole"]) {
      const out = await new Deno.Command("/usr/bin/time", {
        args: [
          "-f",
          "MAXRSS %M",
          Deno.execPath(),
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-ffi",
          "--allow-run",
          import.meta.filename!,
          "--child",
          dir,
          "--mode",
          mode,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      if (!out.success) {
        console.log(`${mode}: failed: ${new TextDecoder().decode(out.stderr).slice(-500)}`);
        continue;
      }
      const j = JSON.parse(text.split("\n").at(-1)!);
      const peak = Number(/MAXRSS (\d+)/.exec(new TextDecoder().decode(out.stderr))![1]) / 1024;
      results[mode].push({ seconds: j.seconds, peak, rss: j.after });
      console.log(
        `  run ${r + 1} ${mode.padEnd(7)}: ${j.seconds.toFixed(2)} s to load + 1 token, ` +
          `peak RSS ${peak.toFixed(0)} MiB (at start ${j.before.toFixed(0)} MiB), ` +
          `RSS after ${j.after.toFixed(0)} MiB`,
      );
    }
  }
  const best = (m: string, k: "seconds" | "peak") => Math.min(...results[m].map((x) => x[k]));
  if (results.bounded.length && results.whole.length) {
    console.log(
      `best: bounded ${best("bounded", "seconds").toFixed(2)} s / ${
        best("bounded", "peak").toFixed(0)
      } MiB peak; whole-file ${best("whole", "seconds").toFixed(2)} s / ${
        best("whole", "peak").toFixed(0)
      } MiB peak; F32 weights alone ${(params * 4 / 2 ** 20).toFixed(0)} MiB`,
    );
  }
} finally {
  if (!values.keep) await Deno.remove(root, { recursive: true });
}
