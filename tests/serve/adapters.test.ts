// `serve --adapter`: requests pick a LoRA adapter by `model` (NAME or BASE:NAME; a persona
// brings the adapter named after it), each answer equals ChatSession on a model opened with that
// adapter alone, and switching is per request and per model: streams with different adapters
// under way at once, and requests queued onto models another adapter used, each answer as they
// do alone. A run directory is pinned to the checkpoint it resolved at start. In-process (no
// socket); the openai client's view is in openai_client.test.ts.
import assert from "node:assert/strict";
import { createServer } from "../../src/serve/server.ts";
import { ChatSession } from "../../src/generate/chat.ts";
import { openGenerationModel } from "../../src/generate/load.ts";
import { BenteviError } from "../../src/errors.ts";
import { sseData, tinyCheckpoints } from "./_fixture.ts";
import { writeRandomAdapter } from "../finetune/_adapters.ts";
import { mergeAdapter } from "../../src/finetune/merge.ts";
import { CHAT_SPECIALS, tinyGpt, writeTinyCheckpoint } from "../generate/helpers.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const ckpt = await tinyCheckpoints(512);
await writeRandomAdapter(`${ckpt.root}/jur`, ckpt.gpt, 11, 0.5);
await writeRandomAdapter(`${ckpt.root}/formal`, ckpt.gpt, 12, 0.5);
const adapters = [{ name: "jur", dir: `${ckpt.root}/jur` }, {
  name: "formal",
  dir: `${ckpt.root}/formal`,
}];
const server = await createServer({
  checkpoint: ckpt.gpt,
  device: "cpu",
  adapters,
  maxConcurrent: 2,
  maxQueue: 16,
  log: () => {},
});

function post(body: unknown) {
  return server.fetch(
    new Request("http://localhost/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

const ask = (content: string, model?: string, extra: Record<string, unknown> = {}) => ({
  ...(model === undefined ? {} : { model }),
  messages: [{ role: "user", content }],
  max_tokens: 24,
  min_tokens: 24,
  seed: 4,
  temperature: 0.9,
  ...extra,
});

async function answer(body: unknown): Promise<{ model: string; text: string }> {
  const r = await post(body);
  const j: Any = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  return { model: j.model, text: j.choices[0].message.content };
}

Deno.test("serve --adapter: /v1/models lists the adapters; model picks one; each equals ChatSession with it", async () => {
  const models: Any = await (await server.fetch(new Request("http://localhost/v1/models"))).json();
  assert.deepEqual(models.data.map((m: Any) => [m.id, m.parent]), [
    ["gpt", undefined],
    ["jur", "gpt"],
    ["formal", "gpt"],
  ]);
  const one: Any = await (await server.fetch(new Request("http://localhost/v1/models/jur")))
    .json();
  assert.equal(one.parent, "gpt");
  const health: Any = await (await server.fetch(new Request("http://localhost/health"))).json();
  assert.deepEqual(health.adapters, ["jur", "formal"]);
  assert.equal(health.personas.find((p: Any) => p.name === "formal").adapter, "formal");

  const q = "Olá, tudo bem?";
  const base = await answer(ask(q, "gpt"));
  const jur = await answer(ask(q, "jur"));
  const formal = await answer(ask(q, "formal"));
  assert.deepEqual([base.model, jur.model, formal.model], ["gpt", "jur", "formal"]);
  assert.notEqual(jur.text, base.text);
  assert.notEqual(jur.text, formal.text);
  assert.notEqual(formal.text, base.text);
  assert.deepEqual(await answer(ask(q, "gpt:jur")), jur);
  assert.deepEqual(await answer(ask(q)), base);
  // A persona answers with the adapter named after it when the request names the base…
  assert.deepEqual(await answer(ask(q, "gpt", { persona: "formal" })), {
    model: "formal",
    text: (await answer(ask(q, "formal", { persona: "formal" }))).text,
  });
  // …and an adapter named in `model` wins over the persona's.
  assert.equal((await answer(ask(q, "jur", { persona: "formal" }))).model, "jur");

  // The reference: ChatSession on a model opened with that adapter alone.
  for (const [name, got] of [["jur", jur], ["formal", formal]] as const) {
    const opened = await openGenerationModel(ckpt.gpt, {
      device: "cpu",
      log: () => {},
      adapters,
      activeAdapters: [name],
    });
    try {
      const chat = new ChatSession(opened.model, opened.tokenizer, {
        chatTemplate: opened.chatTemplate,
        maxNewTokens: 24,
        minNewTokens: 24,
        sampling: { seed: 4, temperature: 0.9 },
      });
      assert.equal((await chat.reply(q)).answer, got.text, name);
    } finally {
      opened.model.dispose();
      opened.model.backend.destroy();
    }
  }
});

Deno.test("serve --adapter: an unknown adapter is a 404 model_not_found naming the choices", async () => {
  for (const model of ["medico", "gpt:medico", "gpt:"]) {
    const r = await post(ask("Oi", model));
    assert.equal(r.status, 404);
    const j: Any = await r.json();
    assert.deepEqual(j.error, {
      message: `the model "${model}" does not exist here; available: gpt, jur, formal`,
      type: "invalid_request_error",
      param: "model",
      code: "model_not_found",
    });
  }
  assert.equal(server.pool.stats.busy, 0);
});

Deno.test("serve --adapter: adapters are per request under concurrency — no adapter leaks into another request", async () => {
  const questions = ["Olá, tudo bem?", "Qual é a capital?"];
  const names = ["gpt", "jur", "formal"];
  // Each request made alone, one at a time.
  const alone = new Map<string, string>();
  for (const q of questions) {
    for (const m of names) alone.set(`${m}|${q}`, (await answer(ask(q, m))).text);
  }
  const streamed = async (q: string, m: string) => {
    const r = await post(ask(q, m, { stream: true, max_tokens: 40, min_tokens: 40 }));
    assert.equal(r.status, 200);
    const events: Any[] = sseData(await r.text());
    assert.ok(events.every((e) => e === "[DONE]" || e.model === m));
    return events.slice(1, -1).map((c: Any) => c.choices[0].delta.content ?? "").join("");
  };
  const aloneLong = new Map<string, string>();
  for (const m of names) aloneLong.set(m, await streamed(questions[0], m));
  // Two streams with different adapters under way at once (two models), then twelve requests
  // of mixed adapters at once on two models: the queue hands each model from one adapter to
  // another.
  const [s1, s2] = await Promise.all([
    streamed(questions[0], "jur"),
    streamed(questions[0], "formal"),
  ]);
  assert.equal(s1, aloneLong.get("jur"));
  assert.equal(s2, aloneLong.get("formal"));
  const jobs = questions.flatMap((q) =>
    [...names, ...names].map((m) => ({ q, m, key: `${m}|${q}` }))
  );
  const got = await Promise.all(jobs.map((j) => answer(ask(j.q, j.m))));
  jobs.forEach((j, i) => {
    assert.equal(got[i].model, j.m);
    assert.equal(got[i].text, alone.get(j.key), j.key);
  });
  assert.equal(server.pool.stats.models, 2);
  assert.equal(server.pool.stats.busy, 0);
});

Deno.test("serve --adapter: refused at start — an adapter named like the model, an adapter for another base", async () => {
  await assert.rejects(
    createServer({
      checkpoint: ckpt.gpt,
      device: "cpu",
      adapters: [{ name: "gpt", dir: `${ckpt.root}/jur` }],
      log: () => {},
    }),
    (e: Error) => e instanceof BenteviError && /"gpt" is the base model's id/.test(e.message),
  );
  await assert.rejects(
    createServer({
      checkpoint: ckpt.rwkv,
      device: "cpu",
      adapters: [{ name: "jur", dir: `${ckpt.root}/jur` }],
      log: () => {},
    }),
    (e: Error) => e instanceof BenteviError && /another base model/.test(e.message),
  );
});

Deno.test("serve: a run directory is resolved once — models built later load the same checkpoint", async () => {
  const run = `${ckpt.root}/run`;
  await writeTinyCheckpoint(`${run}/step-000002`, tinyGpt(260, 512), CHAT_SPECIALS);
  await Deno.writeTextFile(`${run}/run.json`, "{}\n");
  const s = await createServer({ checkpoint: `${run}:latest`, device: "cpu", log: () => {} });
  try {
    assert.equal(s.modelId, "run");
    const body = { ...ask("Olá, tudo bem?"), stream: true };
    const streamed = async () => {
      const r = await s.fetch(
        new Request("http://localhost/v1/chat/completions", {
          method: "POST",
          body: JSON.stringify(body),
        }),
      );
      return sseData(await r.text()).slice(1, -1).map((c: Any) => c.choices[0].delta.content ?? "")
        .join("");
    };
    const first = await streamed();
    // The run saves a newer (different) checkpoint; then two streams at once build a second model.
    await mergeAdapter({
      base: `${run}/step-000002`,
      adapter: `${ckpt.root}/jur`,
      out: `${run}/step-000004`,
    });
    const [a, b] = await Promise.all([streamed(), streamed()]);
    assert.equal(s.pool.stats.models, 2);
    assert.deepEqual([a, b], [first, first]);
  } finally {
    await s.close();
  }
});

Deno.test("serve --adapter: /v1/embeddings embeds with the requested model's adapter", async () => {
  const embed = async (model?: string) => {
    const r = await server.fetch(
      new Request("http://localhost/v1/embeddings", {
        method: "POST",
        body: JSON.stringify({ input: "O bem-te-vi canta.", ...(model ? { model } : {}) }),
      }),
    );
    const j: Any = await r.json();
    assert.equal(r.status, 200, JSON.stringify(j));
    return { model: j.model as string, v: j.data[0].embedding as number[] };
  };
  const base = await embed(), jur = await embed("jur"), again = await embed();
  assert.equal(jur.model, "jur");
  assert.notDeepEqual(jur.v, base.v, "the adapter changes the hidden states");
  assert.deepEqual(again.v, base.v, "the base again, once the adapter is switched off");
});

Deno.test("serve --quantize: every pooled model computes with the same ggml blocks", async () => {
  const s = await createServer({
    checkpoint: ckpt.gpt,
    device: "cpu",
    quantize: "q8_0",
    maxConcurrent: 2,
    log: () => {},
  });
  const float = await openGenerationModel(ckpt.gpt, { device: "cpu" });
  try {
    assert.match(s.description, /q8_0/);
    const [m1, m2] = [await s.pool.acquire(), await s.pool.acquire()];
    const ids = [5, 9, 14, 2, 7];
    const [l1, l2] = [await m1.forwardAll(ids), await m2.forwardAll(ids)];
    assert.deepEqual(l2, l1, "the second model (built later) uses the blocks too");
    assert.notDeepEqual(l1, await float.model.forwardAll(ids), "q8_0 differs from float32");
    s.pool.release(m1);
    s.pool.release(m2);
  } finally {
    float.model.dispose();
    await s.close();
  }
});

Deno.test("serve --adapter: cleanup", async () => {
  await server.close();
  await Deno.remove(ckpt.root, { recursive: true });
});
