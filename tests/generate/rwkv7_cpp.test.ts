// rwkv.cpp's tiny RWKV-7 (../shared/data) converted and run: the logits after `"in` match
// rwkv.cpp's expected ones; the carried state equals the parallel form.
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/mod.ts";
import { initWeights, loadCheckpoint, presetConfig, saveCheckpoint } from "../../src/model/mod.ts";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { convertRwkvCpp, readRwkvCpp } from "../../src/model/rwkv/cpp.ts";
import { rwkv7CppToWeights } from "../../src/model/rwkv7/cpp.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { maxAbsDiff } from "./reference.ts";

const DATA = new URL("../../../shared/data/models/rwkv-cpp-tiny/", import.meta.url).pathname;
const V7 = `${DATA}tiny-rwkv-7v0-834K-FP32.bin`;
const have = (() => {
  try {
    return Deno.statSync(V7).isFile;
  } catch {
    return false;
  }
})();
if (!have) {
  console.log("../shared/data/models/rwkv-cpp-tiny absent: skipping the rwkv.cpp v7 tests");
}

Deno.test({
  name: "convert rwkv-cpp: the tiny RWKV-7 gives rwkv.cpp's expected logits after `\"in`",
  ignore: !have,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = await convertRwkvCpp(V7, `${dir}/tiny7`);
      assert.equal(out.version, "7");
      assert.equal(out.config.arch, "rwkv7");
      const ckpt = await loadCheckpoint(`${dir}/tiny7`);
      assert.equal(ckpt.config.arch, "rwkv7");
      const expected = new Float32Array(
        (await Deno.readFile(`${DATA}expected-logits-7v0-834K.bin`)).buffer,
      );
      const backend = await createBackend("cpu");
      const model = createLanguageModel(backend, ckpt.config, ckpt.weights);
      let logits: Float32Array = new Float32Array(0);
      for (const byte of new TextEncoder().encode('"in')) logits = await model.feed([byte]);
      const d = maxAbsDiff(logits, expected);
      assert.ok(d < 2e-3, `max |Δ| ${d}`);
      // The parallel form over the three bytes ends at the same logits.
      const all = await model.forwardAll([...new TextEncoder().encode('"in')]);
      assert.ok(maxAbsDiff(all.subarray(2 * 256), logits) < 1e-4, "parallel vs recurrent");
      model.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "rwkv.cpp RWKV-7: a head size that does not fit and a missing tensor are named",
  ignore: !have,
  fn: async () => {
    const file = await readRwkvCpp(V7);
    const rk = file.tensors.get("blocks.0.att.r_k")!;
    file.tensors.set("blocks.0.att.r_k", { shape: [2, 48], data: new Float32Array(96) });
    assert.throws(
      () => rwkv7CppToWeights(file, "t.bin"),
      /t.bin: blocks.0.att.r_k has shape \[2,48\]: heads × head size must be n_embd 64/,
    );
    file.tensors.set("blocks.0.att.r_k", rk);
    file.tensors.delete("blocks.1.att.v2");
    assert.throws(() => rwkv7CppToWeights(file, "t.bin"), /tensor blocks.1.att.v2 is missing/);
  },
});

/** An rwkv.cpp file header (V 4, C 4, 1 layer) and FP32 tensors `[name, size]`. */
function ggmf(tensors: [string, number][]): Uint8Array {
  const parts: Uint8Array[] = [
    new Uint8Array(new Int32Array([0x67676d66, 101, 4, 4, 1, 0]).buffer),
  ];
  for (const [name, size] of tensors) {
    const key = new TextEncoder().encode(name);
    parts.push(new Uint8Array(new Int32Array([1, key.length, 0, size]).buffer), key);
    parts.push(new Uint8Array(4 * size));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

Deno.test("rwkv.cpp: an incomplete RWKV-6 or RWKV-5 names what is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, RegExp][] = [
      [
        "time_maa_x",
        /m.bin: tensor blocks.0.att.time_faaaa is missing \(not an RWKV-6 model\?\)/,
      ],
      [
        "ln_x.weight",
        /m.bin: tensor blocks.0.att.time_decay is missing \(not an RWKV-5.1 model\?\)/,
      ],
    ];
    for (const [tensor, message] of cases) {
      // The padding makes the file as large as its header requires.
      await Deno.writeFile(`${dir}/m.bin`, ggmf([[`blocks.0.att.${tensor}`, 4], ["pad", 64]]));
      await assert.rejects(convertRwkvCpp(`${dir}/m.bin`, `${dir}/out`), message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const [version, stem] of [["5.1", "5v1-730K"], ["5.2", "5v2-730K"]]) {
  Deno.test({
    name:
      `convert rwkv-cpp: the tiny RWKV-${version} gives rwkv.cpp's expected logits after \`"in\``,
    ignore: !have,
    fn: async () => {
      const dir = await Deno.makeTempDir();
      try {
        const out = await convertRwkvCpp(`${DATA}tiny-rwkv-${stem}-FP32.bin`, `${dir}/m`);
        assert.equal(out.version, version);
        const ckpt = await loadCheckpoint(`${dir}/m`);
        assert.equal(ckpt.config.arch, "rwkv5");
        const expected = new Float32Array(
          (await Deno.readFile(`${DATA}expected-logits-${stem}.bin`)).buffer,
        );
        const model = createLanguageModel(await createBackend("cpu"), ckpt.config, ckpt.weights);
        let logits: Float32Array = new Float32Array(0);
        const bytes = [...new TextEncoder().encode('"in')];
        for (const byte of bytes) logits = await model.feed([byte]);
        const d = maxAbsDiff(logits, expected);
        assert.ok(d < 2e-3, `max |Δ| ${d}`);
        const all = await model.forwardAll(bytes);
        assert.ok(maxAbsDiff(all.subarray(2 * 256), logits) < 1e-4, "parallel vs recurrent");
        model.dispose();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test("an RWKV-7 checkpoint: BlinkDL names round-trip, fla-hub names are refused by name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = presetConfig("rwkv7-micro", 64);
    const weights = initWeights(config, 3);
    await saveCheckpoint(`${dir}/ok`, { config, weights });
    const back = await loadCheckpoint(`${dir}/ok`);
    assert.equal(back.config.arch, "rwkv7");
    const x = back.weights.get("blocks.1.att.x_r")!;
    assert.deepEqual([...x.shape], [1, 1, 256]);
    assert.deepEqual([...x.data], [...weights.get("blocks.1.att.x_r")!.data]);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/ok/config.json`));
    assert.equal(json.model_type, "rwkv7");
    assert.equal(json.decay_low_rank_dim, 32);
    // The same config with a tensor under fla-hub's naming.
    await Deno.mkdir(`${dir}/fla`);
    await Deno.writeTextFile(`${dir}/fla/config.json`, JSON.stringify(json));
    const renamed = new Map(
      [...weights].map(([n, t]) => [n === "emb.weight" ? "model.embeddings.weight" : n, t]),
    );
    await writeSafetensors(`${dir}/fla/model.safetensors`, renamed);
    await assert.rejects(
      loadCheckpoint(`${dir}/fla`),
      /model.embeddings.weight uses Hugging Face\/fla-hub RWKV-7 names/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
