// Run by openai_client.test.ts as its own process, with only --allow-net=127.0.0.1:PORT and
// --allow-env: the official `openai` npm client against a running `bentevi serve` (started with
// two LoRA adapters, `--adapter jur=… --adapter med=…`), then raw malformed requests and a client
// that disconnects mid-stream. Exits non-zero on a failure.
import assert from "node:assert/strict";
import OpenAI from "openai";

const base = Deno.args[0];
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused", maxRetries: 0 });
const messages = [{ role: "user" as const, content: "Qual é a capital do Brasil?" }];

const models = await client.models.list();
assert.deepEqual(models.data.map((m) => m.id), ["gpt", "jur", "med"]);

const plain = await client.chat.completions.create({
  model: "gpt",
  messages,
  max_tokens: 16,
  seed: 7,
});
assert.equal(plain.object, "chat.completion");
assert.equal(typeof plain.choices[0].message.content, "string");
assert.ok(plain.usage!.prompt_tokens > 0);
assert.ok(plain.usage!.completion_tokens <= 16);

const stream = await client.chat.completions.create({
  model: "gpt",
  messages,
  max_tokens: 16,
  seed: 7,
  stream: true,
  stream_options: { include_usage: true },
});
let text = "", chunks = 0, finish: string | null = null;
let usage: OpenAI.CompletionUsage | undefined;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  const c = chunk.choices[0];
  if (c?.delta?.content) text += c.delta.content;
  if (c?.finish_reason) finish = c.finish_reason;
}
assert.equal(text, plain.choices[0].message.content);
assert.equal(finish, plain.choices[0].finish_reason);
assert.deepEqual(usage, plain.usage);
assert.ok(chunks > 2);

const completion = await client.completions.create({
  model: "gpt",
  prompt: "Era uma vez",
  max_tokens: 8,
  seed: 1,
});
assert.equal(completion.object, "text_completion");
let streamed = "";
for await (
  const c of await client.completions.create({
    model: "gpt",
    prompt: "Era uma vez",
    max_tokens: 8,
    seed: 1,
    stream: true,
  })
) streamed += c.choices[0]?.text ?? "";
assert.equal(streamed, completion.choices[0].text);

// LoRA adapters: `model` picks one (as vLLM serves LoRAs); the answer says which answered.
const byModel = async (model: string) => {
  const r = await client.chat.completions.create({
    model,
    messages,
    max_tokens: 16,
    min_tokens: 16,
    seed: 7,
  } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  return { model: r.model, text: r.choices[0].message.content };
};
const jur = await byModel("jur"), med = await byModel("med");
assert.equal(jur.model, "jur");
assert.equal(med.model, "med");
assert.notEqual(jur.text, med.text, "two adapters, two answers");
assert.notEqual(jur.text, (await byModel("gpt")).text, "an adapter changes the answer");
assert.deepEqual(await byModel("gpt:med"), med);
let jurStreamed = "";
for await (
  const c of await client.chat.completions.create({
    model: "jur",
    messages,
    max_tokens: 16,
    min_tokens: 16,
    seed: 7,
    stream: true,
  } as OpenAI.ChatCompletionCreateParamsStreaming)
) {
  assert.equal(c.model, "jur");
  jurStreamed += c.choices[0]?.delta?.content ?? "";
}
assert.equal(jurStreamed, jur.text);
await assert.rejects(
  client.chat.completions.create({ model: "medico", messages }),
  (e: unknown) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.status, 404);
    assert.equal(e.code, "model_not_found");
    assert.equal(e.param, "model");
    assert.match(e.message, /"medico" does not exist here; available: gpt, jur, med/);
    return true;
  },
);

const emb = await client.embeddings.create({ model: "gpt", input: ["Chove.", "Faz sol."] });
assert.equal(emb.data.length, 2);
assert.equal(emb.data[0].embedding.length, 16);

// The client's own error classes carry the server's error objects.
await assert.rejects(
  client.chat.completions.create({ model: "gpt", messages, temprature: 2 } as never),
  (e: unknown) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.status, 400);
    assert.equal((e.error as { param?: string }).param, "temprature");
    return true;
  },
);
await assert.rejects(
  client.chat.completions.create({
    model: "gpt",
    messages: [{ role: "user", content: "x".repeat(500) }],
  }),
  (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === "context_length_exceeded",
);

// Raw malformed requests over the socket.
const raw = await fetch(`${base}/v1/chat/completions`, { method: "POST", body: "{oops" });
assert.equal(raw.status, 400);
assert.equal(((await raw.json()) as { error: { code: string } }).error.code, "invalid_json");
const url = new URL(base);
for (
  const garbage of [
    "GARBAGE\r\n\r\n",
    "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 99\r\n\r\n{",
  ]
) {
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  await conn.write(new TextEncoder().encode(garbage));
  conn.close(); // half a request, then gone
}

// A client that disconnects mid-stream: its generation stops and the model is free again.
const gone = new AbortController();
const long = await fetch(`${base}/v1/chat/completions`, {
  method: "POST",
  body: JSON.stringify({ messages, max_tokens: 100000, min_tokens: 100000, stream: true }),
  signal: gone.signal,
});
const reader = long.body!.getReader();
await reader.read();
const health = async () => (await (await fetch(`${base}/health`)).json()).slots.busy;
assert.equal(await health(), 1);
// Another request is read and answered while that generation runs (on a second model).
const meanwhile = await client.chat.completions.create({ model: "gpt", messages, max_tokens: 4 });
assert.equal(meanwhile.choices.length, 1);
assert.equal(await health(), 1, "the long generation is still running");
gone.abort();
await reader.cancel().catch(() => {});
let busy = 1;
for (let i = 0; i < 500 && busy > 0; i++) {
  await new Promise((r) => setTimeout(r, 20));
  busy = await health();
}
assert.equal(busy, 0, "the cancelled generation gave its model back");

// Still serving.
const after = await client.chat.completions.create({ model: "gpt", messages, max_tokens: 4 });
assert.equal(after.choices.length, 1);
console.log("client checks passed");
