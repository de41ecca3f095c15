import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { exportGguf } from "../../src/gguf/export.ts";
import { gguf, type GgufWriteValue, openGguf, writeGguf } from "../../src/gguf/mod.ts";
import { initWeights, loadCheckpoint, presetConfig, saveCheckpoint } from "../../src/model/mod.ts";
import { Tokenizer, trainTokenizer } from "../../src/tokenizer/mod.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { openGenerationModel } from "../../src/generate/load.ts";
import { assertOneLineError, runCli, runCliInProcess } from "../_cli.ts";
import { moduleTempDir } from "../_tmp.ts";

const TEXT = "O bem-te-vi canta na árvore. Era uma vez um menino que morava perto do rio.\n"
  .repeat(20);
const dir = await moduleTempDir({ prefix: "bentevi-gguf-io-" });
const texts = (t = TEXT) =>
  (async function* () {
    yield t;
  })();
const tokenizer = await trainTokenizer(texts(), { vocabSize: 300 });

async function checkpoint(preset: string, tok = tokenizer, name = preset): Promise<string> {
  const config = presetConfig(preset, tok.vocabSize);
  const path = `${dir}/${name}`;
  await saveCheckpoint(path, { config, weights: initWeights(config, 3), tokenizer: tok });
  return path;
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BenteviError, String(e));
    assert.match((e as Error).message, re);
    assert.ok(!(e as Error).message.includes("\n"));
    return true;
  });
}

Deno.test("GGUF export → import: same configuration, weights (F32 exactly, F16 to half precision), tokenizer and logits", async () => {
  for (const preset of ["gpt-micro", "llama-micro"]) {
    const ckpt = await checkpoint(preset);
    const original = await loadCheckpoint(ckpt);
    for (const type of ["f32", "f16"] as const) {
      const out = `${dir}/${preset}-${type}.gguf`;
      const r = await exportGguf(ckpt, { out, type });
      assert.equal(r.architecture, preset.startsWith("gpt") ? "gpt2" : "llama");
      const back = await loadCheckpoint(out);
      const { arch, vocabSize, dModel, nLayer } = original.config;
      assert.deepEqual(
        { arch, vocabSize, dModel, nLayer },
        {
          arch: back.config.arch,
          vocabSize: back.config.vocabSize,
          dModel: back.config.dModel,
          nLayer: back.config.nLayer,
        },
      );
      for (const [name, t] of original.weights) {
        const b = back.weights.get(name)!;
        assert.deepEqual(b.shape, t.shape, name);
        if (type === "f32" || t.shape.length === 1) assert.deepEqual(b.data, t.data, name);
        else {
          for (let i = 0; i < t.data.length; i++) {
            assert.ok(Math.abs(b.data[i] - t.data[i]) <= Math.abs(t.data[i]) * 2 ** -11 + 1e-7);
          }
        }
      }
      const opened = await openGenerationModel(out, { device: "cpu" });
      assert.deepEqual(opened.tokenizer.encode("Era uma vez"), tokenizer.encode("Era uma vez"));
      assert.ok(opened.chatTemplate, "the checkpoint's chat template travels in the file");
      if (type === "f32") {
        const model = createLanguageModel(opened.model.backend, original.config, original.weights);
        const ids = tokenizer.encode("O bem-te-vi canta");
        // Equal but for the epsilon, which GGUF stores as float32 (1e-5 → 9.99999974e-6).
        const [a, b] = [await opened.model.feed(ids), await model.feed(ids)];
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `logit ${i}`);
      }
      opened.model.dispose();
      back.close?.();
    }
  }
});

Deno.test("GGUF export refuses, by name: RWKV-4, SentencePiece-style and normalized tokenizers, GPT-4 regex without ignore_merges", async () => {
  await rejects(
    exportGguf(await checkpoint("rwkv-micro"), { out: `${dir}/r.gguf` }),
    /rwkv model cannot be exported to GGUF: llama.cpp has no RWKV-4/,
  );
  const spm = await trainTokenizer(texts(), { vocabSize: 300, style: "sentencepiece" });
  await rejects(
    exportGguf(await checkpoint("llama-micro", spm, "spm"), { out: `${dir}/s.gguf` }),
    /SentencePiece-style \(Metaspace\) BPE: llama.cpp's SentencePiece tokenizer merges by score/,
  );
  const nfc = await trainTokenizer(texts(), { vocabSize: 300, normalize: "nfc" });
  await rejects(
    exportGguf(await checkpoint("gpt-micro", nfc, "nfc"), { out: `${dir}/n.gguf` }),
    /normalizer \(NFC\) has no llama.cpp equivalent/,
  );
  const gpt4 = await trainTokenizer(texts(), { vocabSize: 300, preTokenizer: "gpt4" });
  await rejects(
    exportGguf(await checkpoint("gpt-micro", gpt4, "gpt4"), { out: `${dir}/g.gguf` }),
    /pre-tokenizer .* has no llama.cpp name/,
  );
  for (const f of ["r", "s", "n", "g"]) {
    await assert.rejects(Deno.stat(`${dir}/${f}.gguf`), Deno.errors.NotFound);
  }
});

Deno.test("GGUF import refuses, by name: unknown architecture, missing key or tensor, unread tensor type, extra tensors", async () => {
  const good = `${dir}/good.gguf`;
  await exportGguf(await checkpoint("gpt-micro"), { out: good });
  const f = openGguf(good);
  const meta = new Map<string, GgufWriteValue>();
  for (const [k, e] of f.metadata) {
    meta.set(
      k,
      (e.type === "array"
        ? { type: "array", itemType: e.itemType, value: e.value }
        : { type: e.type, value: e.value }) as GgufWriteValue,
    );
  }
  const tensors = [...f.tensors.values()].map((t) => ({
    name: t.name,
    shape: t.shape,
    type: t.type as "F32",
    data: () => f.bytes.slice(t.begin, t.begin + t.byteLength),
  }));
  const variant = async (
    name: string,
    edit: (m: Map<string, GgufWriteValue>, t: typeof tensors) => typeof tensors,
  ) => {
    const m = new Map(meta);
    const path = `${dir}/${name}.gguf`;
    await writeGguf(path, m, edit(m, [...tensors]));
    return path;
  };
  const mamba = await variant(
    "mamba",
    (m, t) => (m.set("general.architecture", gguf.string("mamba")), t),
  );
  await rejects(
    loadCheckpoint(mamba),
    /architecture "mamba" is not supported \(Bentevi reads gpt2, llama\)/,
  );
  const noKey = await variant("nokey", (m, t) => (m.delete("gpt2.block_count"), t));
  await rejects(loadCheckpoint(noKey), /missing key gpt2\.block_count/);
  const noTok = await variant("notok", (m, t) => (m.delete("tokenizer.ggml.model"), t));
  await rejects(loadCheckpoint(noTok), /missing key tokenizer\.ggml\.model/);
  const spm = await variant(
    "spm",
    (m, t) => (m.set("tokenizer.ggml.model", gguf.string("llama")), t),
  );
  await rejects(loadCheckpoint(spm), /tokenizer\.ggml\.model "llama" is not supported/);
  const pre = await variant(
    "pre",
    (m, t) => (m.set("tokenizer.ggml.pre", gguf.string("qwen2")), t),
  );
  await rejects(loadCheckpoint(pre), /tokenizer\.ggml\.pre "qwen2" is not supported/);
  const noTensor = await variant(
    "notensor",
    (_m, t) => t.filter((x) => x.name !== "blk.1.ffn_up.weight"),
  );
  await rejects(loadCheckpoint(noTensor), /missing tensor blk\.1\.ffn_up\.weight/);
  const extra = await variant("extra", (_m, t) => [...t, { ...t[2], name: "rope_freqs.weight" }]);
  await rejects(loadCheckpoint(extra), /unexpected tensor\(s\) rope_freqs\.weight/);
  const scaled = await variant(
    "scaled",
    (m, t) => (m.set("gpt2.rope.scaling.type", gguf.string("linear")), t),
  );
  await rejects(loadCheckpoint(scaled), /RoPE scaling is not supported/);
  f.close();
  // A Q4_K tensor: the layout is checked, the type refused by name.
  const bytes = await Deno.readFile(good);
  const name = new TextEncoder().encode("blk.0.ffn_down.weight");
  let at = 0;
  outer: for (; at < bytes.length; at++) {
    for (let j = 0; j < name.length; j++) if (bytes[at + j] !== name[j]) continue outer;
    break;
  }
  const typeAt = at + name.length + 4 + 2 * 8;
  new DataView(bytes.buffer).setUint32(typeAt, 12, true); // Q4_K: rows of 512 values are two 256-value blocks
  const k = `${dir}/q4k.gguf`;
  await Deno.writeFile(k, bytes);
  await rejects(
    loadCheckpoint(k),
    /tensor blk\.0\.ffn_down\.weight has type Q4_K, which Bentevi does not read/,
  );
});

Deno.test("CLI: export gguf (read/write/env permissions), generate/predict --checkpoint FILE.gguf, one-line errors", async () => {
  const ckpt = await checkpoint("llama-micro", tokenizer, "cli-llama");
  const out = `${dir}/cli.gguf`;
  const r = await runCli(["export", "gguf", ckpt, "--out", out, "--type", "q8_0", "--json"], {
    permissions: ["--allow-read", "--allow-write", "--allow-env"],
  });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.architecture, "llama");
  assert.ok(j.types.Q8_0 > 0 && j.types.F32 > 0);
  const g = await runCli([
    "predict",
    "--checkpoint",
    out,
    "--prompt",
    "Era uma",
    "--top",
    "3",
    "--json",
    "--device",
    "cpu",
  ]);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(JSON.parse(g.stdout).top.length, 3);
  assertOneLineError(
    await runCliInProcess("export", "gguf", `${dir}/nada`, "--out", `${dir}/y.gguf`),
    /nada/,
  );
  const truncated = `${dir}/trunc.gguf`;
  await Deno.writeFile(truncated, (await Deno.readFile(out)).slice(0, 5000));
  assertOneLineError(
    await runCli(["generate", "--checkpoint", truncated, "--prompt", "a", "--device", "cpu"]),
    /trunc\.gguf: not a valid GGUF file/,
  );
  for (const f of ["y.gguf"]) {
    await assert.rejects(Deno.stat(`${dir}/${f}`), Deno.errors.NotFound);
  }
});

Deno.test("CLI: a GGUF file as the base of finetune (LoRA), its adapter then used over the file", async () => {
  const ckpt = await checkpoint("gpt-micro", tokenizer, "ft-gpt");
  const file = `${dir}/ft-base.gguf`;
  assert.equal((await runCliInProcess("export", "gguf", ckpt, "--out", file)).code, 0);
  const data = `${dir}/chat.jsonl`;
  const record = (i: number) =>
    JSON.stringify({
      messages: [
        { role: "user", content: `O que canta na árvore ${i}?` },
        { role: "assistant", content: "O bem-te-vi canta na árvore." },
      ],
    });
  await Deno.writeTextFile(data, Array.from({ length: 12 }, (_, i) => record(i)).join("\n"));
  const out = `${dir}/ft-run`;
  const ft = await runCli([
    "finetune",
    "--base",
    file,
    "--data",
    data,
    "--out",
    out,
    "--steps",
    "3",
    "--lr",
    "1e-2",
    "--batch-size",
    "2",
    "--device",
    "cpu",
    "--json",
  ]);
  assert.equal(ft.code, 0, ft.stderr);
  // the embedded tokenizer went into the run, as a tokenizer.json would have
  const saved = await Tokenizer.fromFile(`${out}/tokenizer.json`);
  assert.deepEqual(saved.encode(TEXT), tokenizer.encode(TEXT));
  const predict = (...more: string[]) =>
    runCli([
      "predict",
      "--checkpoint",
      file,
      "--prompt",
      "O que canta",
      "--top",
      "3",
      "--json",
      "--device",
      "cpu",
      ...more,
    ]);
  const plain = await predict(), adapted = await predict("--adapter", out);
  assert.equal(adapted.code, 0, adapted.stderr);
  const p = (r: { stdout: string }) => JSON.parse(r.stdout).top[0].prob;
  assert.notEqual(p(adapted), p(plain), "the adapter changes the prediction");
});
