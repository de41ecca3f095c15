import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import {
  analyzeChunks,
  benchChunking,
  chunkText,
  endsOnSentence,
  parseChunksJsonl,
  sentenceEndShare,
} from "../../src/chunking/mod.ts";
import { BenteviError } from "../../src/errors.ts";
import { SAMPLE } from "./fixtures.ts";

const line = (o: unknown) => JSON.stringify(o);

Deno.test("parseChunksJsonl accepts chunk output and rejects anything else, naming the line", () => {
  const ok = line({ index: 0, start: 0, end: 3, tokens: 3, text: "Oi." }) + "\n\n";
  assertEquals(parseChunksJsonl(ok, "c.jsonl"), [{
    index: 0,
    start: 0,
    end: 3,
    tokens: 3,
    text: "Oi.",
  }]);
  const bad: [string, RegExp][] = [
    ["", /c.jsonl: no chunks/],
    ["not json\n", /c.jsonl:1: not chunk output \(not JSON\)/],
    [ok + "[1,2]\n", /c.jsonl:3: .*not an object/],
    [line({ i: 0, text: "x" }), /"index" missing/],
    [line({ index: 0, start: 0, end: 1, tokens: 1 }), /"text" missing/],
    [line({ index: 0, start: 5, end: 1, tokens: 1, text: "" }), /"end" 1 is before "start" 5/],
    [
      line({ index: 0, start: 0, end: 9, tokens: 1, text: "abc" }),
      /"text" has 3 characters but end - start is 9/,
    ],
    [line({ index: 0.5, start: 0, end: 1, tokens: 1, text: "a" }), /"index"/],
  ];
  for (const [text, re] of bad) {
    throws(
      () => parseChunksJsonl(text, "c.jsonl"),
      (e: unknown) => e instanceof BenteviError && re.test(e.message),
    );
  }
});

Deno.test("sentence-end share follows the peers' definition", () => {
  assert(endsOnSentence("Fim.  \n", false));
  assert(endsOnSentence('Ele disse "sim"', false));
  assert(!endsOnSentence("meio de uma frase", false));
  assert(endsOnSentence("meio", true));
  assertEquals(sentenceEndShare([{ text: "a." }, { text: "b" }, { text: "c" }]), 2 / 3);
});

Deno.test("analyzeChunks: statistics, cohesion, source check and suggestions", () => {
  const text = "O gato mia no telhado. O gato dorme no sofá. O gato come peixe.\n\n" +
    "A bolsa de valores subiu. A bolsa fechou em alta. Os investidores da bolsa lucraram.";
  const good = chunkText(text, { strategy: "semantic", maxTokens: 90, minTokens: 20 });
  const r = analyzeChunks(good, { source: text });
  assertEquals(r.chunks, 2);
  assertEquals(r.sentence_end_share, 1);
  assertEquals(r.sentence_start_share, 1);
  assert(r.cohesion.within > r.cohesion.across, JSON.stringify(r.cohesion));
  assertEquals(r.source_check, { ok: true, problems: [] });
  assertEquals(r.overlap_share, 0);
  assert(r.suggestions.some((s) => s.includes("--overlap")));
  // fixed windows end mid-sentence: the report says so and suggests a better strategy
  const bad = chunkText(text, { strategy: "fixed", maxTokens: 37 });
  const rb = analyzeChunks(bad, { source: text.toUpperCase() });
  assert(rb.sentence_end_share < 0.5);
  assert(
    rb.suggestions.some((s) => s.includes("mid-sentence") && s.includes("--strategy sentence")),
  );
  assertEquals(rb.source_check!.ok, false);
  assert(rb.suggestions[0].startsWith("offsets do not match the source"));
  // overlap is measured
  const ov = analyzeChunks(chunkText(SAMPLE, { maxTokens: 200, overlap: 0.3 }));
  assert(ov.overlap_share > 0.05, String(ov.overlap_share));
  // ...and the repeated text does not count as cohesion across a boundary: two chunks whose
  // second repeats the first's last sentence compare only the text each adds.
  const a = "O gato mia no telhado. O gato dorme no sofá. O gato come peixe. ";
  const b = "A bolsa de valores subiu. A bolsa fechou em alta. Os investidores lucraram.";
  const rep = "O gato come peixe. ";
  const overlapped = [
    { index: 0, start: 0, end: a.length, tokens: 20, text: a },
    {
      index: 1,
      start: a.length - rep.length,
      end: a.length + b.length,
      tokens: 24,
      text: rep + b,
    },
  ];
  const ro = analyzeChunks(overlapped, { source: a + b });
  assertEquals(ro.source_check, { ok: true, problems: [] });
  assert(ro.overlap_share > 0);
  assertEquals(ro.cohesion.across, 0, JSON.stringify(ro.cohesion));
  throws(() => analyzeChunks([]), BenteviError);
});

Deno.test("benchChunking reports every strategy with checked guarantees", () => {
  const text = SAMPLE.repeat(3);
  const rows = benchChunking(text, new TextEncoder().encode(text).length, {
    maxTokens: 250,
    repeat: 1,
  });
  assertEquals(Object.keys(rows), ["fixed", "sentence", "semantic", "adaptive", "recursive"]);
  for (const [name, r] of Object.entries(rows)) {
    assert(r.mb_per_s > 0 && r.chunks > 0, name);
    assertEquals(r.over_budget, 0);
    assertEquals(r.lossless, true);
    assert(r.max_tokens <= 250);
  }
  assert(rows.sentence.sentence_end_share > rows.fixed.sentence_end_share);
});
