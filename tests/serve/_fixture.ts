// Fixtures of the server tests: a tiny checkpoint with the chat tokens, SSE parsing.
import { CHAT_SPECIALS, tinyGpt, tinyRwkv, writeTinyCheckpoint } from "../generate/helpers.ts";

/** Writes a tiny GPT (context `context`) and a tiny RWKV checkpoint under a new temp dir. */
export async function tinyCheckpoints(
  context = 128,
): Promise<{ root: string; gpt: string; rwkv: string }> {
  const root = await Deno.makeTempDir({ prefix: "bentevi-serve-" });
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
