// The CLI as a whole: usage errors are one `bentevi: …` line with a non-zero exit, like every
// other error; --help and --version work on every command.
import assert from "node:assert/strict";
import { assertOneLineError, runCli } from "./_cli.ts";

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
