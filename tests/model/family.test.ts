import assert from "node:assert/strict";
import type { Backend } from "../../src/backend/backend.ts";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { BenteviError } from "../../src/errors.ts";
import {
  configFromJson,
  configToJson,
  createModel,
  familyForArch,
  familyForPreset,
  familyFromJson,
  familyOf,
  MODEL_FAMILIES,
  MODEL_PRESETS,
  type ModelConfig,
  modelSpecConfig,
  parameterCount,
  ParameterStore,
  presetConfig,
  validateConfig,
  weightSpecs,
} from "../../src/model/mod.ts";
import { activationFloatsPerToken, trainingBytes } from "../../src/train/defaults.ts";

const isBentevi = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BenteviError, `expected a BenteviError, got ${e}`);
  assert.match((e as Error).message, re);
  return true;
};

Deno.test("registry: every preset, arch and model_type finds its family", () => {
  assert.deepEqual(MODEL_FAMILIES.map((f) => f.arch), ["gpt", "rwkv", "llama", "rwkv7", "rwkv5"]);
  for (const name of MODEL_PRESETS) {
    const config = presetConfig(name, 100);
    assert.equal(familyForPreset(name), familyOf(config), name);
    assert.equal(familyForArch(config.arch), familyOf(config), name);
    assert.equal(familyFromJson(configToJson(config)), familyOf(config), name);
  }
  for (const family of MODEL_FAMILIES) {
    for (const type of family.modelTypes) {
      assert.equal(familyFromJson({ model_type: type }), family);
    }
  }
});

Deno.test("an unknown architecture is an error everywhere, never another family", () => {
  const mamba = { ...presetConfig("rwkv-micro", 64), arch: "mamba" } as unknown as ModelConfig;
  const unknown = isBentevi(/unknown architecture mamba/);
  assert.throws(() => familyOf(mamba), unknown);
  assert.throws(() => validateConfig(mamba, "x"), isBentevi(/^x: unknown architecture mamba/));
  assert.throws(() => weightSpecs(mamba), unknown);
  assert.throws(() => configToJson(mamba), unknown);
  assert.throws(() => activationFloatsPerToken(mamba), unknown);
  assert.throws(() => configFromJson({ model_type: "mamba" }, "c.json"), isBentevi(/c.json/));
});

/** A CPU backend that counts the elements of every buffer it allocates. */
function countingBackend(): { backend: Backend; allocated: () => number } {
  let n = 0;
  const cpu = new CpuBackend();
  const backend = new Proxy(cpu, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== "zeros") return typeof v === "function" ? v.bind(target) : v;
      return (shape: readonly number[], dtype?: "f32" | "i32") => {
        n += shape.reduce((a, b) => a * b, 1);
        return target.zeros(shape, dtype);
      };
    },
  }) as Backend;
  return { backend, allocated: () => n };
}

Deno.test("activation budget: what each training model allocates, float for float", () => {
  for (const name of ["gpt-micro", "rwkv-micro", "llama-micro", "rwkv7-micro"]) {
    const config = presetConfig(name, 96);
    const family = familyOf(config);
    const { backend, allocated } = countingBackend();
    const store = new ParameterStore(backend, config);
    const before = allocated();
    const model = createModel(backend, config, store, 2, 8);
    assert.equal(allocated() - before, family.activationFloats(config, 2, 8), name);
    assert.equal(family.activationFloats(config, 2, 8), 16 * activationFloatsPerToken(config));
    assert.ok(trainingBytes(config, 2, 8) > 4 * 16 * activationFloatsPerToken(config));
    model.free();
    store.free();
  }
});

Deno.test("families answer what callers used to switch on", () => {
  const gpt = presetConfig("gpt-micro", 64), rwkv = presetConfig("rwkv-micro", 64);
  assert.equal(familyOf(gpt).maxContext(gpt), 128);
  assert.equal(familyOf(rwkv).maxContext(rwkv), Infinity);
  assert.equal(familyOf(gpt).withContext(gpt, 64).contextLength, 128);
  assert.equal(familyOf(rwkv).withContext(rwkv, 64).contextLength, 64);
  assert.equal(familyOf(gpt).embeddingWeight, "wte.weight");
  assert.equal(familyOf(rwkv).embeddingWeight, "emb.weight");
  assert.equal(familyOf(gpt).recurrent, false);
  assert.equal(familyOf(rwkv).recurrent, true);
  const llama = presetConfig("llama-micro", 64);
  assert.equal(familyOf(llama).maxContext(llama), 128);
  assert.equal(familyOf(llama).withContext(llama, 64).contextLength, 128);
  assert.equal(familyOf(llama).embeddingWeight, "model.embed_tokens.weight");
  assert.equal(familyOf(llama).recurrent, false);
});

// Benchmarks name models of a chosen size as PRESET:field=value,… (equal parameter counts).
Deno.test("modelSpecConfig: a preset with fields changed, checked; bad specs are one line", () => {
  assert.deepEqual(modelSpecConfig("rwkv-micro", 64), presetConfig("rwkv-micro", 64));
  const gpt = modelSpecConfig("gpt-mini:mlpDim=960,contextLength=128", 4096);
  assert.equal(gpt.arch, "gpt");
  assert.equal(gpt.contextLength, 128);
  assert.equal((gpt as { mlpDim: number }).mlpDim, 960);
  // Within 1 % of rwkv7-micro's 5,574,400 (the equal-parameter comparison of docs/rwkv7.md).
  assert.equal(parameterCount(gpt), 5623424);
  assert.equal(parameterCount(presetConfig("rwkv7-micro", 4096)), 5574400);
  const bad: [string, RegExp][] = [
    ["nope", /unknown model preset|nope/],
    ["gpt-micro:bogus=1", /"bogus" is not a numeric field of gpt-micro \(contextLength, dModel/],
    ["gpt-micro:arch=1", /"arch" is not a numeric field/],
    ["gpt-micro:vocabSize=9", /"vocabSize" is not a numeric field/],
    ["gpt-micro:nHead=x", /nHead needs a number, got "x"/],
    ["gpt-micro:nHead=", /nHead needs a number, got ""/],
    ["gpt-micro:nHead=3", /dModel 128 is not a multiple of nHead 3/],
    ["rwkv7-micro:dModel=100", /head size 64 does not divide the width 100/],
    ["gpt-micro:nLayer=0", /nLayer/],
  ];
  for (const [spec, message] of bad) {
    assert.throws(
      () => modelSpecConfig(spec, 4096),
      (e: Error) =>
        e instanceof BenteviError && message.test(e.message) && !e.message.includes("\n"),
      spec,
    );
  }
});
