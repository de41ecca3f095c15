// `bentevi serve` as a real process with its documented permissions (here --allow-net=127.0.0.1
// and --port 0, since the port is picked at run time), driven by the official `openai` client in
// a second process that holds only --allow-net=127.0.0.1:PORT and --allow-env. The test process
// itself never touches the network, so `deno task test` needs no --allow-net.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { assertOneLineError, runCli } from "../_cli.ts";
import { startServe, tinyCheckpoints } from "./_fixture.ts";
import { writeRandomAdapter } from "../finetune/_adapters.ts";

Deno.test("serve: the official openai client against a running server (streaming and not, two LoRA adapters), raw bad requests, a client gone mid-stream", async () => {
  const ckpt = await tinyCheckpoints();
  await writeRandomAdapter(`${ckpt.root}/jur`, ckpt.gpt, 11, 0.5);
  await writeRandomAdapter(`${ckpt.root}/med`, ckpt.gpt, 12, 0.5);
  const { url, child, stderr } = await startServe([
    "--checkpoint",
    ckpt.gpt,
    "--device",
    "cpu",
    "--adapter",
    `jur=${ckpt.root}/jur`,
    "--adapter",
    `med=${ckpt.root}/med`,
  ]);
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const port = new URL(url).port;
    const client = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-net=127.0.0.1:${port}`,
        "--allow-env",
        fileURLToPath(new URL("./_openai_client.ts", import.meta.url)),
        url,
      ],
      env: { NO_COLOR: "1" },
    }).output();
    const dec = new TextDecoder();
    assert.equal(client.code, 0, dec.decode(client.stderr) + dec.decode(client.stdout));
    assert.match(dec.decode(client.stdout), /client checks passed/);
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  const log = await stderr;
  assert.equal(status.code, 0, log);
  assert.match(log, /POST \/v1\/chat\/completions 200/);
  assert.match(log, /cancelled: client disconnected/);
  assert.doesNotMatch(log, /internal error/);
  await Deno.remove(ckpt.root, { recursive: true });
});

Deno.test("serve: bad input is one line — no such checkpoint, not an adapter, no --allow-net, port in use", async () => {
  const ckpt = await tinyCheckpoints();
  const perms = ["--allow-read", "--allow-env", "--allow-ffi"];
  try {
    assertOneLineError(
      await runCli(["serve", "--checkpoint", `${ckpt.root}/none`], {
        permissions: [...perms, "--allow-net=127.0.0.1"],
      }),
      /none: file not found/,
    );
    assertOneLineError(
      await runCli([
        "serve",
        "--checkpoint",
        ckpt.gpt,
        "--device",
        "cpu",
        "--adapter",
        `jur=${ckpt.root}`,
      ], { permissions: [...perms, "--allow-net=127.0.0.1"] }),
      /not an adapter directory/,
    );
    assertOneLineError(
      await runCli(["serve", "--checkpoint", ckpt.gpt, "--device", "cpu", "--port", "8099"], {
        permissions: perms,
      }),
      /no permission to listen on 127\.0\.0\.1:8099: run with --allow-net=127\.0\.0\.1:8099/,
    );
    const { url, child } = await startServe(["--checkpoint", ckpt.gpt, "--device", "cpu"]);
    try {
      const port = new URL(url).port;
      assertOneLineError(
        await runCli(["serve", "--checkpoint", ckpt.gpt, "--device", "cpu", "--port", port], {
          permissions: [...perms, "--allow-net=127.0.0.1"],
        }),
        /is in use/,
      );
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  } finally {
    await Deno.remove(ckpt.root, { recursive: true });
  }
});
