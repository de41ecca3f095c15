// PEFT adapter files: names and shapes as PEFT writes them, the saved-and-reloaded adapter
// giving identical logits, `adapter merge` giving the adapter-applied logits (float32
// rounding), and adapters for another base refused in one line.
import assert from "node:assert/strict";
import { join } from "node:path";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  baseIdentity,
  loadAdapter,
  saveAdapter,
} from "../../src/finetune/adapter_files.ts";
import { LORA_DEFAULTS, LoraModel, LoraPlan, type LoraSettings } from "../../src/finetune/lora.ts";
import { BenteviError } from "../../src/errors.ts";
import { mergeAdapter } from "../../src/finetune/merge.ts";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.ts";
import {
  createModel,
  initWeights,
  loadCheckpoint,
  type ModelConfig,
  ParameterStore,
  presetConfig,
  saveCheckpoint,
  Xoshiro128,
} from "../../src/model/mod.ts";
import { assertOneLineError, runCli } from "../_cli.ts";

type Weights = Map<string, { shape: number[]; data: Float32Array }>;

function small(preset: string): ModelConfig {
  return { ...presetConfig(preset, 64), nLayer: 2 } as ModelConfig;
}

/** An adapter with random A and B (as after training). */
function trainedAdapter(config: ModelConfig, s: Partial<LoraSettings> = {}) {
  const plan = new LoraPlan(config, { ...LORA_DEFAULTS, rank: 4, ...s });
  const rng = new Xoshiro128(11);
  const w = plan.initialWeights(2);
  const peft = plan.toPeft(w);
  for (const [n, t] of peft) {
    if (n.endsWith("lora_B.weight")) {
      for (let i = 0; i < t.data.length; i++) t.data[i] = 0.05 * rng.normal();
    }
  }
  return { plan, weights: plan.fromPeft(peft, "test") };
}

/** Logits `[B·T, V]` of the LoRA model (base + adapter weights) or of the plain model. */
async function logits(
  config: ModelConfig,
  base: Weights,
  adapter?: { plan: LoraPlan; weights: Weights },
) {
  const be = new CpuBackend();
  const B = 2, T = 16;
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 13 + 5) % config.vocabSize);
  let model;
  if (adapter) {
    const store = new ParameterStore(be, config, { gradients: false });
    store.load(base);
    const a = new ParameterStore(be, adapter.plan.specs);
    a.load(adapter.weights);
    model = new LoraModel(be, adapter.plan, store, a, B, T);
  } else {
    const store = new ParameterStore(be, config);
    store.load(base);
    model = createModel(be, config, store, B, T);
  }
  be.write(model.ids, ids);
  be.write(model.targets, ids);
  model.forward(false);
  return (await be.read(model.logits)) as Float32Array;
}

Deno.test("adapter files: PEFT names and shapes, config, identical logits after reload", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, Partial<LoraSettings>, string, number[], number[]][] = [
      ["gpt-micro", {}, "transformer.h.1.attn.c_attn", [4, 128], [384, 4]],
      [
        "llama-micro",
        { targets: ["q_proj", "v_proj", "gate_proj"] },
        "model.layers.0.self_attn.v_proj",
        [4, 128],
        [64, 4],
      ],
      ["rwkv-micro", {}, "rwkv.blocks.1.feed_forward.value", [4, 1024], [256, 4]],
    ];
    for (const [preset, s, path, aShape, bShape] of cases) {
      const config = small(preset);
      const base = initWeights(config, 1);
      const adapter = trainedAdapter(config, s);
      const out = join(dir, preset);
      const id = await baseIdentity(config, base);
      await saveAdapter(out, { ...adapter, base: id, baseName: "runs/base" });
      const file = await readSafetensors(join(out, ADAPTER_WEIGHTS_FILE));
      assert.deepEqual(file.tensors.get(`base_model.model.${path}.lora_A.weight`)?.shape, aShape);
      assert.deepEqual(file.tensors.get(`base_model.model.${path}.lora_B.weight`)?.shape, bShape);
      assert.equal(file.tensors.size, 2 * adapter.plan.layers.length);
      const json = JSON.parse(await Deno.readTextFile(join(out, ADAPTER_CONFIG_FILE)));
      assert.equal(json.peft_type, "LORA");
      assert.equal(json.task_type, "CAUSAL_LM");
      assert.equal(json.r, 4);
      assert.equal(json.lora_alpha, LORA_DEFAULTS.alpha);
      assert.equal(json.bias, "none");
      assert.equal(json.base_model_name_or_path, "runs/base");
      assert.equal(json.fan_in_fan_out, preset === "gpt-micro");
      assert.deepEqual(json.target_modules, adapter.plan.settings.targets);
      const loaded = await loadAdapter(out, config, id);
      const again = { plan: loaded.plan, weights: loaded.plan.fromPeft(loaded.peft, "x") };
      assert.deepEqual(await logits(config, base, again), await logits(config, base, adapter));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("adapter merge: the merged checkpoint's logits equal base + adapter", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, Partial<LoraSettings>][] = [
      ["gpt-micro", {}],
      ["llama-micro", { targets: ["k_proj", "o_proj", "down_proj"] }],
      ["rwkv-micro", {}],
    ];
    for (const [preset, s] of cases) {
      const config = small(preset);
      const base = initWeights(config, 1);
      const adapter = trainedAdapter(config, s);
      const baseDir = join(dir, `${preset}-base`), adDir = join(dir, `${preset}-ad`);
      await saveCheckpoint(baseDir, { config, weights: base });
      await saveAdapter(adDir, {
        ...adapter,
        base: await baseIdentity(config, base),
        baseName: baseDir,
      });
      const out = join(dir, `${preset}-merged`);
      if (preset === "gpt-micro") {
        const r = await runCli([
          "adapter",
          "merge",
          "--base",
          baseDir,
          "--adapter",
          adDir,
          "--out",
          out,
          "--json",
        ], {
          permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"],
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).layers, adapter.plan.layers.length);
      } else {
        await mergeAdapter({ base: baseDir, adapter: adDir, out });
      }
      const merged = (await loadCheckpoint(out)).weights as Weights;
      const want = await logits(config, base, adapter);
      const got = await logits(config, merged);
      const plain = await logits(config, base);
      let worst = 0, moved = 0;
      for (let i = 0; i < want.length; i++) {
        worst = Math.max(worst, Math.abs(want[i] - got[i]));
        moved = Math.max(moved, Math.abs(want[i] - plain[i]));
      }
      assert.ok(moved > 1e-3, `${preset}: the adapter changes nothing (${moved})`);
      assert.ok(worst < 2e-5, `${preset}: merged logits differ by ${worst}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("adapters for another base are refused in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = small("gpt-micro");
    const base = initWeights(config, 1);
    const adapter = trainedAdapter(config, { targets: ["c_attn"] });
    const ad = join(dir, "ad");
    await saveAdapter(ad, { ...adapter, base: await baseIdentity(config, base), baseName: "b" });
    const refused = async (c: ModelConfig, w: Weights | null, pattern: RegExp) => {
      await assert.rejects(
        async () => loadAdapter(ad, c, w ? await baseIdentity(c, w) : undefined),
        (e: Error) =>
          e instanceof BenteviError && pattern.test(e.message) && !e.message.includes("\n"),
      );
    };
    await refused(
      config,
      initWeights(config, 2),
      /made for another base model \(same shapes, different weights/,
    );
    const llama = small("llama-micro");
    await refused(llama, null, /another base model \(family gpt, this base is llama\)/);
    await refused({ ...config, vocabSize: 65 }, null, /vocabulary 64, this base has 65/);
    await refused({ ...config, nLayer: 3 } as ModelConfig, null, /configuration differs/);
    // A PEFT file without Bentevi's record: shapes still checked.
    const file = await readSafetensors(join(ad, ADAPTER_WEIGHTS_FILE));
    await writeSafetensors(join(ad, ADAPTER_WEIGHTS_FILE), file.tensors, {});
    await refused(
      { ...config, dModel: 64, nHead: 2 } as ModelConfig,
      null,
      /has shape \[4,128\], this base needs \[4,64\]/,
    );
    await loadAdapter(ad, config); // PEFT's own adapters carry no record: accepted on shapes
    file.tensors.set("base_model.model.transformer.h.0.attn.c_proj.lora_A.weight", {
      shape: [4, 128],
      data: new Float32Array(512),
    });
    await writeSafetensors(join(ad, ADAPTER_WEIGHTS_FILE), file.tensors, {});
    await refused(
      config,
      null,
      /unexpected tensor base_model\.model\.transformer\.h\.0\.attn\.c_proj\.lora_A\.weight/,
    );
    const cfg = JSON.parse(await Deno.readTextFile(join(ad, ADAPTER_CONFIG_FILE)));
    await Deno.writeTextFile(
      join(ad, ADAPTER_CONFIG_FILE),
      JSON.stringify({ ...cfg, target_modules: ["q_proj"] }),
    );
    await refused(config, null, /unknown target module "q_proj" for gpt/);
    await Deno.writeTextFile(join(ad, ADAPTER_CONFIG_FILE), JSON.stringify({ ...cfg, r: 200 }));
    await refused(config, null, /rank 200 is larger than layer/);
    await Deno.writeTextFile(
      join(ad, ADAPTER_CONFIG_FILE),
      JSON.stringify({ ...cfg, peft_type: "IA3" }),
    );
    await refused(config, null, /peft_type is "IA3"/);
    // The CLI: one line, nothing written.
    const baseDir = join(dir, "base");
    await saveCheckpoint(baseDir, { config, weights: base });
    const r = await runCli([
      "adapter",
      "merge",
      "--base",
      baseDir,
      "--adapter",
      join(dir, "none"),
      "--out",
      join(dir, "m"),
    ]);
    assertOneLineError(r, /not an adapter directory/);
    await assert.rejects(Deno.stat(join(dir, "m")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
