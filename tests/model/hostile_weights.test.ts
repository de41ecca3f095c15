/**
 * Lying headers and corrupt weights (issue 13, items 5 and 6): rwkv.cpp files whose header
 * disagrees with the tensors, unknown versions and data types, NaN tensors; safetensors
 * data that no tensor covers; checkpoints full of NaN; non-finite logits in generation.
 * Every hostile file is built here.
 */
import assert from "node:assert/strict";
import { runCli } from "../_cli.ts";
import { convertRwkvCpp, decodeRwkvCpp } from "../../src/model/rwkv/cpp.ts";
import {
  initWeights,
  loadCheckpoint,
  type ModelConfig,
  saveCheckpoint,
} from "../../src/model/mod.ts";
import { familyOf } from "../../src/model/registry.ts";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.ts";
import { BenteviError } from "../../src/errors.ts";
import { checkLogits, generate } from "../../src/generate/generator.ts";
import {
  byteTokenizer,
  byteTokenizerJsonWith,
  ScriptedModel,
  tinyGpt,
} from "../generate/helpers.ts";

const RWKV: ModelConfig = {
  arch: "rwkv",
  vocabSize: 16,
  contextLength: 32,
  dModel: 8,
  nLayer: 2,
  ffnDim: 16,
  layerNormEps: 1e-5,
};

interface CppOptions {
  version?: number;
  headerLayers?: number;
  headerType?: number;
  tensorType?: number;
  poison?: string; // tensor whose element 3 becomes NaN
}

/** An rwkv.cpp (ggmf) FP32 file of RWKV, from random weights, with optional lies. */
function rwkvCppBytes(o: CppOptions = {}): Uint8Array {
  const w = initWeights(RWKV, 3);
  const family = familyOf(RWKV);
  const parts: Uint8Array[] = [];
  const head = new Int32Array([
    0x67676d66,
    o.version ?? 100,
    RWKV.vocabSize,
    RWKV.dModel,
    o.headerLayers ?? RWKV.nLayer,
    o.headerType ?? 0,
  ]);
  parts.push(new Uint8Array(head.buffer));
  for (const spec of family.weightSpecs(RWKV)) {
    const t = w.get(spec.name)!;
    let data = Float32Array.from(t.data);
    if (spec.name.endsWith("att.time_decay")) data = data.map((x) => -Math.exp(x));
    if (spec.name === o.poison) data[3] = NaN;
    const key = new TextEncoder().encode(spec.name);
    const shape = spec.shape;
    const th = new Int32Array([shape.length, key.length, o.tensorType ?? 0, ...shape.toReversed()]);
    parts.push(new Uint8Array(th.buffer), key, new Uint8Array(data.buffer));
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

Deno.test("rwkv.cpp: an honest file converts; every lying header field is refused by name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/ok.bin`, rwkvCppBytes());
    const out = await convertRwkvCpp(`${dir}/ok.bin`, `${dir}/ok`);
    assert.equal(out.config.nLayer, 2);
    assert.equal((await loadCheckpoint(`${dir}/ok`)).config.arch, "rwkv");

    const refuse = (o: CppOptions, re: RegExp) =>
      assert.throws(() => decodeRwkvCpp(rwkvCppBytes(o), "lie.bin"), (e: Error) => {
        assert.ok(e instanceof BenteviError, String(e));
        assert.match(e.message, /^lie\.bin: /);
        assert.match(e.message, re);
        assert.ok(!e.message.includes("\n"));
        return true;
      });
    // The header says 1 block; the file has 2.
    refuse({ headerLayers: 1 }, /n_layer is 1, but the file has tensor blocks\.1\./);
    // The header says 40 blocks: the file is far too small for that.
    refuse({ headerLayers: 40 }, /n_layer 40: that needs at least \d+ bytes/);
    refuse({ version: 7 }, /version is 7/);
    refuse({ headerType: 1234 }, /data_type is 1234, not a known data type/);
    refuse({ headerType: 3 }, /data_type is 3, a quantized format/);
    refuse({ tensorType: 77 }, /tensor emb\.weight data type is 77/);
    refuse({ poison: "blocks.1.att.key.weight" }, /tensor blocks\.1\.att\.key\.weight .*NaN/);

    // And through the CLI: exit 1, one line, no output written.
    await Deno.writeFile(`${dir}/lie.bin`, rwkvCppBytes({ headerLayers: 1 }));
    const o = await runCli(
      [
        "convert",
        "rwkv-cpp",
        `${dir}/lie.bin`,
        "--output",
        `${dir}/lie`,
      ],
      { permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"] },
    );
    const err = o.stderr.trim();
    assert.equal(o.code, 1, err);
    assert.match(err, /lie\.bin: .*n_layer is 1/);
    assert.equal(err.split("\n").length, 1, err);
    await assert.rejects(() => Deno.stat(`${dir}/lie`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: data bytes that no tensor covers are refused", () => {
  const good = encodeSafetensors(new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]));
  decodeSafetensors(good, "ok.safetensors");
  const padded = new Uint8Array(good.length + 8);
  padded.set(good);
  assert.throws(
    () => decodeSafetensors(padded, "pad.safetensors"),
    /pad\.safetensors: .*last 8 data bytes belong to no tensor/,
  );
  // A header whose offsets skip the first 4 bytes of the data.
  const json = JSON.stringify({ w: { dtype: "F32", shape: [1], data_offsets: [4, 8] } });
  const h = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + h.length + 8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(h.length), true);
  bytes.set(h, 8);
  assert.throws(() => decodeSafetensors(bytes, "gap.safetensors"), /bytes 0…4 belong to no tensor/);
});

Deno.test("a checkpoint holding NaN is refused, naming the first bad tensor; predict exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = tinyGpt(256);
    const weights = initWeights(config, 1);
    const names = [...weights.keys()];
    // Every weight after the first few is NaN; the first bad one is names[2].
    for (const n of names.slice(2)) weights.get(n)!.data.fill(NaN);
    const json = byteTokenizerJsonWith();
    await saveCheckpoint(`${dir}/nan`, { config, weights, tokenizer: { toJSON: () => json } });
    await assert.rejects(() => loadCheckpoint(`${dir}/nan`), (e: Error) => {
      assert.ok(e instanceof BenteviError);
      assert.match(e.message, /model\.safetensors: tensor \S+ holds a non-finite value \(NaN/);
      return true;
    });
    const inf = initWeights(config, 1);
    inf.get(names[0])!.data[5] = -Infinity;
    await saveCheckpoint(`${dir}/inf`, { config, weights: inf });
    await assert.rejects(() => loadCheckpoint(`${dir}/inf`), /-Infinity at index 5/);

    const o = await runCli(
      [
        "predict",
        "--checkpoint",
        `${dir}/nan`,
        "--prompt",
        "Olá",
        "--device",
        "cpu",
      ],
      { permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"] },
    );
    const err = o.stderr.trim();
    assert.equal(o.code, 1, err);
    assert.match(err, /non-finite value/);
    assert.doesNotMatch(o.stdout, /NaN%/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generation that meets a non-finite logit stops with a message", async () => {
  assert.throws(
    () => checkLogits(new Float32Array([1, Infinity])),
    /non-finite logit \(Infinity for token 1/,
  );
  checkLogits(new Float32Array([1, -3, 0]));
  const model = new ScriptedModel(256, [65, 66, 67]);
  const feed = model.feed.bind(model);
  let calls = 0;
  model.feed = async (ids: number[]) => {
    const logits = await feed(ids);
    if (++calls === 3) logits[10] = NaN;
    return logits;
  };
  await assert.rejects(
    () => generate(model, byteTokenizer(), "x", { maxNewTokens: 10 }),
    (e: Error) =>
      e instanceof BenteviError && /non-finite logit \(NaN for token 10/.test(e.message),
  );
});
