// Hugging Face weight layouts: sharded safetensors with model.safetensors.index.json, tensors
// in F32/F16/BF16 (written by the independent encoder of tests/_hf_llama.ts), lazy loading,
// hostile indexes refused naming the file and the entry, generation_config.json.
import assert from "node:assert/strict";
import { join } from "node:path";
import { BenteviError } from "../../src/errors.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { initWeights, loadCheckpoint, presetConfig, saveCheckpoint } from "../../src/model/mod.ts";
import { parseGenerationConfig } from "../../src/model/generation_config.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { encodeFile, type RefWeights, roundTo, type StoredDType } from "../_hf_llama.ts";
import { runCliInProcess } from "../_cli.ts";
import { moduleTempDir } from "../_tmp.ts";

const tmp = await moduleTempDir({ prefix: "bentevi-hf-weights-" });
const config = { ...presetConfig("gpt-micro", 260), nLayer: 2, dModel: 32, nHead: 2, mlpDim: 64 };
await saveCheckpoint(`${tmp}/base`, {
  config,
  weights: initWeights(config, 4),
  tokenizer: Tokenizer.byteLevel(),
});
const base = await readSafetensors(`${tmp}/base/model.safetensors`);
const baseTensors: RefWeights = new Map(
  [...base.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.data) }]),
);

function isBentevi(re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof BenteviError, `expected a BenteviError, got ${e}`);
    assert.match((e as Error).message, re);
    assert.ok(!(e as Error).message.includes("\n"), "one line");
    return true;
  };
}

/** A copy of the base checkpoint with its weights in `dtype`, in `shards` files. */
async function variant(name: string, dtype: StoredDType, shards: number): Promise<string> {
  const dir = join(tmp, name);
  await Deno.mkdir(dir, { recursive: true });
  for (const f of ["config.json", "tokenizer.json"]) {
    await Deno.copyFile(join(tmp, "base", f), join(dir, f));
  }
  if (shards === 1) {
    await Deno.writeFile(join(dir, "model.safetensors"), encodeFile(baseTensors, () => dtype));
    return dir;
  }
  const names = [...baseTensors.keys()];
  const per = Math.ceil(names.length / shards);
  const map: Record<string, string> = {};
  for (let k = 0; k < shards; k++) {
    const file = `model-0000${k + 1}-of-0000${shards}.safetensors`;
    const part: RefWeights = new Map();
    for (const n of names.slice(k * per, (k + 1) * per)) {
      part.set(n, baseTensors.get(n)!);
      map[n] = file;
    }
    await Deno.writeFile(join(dir, file), encodeFile(part, () => dtype));
  }
  await Deno.writeTextFile(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: map }),
  );
  return dir;
}

for (const dtype of ["F32", "F16", "BF16"] as const) {
  for (const shards of [1, 3]) {
    Deno.test(`${dtype} weights in ${shards} file(s) load with the stored values`, async () => {
      const dir = await variant(`${dtype}-${shards}`, dtype, shards);
      for (const lazy of [false, true]) {
        const ck = await loadCheckpoint(dir, { lazy });
        assert.deepEqual(ck.config, config);
        assert.equal(ck.files.length, shards);
        for (const [file, t] of baseTensors) {
          const name = file.replace(/^transformer\./, "");
          const got = ck.weights.get(name)!;
          assert.ok(got, name);
          const data = got.data;
          for (let i = 0; i < data.length; i++) {
            if (data[i] !== roundTo(t.data[i], dtype)) {
              assert.fail(`${name}[${i}]: ${data[i]} vs ${roundTo(t.data[i], dtype)}`);
            }
          }
        }
      }
      // The F16/BF16 copies really differ from F32 (the test can fail).
      if (dtype !== "F32") {
        const w = (await loadCheckpoint(dir)).weights.get("h.0.attn.c_attn.weight")!.data;
        const f = base.tensors.get("transformer.h.0.attn.c_attn.weight")!.data;
        assert.ok(w.some((x, i) => x !== f[i]));
      }
    });
  }
}

Deno.test("sharded weights: a hostile index is refused naming the file and the entry", async () => {
  const dir = await variant("hostile", "BF16", 3);
  const indexPath = join(dir, "model.safetensors.index.json");
  const good = JSON.parse(await Deno.readTextFile(indexPath));
  const withIndex = async (index: unknown, re: RegExp) => {
    await Deno.writeTextFile(indexPath, typeof index === "string" ? index : JSON.stringify(index));
    await assert.rejects(() => loadCheckpoint(dir), isBentevi(re));
  };
  const map = good.weight_map as Record<string, string>;
  const first = Object.keys(map)[0];
  await withIndex("{not json", /model\.safetensors\.index\.json: not valid JSON/);
  await withIndex({ metadata: {} }, /index\.json: field "weight_map" is missing/);
  await withIndex({ weight_map: {} }, /index\.json: field "weight_map" lists no tensor/);
  await withIndex(
    { weight_map: { ...map, [first]: "../model-00001-of-00003.safetensors" } },
    /index\.json: weight_map\["transformer\.wte\.weight"\] must be a file name in the same directory/,
  );
  await withIndex(
    { weight_map: { ...map, [first]: 7 } },
    /weight_map\["transformer\.wte\.weight"\] must be a file name/,
  );
  // a file named that is not there
  await withIndex(
    { weight_map: { ...map, [first]: "other.safetensors" } },
    /index\.json: weight_map\["transformer\.wte\.weight"\] names other\.safetensors, which is not in .* \(a missing shard\)/,
  );
  // a tensor placed in the wrong shard
  await withIndex(
    { weight_map: { ...map, [first]: "model-00002-of-00003.safetensors" } },
    /weight_map\["transformer\.wte\.weight"\] says model-00002-of-00003\.safetensors, but that file has no tensor transformer\.wte\.weight/,
  );
  // a tensor of a shard the index leaves out
  const fewer = { ...map };
  delete fewer[first];
  await withIndex(
    { weight_map: fewer },
    /model-00001-of-00003\.safetensors: tensor transformer\.wte\.weight is not listed for this file in model\.safetensors\.index\.json/,
  );
  // a tensor the config needs, missing from every file
  const last = Object.keys(map).at(-1)!;
  const noLast = Object.fromEntries(Object.entries(map).filter(([k]) => k !== last));
  const lastFile = map[last];
  const lastShard: RefWeights = new Map(
    Object.entries(noLast).filter(([, f]) => f === lastFile).map(([k]) => [
      k,
      baseTensors.get(k)!,
    ]),
  );
  const lastBytes = await Deno.readFile(join(dir, lastFile));
  await Deno.writeFile(join(dir, lastFile), encodeFile(lastShard, () => "BF16"));
  await withIndex(
    { weight_map: noLast },
    /index\.json: weight ln_f\.bias is missing/,
  );
  await Deno.writeFile(join(dir, lastFile), lastBytes);
  // a shard series with a gap, or two series
  const renamed = Object.fromEntries(
    Object.entries(map).map(([k, f]) => [k, f.replace("-00003-of-", "-00004-of-")]),
  );
  await Deno.rename(
    join(dir, "model-00003-of-00003.safetensors"),
    join(dir, "model-00004-of-00003.safetensors"),
  );
  await withIndex(
    { weight_map: renamed },
    /index\.json: weight_map puts no tensor in shard model-00003-of-00003\.safetensors \(shard 3 of 3 is missing\)/,
  );
  await Deno.rename(
    join(dir, "model-00004-of-00003.safetensors"),
    join(dir, "model-00003-of-00003.safetensors"),
  );
  await withIndex(
    { weight_map: { ...map, [first]: "model-00001-of-00004.safetensors" } },
    /index\.json: weight_map mixes shard series of 4 and of 3 files/,
  );
  // a shard that is not there
  await Deno.writeTextFile(indexPath, JSON.stringify(good));
  await Deno.rename(join(dir, "model-00002-of-00003.safetensors"), join(dir, "moved"));
  await assert.rejects(
    () => loadCheckpoint(dir),
    isBentevi(/names model-00002-of-00003\.safetensors, which is not in .* \(a missing shard\)/),
  );
  await Deno.rename(join(dir, "moved"), join(dir, "model-00002-of-00003.safetensors"));
  // shards without their index
  await Deno.remove(indexPath);
  await assert.rejects(
    () => loadCheckpoint(dir),
    isBentevi(
      /sharded weights \(model-00001-of-00003\.safetensors…\) but no model\.safetensors\.index\.json/,
    ),
  );
  await Deno.writeTextFile(indexPath, JSON.stringify(good));
  assert.equal((await loadCheckpoint(dir)).files.length, 3);
});

Deno.test("unsupported dtypes, wrong shapes and NaN in a shard are refused by name", async () => {
  const dir = await variant("dtype", "F32", 2);
  const file = join(dir, "model-00001-of-00002.safetensors");
  const index = JSON.parse(await Deno.readTextFile(join(dir, "model.safetensors.index.json")));
  const part: RefWeights = new Map(
    Object.entries(index.weight_map as Record<string, string>)
      .filter(([, f]) => f === "model-00001-of-00002.safetensors")
      .map(([k]) => [k, baseTensors.get(k)!]),
  );
  const good = await Deno.readFile(file);
  await Deno.writeFile(file, encodeFile(part, (n) => n.endsWith("wpe.weight") ? "I8" : "F32"));
  await assert.rejects(
    () => loadCheckpoint(dir),
    isBentevi(
      /model-00001-of-00002\.safetensors: tensor transformer\.wpe\.weight has unsupported dtype I8/,
    ),
  );
  const wrong: RefWeights = new Map(part);
  const wpe = part.get("transformer.wpe.weight")!;
  wrong.set("transformer.wpe.weight", { shape: [wpe.shape[1], wpe.shape[0]], data: wpe.data });
  await Deno.writeFile(file, encodeFile(wrong, () => "F32"));
  await assert.rejects(
    () => loadCheckpoint(dir),
    isBentevi(
      /index\.json: weight wpe\.weight has shape \[32,128\], the configuration needs \[128,32\]/,
    ),
  );
  const nan: RefWeights = new Map(part);
  const data = wpe.data.slice();
  data[3] = NaN;
  nan.set("transformer.wpe.weight", { shape: wpe.shape, data });
  await Deno.writeFile(file, encodeFile(nan, () => "BF16"));
  await assert.rejects(
    () => loadCheckpoint(dir),
    isBentevi(
      /model-00001-of-00002\.safetensors: tensor transformer\.wpe\.weight holds a non-finite value \(NaN at index 3\)/,
    ),
  );
  // lazily loaded, the NaN is found when the tensor is read
  const lazy = await loadCheckpoint(dir, { lazy: true });
  assert.throws(() => lazy.weights.get("wpe.weight")!.data, isBentevi(/non-finite/));
  await Deno.writeFile(file, good);
});

Deno.test("generation_config.json: fields read, bad ones refused naming the field", () => {
  const g = parseGenerationConfig(
    {
      temperature: 0.6,
      top_p: 0.9,
      top_k: 50,
      do_sample: true,
      max_new_tokens: 77,
      repetition_penalty: 1.2,
      eos_token_id: [2, 32000],
      bos_token_id: 1,
      max_length: 4096,
      transformers_version: "4.46.0",
    },
    "g.json",
  );
  assert.deepEqual(g, {
    source: "g.json",
    temperature: 0.6,
    topP: 0.9,
    topK: 50,
    doSample: true,
    maxNewTokens: 77,
    repetitionPenalty: 1.2,
    eosTokenIds: [2, 32000],
  });
  assert.deepEqual(parseGenerationConfig({ eos_token_id: 2, top_k: null }, "g.json"), {
    source: "g.json",
    eosTokenIds: [2],
  });
  for (
    const [json, re] of [
      [{ top_p: 0 }, /g\.json: field "top_p" must be a number in \(0, 1\], got 0/],
      [{ temperature: -1 }, /field "temperature"/],
      [{ top_k: 2.5 }, /field "top_k" must be an integer/],
      [{ max_new_tokens: "9" }, /field "max_new_tokens"/],
      [{ do_sample: "yes" }, /field "do_sample" must be true or false/],
      [{ eos_token_id: [2, -1] }, /field "eos_token_id" must be a token id/],
      [[1], /g\.json: not a JSON object/],
    ] as const
  ) {
    assert.throws(() => parseGenerationConfig(json, "g.json"), isBentevi(re));
  }
});

Deno.test("generate: generation_config.json defaults apply, flags win, eos ends", async () => {
  const dir = await variant("genconf", "BF16", 1);
  const gen = async (...args: string[]) => {
    const r = await runCliInProcess(
      "generate",
      "--checkpoint",
      dir,
      "--prompt",
      "Olá",
      "--device",
      "cpu",
      "--json",
      ...args,
    );
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { tokens: number[]; finish_reason: string };
  };
  const greedy = await gen("--temperature", "0", "--max-tokens", "6");
  assert.equal(greedy.tokens.length, 6);
  const write = (j: unknown) =>
    Deno.writeTextFile(join(dir, "generation_config.json"), JSON.stringify(j));
  // do_sample false = greedy; max_new_tokens from the file
  await write({ do_sample: false, max_new_tokens: 6 });
  assert.deepEqual((await gen("--seed", "3")).tokens, greedy.tokens);
  // a flag given wins over the file
  assert.deepEqual((await gen("--max-tokens", "2")).tokens, greedy.tokens.slice(0, 2));
  // eos_token_id ends the text
  const k = greedy.tokens.findLastIndex((t, i) => !greedy.tokens.slice(0, i).includes(t));
  await write({ do_sample: false, max_new_tokens: 6, eos_token_id: [7, greedy.tokens[k]] });
  const ended = await gen();
  assert.deepEqual(ended.tokens, greedy.tokens.slice(0, k));
  assert.equal(ended.finish_reason, "end-of-text");
  // a bad file: one line naming it
  await write({ top_p: 2 });
  const bad = await runCliInProcess("generate", "--checkpoint", dir, "--prompt", "x");
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /generation_config\.json: field "top_p"/);
  await Deno.remove(join(dir, "generation_config.json"));
});

Deno.test("a tensor larger than the read chunk converts whole (BF16, F16)", async () => {
  const n = 2_500_007; // 5 MB of 16-bit values: two chunks and a bit
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i) * (1 + (i % 97));
  for (const dtype of ["BF16", "F16"] as const) {
    const path = join(tmp, `big-${dtype}.safetensors`);
    const small = { shape: [3], data: new Float64Array([1, 2, 3]) };
    await Deno.writeFile(
      path,
      encodeFile(new Map([["a", small], ["big", { shape: [n], data }]]), () => dtype),
    );
    const got = (await readSafetensors(path, { finite: true })).tensors.get("big")!.data;
    assert.equal(got.length, n);
    for (let i = 0; i < n; i++) {
      if (got[i] !== roundTo(data[i], dtype)) assert.fail(`${dtype}[${i}]: ${got[i]}`);
    }
  }
});
