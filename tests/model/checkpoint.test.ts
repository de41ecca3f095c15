import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { encodeSafetensors, readSafetensors } from "../../src/io/safetensors.ts";
import {
  configFromJson,
  configToJson,
  type GptConfig,
  initWeights,
  loadCheckpoint,
  MODEL_PRESETS,
  parameterCount,
  presetConfig,
  saveCheckpoint,
  weightSpecs,
} from "../../src/model/mod.ts";
import { moduleTempDir } from "../_tmp.ts";

const tmp = await moduleTempDir({ prefix: "bentevi-ckpt-test-" });
const shared = new URL("../../../shared/data/models/", import.meta.url).pathname;
const haveShared = await Deno.stat(shared).then(() => true, () => false);
if (!haveShared) console.log(`HF GPT-2 checkpoint tests skipped: ${shared} not found`);

function isBentevi(re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof BenteviError, `expected a BenteviError, got ${e}`);
    assert.match((e as Error).message, re);
    return true;
  };
}

Deno.test("presets: exact parameter counts, unknown names listed", () => {
  assert.equal(parameterCount(presetConfig("gpt2-small", 50257)), 124439808);
  assert.equal(parameterCount(presetConfig("gpt-micro", 4096)), 1334016);
  for (const name of MODEL_PRESETS) {
    const c = presetConfig(name, 1000);
    const sum = weightSpecs(c).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
    assert.equal(sum, parameterCount(c), name);
  }
  assert.throws(() => presetConfig("gpt-huge", 10), isBentevi(/available: .*rwkv-micro/));
});

Deno.test("config.json: Hugging Face GPT2Config fields and a round trip for both models", () => {
  const gpt = presetConfig("gpt-micro", 300);
  const j = configToJson(gpt);
  assert.equal(j.model_type, "gpt2");
  assert.equal(j.activation_function, "gelu_new");
  assert.deepEqual(j.architectures, ["GPT2LMHeadModel"]);
  assert.equal(j.n_embd, 128);
  assert.deepEqual(configFromJson(JSON.parse(JSON.stringify(j))), gpt);
  const rwkv = presetConfig("rwkv-mini", 300);
  assert.deepEqual(configFromJson(configToJson(rwkv)), rwkv);
  assert.throws(
    () => configFromJson({ model_type: "mistral" }, "x.json"),
    isBentevi(/x.json: unsupported/),
  );
  assert.throws(
    () => configFromJson({ model_type: "gpt2", vocab_size: 5, n_embd: 6, n_layer: 1, n_head: 4 }),
    isBentevi(/not a multiple of nHead/),
  );
});

for (const name of ["gpt-micro", "rwkv-micro"]) {
  Deno.test(`${name}: checkpoint round trip (weights, config, tokenizer, metadata)`, async () => {
    const config = { ...presetConfig(name, 50), nLayer: 1 } as ReturnType<typeof presetConfig>;
    const weights = initWeights(config, 9);
    const dir = `${tmp}/${name}`;
    await Deno.writeTextFile(`${tmp}/tok.json`, '{"model":{}}');
    await saveCheckpoint(dir, {
      config,
      weights,
      tokenizer: `${tmp}/tok.json`,
      metadata: { note: "olá" },
    });
    const back = await loadCheckpoint(dir);
    assert.deepEqual(back.config, config);
    assert.equal(back.metadata.note, "olá");
    assert.equal(back.metadata.format, "pt");
    assert.equal(back.tokenizerPath, `${dir}/tokenizer.json`);
    for (const [k, t] of weights) {
      assert.deepEqual(back.weights.get(k)!.shape, t.shape, k);
      assert.deepEqual(back.weights.get(k)!.data, t.data, k);
    }
    const raw = await readSafetensors(`${dir}/model.safetensors`);
    if (config.arch === "gpt") {
      assert.ok(raw.tensors.has("transformer.h.0.attn.c_attn.weight"));
    } else {
      assert.deepEqual(raw.tensors.get("blocks.0.att.time_mix_k")!.shape, [1, 1, config.dModel]);
    }
    // No temporary directories are left beside the checkpoint.
    const left = [];
    for await (const e of Deno.readDir(tmp)) if (e.name.endsWith(".tmp")) left.push(e.name);
    assert.deepEqual(left, []);
  });
}

Deno.test("a checkpoint from another model, or with a foreign tensor, is refused", async () => {
  const config: GptConfig = { ...(presetConfig("gpt-micro", 40) as GptConfig), nLayer: 1 };
  const dir = `${tmp}/other`;
  await saveCheckpoint(dir, { config, weights: initWeights(config, 1) });
  // config says 2 layers, weights have 1
  const j = configToJson({ ...config, nLayer: 2 });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(j));
  await assert.rejects(() => loadCheckpoint(dir), isBentevi(/h\.1\.ln_1\.weight is missing/));
  // config with another width
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify(configToJson({ ...config, dModel: 64, nHead: 4 })),
  );
  await assert.rejects(
    () => loadCheckpoint(dir),
    isBentevi(/has shape \[40,128\], the configuration needs \[40,64\]/),
  );
  // an untied lm_head
  const w = initWeights(config, 1);
  const tensors = new Map([...w].map(([k, t]) => [`transformer.${k}`, t]));
  tensors.set("lm_head.weight", { shape: [40, 128], data: new Float32Array(40 * 128).fill(0.5) });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(configToJson(config)));
  await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
  await assert.rejects(() => loadCheckpoint(dir), isBentevi(/lm_head.weight differs/));
  // a tied one equal to wte is accepted
  tensors.set("lm_head.weight", w.get("wte.weight")!);
  await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
  assert.equal((await loadCheckpoint(dir)).weights.size, weightSpecs(config).length);
  // an unexpected tensor
  tensors.set("transformer.h.7.mlp.c_fc.weight", { shape: [1], data: new Float32Array(1) });
  await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
  await assert.rejects(() => loadCheckpoint(dir), isBentevi(/unexpected weight\(s\) h\.7/));
  await assert.rejects(() => loadCheckpoint(`${tmp}/none`), isBentevi(/not found/));
});

Deno.test("truncated or tampered safetensors are refused with the file named", async () => {
  const config = { ...presetConfig("rwkv-micro", 20), nLayer: 1 } as ReturnType<
    typeof presetConfig
  >;
  const dir = `${tmp}/tamper`;
  await saveCheckpoint(dir, { config, weights: initWeights(config, 1) });
  const path = `${dir}/model.safetensors`;
  const good = await Deno.readFile(path);
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));
  const header = new TextDecoder().decode(good.subarray(8, 8 + n));
  const cases: [string, Uint8Array, RegExp][] = [];
  // truncated file
  cases.push(["truncated", good.subarray(0, good.length - 100), /outside the \d+ data bytes/]);
  // header length larger than the file
  const badLen = good.slice();
  new DataView(badLen.buffer).setBigUint64(0, BigInt(good.length), true);
  cases.push(["header length", badLen, /header length/]);
  // wrong dtype and offsets out of range (same header length: pad with spaces)
  const rewrite = (h: string) => {
    const bytes = new TextEncoder().encode(h.padEnd(n, " "));
    assert.equal(bytes.length, n);
    const out = good.slice();
    out.set(bytes, 8);
    return out;
  };
  cases.push(["dtype", rewrite(header.replace('"F32"', '"I8"')), /unsupported dtype I8/]);
  // the last tensor's end offset made larger (same number of digits, so the header keeps its length)
  const all = [...header.matchAll(/"data_offsets":\[(\d+),(\d+)\]/g)];
  const last = all.reduce((a, b) => (Number(b[2]) > Number(a[2]) ? b : a));
  cases.push([
    "offsets",
    rewrite(header.replace(last[0], `"data_offsets":[${last[1]},${"9".repeat(last[2].length)}]`)),
    /outside the \d+ data bytes/,
  ]);
  for (const [what, bytes, re] of cases) {
    await Deno.writeFile(path, bytes);
    await assert.rejects(() => loadCheckpoint(dir), (e: unknown) => {
      assert.ok(e instanceof BenteviError, what);
      assert.match(
        (e as Error).message,
        what === "dtype"
          ? /model\.safetensors: tensor \S+ has unsupported dtype/
          : /model\.safetensors: not a valid safetensors file/,
        what,
      );
      assert.match((e as Error).message, re, what);
      return true;
    });
  }
});

Deno.test({
  name: "Hugging Face GPT-2 directories load (transformer. prefix or not, tied head)",
  ignore: !haveShared,
  fn: async () => {
    const fake = await loadCheckpoint(`${shared}fake-gpt2`);
    assert.deepEqual(fake.config, {
      arch: "gpt",
      vocabSize: 50257,
      contextLength: 1024,
      dModel: 2,
      nLayer: 1,
      nHead: 1,
      mlpDim: 8,
      layerNormEps: 1e-5,
    });
    assert.deepEqual(fake.weights.get("h.0.attn.c_attn.weight")!.shape, [2, 6]);
    assert.ok(fake.tokenizerPath?.endsWith("tokenizer.json"));
    const tiny = await loadCheckpoint(`${shared}tiny-gpt2`);
    assert.equal(tiny.config.vocabSize, 21);
    assert.deepEqual(tiny.weights.get("wte.weight")!.shape, [21, 2]);
    assert.equal(tiny.tokenizerPath, undefined);
    // Saving it again gives a directory that loads to the same weights.
    await saveCheckpoint(`${tmp}/tiny-again`, { config: tiny.config, weights: tiny.weights });
    const again = await loadCheckpoint(`${tmp}/tiny-again`);
    assert.deepEqual(
      again.weights.get("h.0.mlp.c_proj.weight"),
      tiny.weights.get("h.0.mlp.c_proj.weight"),
    );
  },
});
