// Issue 13, items 2 and 3, with real child processes: SIGINT and SIGTERM during `train` finish
// the step, save a checkpoint and exit 130 / 143; a run directory in use is locked (a second
// `train --force` or `resume` is refused, naming the holder's PID), a stale lock is taken over
// with a notice, and the lock is gone on every way out.
import assert from "node:assert/strict";
import { assertOneLineError, CLI, runCliInProcess as bentevi } from "../_cli.ts";
import { LOCK_FILE } from "../../src/io/lock.ts";
import { makeFixture } from "./helpers.ts";

const fx = await makeFixture();
const trainArgs = (out: string, steps = 100_000) => [
  "train",
  "--data",
  fx.text,
  "--tokenizer",
  fx.tokenizer,
  "--out",
  out,
  "--model",
  "gpt-micro",
  "--steps",
  String(steps),
  "--batch-size",
  "2",
  "--context",
  "16",
  "--eval-every",
  "0",
  "--eval-batches",
  "1",
  "--device",
  "cpu",
];

/** A CLI child whose stderr is collected as it comes. */
function spawnCli(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    // exactly the permissions README documents for `train`: the lock needs nothing more
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi", CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stderr = "";
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const pump = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) {
      stderr += dec.decode(chunk, { stream: true });
      for (const w of waiters.splice(0)) {
        if (w.re.test(stderr)) w.resolve();
        else waiters.push(w);
      }
    }
  })();
  const stdout = new Response(child.stdout).text();
  return {
    child,
    get stderr() {
      return stderr;
    },
    /** Waits until stderr matches `re`, or the child ends (then fails). */
    async waitFor(re: RegExp): Promise<void> {
      if (re.test(stderr)) return;
      const seen = new Promise<void>((resolve) => waiters.push({ re, resolve }));
      const ended = child.status.then(() => "ended" as const);
      const r = await Promise.race([seen.then(() => "seen" as const), ended]);
      assert.equal(r, "seen", `the child ended before ${re}: ${stderr}`);
    },
    async finish() {
      const status = await child.status;
      await pump;
      return { code: status.code, signal: status.signal, stdout: await stdout, stderr };
    },
  };
}

/** Kills `child` if the test failed before it ended (bounded: no test can hang on it). */
function guard(child: Deno.ChildProcess): ReturnType<typeof setTimeout> {
  return setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
  }, 240_000);
}

async function lockPresent(run: string): Promise<boolean> {
  return await Deno.stat(`${run}/${LOCK_FILE}`).then(() => true, () => false);
}

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`${signal} during train: the step finishes, a checkpoint is saved, exit ${code}`, async () => {
    const run = `${fx.dir}/run-${signal}`;
    const p = spawnCli(trainArgs(run));
    const timer = guard(p.child);
    try {
      await p.waitFor(/step \d+\/100000/);
      assert.ok(await lockPresent(run), "a running run holds its lock");
      if (signal === "SIGTERM") {
        // Item 3: the directory is in use — a second run, even with --force, is refused.
        const second = await bentevi(...trainArgs(run, 3), "--force");
        assertOneLineError(
          second,
          new RegExp(`in use by another Bentevi process \\(PID ${p.child.pid}`),
        );
        const r = await bentevi("resume", run, "--device", "cpu");
        assertOneLineError(r, /in use by another Bentevi process/);
      }
      p.child.kill(signal);
      const out = await p.finish();
      assert.equal(out.code, code, out.stderr);
      assert.match(
        out.stderr,
        new RegExp(`bentevi: stopped by ${signal} at step \\d+; checkpoint`),
      );
      const step = Number(out.stderr.match(/stopped by \w+ at step (\d+)/)![1]);
      assert.ok(step >= 1);
      const ckpt = `${run}/step-${String(step).padStart(6, "0")}`;
      assert.ok((await Deno.stat(`${ckpt}/model.safetensors`)).isFile, out.stderr);
      assert.ok(!(await lockPresent(run)), "the lock is released");
      const leftovers = [];
      for await (const e of Deno.readDir(run)) if (e.name.endsWith(".tmp")) leftovers.push(e.name);
      assert.deepEqual(leftovers, []);
      // The run continues from there.
      const r = await bentevi("resume", run, "--steps", String(step + 1), "--device", "cpu");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`resuming .* from step ${step}`));
    } finally {
      clearTimeout(timer);
      try {
        p.child.kill("SIGKILL");
      } catch { /* ended */ }
      await p.child.status;
    }
  });
}

Deno.test("a live lock is never overridden; a stale one is taken over with a notice", async () => {
  const run = `${fx.dir}/run-lock`;
  const t = await bentevi(...trainArgs(run, 2));
  assert.equal(t.code, 0, t.stderr);
  assert.ok(!(await lockPresent(run)));
  const before = await Deno.readTextFile(`${run}/metrics.jsonl`);
  // A live holder: another process (not Bentevi's, but alive) recorded in the lock.
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    await Deno.writeTextFile(
      `${run}/${LOCK_FILE}`,
      JSON.stringify({ pid: sleeper.pid, command: "train", since: "2026-01-01T00:00:00Z" }),
    );
    for (const args of [[...trainArgs(run, 3), "--force"], ["resume", run, "--steps", "3"]]) {
      const r = await bentevi(...args);
      assertOneLineError(
        r,
        new RegExp(`${run}: in use by another Bentevi process \\(PID ${sleeper.pid}, \`train\``),
      );
      assert.match(r.stderr, /--force does not override a lock/);
      assert.equal(await Deno.readTextFile(`${run}/metrics.jsonl`), before);
    }
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
  }
  // The holder is gone: the lock is stale.
  const r = await bentevi("resume", run, "--steps", "3", "--device", "cpu");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /notice: .*taking over a stale lock of process \d+ .*no longer running/);
  assert.ok(!(await lockPresent(run)));
});

Deno.test("the lock is released when the command fails, and a folder it created is removed", async () => {
  const run = `${fx.dir}/run-fails`;
  const r = await bentevi(
    "train",
    "--data",
    `${fx.dir}/no-such-corpus.txt`,
    "--tokenizer",
    fx.tokenizer,
    "--out",
    run,
    "--device",
    "cpu",
  );
  assertOneLineError(r, /no-such-corpus\.txt/);
  assert.ok(!(await Deno.stat(run).then(() => true, () => false)), "no empty run folder left");
});
