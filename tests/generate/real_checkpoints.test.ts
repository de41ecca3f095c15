import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/mod.ts";
import { loadCheckpoint } from "../../src/model/mod.ts";
import { convertRwkvCpp, decodeRwkvCpp } from "../../src/model/rwkv/cpp.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { gpt2Reference, maxAbsDiff } from "./reference.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const DATA = new URL("../../../shared/data/models/", import.meta.url).pathname;
const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};
const haveFakeGpt2 = exists(`${DATA}fake-gpt2/model.safetensors`);
const haveRwkvCpp = exists(`${DATA}rwkv-cpp-tiny/tiny-rwkv-4v0-660K-FP32.bin`);
if (!haveFakeGpt2 || !haveRwkvCpp) {
  console.log(`../shared/data/models absent: skipping the real-checkpoint tests`);
}

Deno.test({
  name: "fake-gpt2 (a real HF GPT-2 dir): logits match an independent float64 GPT-2",
  ignore: !haveFakeGpt2,
  fn: async () => {
    const ckpt = await loadCheckpoint(`${DATA}fake-gpt2`);
    assert.equal(ckpt.config.arch, "gpt");
    if (ckpt.config.arch !== "gpt") return;
    const model = createLanguageModel(await createBackend("cpu"), ckpt.config, ckpt.weights);
    const ids = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 50256, 0, 13];
    const ref = gpt2Reference(ckpt.weights, ckpt.config, ids);
    const V = ckpt.config.vocabSize;
    const all = await model.forwardAll(ids);
    let worst = 0;
    for (let t = 0; t < ids.length; t++) {
      worst = Math.max(worst, maxAbsDiff(all.subarray(t * V, (t + 1) * V), ref[t]));
    }
    const last = await model.feed(ids);
    worst = Math.max(worst, maxAbsDiff(last, ref[ids.length - 1]));
    assert.ok(worst < 1e-4, `max |Δ| ${worst}`);
    model.dispose();
  },
});

Deno.test({
  name: "convert rwkv-cpp: the tiny RWKV-4 gives rwkv.cpp's expected logits after `\"in`",
  ignore: !haveRwkvCpp,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = await convertRwkvCpp(
        `${DATA}rwkv-cpp-tiny/tiny-rwkv-4v0-660K-FP32.bin`,
        `${dir}/tiny`,
      );
      assert.equal(out.byteTokenizer, true);
      const ckpt = await loadCheckpoint(`${dir}/tiny`);
      assert.ok(ckpt.tokenizerPath, "a byte-level tokenizer.json was written");
      const tokJson = JSON.parse(await Deno.readTextFile(ckpt.tokenizerPath!));
      assert.equal(Object.keys(tokJson.model.vocab).length, 256);
      const expected = new Float32Array(
        (await Deno.readFile(`${DATA}rwkv-cpp-tiny/expected-logits-4v0-660K.bin`)).buffer,
      );
      const model = createLanguageModel(await createBackend("cpu"), ckpt.config, ckpt.weights);
      let logits: Float32Array = new Float32Array(0);
      for (const byte of new TextEncoder().encode('"in')) logits = await model.feed([byte]);
      const d = maxAbsDiff(logits, expected);
      assert.ok(d < 1e-4, `max |Δ| ${d}`);
      model.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("rwkv.cpp reader: bad files get a clear message", () => {
  assert.throws(() => decodeRwkvCpp(new Uint8Array(10), "x.bin"), /x.bin: .*24-byte header/);
  const h = new Int32Array([0x12345678, 100, 4, 2, 1, 0]);
  assert.throws(() => decodeRwkvCpp(new Uint8Array(h.buffer), "x.bin"), /magic/);
  // A tensor with a quantized data type.
  const key = new TextEncoder().encode("emb.weight");
  const buf = new Uint8Array(24 + 12 + 8 + key.length);
  const dv = new DataView(buf.buffer);
  [0x67676d66, 100, 1, 1, 1, 0].forEach((v, i) => dv.setInt32(4 * i, v, true));
  [2, key.length, 4].forEach((v, i) => dv.setInt32(24 + 4 * i, v, true));
  dv.setInt32(36, 2, true), dv.setInt32(40, 4, true);
  buf.set(key, 44);
  assert.throws(() => decodeRwkvCpp(buf, "q.bin"), /q.bin: .*data type is 4, a quantized format/);
  // Truncated data.
  dv.setInt32(32, 0, true);
  assert.throws(() => decodeRwkvCpp(buf, "t.bin"), /runs past the end/);
});

Deno.test({
  name: "CLI on real checkpoints: predict/chat with HF fake-gpt2, convert rwkv-cpp then generate",
  ignore: !haveFakeGpt2 || !haveRwkvCpp,
  fn: async () => {
    const run = async (args: string[], stdin?: string) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi", CLI, ...args],
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      if (stdin !== undefined) {
        const w = child.stdin.getWriter();
        await w.write(new TextEncoder().encode(stdin));
        await w.close();
      }
      const o = await child.output();
      return {
        code: o.code,
        out: new TextDecoder().decode(o.stdout),
        err: new TextDecoder().decode(o.stderr),
      };
    };
    const p = await run([
      "predict",
      "--checkpoint",
      `${DATA}fake-gpt2`,
      "--prompt",
      "Hello world",
      "--top",
      "3",
      "--json",
      "--device",
      "cpu",
    ]);
    assert.equal(p.code, 0, p.err);
    assert.equal(JSON.parse(p.out).top.length, 3);
    const c = await run([
      "chat",
      "--checkpoint",
      `${DATA}fake-gpt2`,
      "--device",
      "cpu",
      "--max-tokens",
      "4",
    ], "Oi\n");
    assert.equal(c.code, 0, c.err);
    assert.match(c.err, /plain template/);
    assert.equal(c.out.split("\n").length, 2);
    const dir = await Deno.makeTempDir();
    try {
      const conv = await run([
        "convert",
        "rwkv-cpp",
        `${DATA}rwkv-cpp-tiny/tiny-rwkv-4v0-660K-FP32.bin`,
        "--output",
        `${dir}/m`,
      ]);
      assert.equal(conv.code, 0, conv.err);
      assert.match(conv.out, /RWKV-4: vocab 256.*byte-level tokenizer/);
      const g = await run([
        "generate",
        "--checkpoint",
        `${dir}/m`,
        "--prompt",
        '"in',
        "--max-tokens",
        "1",
        "--temperature",
        "0",
        "--json",
        "--device",
        "cpu",
      ]);
      assert.equal(g.code, 0, g.err);
      const expected = new Float32Array(
        (await Deno.readFile(`${DATA}rwkv-cpp-tiny/expected-logits-4v0-660K.bin`)).buffer,
      );
      let best = 0;
      for (let i = 1; i < 256; i++) if (expected[i] > expected[best]) best = i;
      assert.deepEqual(JSON.parse(g.out).tokens, [best], "greedy picks rwkv.cpp's argmax");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
