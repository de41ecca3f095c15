// The CLI as a whole: usage errors are one `bentevi: …` line with a non-zero exit, like every
// other error; --help and --version work on every command.
import assert from "node:assert/strict";
import { assertOneLineError, runCli, runCliInProcess } from "./_cli.ts";

Deno.test("usage errors: one line, exit 1", async () => {
  for (
    const [args, pattern] of [
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["chunk"], /missing required argument 'file'/],
      [["generate", "--checkpoint", "x", "--prompt", "oi", "--top-p", "1.5"], /top-p.*1\.5/],
      [["tokenizer", "train", "a.txt", "--vocab-size", "300"], /--output/],
      [["train", "--steps", "-3"], /--steps|required option/],
    ] as const
  ) {
    const r = await runCli(args);
    assert.equal(r.code, 1, args.join(" "));
    assertOneLineError(r, pattern, { only: true });
    assert.match(r.stderr, /\(see --help\)/);
  }
});

Deno.test("--help on every command, --version", async () => {
  const top = await runCli(["--help"]);
  assert.equal(top.code, 0);
  const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1])
    .filter((c) => c !== "help");
  assert.ok(commands.length >= 18, commands.join(","));
  for (const c of commands) {
    const r = await runCli([c, "--help"]);
    assert.equal(r.code, 0, c);
    assert.match(r.stdout, /Usage: bentevi /, c);
  }
  const v = await runCli(["--version"]);
  assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

Deno.test("the README's `deno install` line gives a working `bentevi` command", async () => {
  // `deno install -g` ignores deno.json unless told, so the README passes --config; a fresh
  // root folder keeps the user's own ~/.deno untouched.
  const root = await Deno.makeTempDir();
  const repo = new URL("..", import.meta.url).pathname;
  const install = await new Deno.Command(Deno.execPath(), {
    args: [
      "install",
      "-g",
      "-A",
      "-n",
      "bentevi",
      "--root",
      root,
      "--config",
      "deno.json",
      "cli.ts",
    ],
    cwd: repo,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
  const run = await new Deno.Command(`${root}/bin/bentevi`, {
    args: ["--version"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
  assert.match(new TextDecoder().decode(run.stdout).trim(), /^\d+\.\d+\.\d+$/);
  await Deno.remove(root, { recursive: true });
});

// Issue 13 item 11: `bench kernels` took the device only as a positional input while every
// other command takes --device; both work now, and a contradiction or a --device given to a
// suite that runs on no device is refused.
Deno.test("bench kernels takes --device (and still the positional device)", async () => {
  const r = await runCliInProcess("bench", "kernels", "--device", "cpu", "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.match(JSON.parse(r.stdout).device, /^CPU/);
  const twice = await runCliInProcess("bench", "kernels", "webgpu", "--device", "cpu");
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /^bentevi: bench kernels: the device is given twice/m);
  const bad = await runCliInProcess("bench", "kernels", "gpu0");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /takes at most one input, the device \(auto, webgpu, native or cpu\)/);
  const none = await runCliInProcess("bench", "chunking", "--device", "cpu");
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^bentevi: bench chunking takes no --device option/m);
});

// Equal-parameter comparisons: `bench train` and `bench decode` take PRESET:field=value,… models.
Deno.test("bench train and bench decode take models with fields changed", async () => {
  const tiny = "gpt-micro:nLayer=1,dModel=32,nHead=2,mlpDim=64,contextLength=8";
  const tinyRwkv7 = "rwkv7-micro:nLayer=1,dModel=64,ffnDim=64,contextLength=8";
  const train = await runCliInProcess("bench", "train", "cpu", "1", tiny, tinyRwkv7, "--json");
  assert.equal(train.code, 0, train.stderr);
  const t = JSON.parse(train.stdout);
  assert.equal(t.rounds, 2);
  assert.deepEqual(t.models.map((m: { context: number }) => m.context), [8, 8]);
  assert.equal(t.models[0].tokens_per_second_rounds.length, 2);
  assert.ok(t.models[1].parameters > t.models[0].parameters);
  // Decoding times 64 tokens after a 32-token prompt: the context must hold them.
  const long = tiny.replace("contextLength=8", "contextLength=100");
  const decode = await runCliInProcess("bench", "decode", "--device", "cpu", long, "--json");
  assert.equal(decode.code, 0, decode.stderr);
  const d = JSON.parse(decode.stdout).decode;
  assert.equal(d.length, 1);
  assert.equal(d[0].device, "cpu");
  assert.ok(d[0].tokens_per_second > 0 && d[0].rounds.length === 3);
  const bad = await runCliInProcess("bench", "train", "cpu", "1", "gpt-micro:nHead=3");
  assert.equal(bad.code, 1);
  assert.equal(
    bad.stderr.trim(),
    'bentevi: model "gpt-micro:nHead=3": dModel 128 is not a multiple of nHead 3',
  );
});

Deno.test("progress: plain lines wait one interval from the start, not from process start", async () => {
  const { consoleProgress } = await import("../src/progress.ts");
  // The process has run longer than the interval: an early error must not follow a progress line.
  while (performance.now() < 600) await new Promise((r) => setTimeout(r, 50));
  const lines: string[] = [];
  const p = consoleProgress({ tty: false, intervalSeconds: 0.5, write: (t) => lines.push(t) });
  p.start("counting", 10, "files");
  p.update(1);
  p.update(2);
  assert.deepEqual(lines, [], "printed before one interval passed");
  await new Promise((r) => setTimeout(r, 550));
  p.update(3);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^counting/);
});
