// Fixtures of the server tests: a tiny checkpoint with the chat tokens, SSE parsing, starting
// `bentevi serve` as a process.
import { CLI } from "../_cli.ts";
import { CHAT_SPECIALS, tinyGpt, tinyRwkv, writeTinyCheckpoint } from "../generate/helpers.ts";
import { moduleTempDir } from "../_tmp.ts";

/**
 * Writes a tiny GPT (context `context`) and a tiny RWKV checkpoint under a new temp dir, removed
 * when the test module unloads (earlier if the test removes it).
 */
export async function tinyCheckpoints(
  context = 128,
): Promise<{ root: string; gpt: string; rwkv: string }> {
  const root = await moduleTempDir({ prefix: "bentevi-serve-" });
  await writeTinyCheckpoint(`${root}/gpt`, tinyGpt(260, context), CHAT_SPECIALS);
  await writeTinyCheckpoint(`${root}/rwkv`, tinyRwkv(260), CHAT_SPECIALS);
  return { root, gpt: `${root}/gpt`, rwkv: `${root}/rwkv` };
}

/** The `data:` payloads of a server-sent event stream (`[DONE]` as the string). */
export function sseData(text: string): unknown[] {
  return text.split("\n\n").filter((e) => e.trim()).map((e) => {
    if (!e.startsWith("data: ")) throw new Error(`not an SSE data event: ${e}`);
    const data = e.slice(6);
    return data === "[DONE]" ? data : JSON.parse(data);
  });
}

/** Starts `bentevi serve ARGS` and waits for the line naming its URL. */
export async function startServe(args: string[]): Promise<{
  url: string;
  child: Deno.ChildProcess;
  stderr: Promise<string>;
}> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      "--allow-ffi",
      "--allow-net=127.0.0.1",
      CLI,
      "serve",
      "--port",
      "0",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/ at (http:\/\/\S+) /.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited before listening: ${out}\n${await stderr}`);
    out += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { url: / at (http:\/\/\S+) /.exec(out)![1], child, stderr };
}
