import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import {
  charCounter,
  type Chunk,
  Chunker,
  chunkStream,
  chunkText,
  STRATEGIES,
  type TokenCounter,
} from "../../src/chunking/mod.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import {
  exists,
  fakeTokens,
  fakeTokensNoOffsets,
  randomParts,
  SAMPLE,
  SHARED,
} from "./fixtures.ts";

function isSplitPair(text: string, pos: number): boolean {
  if (pos <= 0 || pos >= text.length) return false;
  const a = text.charCodeAt(pos - 1), b = text.charCodeAt(pos);
  return a >= 0xd800 && a <= 0xdbff && b >= 0xdc00 && b <= 0xdfff;
}

/** Every guarantee of the issue, checked on one output. */
function checkChunks(
  text: string,
  chunks: Chunk[],
  max: number,
  counter: TokenCounter,
  overlap: number,
  label: string,
): void {
  assert(chunks.length > 0, label);
  let prevEnd = 0, prevStart = -1, rebuilt = "";
  for (const [i, c] of chunks.entries()) {
    assertEquals(c.index, i, label);
    assertEquals(c.text, text.slice(c.start, c.end), `${label}: chunk ${i} text`);
    assert(c.end > c.start, `${label}: chunk ${i} empty`);
    assertEquals(c.tokens, counter.countTokens(c.text), `${label}: chunk ${i} tokens exact`);
    assert(c.tokens <= max, `${label}: chunk ${i} has ${c.tokens} > ${max}`);
    assert(!isSplitPair(text, c.start) && !isSplitPair(text, c.end), `${label}: surrogate split`);
    if (overlap === 0) assertEquals(c.start, prevEnd, `${label}: chunk ${i} start`);
    else {
      assert(c.start <= prevEnd && c.start > prevStart, `${label}: chunk ${i} overlap bounds`);
      const ov = text.slice(c.start, prevEnd);
      assert(counter.countTokens(ov) <= Math.floor(overlap * max), `${label}: overlap too long`);
    }
    rebuilt += text.slice(Math.max(c.start, prevEnd), c.end);
    prevEnd = c.end;
    prevStart = c.start;
  }
  assertEquals(rebuilt, text, `${label}: lossless`);
}

const COUNTERS: [string, TokenCounter][] = [
  ["chars", charCounter],
  ["fake-tokens", fakeTokens],
  ["fake-tokens-no-offsets", fakeTokensNoOffsets],
];

Deno.test("every strategy × counter × budget × overlap keeps every guarantee", () => {
  for (const strategy of STRATEGIES) {
    for (const [name, counter] of COUNTERS) {
      for (const max of name === "chars" ? [2, 13, 80, 400, 5000] : [1, 4, 25, 120]) {
        for (const overlap of [0, 0.15, 0.5]) {
          const label = `${strategy}/${name}/${max}/${overlap}`;
          const opts = { strategy, maxTokens: max, overlap, counter };
          const chunks = chunkText(SAMPLE, opts);
          checkChunks(SAMPLE, chunks, max, counter, overlap, label);
          assertEquals(chunkText(SAMPLE, opts), chunks, `${label}: deterministic`);
        }
      }
    }
  }
});

Deno.test("streaming gives exactly the in-memory chunks, whatever the pieces", async () => {
  const text = SAMPLE.repeat(6);
  for (const strategy of STRATEGIES) {
    for (const [name, counter] of COUNTERS.slice(0, 2)) {
      for (const overlap of [0, 0.2]) {
        const opts = { strategy, maxTokens: name === "chars" ? 300 : 60, overlap, counter };
        const whole = chunkText(text, opts);
        for (const seed of [1, 2]) {
          const got: Chunk[] = [];
          const parts = async function* () {
            yield* randomParts(text, seed, seed === 1 ? 7 : 500);
          };
          for await (const c of chunkStream(parts(), opts)) got.push(c);
          assertEquals(got, whole, `${strategy}/${name}/${overlap}/seed ${seed}`);
        }
      }
    }
  }
});

Deno.test("streaming: fixed windows snapped to sentences or words match too", async () => {
  const text = SAMPLE.repeat(4);
  for (const preserve of ["sentences", "words"] as const) {
    for (const [name, counter] of COUNTERS) {
      const opts = {
        strategy: "fixed" as const,
        maxTokens: name === "chars" ? 150 : 30,
        preserve,
        counter,
      };
      const whole = chunkText(text, opts);
      checkChunks(text, whole, opts.maxTokens, counter, 0, `fixed/${preserve}/${name}`);
      const got: Chunk[] = [];
      const parts = async function* () {
        yield* randomParts(text, 5, 90);
      };
      for await (const c of chunkStream(parts(), opts)) got.push(c);
      assertEquals(got, whole, `fixed/${preserve}/${name}`);
    }
  }
});

Deno.test("streaming keeps memory bounded: chunks come out long before the end", () => {
  const chunker = new Chunker({ strategy: "sentence", maxTokens: 200 });
  let emitted = 0;
  for (let i = 0; i < 200; i++) emitted += chunker.push(SAMPLE).length;
  assert(emitted > 100, `only ${emitted} chunks before finish`);
  emitted += chunker.finish().length;
  assertEquals(
    emitted,
    chunkText(SAMPLE.repeat(200), { strategy: "sentence", maxTokens: 200 }).length,
  );
});

Deno.test("text without any boundary is still chunked in bounded memory, same as in memory", async () => {
  const words = Array.from({ length: 40000 }, (_, i) => `palavra${i % 97}`).join(" "); // no punctuation
  const text = words + " " + "x".repeat(200_000) + " fim";
  for (const strategy of ["sentence", "recursive", "fixed"] as const) {
    const opts = { strategy, maxTokens: 500, overlap: 0.1 };
    const whole = chunkText(text, opts);
    checkChunks(text, whole, 500, charCounter, 0.1, `no-boundary/${strategy}`);
    const chunker = new Chunker(opts);
    const got: Chunk[] = [];
    let early = 0;
    for (const part of randomParts(text, 9, 5000)) {
      got.push(...chunker.push(part));
      if (got.length > 0 && early === 0) early = got.length;
    }
    got.push(...chunker.finish());
    assert(early > 0, "chunks come out before the end");
    assertEquals(got, whole, strategy);
  }
  const stream: Chunk[] = [];
  const parts = async function* () {
    yield* randomParts(text, 4, 70000);
  };
  for await (const c of chunkStream(parts(), { maxTokens: 300 })) stream.push(c);
  assertEquals(stream, chunkText(text, { maxTokens: 300 }));
});

Deno.test("chunkStream reads a ReadableStream<string>", async () => {
  const stream = ReadableStream.from(randomParts(SAMPLE, 3)) as ReadableStream<string>;
  const got: Chunk[] = [];
  for await (const c of chunkStream(stream, { strategy: "recursive", maxTokens: 200 })) got.push(c);
  assertEquals(got, chunkText(SAMPLE, { strategy: "recursive", maxTokens: 200 }));
});

Deno.test("sentence strategy ends chunks on sentence ends and splits only over-long sentences", () => {
  const chunks = chunkText(SAMPLE, { strategy: "sentence", maxTokens: 200 });
  const longStart = SAMPLE.indexOf("Escolheu o dos fundos");
  const longEnd = SAMPLE.indexOf("## Notas");
  for (const c of chunks.slice(0, -1)) {
    const inLong = c.end > longStart && c.end < longEnd;
    const inWord = c.text.includes("pneumo") || c.text.includes("inconstitu");
    if (inLong || inWord) continue; // a sentence (or word) longer than the budget
    assert(
      /[.!?…:;»"]\s*$|\n\n$|[A-Z]\n\n$/.test(c.text) || /\n$/.test(c.text),
      JSON.stringify(c.text),
    );
  }
  // the over-long sentence was cut between words, never inside one
  const cuts = chunks.map((c) => c.end).filter((e) => e > longStart && e < longEnd);
  assert(cuts.length >= 1);
  for (const e of cuts) assert(SAMPLE[e - 1] === " ", `cut at ${e}`);
});

Deno.test("recursive strategy prefers paragraph and section breaks", () => {
  const chunks = chunkText(SAMPLE, { strategy: "recursive", maxTokens: 600 });
  const paragraphEnds = chunks.slice(0, -1).filter((c) => c.text.endsWith("\n\n")).length;
  assert(
    paragraphEnds >= chunks.length - 2,
    chunks.map((c) => JSON.stringify(c.text.slice(-20))).join(),
  );
  // headings stay with the text below them
  for (const c of chunks) {
    assert(!/CAPÍTULO PRIMEIRO\n\n$|DA CHEGADA\n\n$|## Notas\n\n$/.test(c.text));
  }
});

Deno.test("semantic strategy cuts where the topic shifts", () => {
  const text =
    "O gato mia no telhado. O gato dorme no sofá. O gato come peixe. O gato caça ratos. " +
    "A bolsa de valores subiu. Os investidores compraram ações da bolsa. O índice da bolsa fechou em alta. " +
    "A bolsa abriu em queda.";
  const chunks = chunkText(text, { strategy: "semantic", maxTokens: 150, minTokens: 20 });
  assertEquals(
    chunks[0].text,
    "O gato mia no telhado. O gato dorme no sofá. O gato come peixe. O gato caça ratos. ",
  );
});

Deno.test("adaptive strategy makes denser text into smaller chunks", () => {
  const light = "O menino foi à escola. O menino voltou da escola. ".repeat(40);
  // dense: every word new (pseudo-words from syllables), with numbers
  const syl = [
    "ba",
    "ce",
    "di",
    "fo",
    "gu",
    "la",
    "me",
    "ni",
    "po",
    "ru",
    "sa",
    "te",
    "vi",
    "xo",
    "zu",
  ];
  const word = (i: number) =>
    syl[i % 15] + syl[Math.floor(i / 15) % 15] + syl[Math.floor(i / 225) % 15];
  const dense = Array.from(
    { length: 120 },
    (_, i) =>
      `${word(7 * i)} ${word(7 * i + 1)} ${word(7 * i + 2)} ${1900 + i} ${word(7 * i + 3)} ${
        word(7 * i + 4)
      }.`,
  ).join(" ");
  const mean = (t: string) => {
    const c = chunkText(t, { strategy: "adaptive", maxTokens: 600, minTokens: 150 });
    return c.reduce((a, x) => a + x.tokens, 0) / c.length;
  };
  assert(mean(light) > mean(dense) * 1.3, `${mean(light)} vs ${mean(dense)}`);
});

Deno.test("fixed strategy: exact windows, or snapped to sentences/words", () => {
  const chars = chunkText(SAMPLE, { strategy: "fixed", maxTokens: 100 });
  for (const c of chars.slice(0, -1)) assert(c.tokens === 100 || c.tokens === 99, String(c.tokens)); // 99: emoji kept whole
  const tokens = chunkText(SAMPLE, { strategy: "fixed", maxTokens: 30, counter: fakeTokens });
  for (const c of tokens.slice(0, -1)) assertEquals(c.tokens, 30);
  const snapped = chunkText(SAMPLE, { strategy: "fixed", maxTokens: 300, preserve: "sentences" });
  const sentenceEnds = snapped.slice(0, -1).filter((c) => /[.!?…:;]\s+$|\n$/.test(c.text)).length;
  assert(
    sentenceEnds >= snapped.length - 3,
    snapped.map((c) => JSON.stringify(c.text.slice(-15))).join(),
  );
  const words = chunkText(SAMPLE, { strategy: "fixed", maxTokens: 50, preserve: "words" });
  for (const c of words.slice(0, -1)) {
    const next = SAMPLE[c.end];
    assert(/\s/.test(SAMPLE[c.end - 1]) || c.tokens === 50, JSON.stringify([c.text, next]));
  }
});

Deno.test("overlap starts on a sentence when one fits", () => {
  const text = "O gato mia. O cão late. A ave canta. O boi muge. A rã coaxa. O rato rói. ".repeat(
    20,
  );
  const chunks = chunkText(text, { strategy: "sentence", maxTokens: 200, overlap: 0.3 });
  for (let i = 1; i < chunks.length; i++) {
    assert(chunks[i].start < chunks[i - 1].end, `chunk ${i} has no overlap`);
    assert(/^[AO] /.test(chunks[i].text), JSON.stringify(chunks[i].text.slice(0, 20)));
    assert(chunks[i - 1].end - chunks[i].start >= 30, "overlap of at least one sentence");
  }
});

Deno.test("an additive counter that is not one per character keeps the budget", () => {
  const bytes: TokenCounter = {
    countTokens: (t) => new TextEncoder().encode(t).length, // UTF-8 bytes: additive
    additive: true,
    unit: "bytes",
  };
  for (const strategy of STRATEGIES) {
    for (const overlap of [0, 0.2]) {
      const chunks = chunkText(SAMPLE, { strategy, maxTokens: 64, overlap, counter: bytes });
      checkChunks(SAMPLE, chunks, 64, bytes, overlap, `bytes/${strategy}/${overlap}`);
    }
  }
});

Deno.test("bad options and impossible budgets are one-line BenteviErrors", () => {
  throws(() => chunkText("abc", { overlap: 0.6 }), BenteviError);
  throws(() => chunkText("abc", { overlap: -0.1 }), /between 0 and 0.5/);
  throws(() => chunkText("abc", { maxTokens: 0 }), /at least 1/);
  throws(() => chunkText("abc", { maxTokens: 10, minTokens: 11 }), /min-tokens/);
  // @ts-expect-error: an unknown strategy from untyped input
  throws(() => chunkText("abc", { strategy: "magic" }), /unknown "magic"/);
  // one emoji is two UTF-16 units: a 1-character budget cannot hold it, and says where
  throws(() => chunkText("ab😀", { maxTokens: 1 }), /smaller than the character at offset 2/);
  assertEquals(chunkText("ab😀", { maxTokens: 2 }).map((c) => c.text), ["ab", "😀"]);
  // a character that costs two tokens under a one-token budget
  const twoPerChar: TokenCounter = { countTokens: (t) => 2 * t.length, unit: "tokens" };
  throws(() => chunkText("ab", { maxTokens: 1, counter: twoPerChar }), /1 tokens.*offset 0/);
  assertEquals(chunkText("", { maxTokens: 5 }), []);
});

const GPT2 = `${SHARED}tokenizer/gpt2/tokenizer.json`;
const MACHADO = `${SHARED}pt/machado/romance/marm08.txt`;

Deno.test({
  name: "GPT-2 tokenizer on Dom Casmurro: exact counts within budget, lossless",
  ignore: !exists(GPT2) || !exists(MACHADO),
  fn: async () => {
    const tok = await Tokenizer.fromFile(GPT2);
    const text = (await Deno.readTextFile(MACHADO)).slice(0, 120_000);
    for (const strategy of STRATEGIES) {
      for (const overlap of [0, 0.15]) {
        const chunks = chunkText(text, { strategy, maxTokens: 128, overlap, counter: tok });
        checkChunks(text, chunks, 128, tok, overlap, `gpt2/${strategy}/${overlap}`);
      }
    }
    const fixed = chunkText(text, { strategy: "fixed", maxTokens: 100, counter: tok });
    const full = fixed.slice(0, -1).filter((c) => c.tokens === 100).length;
    assert(
      full >= (fixed.length - 1) * 0.95,
      `${full} of ${fixed.length - 1} windows hold exactly 100 tokens`,
    );
  },
});
if (!exists(GPT2) || !exists(MACHADO)) {
  console.log("skipping GPT-2/Machado test: ../shared/data absent");
}
