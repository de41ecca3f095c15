// Answering from retrieved passages: the grounded prompt, passages fitted to a token budget
// (offsets still exact), the chat and generate flags, /sources, /rag, /k.
import assert from "node:assert/strict";
import { charCounter } from "../../src/chunking/types.ts";
import {
  buildIndex,
  citationLines,
  fitPassages,
  GROUNDED_INSTRUCTION,
  groundedExample,
  groundedPrompt,
  groundedTurn,
  Retriever,
  runRagCommand,
  sectionText,
} from "../../src/retrieval/mod.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { tinyGpt, writeTinyCheckpoint } from "../generate/helpers.ts";
import { assertOneLineError, runCli } from "../_cli.ts";
import { moduleTempDir } from "../_tmp.ts";

const DOC = [
  "O Cometa Valadares foi avistado em 1911 pelo agrimensor Joaquim Valadares, do alto do Morro Alto.",
  "A capivara é o maior roedor do mundo e vive perto da água.",
  "O pão de queijo leva polvilho, queijo, ovos e leite.",
].join("\n\n");

/** An index of {@link DOC} in a new temporary folder, removed when the module unloads. */
async function docIndex(): Promise<{ dir: string; index: string }> {
  const dir = await moduleTempDir();
  await Deno.writeTextFile(`${dir}/doc.txt`, DOC);
  const index = `${dir}/i.db`;
  await buildIndex([`${dir}/doc.txt`], { index, maxTokens: 105 });
  return { dir, index };
}

Deno.test("groundedPrompt: instruction, numbered one-line passages with titles, the question", () => {
  const p = groundedPrompt("Quem viu?", [
    { text: "Linha um\n\ncom quebra.", title: "Cometa" },
    { text: "Outra." },
  ], { answerCue: true });
  assert.equal(
    p,
    `${GROUNDED_INSTRUCTION}\n\n[1] (Cometa) Linha um com quebra.\n[2] Outra.\n\nPergunta: Quem viu?\nResposta:`,
  );
  const ex = groundedExample("Quem viu?", [{ text: "Joaquim viu." }], "Joaquim [1].");
  assert.equal(ex.messages[0].content, groundedPrompt("Quem viu?", [{ text: "Joaquim viu." }]));
  assert.deepEqual(ex.messages.map((m) => m.role), ["user", "assistant"]);
});

Deno.test("fitPassages: within the budget, the last one cut at a word start, offsets still re-read the source", async () => {
  const { dir, index } = await docIndex();
  const r = await Retriever.open(index);
  try {
    const hits = await r.search("cometa capivara queijo", { k: 3 });
    assert.equal(hits.length, 3);
    const whole = hits[0].text.length;
    for (const budget of [whole, whole + 30, whole + 1000, 20]) {
      const ps = fitPassages(hits, charCounter, budget);
      const used = ps.reduce((a, p) => a + p.hit.text.length, 0);
      assert.ok(used <= budget, `${used} > ${budget}`);
      assert.ok(ps.length >= 1);
      for (const p of ps) {
        const text = await sectionText(`${dir}/doc.txt`, 0);
        assert.equal(text.slice(p.hit.start, p.hit.end), p.hit.text);
        const bytes = await Deno.readFile(`${dir}/doc.txt`);
        assert.equal(
          new TextDecoder().decode(bytes.subarray(p.hit.byteStart, p.hit.byteEnd)),
          p.hit.text,
        );
      }
      for (const p of ps.slice(0, -1)) assert.equal(p.truncated, false);
    }
    const cut = fitPassages(hits, charCounter, 20);
    assert.equal(cut.length, 1);
    assert.equal(cut[0].truncated, true);
    assert.match(cut[0].hit.text, /\s$/); // ends before a word
    assert.ok(hits[0].text.startsWith(cut[0].hit.text));
    assert.deepEqual(fitPassages(hits, charCounter, 5), []); // under 8 tokens: nothing
    // Citations name the file and the span.
    assert.match(citationLines(cut, dir), /^\[1\] doc\.txt \(chars \d+–\d+\)$/);

    // A turn: passages in the prompt; stop words only or no match: the question alone, with why.
    const t = await groundedTurn(r, "Quem avistou o cometa?", { room: 1000, counter: charCounter });
    assert.match(t.prompt, /\[1\] O Cometa Valadares foi avistado/);
    assert.match(t.prompt, /Pergunta: Quem avistou o cometa\?$/);
    const none = await groundedTurn(r, "o que é isso", { room: 1000, counter: charCounter });
    assert.equal(none.prompt, "o que é isso");
    assert.match(none.notice!, /no words to search for/);
    const miss = await groundedTurn(r, "ornitorrinco", { room: 1000, counter: charCounter });
    assert.match(miss.notice!, /no passage matches/);
    const tight = await groundedTurn(r, "cometa", { room: 50, counter: charCounter });
    assert.match(tight.notice!, /no room for a passage/);
  } finally {
    r.close();
  }
});

Deno.test("/sources, /rag on|off, /k N", () => {
  const state: Parameters<typeof runRagCommand>[0] = { enabled: true, k: 3 };
  assert.equal(runRagCommand(state, "/sources")?.message, "(no retrieval yet)");
  assert.equal(runRagCommand(state, "/k 7")?.message, "k = 7");
  assert.equal(state.k, 7);
  assert.match(runRagCommand(state, "/k 0")!.message, /^error: \/k takes a whole number/);
  assert.match(runRagCommand(state, "/rag off")!.message, /retrieval off/);
  assert.equal(state.enabled, false);
  assert.match(runRagCommand(state, "/rag talvez")!.message, /^error: \/rag takes on or off/);
  assert.equal(runRagCommand(state, "/temp 0.5"), undefined); // the chat's own command
});

Deno.test("chat --index and generate --index: passages in the prompt, sources after the answer", async () => {
  const { dir, index } = await docIndex();
  const ckpt = `${dir}/ckpt`;
  await writeTinyCheckpoint(ckpt, tinyGpt(256, 1024));
  const perms = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"];
  const chat = await runCli(
    [
      "chat",
      "--checkpoint",
      ckpt,
      "--index",
      index,
      "--k",
      "2",
      "--max-tokens",
      "5",
      "--seed",
      "1",
      "--device",
      "cpu",
      "--feedback",
      `${dir}/fb.jsonl`,
    ],
    {
      permissions: perms,
      stdin: "Quem avistou o cometa?\n/sources\n/rag off\nE a capivara?\n/history\n",
    },
  );
  assert.equal(chat.code, 0, chat.stderr);
  // Sources of the first answer on stderr (piped: stdout keeps one line per answer).
  assert.match(chat.stderr, /\[1\] .*doc\.txt \(chars 0–\d+\)/);
  assert.match(chat.stdout, /query: Quem avistou o cometa\?\n\* \d+\.\d+ .*doc\.txt/);
  assert.match(chat.stdout, /retrieval off/);
  // The first question reached the model inside the grounded prompt, the second alone.
  assert.match(
    chat.stdout,
    /you: Responda com base nos trechos.*\[1\] O Cometa Valadares.*Pergunta: Quem avistou o cometa\?/,
  );
  assert.match(chat.stdout, /you: E a capivara\?/);

  const gen = await runCli(
    [
      "generate",
      "--checkpoint",
      ckpt,
      "--index",
      index,
      "--prompt",
      "O que leva o pão de queijo?",
      "--max-tokens",
      "4",
      "--seed",
      "1",
      "--device",
      "cpu",
      "--json",
    ],
    { permissions: perms },
  );
  assert.equal(gen.code, 0, gen.stderr);
  const out = JSON.parse(gen.stdout);
  assert.match(out.sources[0].text, /polvilho/);
  const tok = await Tokenizer.fromFile(`${ckpt}/tokenizer.json`);
  assert.ok(out.prompt_tokens >= tok.encode(GROUNDED_INSTRUCTION).length);

  assertOneLineError(
    await runCli(
      [
        "generate",
        "--checkpoint",
        ckpt,
        "--prompt",
        "x",
        "--context-tokens",
        "10",
        "--device",
        "cpu",
      ],
      { permissions: perms },
    ),
    /--context-tokens needs --index/,
  );
  assertOneLineError(
    await runCli(
      ["chat", "--checkpoint", ckpt, "--index", `${dir}/doc.txt`, "--device", "cpu"],
      { permissions: perms, stdin: "" },
    ),
    /not a Bentevi index/,
  );
});
