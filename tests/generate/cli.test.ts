import assert from "node:assert/strict";
import { runCli } from "../_cli.ts";
import { CHAT_SPECIALS, exists, tinyGpt, tinyRwkv, writeTinyCheckpoint } from "./helpers.ts";

// The generation commands need no more than these.
const cli = (args: string[], stdin?: string, cwd?: string) =>
  runCli(args, {
    permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"],
    stdin,
    cwd,
  });

Deno.test("CLI: chat over piped stdin — one answer per line, slash commands, feedback.jsonl", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyCheckpoint(`${dir}/ckpt`, tinyRwkv(260), CHAT_SPECIALS);
    const input = [
      "Olá, tudo bem?",
      "/temp 1.5x",
      "/top-p 2",
      "/nada",
      "/good",
      "Conte uma história",
      "/stats",
      "/persona tecnico",
      "/save conversa.json",
      "/bad",
      "",
      "Última pergunta",
    ].join("\n");
    const r = await cli(
      [
        "chat",
        "--checkpoint",
        `${dir}/ckpt`,
        "--device",
        "cpu",
        "--seed",
        "4",
        "--max-tokens",
        "12",
      ],
      input,
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.equal(lines.at(-1), "", "ends with a newline");
    lines.pop();
    assert.equal(lines.length, 11, r.stdout);
    assert.match(lines[1], /error: \/temp: "1.5x" is not a number/);
    assert.match(lines[2], /error: top-p must be in \(0, 1\]/);
    assert.match(lines[3], /unknown command "\/nada"/);
    assert.match(lines[4], /feedback saved to feedback.jsonl/);
    assert.match(lines[6], /turns 4 \| context used/);
    assert.equal(lines[7], "persona = tecnico");
    assert.match(lines[8], /saved to conversa.json/);
    const feedback = (await Deno.readTextFile(`${dir}/feedback.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(feedback.map((f) => [f.rating, f.prompt]), [
      ["good", "Olá, tudo bem?"],
      ["bad", "Conte uma história"],
    ]);
    assert.equal(feedback[0].answer, lines[0]);
    assert.equal(feedback[1].persona, "tecnico");
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/conversa.json`));
    assert.equal(saved.history.length, 4);
    // Same seed, same conversation.
    const again = await cli(
      [
        "chat",
        "--checkpoint",
        `${dir}/ckpt`,
        "--device",
        "cpu",
        "--seed",
        "4",
        "--max-tokens",
        "12",
      ],
      "Olá, tudo bem?\n",
      dir,
    );
    assert.equal(again.stdout.split("\n")[0], lines[0]);
    // A tokenizer without chat tokens: the plain template, said once on stderr.
    await writeTinyCheckpoint(`${dir}/plain`, tinyGpt(256), []);
    const plain = await cli(
      [
        "chat",
        "--checkpoint",
        `${dir}/plain`,
        "--device",
        "cpu",
        "--max-tokens",
        "5",
        "--educational",
      ],
      'um\ndois\n/tokens-demo "Olá"\n/quit\ntrês\n',
      dir,
    );
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout.split("\n")[2], /^text: "Olá"/, "two answers, then /tokens-demo");
    assert.match(plain.stdout, /tokens \(4\):/, "the /tokens-demo reply");
    assert.match(plain.stdout, /\nbye\n$/);
    assert.equal(plain.stderr.match(/plain template/g)?.length, 1);
    // Educational mode on stderr (a pipe): each token, its candidates, its sampling step and
    // where the heads looked.
    assert.match(plain.stderr, /#1 ".*" +id \d+ +p=[\d.]+%\n {3}candidates: /);
    assert.match(
      plain.stderr,
      /\n {3}sampling: .*top-k 40: 40 left → top-p 0\.95: \d+ left → draw /,
    );
    assert.match(plain.stderr, /\n {3}attention \(block 1, \d+ positions\): h0 /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: generate --json, --stream, predict --json, perplexity, and bad inputs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyCheckpoint(`${dir}/ckpt`, tinyGpt(256, 32));
    const base = ["--checkpoint", `${dir}/ckpt`, "--device", "cpu"];
    const g = await cli([
      "generate",
      ...base,
      "--prompt",
      "Olá",
      "--max-tokens",
      "7",
      "--seed",
      "1",
      "--json",
      "--ignore-eos",
    ]);
    assert.equal(g.code, 0, g.stderr);
    const j = JSON.parse(g.stdout);
    assert.equal(j.tokens.length, 7);
    assert.equal(typeof j.text, "string");
    assert.ok(j.tokens_per_second > 0);
    const g2 = await cli([
      "generate",
      ...base,
      "--prompt",
      "Olá",
      "--max-tokens",
      "7",
      "--seed",
      "1",
      "--json",
      "--ignore-eos",
    ]);
    assert.deepEqual(JSON.parse(g2.stdout).tokens, j.tokens, "same seed, same tokens");
    const s = await cli([
      "generate",
      ...base,
      "--prompt",
      "Olá",
      "--max-tokens",
      "5",
      "--seed",
      "1",
      "--stream",
      "--temperature",
      "0",
    ]);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(s.stdout.startsWith("Olá"));
    const long = await cli([
      "generate",
      ...base,
      "--prompt",
      "x".repeat(100),
      "--max-tokens",
      "2",
      "--json",
    ]);
    assert.equal(long.code, 0, long.stderr);
    assert.match(
      long.stderr,
      /the prompt has 100 tokens, more than the context of 32: keeping its last 31/,
    );
    const p = await cli(["predict", ...base, "--prompt", "abc", "--top", "4", "--json"]);
    assert.equal(p.code, 0, p.stderr);
    const top = JSON.parse(p.stdout).top;
    assert.equal(top.length, 4);
    assert.deepEqual(Object.keys(top[0]), ["id", "token", "prob", "logit"]);
    assert.ok(top[0].prob >= top[1].prob);
    await Deno.writeTextFile(
      `${dir}/t.txt`,
      "Era uma vez um passarinho chamado bem-te-vi. ".repeat(3),
    );
    const ppl = await cli(["perplexity", ...base, `${dir}/t.txt`, "--json"]);
    assert.equal(ppl.code, 0, ppl.stderr);
    const pj = JSON.parse(ppl.stdout);
    assert.ok(pj.perplexity > 1 && pj.tokens > 100 && pj.windows >= 4);
    // Bad inputs: one clear line, non-zero exit.
    const bad = await cli(["generate", ...base, "--prompt", "x", "--top-p", "1.5"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /top-p.*1.5/);
    const bad2 = await cli(["generate", "--checkpoint", `${dir}/none`, "--prompt", "x"]);
    assert.notEqual(bad2.code, 0);
    assert.match(bad2.stderr, /^bentevi: .*none: file not found\n$/);
    await Deno.mkdir(`${dir}/empty`);
    const bad3 = await cli(["predict", "--checkpoint", `${dir}/empty`, "--prompt", "x"]);
    assert.notEqual(bad3.code, 0);
    assert.match(bad3.stderr, /config.json/);
    const bad4 = await cli(["perplexity", ...base, `${dir}/missing.txt`]);
    assert.match(bad4.stderr, /missing.txt: file not found/);
    const bad5 = await cli(["convert", "rwkv-cpp", `${dir}/t.txt`, "--output", `${dir}/out`]);
    assert.notEqual(bad5.code, 0);
    assert.match(bad5.stderr, /t.txt: not a valid rwkv.cpp/);
    assert.equal(exists(`${dir}/out`), false, "no partial output");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
