/**
 * Regression tests for what the fuzz found (each failed on the main before the fix): files a
 * run, a checkpoint or a chat reads give a one-line error naming the file, and a damaged
 * line no longer costs the records after it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BenteviError } from "../../src/errors.ts";
import { MetricsLog } from "../../src/train/metrics.ts";
import { readRunSpec, runTraining } from "../../src/train/trainer.ts";
import { loadTrainingData } from "../../src/train/data.ts";
import { resumeTraining } from "../../src/train/run.ts";
import { validateTrainOptions } from "../../src/train/options.ts";
import { initWeights, loadCheckpoint, saveCheckpoint } from "../../src/model/mod.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { trainerState } from "./formats/trainer_state.ts";
import { chatSave } from "./formats/chat_save.ts";
import { cpuBackend, smallTokenizer, tinyGpt } from "./formats/_fixtures.ts";
import { DatabaseSync } from "node:sqlite";
import { buildIndex } from "../../src/retrieval/build.ts";
import { indexInfo } from "../../src/retrieval/info.ts";
import { Retriever } from "../../src/retrieval/search.ts";
import { gguf, openGguf, writeGguf } from "../../src/gguf/mod.ts";
import { tempDir } from "../_tmp.ts";
import { datasetInfo } from "../../src/data/dataset/info.ts";
import { writeTokenDataset } from "../../src/data/dataset/writer.ts";
import { peakRss, resetPeakRss } from "./harness.ts";

async function inTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeFiles(root: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const [rel, bytes] of Object.entries(files)) {
    await Deno.mkdir(join(root, rel, ".."), { recursive: true });
    await Deno.writeFile(join(root, rel), bytes);
  }
}

Deno.test("run.json and trainer_state.json: bad values are refused naming the file", async () => {
  await inTemp(async (dir) => {
    const [seed] = await trainerState.seeds(join(dir, "seeds"));
    const run = join(dir, "run");
    await writeFiles(run, seed.files);
    const spec = JSON.parse(await Deno.readTextFile(join(run, "run.json")));
    const runJson = join(run, "run.json");
    for (
      const [edit, why] of [
        [(s: typeof spec) => s.options.gradAccum = 0, /grad-accum/],
        [(s: typeof spec) => s.options.gradAccum = 2 ** 31, /grad-accum .* more than 4096/],
        [(s: typeof spec) => s.options.beta1 = -0.9, /beta1/],
        [(s: typeof spec) => s.config.arch = "gptgpt", /unknown architecture/],
        [(s: typeof spec) => s.data = "", /not a Bentevi run description/],
        [(s: typeof spec) => s.valFraction = 7, /valFraction/],
      ] as const
    ) {
      const s = structuredClone(spec);
      edit(s);
      await Deno.writeTextFile(runJson, JSON.stringify(s));
      await assert.rejects(readRunSpec(run), (e: Error) => {
        assert.ok(e instanceof BenteviError, e.message);
        assert.ok(e.message.startsWith(runJson), e.message);
        assert.match(e.message, why);
        return true;
      });
    }
    for (
      const [edit, why] of [
        [
          (s: typeof spec) => s.options.batchSize = 2 ** 31,
          /tokens seen in 2 steps does not match/,
        ],
        [(s: typeof spec) => s.options.batchSize = 1e6, /tokens seen in 2 steps does not match/],
        [(s: typeof spec) => s.config.nLayer = 2 ** 32, /its model differs from the checkpoint/],
        [
          (s: typeof spec) => s.data = join(dir, "gone.txt"),
          /the run's data .*gone\.txt is not found/,
        ],
      ] as const
    ) {
      const s = structuredClone(spec);
      edit(s);
      await Deno.writeTextFile(runJson, JSON.stringify(s));
      await assert.rejects(
        resumeTraining(run, { steps: 3, device: await cpuBackend() }),
        (e: Error) => e instanceof BenteviError && e.message.startsWith(run) && why.test(e.message),
      );
    }
    await Deno.writeTextFile(runJson, JSON.stringify(spec));
    const ckpt = Object.keys(seed.files).find((f) => f.endsWith("trainer_state.json"))!;
    const statePath = join(run, ckpt);
    const state = JSON.parse(await Deno.readTextFile(statePath));
    for (const bad of [{ ...state, loader: {} }, { ...state, step: "2" }, null]) {
      await Deno.writeTextFile(statePath, JSON.stringify(bad));
      await assert.rejects(
        resumeTraining(run, { steps: 3, device: await cpuBackend() }),
        (e: Error) => e instanceof BenteviError && e.message.startsWith(statePath),
      );
    }
  });
});

Deno.test("train: a batch shape larger than the machine's memory is refused naming run.json", async () => {
  await inTemp(async (dir) => {
    const [seed] = await trainerState.seeds(join(dir, "seeds"));
    const spec = JSON.parse(new TextDecoder().decode(seed.files["run.json"]));
    const run = join(dir, "run");
    await writeFiles(run, { "run.json": seed.files["run.json"] });
    const tokenizer = await smallTokenizer();
    const data = await loadTrainingData(spec.data, tokenizer, { valFraction: 0.2 });
    try {
      for (const batchSize of [2 ** 31, 1e308]) {
        await assert.rejects(
          runTraining(run, { ...spec, options: { ...spec.options, batchSize } }, {
            backend: await cpuBackend(),
            data,
            tokenizerPath: join(run, "tokenizer.json"),
          }),
          /run\.json: batch size .* GiB to train, more than this machine's/,
        );
      }
    } finally {
      data.close();
    }
  });
});

Deno.test("metrics.jsonl: a torn line on resume drops that line only", async () => {
  await inTemp(async (dir) => {
    const path = join(dir, "metrics.jsonl");
    await Deno.writeTextFile(
      path,
      '{"step":1,"loss":5}\n{"step":2,"lo\n{"step":3,"loss":4}\n{"step":9,"loss":1}\n',
    );
    const m = new MetricsLog(dir, "gpt-micro");
    await m.resumeAt(5);
    assert.deepEqual(m.train.map((p) => p.step), [1, 3]);
    assert.equal(await Deno.readTextFile(path), '{"step":1,"loss":5}\n{"step":3,"loss":4}\n');
  });
});

Deno.test("chat /load: a null history entry or a bad maxNewTokens names the file", async () => {
  await inTemp(async (dir) => {
    await chatSave.seeds(join(dir, "seeds"));
    const file = join(dir, "gpt-chat.json");
    for (
      const j of [
        { format: "bentevi-chat", history: [null] },
        { format: "bentevi-chat", history: [], maxNewTokens: -1 },
      ]
    ) {
      await Deno.writeTextFile(file, JSON.stringify(j));
      await assert.rejects(
        chatSave.run(dir, file),
        (e: Error) => e instanceof BenteviError && e.message.startsWith(file),
      );
    }
  });
});

Deno.test("checkpoint: a config with a million layers is refused before listing weights", async () => {
  await inTemp(async (dir) => {
    const config = tinyGpt(260);
    await saveCheckpoint(dir, { config, weights: initWeights(config, 1) });
    const path = join(dir, "config.json");
    const j = JSON.parse(await Deno.readTextFile(path));
    j.n_layer = 1_000_000;
    if (j.bentevi) j.bentevi.nLayer = 1_000_000;
    await Deno.writeTextFile(path, JSON.stringify(j));
    await assert.rejects(
      loadCheckpoint(dir),
      /1000000 layers, but the file holds only \d+ tensors/,
    );
  });
});

Deno.test("tokenizer.json: invalid JSON gives a one-line error", () => {
  assert.throws(
    () => Tokenizer.fromJSON('{\n "aaaaaa": 1,\n "b":\\96,\n "c": 2\n}', "t.json"),
    (e: Error) =>
      e instanceof BenteviError && !e.message.includes("\n") && /^t\.json: /.test(e.message),
  );
});

Deno.test("training options: AdamW betas and eps in range, grad-accum bounded", () => {
  const config = tinyGpt(260);
  const ok = {
    steps: 10,
    batchSize: 1,
    context: 8,
    gradAccum: 1,
    warmup: 1,
    decaySteps: 10,
    evalEvery: 0,
    saveEvery: 0,
    keepLast: 1,
    evalBatches: 1,
    lr: 1e-3,
    minLr: 1e-4,
    weightDecay: 0,
    decayEmbeddings: false,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    clip: 1,
    seed: 1,
    patience: 0,
  };
  validateTrainOptions(ok, config);
  for (const bad of [{ beta1: 1 }, { beta2: -0.1 }, { eps: 0 }, { gradAccum: 5000 }]) {
    assert.throws(() => validateTrainOptions({ ...ok, ...bad }, config), BenteviError);
  }
});

Deno.test("index-db: a damaged schema or options/inputs in meta give one line naming the index", async () => {
  await inTemp(async (dir) => {
    await Deno.writeTextFile(join(dir, "a.txt"), "O sabiá canta na laranjeira.");
    const damage: [string, string][] = [
      ["column", "ALTER TABLE chunks RENAME COLUMN char_start TO chxr_start"],
      ["inputs", "UPDATE meta SET value = '[\"a' WHERE key = 'inputs'"],
      ["options", "UPDATE meta SET value = '{\"strategy\":1}' WHERE key = 'options'"],
    ];
    for (const [what, sql] of damage) {
      const index = join(dir, `${what}.db`);
      await buildIndex([join(dir, "a.txt")], { index });
      const db = new DatabaseSync(index);
      db.exec(sql);
      db.close();
      await assert.rejects(
        async () => {
          const r = await Retriever.open(index);
          try {
            await r.search("sabia");
          } finally {
            r.close();
          }
          await indexInfo(index);
        },
        (e: unknown) =>
          e instanceof BenteviError && e.message.startsWith(`${index}: `) &&
          !e.message.includes("\n"),
        what,
      );
    }
  });
});

Deno.test("gguf: keys read from the file are escaped in errors, which stay one line", async () => {
  await using tmp = await tempDir();
  // Fuzz seed 1, mutant 7852: a key holding a newline, with an unknown value type.
  const path = join(tmp.path, "m.gguf");
  const meta = new Map([
    ["general.architecture", gguf.string("gpt2")],
    ["general.na\nme", gguf.u32(7)],
  ]);
  await writeGguf(path, meta, []);
  const bytes = await Deno.readFile(path);
  const key = new TextEncoder().encode("general.na\nme");
  let at = -1;
  for (let i = 0; at < 0 && i + key.length <= bytes.length; i++) {
    if (key.every((b, j) => bytes[i + j] === b)) at = i;
  }
  new DataView(bytes.buffer).setUint32(at + key.length, 0x6e61_6d65, true); // "name": no type
  await Deno.writeFile(path, bytes);
  assert.throws(
    () => openGguf(path),
    (e: Error) =>
      e instanceof BenteviError && !e.message.includes("\n") &&
      e.message.includes("metadata general.na\\u000ame has unknown value type"),
  );
  // A refused key (RoPE scaling) whose name holds a newline: the import's message too.
  const scaled = join(tmp.path, "scaled.gguf");
  await writeGguf(
    scaled,
    new Map([
      ["general.architecture", gguf.string("gpt2")],
      ["x\n.rope.scaling.type", gguf.string("linear")],
    ]),
    [],
  );
  await assert.rejects(
    loadCheckpoint(scaled),
    (e: Error) =>
      e instanceof BenteviError && !e.message.includes("\n") &&
      e.message.includes("x\\u000a.rope.scaling.type: RoPE scaling is not supported"),
  );
});

Deno.test("dataset info: a few tokens with an id near 2^24 take memory for the tokens, not for the id", async () => {
  await using tmp = await tempDir();
  // Fuzz seed 2, mutant 9053 of llmc-bin: 200 uint32 tokens, one of them 16,751,275 — a
  // table indexed by id and a scan of it took 2.7 s and ~490 MiB more memory.
  const path = join(tmp.path, "sparse.bin");
  const ids = Array.from({ length: 200 }, (_, i) => (i * 293) % 70000);
  ids[17] = 16_751_275;
  await writeTokenDataset(path, ids, { vocabSize: 2 ** 24 });
  resetPeakRss();
  const before = peakRss();
  const info = await datasetInfo(path, { top: 3 });
  const rise = peakRss() - before;
  assert.equal(info.maxTokenId, 16_751_275);
  assert.equal(info.distinctTokens, new Set(ids).size);
  assert.equal(info.topTokens[0].count, 1);
  assert.ok(rise < 64 * 2 ** 20, `peak RSS rose ${(rise / 2 ** 20).toFixed(0)} MiB`);
  // The dense count gives the same figures where the ids are dense.
  const dense = join(tmp.path, "dense.bin");
  await writeTokenDataset(dense, [3, 3, 4, 9, 3], { vocabSize: 10 });
  const d = await datasetInfo(dense);
  assert.deepEqual([d.distinctTokens, d.topTokens[0].id, d.topTokens[0].count], [3, 3, 3]);
});
