// Using adapters: the bank switches adapters in a loaded model (merged into the uploaded
// matrices, base restored exactly), and `--adapter` in predict, eval and chat gives what the
// merged checkpoint gives; adapters for another base are refused in one line.
import assert from "node:assert/strict";
import { join } from "node:path";
import { createBackend } from "../../src/backend/select.ts";
import type { LoadedAdapter } from "../../src/finetune/adapter_files.ts";
import { AdapterBank, parseAdapterRef, withAdapters } from "../../src/finetune/bank.ts";
import type { LoraSettings } from "../../src/finetune/lora.ts";
import { mergeAdapter } from "../../src/finetune/merge.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { BenteviError } from "../../src/errors.ts";
import { initWeights, type ModelConfig, presetConfig } from "../../src/model/mod.ts";
import { assertOneLineError, runCli } from "../_cli.ts";
import { CHAT_SPECIALS, tinyGpt, writeTinyCheckpoint } from "../generate/helpers.ts";
import { randomAdapter, writeRandomAdapter } from "./_adapters.ts";

Deno.test("AdapterBank: switching equals a model built with the adapter merged (float, and Q8_0/Q4_0 blocks quantized after merging); off restores the base", async () => {
  const be = await createBackend("cpu");
  const cases: [string, Partial<LoraSettings>, Partial<LoraSettings>][] = [
    ["gpt-micro", {}, { targets: ["c_fc"] }],
    ["llama-micro", { targets: ["q_proj", "k_proj", "v_proj", "o_proj"] }, {
      targets: ["v_proj", "up_proj"],
    }],
    ["rwkv-micro", { targets: ["key", "output"] }, {}],
  ];
  const quantized = cases.filter(([p]) => !p.startsWith("rwkv")).flatMap(([p, sa, sb]) =>
    (["q8_0", "q4_0"] as const).map((q) => [p, sa, sb, q] as const)
  );
  for (const [preset, sa, sb, quantize] of [...cases, ...quantized]) {
    const opts = quantize ? { quantize } : {};
    const config = { ...presetConfig(preset, 64), nLayer: 2 } as ModelConfig;
    const weights = initWeights(config, 1);
    const a = randomAdapter(config, 2, sa), b = randomAdapter(config, 3, sb);
    const ids = [1, 5, 9, 13, 2, 7];
    const logitsOf = (active: LoadedAdapter[]) => {
      const m = createLanguageModel(be, config, withAdapters(weights, active), preset, opts);
      const out = m.forwardAll(ids);
      return out.finally(() => m.dispose());
    };
    const model = createLanguageModel(be, config, weights, preset, opts);
    const bank = new AdapterBank(model, weights, [{ name: "a", adapter: a }, {
      name: "b",
      adapter: b,
    }]);
    const base = await model.forwardAll(ids);
    bank.use(["a"]);
    const withA = await model.forwardAll(ids);
    assert.deepEqual(withA, await logitsOf([a]), `${preset} ${quantize}: a`);
    assert.notDeepEqual(withA, base, `${preset} ${quantize}: a changes nothing`);
    bank.use(["b"]);
    assert.deepEqual(await model.forwardAll(ids), await logitsOf([b]), `${preset}: b`);
    bank.use(["a", "b"]);
    assert.deepEqual(await model.forwardAll(ids), await logitsOf([a, b]), `${preset}: a + b`);
    bank.use([]);
    assert.deepEqual(await model.forwardAll(ids), base, `${preset}: off`);
    assert.throws(
      () => bank.use(["c"]),
      (e: Error) => e instanceof BenteviError && /no adapter "c"; loaded: a, b/.test(e.message),
    );
    model.dispose();
  }
});

Deno.test("--adapter: NAME=DIR parsing", () => {
  assert.deepEqual(parseAdapterRef("juridico=runs/j"), { name: "juridico", dir: "runs/j" });
  assert.deepEqual(parseAdapterRef("runs/med/"), { name: "med", dir: "runs/med/" });
  assert.deepEqual(parseAdapterRef("/tmp/a=b/c"), { name: "c", dir: "/tmp/a=b/c" });
  assert.throws(() => parseAdapterRef("off=x"), BenteviError);
});

Deno.test("CLI --adapter: predict and eval equal the merged checkpoint; chat /adapter; refusals", async () => {
  const dir = await Deno.makeTempDir();
  const cli = (args: string[], stdin?: string) =>
    runCli(args, {
      permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"],
      stdin,
      cwd: dir,
    });
  try {
    const config = tinyGpt(260);
    const ck = join(dir, "ck");
    await writeTinyCheckpoint(ck, config, CHAT_SPECIALS);
    const ad = join(dir, "ad");
    await writeRandomAdapter(ad, ck, 4);
    await mergeAdapter({ base: ck, adapter: ad, out: join(dir, "merged") });
    await Deno.writeTextFile(
      join(dir, "t.txt"),
      "Era uma vez um passarinho chamado bem-te-vi. ".repeat(4),
    );
    const predict = ["predict", "--prompt", "Era uma", "--top", "5", "--json", "--device", "cpu"];
    const [withAdapter, merged, plain] = await Promise.all([
      cli([...predict, "--checkpoint", ck, "--adapter", `jur=${ad}`]),
      cli([...predict, "--checkpoint", join(dir, "merged")]),
      cli([...predict, "--checkpoint", ck]),
    ]);
    assert.equal(withAdapter.code, 0, withAdapter.stderr);
    assert.deepEqual(JSON.parse(withAdapter.stdout), JSON.parse(merged.stdout));
    assert.notDeepEqual(JSON.parse(withAdapter.stdout), JSON.parse(plain.stdout));
    const evalArgs = [
      "eval",
      "--data",
      join(dir, "t.txt"),
      "--json",
      "--device",
      "cpu",
      "--context",
      "32",
    ];
    const [e1, e2] = await Promise.all([
      cli([...evalArgs, "--checkpoint", ck, "--adapter", ad]),
      cli([...evalArgs, "--checkpoint", join(dir, "merged")]),
    ]);
    assert.equal(e1.code, 0, e1.stderr);
    assert.equal(JSON.parse(e1.stdout).loss, JSON.parse(e2.stdout).loss);
    const chat = await cli(
      [
        "chat",
        "--checkpoint",
        ck,
        "--adapter",
        `jur=${ad}`,
        "--device",
        "cpu",
        "--max-tokens",
        "3",
        "--seed",
        "1",
      ],
      ["/adapter", "Oi", "/adapter off", "Oi", "/adapter nada", "/adapter jur", "/good"].join("\n"),
    );
    assert.equal(chat.code, 0, chat.stderr);
    const lines = chat.stdout.trim().split("\n");
    assert.equal(lines[0], "adapter: jur; loaded: jur");
    assert.equal(lines[2], "adapter = off (the base model)");
    assert.match(lines[4], /error: no adapter "nada"; loaded: jur/);
    assert.equal(lines[5], "adapter = jur");
    const fb = JSON.parse(await Deno.readTextFile(join(dir, "feedback.jsonl")));
    assert.deepEqual(fb.adapters, ["jur"]);
    // Refusals: an adapter for another base, a name given twice, not an adapter.
    const other = join(dir, "other");
    await writeTinyCheckpoint(other, { ...config, nLayer: 3 } as ModelConfig, CHAT_SPECIALS);
    const refused = await Promise.all([
      cli([...predict, "--checkpoint", other, "--adapter", ad]),
      cli([...predict, "--checkpoint", ck, "--adapter", `x=${ad}`, "--adapter", `x=${ad}`]),
      cli([...predict, "--checkpoint", ck, "--adapter", dir]),
    ]);
    assertOneLineError(
      refused[0],
      /ad: the adapter was made for another base model \(its configuration differs/,
    );
    assertOneLineError(refused[1], /the name "x" is given twice/);
    assertOneLineError(refused[2], /not an adapter directory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
