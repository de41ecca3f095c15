// The server's handler in-process (no socket, so no --allow-net): the OpenAI shapes, chat through
// the same ChatSession as `bentevi chat`, streaming = non-streaming, errors as OpenAI error
// objects, the API key, the bounded queue (429), cancellation of a stream, embeddings.
import assert from "node:assert/strict";
import { createServer } from "../../src/serve/server.ts";
import { ChatSession } from "../../src/generate/chat.ts";
import { openGenerationModel } from "../../src/generate/load.ts";
import { modelEmbedder } from "../../src/chunking/embedding.ts";
import { buildIndex } from "../../src/retrieval/build.ts";
import { sseData, tinyCheckpoints } from "./_fixture.ts";

const ckpt = await tinyCheckpoints();
const logs: string[] = [];
const server = await createServer({
  checkpoint: ckpt.gpt,
  device: "cpu",
  log: (l) => logs.push(l),
});

function post(path: string, body: unknown, headers: Record<string, string> = {}, s = server) {
  return s.fetch(
    new Request(`http://localhost${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

const hi = [{ role: "user", content: "Olá, tudo bem?" }];

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("serve: chat completion shape, usage, and the same answer as ChatSession", async () => {
  const r = await post("/v1/chat/completions", {
    model: "gpt",
    messages: [{ role: "system", content: "Seja breve." }, ...hi],
    max_tokens: 12,
    min_tokens: 12,
    seed: 5,
    temperature: 0.9,
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/json");
  const j: Any = await r.json();
  assert.match(j.id, /^chatcmpl-/);
  assert.equal(j.object, "chat.completion");
  assert.equal(j.model, "gpt");
  assert.equal(j.choices.length, 1);
  assert.equal(j.choices[0].message.role, "assistant");
  assert.equal(j.choices[0].finish_reason, "length");
  assert.equal(j.usage.completion_tokens, 12);
  assert.equal(j.usage.total_tokens, j.usage.prompt_tokens + 12);

  // The same conversation through ChatSession directly: same template, same tokens, same text.
  const opened = await openGenerationModel(ckpt.gpt, { device: "cpu", log: () => {} });
  try {
    const chat = new ChatSession(opened.model, opened.tokenizer, {
      chatTemplate: opened.chatTemplate,
      system: "Seja breve.",
      maxNewTokens: 12,
      minNewTokens: 12,
      sampling: { seed: 5, temperature: 0.9 },
    });
    const reply = await chat.reply("Olá, tudo bem?");
    assert.equal(j.choices[0].message.content, reply.answer);
    assert.equal(j.usage.prompt_tokens, reply.result.promptTokens);
  } finally {
    opened.model.dispose();
    opened.model.backend.destroy();
  }
});

Deno.test("serve: a streamed chat is the same generation in OpenAI chunks, then usage and [DONE]", async () => {
  const body = { messages: hi, max_tokens: 20, seed: 11 };
  const plain: Any = await (await post("/v1/chat/completions", body)).json();
  const r = await post("/v1/chat/completions", {
    ...body,
    stream: true,
    stream_options: { include_usage: true },
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type")!, /^text\/event-stream/);
  const events: Any[] = sseData(await r.text());
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.slice(0, -1);
  for (const c of chunks) {
    assert.equal(c.object, "chat.completion.chunk");
    assert.equal(c.id, chunks[0].id);
  }
  assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, plain.usage);
  const last = chunks.at(-2).choices[0];
  assert.equal(last.finish_reason, plain.choices[0].finish_reason);
  const text = chunks.slice(1, -1).map((c: Any) => c.choices[0].delta.content ?? "").join("");
  assert.equal(text, plain.choices[0].message.content);
  assert.ok(chunks.length > 4, "several content chunks");
});

Deno.test("serve: stop strings, explain steps, text completions streamed and not", async () => {
  const free: Any = await (await post("/v1/completions", {
    prompt: "Era uma vez",
    max_tokens: 30,
    min_tokens: 30,
    seed: 3,
  })).json();
  assert.equal(free.object, "text_completion");
  const text: string = free.choices[0].text;
  const stop = [...text].slice(4, 5).join("");
  const cut: Any = await (await post("/v1/completions", {
    prompt: "Era uma vez",
    max_tokens: 30,
    min_tokens: 30,
    seed: 3,
    stop: [stop],
  })).json();
  assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, "stop");

  const r = await post("/v1/completions", {
    prompt: "Era uma vez",
    max_tokens: 30,
    min_tokens: 30,
    seed: 3,
    stream: true,
    explain: true,
  });
  const events: Any[] = sseData(await r.text());
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.slice(0, -1);
  assert.equal(chunks.map((c: Any) => c.choices[0].text).join(""), text);
  const steps = chunks.flatMap((c: Any) => c.choices[0].explain ?? []);
  assert.equal(steps.length, 30);
  assert.ok(steps.every((s: Any) => s.top.length === 5 && s.prob > 0 && s.prob <= 1));
  assert.ok(
    steps.every((s: Any) =>
      typeof s.text === "string" && s.top.every((c: Any) => typeof c.text === "string")
    ),
  );
  // GPT attends: for each token, the last block's heads and their strongest earlier positions
  // over the context at that step (the prompt and the tokens before it).
  steps.forEach((s: Any, i: number) => {
    const a = s.attention;
    assert.equal(a.layer, 1);
    assert.equal(a.positions, free.usage.prompt_tokens + i);
    assert.deepEqual(a.heads.map((h: Any) => h.head), [0, 1]);
    for (const h of a.heads) {
      assert.equal(h.top.length, 3);
      const w = h.top.map((t: Any) => t.weight);
      assert.ok(w.every((x: number) => x > 0 && x <= 1), `weights ${w}`);
      assert.ok(w[0] >= w[1] && w[1] >= w[2], `strongest first: ${w}`);
      assert.ok(w[0] + w[1] + w[2] <= 1 + 1e-6, `part of one softmax row: ${w}`);
      assert.ok(h.top.every((t: Any) => t.position >= 0 && t.position < a.positions));
    }
    assert.equal(a.weights, undefined, "the full rows stay on the server");
  });
});

Deno.test("serve: malformed requests get OpenAI error objects naming the field, and the server goes on", async () => {
  const cases: [unknown, number, string | null, RegExp][] = [
    ["{not json", 400, null, /not valid JSON/],
    ["", 400, null, /empty/],
    ["[1,2]", 400, null, /JSON object/],
    [{ messages: hi, temprature: 1 }, 400, "temprature", /unknown parameter 'temprature'/],
    [{ messages: hi, temperature: "hot" }, 400, "temperature", /must be a number/],
    [{ messages: hi, max_tokens: 0 }, 400, "max_tokens", /≥ 1/],
    [{ messages: hi, max_tokens: 2.5 }, 400, "max_tokens", /integer/],
    [{ messages: hi, top_p: 0 }, 400, "top_p", /> 0/],
    [{ messages: hi, n: 2 }, 400, "n", /must be 1/],
    [{ messages: hi, stream: "yes" }, 400, "stream", /true or false/],
    [{ messages: hi, stream_options: { include_usage: true } }, 400, "stream_options", /stream/],
    [{ messages: hi, stop: [1] }, 400, "stop", /string/],
    [{ messages: hi, tools: [{ type: "function" }] }, 400, "tools", /not supported/],
    [{ messages: hi, persona: "pirata" }, 400, "persona", /unknown persona/],
    [
      { messages: hi, model: "gpt-4o" },
      404,
      "model",
      /"gpt-4o" does not exist here; available: gpt$/,
    ],
    [{ messages: hi, model: "gpt:juridico" }, 404, "model", /does not exist/],
    [{ messages: [] }, 400, "messages", /at least one/],
    [{ messages: "Oi" }, 400, "messages", /array/],
    [{}, 400, "messages", /array/],
    [{ messages: [{ role: "tool", content: "x" }] }, 400, "messages[0].role", /role/],
    [{ messages: [{ role: "user", content: 5 }] }, 400, "messages[0].content", /string/],
    [{ messages: [{ role: "user", content: "a", extra: 1 }] }, 400, "extra", /unknown/],
    [{ messages: [...hi, { role: "assistant", content: "x" }] }, 400, "messages", /last message/],
    [
      { messages: [{ role: "user", content: "x".repeat(400) }] },
      400,
      "messages",
      /context holds 128/,
    ],
  ];
  for (const [body, status, param, message] of cases) {
    const r = await post("/v1/chat/completions", body);
    assert.equal(r.status, status, JSON.stringify(body));
    const j: Any = await r.json();
    assert.equal(j.error.param, param, JSON.stringify(j));
    assert.match(j.error.message, message);
    assert.equal(typeof j.error.type, "string");
  }
  const long: Any = await (await post("/v1/completions", { prompt: "x".repeat(200) })).json();
  assert.equal(long.error.code, "context_length_exceeded");
  assert.equal(long.error.param, "prompt");
  assert.equal((await post("/v1/completions", { prompt: ["a", "b"] })).status, 400);
  assert.equal((await post("/v1/embeddings", { input: [1, 2] })).status, 400);
  const big = await post("/v1/completions", `{"prompt": "${"a".repeat(5 * 1024 * 1024)}"}`);
  assert.equal(big.status, 413);
  const model404: Any = await (await server.fetch(new Request("http://localhost/v1/models/x")))
    .json();
  assert.equal(model404.error.code, "model_not_found");
  assert.equal((await post("/v1/embeddings", { input: "a", model: "x" })).status, 404);
  const notFound = await server.fetch(new Request("http://localhost/v1/nothing"));
  assert.equal(notFound.status, 404);
  assert.ok(((await notFound.json()) as Any).error.message);
  assert.equal(
    (await server.fetch(new Request("http://localhost/v1/chat/completions"))).status,
    405,
  );
  // Still serving.
  const ok = await post("/v1/chat/completions", { messages: hi, max_tokens: 3 });
  assert.equal(ok.status, 200);
  assert.equal(server.pool.stats.busy, 0);
});

Deno.test("serve: --api-key is required on /v1/* (401), not on the page or /health", async () => {
  const s = await createServer({
    checkpoint: ckpt.gpt,
    device: "cpu",
    apiKey: "s3cret",
    log: () => {},
  });
  try {
    const body = { messages: hi, max_tokens: 2 };
    const none = await post("/v1/chat/completions", body, {}, s);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as Any).error.code, "invalid_api_key");
    assert.equal(
      (await post("/v1/chat/completions", body, { authorization: "Bearer nope" }, s)).status,
      401,
    );
    assert.equal((await s.fetch(new Request("http://localhost/v1/models"))).status, 401);
    const yes = await post("/v1/chat/completions", body, { authorization: "Bearer s3cret" }, s);
    assert.equal(yes.status, 200);
    await yes.body?.cancel();
    assert.equal((await s.fetch(new Request("http://localhost/health"))).status, 200);
    const page = await s.fetch(new Request("http://localhost/"));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/page\/app.js">/);
  } finally {
    await s.close();
  }
});

/** Reads a stream until its first content event. */
async function firstEvent(r: Response) {
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  return { reader, text };
}

async function until(what: string, ok: () => boolean) {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

Deno.test("serve: beyond --max-concurrent requests queue, a full queue answers 429, a gone client cancels", async () => {
  const seen: string[] = [];
  const s = await createServer({
    checkpoint: ckpt.rwkv, // no context limit: 100,000 tokens would run for minutes
    device: "cpu",
    maxConcurrent: 1,
    maxQueue: 1,
    log: (l) => seen.push(l),
  });
  try {
    const endless = { messages: hi, max_tokens: 100_000, min_tokens: 100_000, stream: true };
    const a = await post("/v1/chat/completions", endless, {}, s);
    assert.equal(a.status, 200);
    const { reader } = await firstEvent(a);
    assert.deepEqual(s.pool.stats.busy, 1);
    // B waits for A's model.
    let bDone = false;
    const b = post("/v1/chat/completions", { messages: hi, max_tokens: 3 }, {}, s).then((r) => {
      bDone = true;
      return r;
    });
    await until("B queued", () => s.pool.stats.waiting === 1);
    // C finds the queue full.
    const c = await post("/v1/chat/completions", { messages: hi, max_tokens: 3 }, {}, s);
    assert.equal(c.status, 429);
    assert.equal(c.headers.get("retry-after"), "1");
    assert.equal(((await c.json()) as Any).error.type, "rate_limit_error");
    assert.equal(bDone, false);
    // A's client goes away: its generation stops at the next token and B gets the model.
    await reader.cancel();
    const rb = await b;
    assert.equal(rb.status, 200);
    assert.equal(((await rb.json()) as Any).choices[0].message.role, "assistant");
    await until("all models free", () => s.pool.stats.busy === 0);
    assert.ok(seen.some((l) => /cancelled: client disconnected/.test(l)), seen.join("\n"));

    // A request aborted while it waits in the queue leaves it.
    const a2 = await post("/v1/chat/completions", endless, {}, s);
    const first = await firstEvent(a2);
    const gone = new AbortController();
    const queued = s.fetch(
      new Request("http://localhost/v1/chat/completions", {
        method: "POST",
        body: JSON.stringify({ messages: hi, max_tokens: 3 }),
        signal: gone.signal,
      }),
    );
    await until("queued", () => s.pool.stats.waiting === 1);
    gone.abort();
    await queued.catch(() => {});
    await until("queue empty", () => s.pool.stats.waiting === 0);
    await first.reader.cancel();
    await until("free again", () => s.pool.stats.busy === 0);
  } finally {
    await s.close();
  }
});

Deno.test("serve: concurrent streams interleave, each on its own model", async () => {
  const s = await createServer({
    checkpoint: ckpt.gpt,
    device: "cpu",
    maxConcurrent: 2,
    log: () => {},
  });
  try {
    const body = { messages: hi, max_tokens: 60, min_tokens: 60, seed: 1, stream: true };
    const [a, b] = await Promise.all([
      post("/v1/chat/completions", body, {}, s),
      post("/v1/chat/completions", { ...body, seed: 2 }, {}, s),
    ]);
    // Both were under way at once: the pool built a second model because the first was busy.
    // (Not `busy === 2` here: on a loaded machine one stream may already be done by now.)
    const fa = await firstEvent(a), fb = await firstEvent(b);
    assert.equal(s.pool.stats.models, 2);
    const rest = async (f: { reader: ReadableStreamDefaultReader<string>; text: string }) => {
      let t = f.text;
      for (;;) {
        const { value, done } = await f.reader.read();
        if (done) return t;
        t += value;
      }
    };
    const [ta, tb] = await Promise.all([rest(fa), rest(fb)]);
    const text = (t: string) =>
      sseData(t).slice(1, -1).map((c: Any) => c.choices[0].delta.content ?? "").join("");
    // Each equals the same request made alone.
    for (const [t, seed] of [[ta, 1], [tb, 2]] as const) {
      const alone: Any =
        await (await post("/v1/chat/completions", { ...body, seed, stream: false }, {}, s)).json();
      assert.equal(text(t), alone.choices[0].message.content);
    }
  } finally {
    await s.close();
  }
});

Deno.test("serve: embeddings are the chunker's model embedder; models and health", async () => {
  const r: Any = await (await post("/v1/embeddings", { input: ["O bem-te-vi canta.", "Chove."] }))
    .json();
  assert.equal(r.object, "list");
  assert.equal(r.data.length, 2);
  const embedder = await modelEmbedder(ckpt.gpt, { device: "cpu" });
  const [chove] = await embedder.embed(["Chove."]);
  const dimension = embedder.dimension;
  embedder.close();
  assert.deepEqual(r.data[1].embedding, Array.from(chove));
  assert.equal(r.data[0].embedding.length, dimension);
  assert.ok(r.usage.prompt_tokens > 0);
  const b64: Any =
    await (await post("/v1/embeddings", { input: "Chove.", encoding_format: "base64" })).json();
  const bytes = Uint8Array.from(atob(b64.data[0].embedding), (c) => c.charCodeAt(0));
  assert.deepEqual(new Float32Array(bytes.buffer), chove);
  const dims = await post("/v1/embeddings", { input: "x", dimensions: dimension + 1 });
  assert.equal(dims.status, 400);

  const models: Any = await (await server.fetch(new Request("http://localhost/v1/models"))).json();
  assert.deepEqual(models.data.map((m: Any) => [m.id, m.object]), [["gpt", "model"]]);
  const health: Any = await (await server.fetch(new Request("http://localhost/health"))).json();
  assert.equal(health.status, "ok");
  assert.equal(health.context, 128);
  assert.deepEqual(health.personas.map((p: Any) => p.name), ["tecnico", "casual", "formal"]);
});

Deno.test("serve: with --index, answers are grounded in retrieved passages returned as sources", async () => {
  const doc = `${ckpt.root}/cometa.txt`;
  await Deno.writeTextFile(
    doc,
    "O Cometa Valadares foi avistado em 1911 por Joaquim Valadares, em Minas Gerais.\n\n" +
      "A jabuticaba cresce colada ao tronco da árvore.\n",
  );
  await buildIndex([doc], { index: `${ckpt.root}/i.db` });
  const s = await createServer({
    checkpoint: ckpt.rwkv,
    device: "cpu",
    index: `${ckpt.root}/i.db`,
    log: () => {},
  });
  try {
    const ask = [{ role: "user", content: "Quem avistou o cometa Valadares?" }];
    const r: Any =
      await (await post("/v1/chat/completions", { messages: ask, max_tokens: 4 }, {}, s))
        .json();
    const sources = r.choices[0].sources;
    assert.ok(sources.length >= 1);
    assert.equal(sources[0].index, 1);
    assert.equal(sources[0].path, doc);
    assert.match(sources[0].text, /Joaquim Valadares/);
    assert.match(sources[0].citation, /^\[1\] .*cometa\.txt/);
    // The prompt holds the passages: more tokens than the question alone (rag: false).
    const plain: Any = await (await post(
      "/v1/chat/completions",
      { messages: ask, max_tokens: 4, rag: false },
      {},
      s,
    )).json();
    assert.equal(plain.choices[0].sources, undefined);
    assert.ok(r.usage.prompt_tokens > plain.usage.prompt_tokens + 40);
    // Streamed: the first chunk carries them; text completions too.
    const events: Any[] = sseData(
      await (await post(
        "/v1/chat/completions",
        { messages: ask, max_tokens: 4, stream: true },
        {},
        s,
      ))
        .text(),
    );
    assert.deepEqual(events[0].choices[0].sources, sources);
    const c: Any = await (await post(
      "/v1/completions",
      { prompt: "Quem avistou o cometa?", max_tokens: 3 },
      {},
      s,
    ))
      .json();
    assert.match(c.choices[0].sources[0].text, /Valadares/);
    const health: Any = await (await s.fetch(new Request("http://localhost/health"))).json();
    assert.equal(health.index, true);
  } finally {
    await s.close();
  }
});

Deno.test("serve: cleanup", async () => {
  await server.close();
  await Deno.remove(ckpt.root, { recursive: true });
});
