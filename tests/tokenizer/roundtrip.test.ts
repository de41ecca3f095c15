import assert from "node:assert/strict";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { GPT2_JSON, hasGpt2, needs, randomText, smallTokenizer } from "./_helpers.ts";

function checkRoundTrip(tok: Tokenizer, seeds: number) {
  for (let seed = 1; seed <= seeds; seed++) {
    const text = randomText(seed, 400);
    const ids = tok.encode(text);
    assert.deepEqual(tok.decode(ids), text, `seed ${seed}`);
    assert.deepEqual(tok.countTokens(text), ids.length);
    const { ids: ids2, offsets } = tok.encodeWithOffsets(text);
    assert.deepEqual(ids2, ids);
    let prevStart = 0;
    for (const [s, e] of offsets) {
      assert(s >= prevStart && s <= e && e <= text.length, `offsets ${s},${e}`);
      prevStart = s;
    }
  }
}

Deno.test("round trip decode(encode(s)) == s on random Unicode (trained tokenizer)", async () => {
  checkRoundTrip(await smallTokenizer(), 200);
});

Deno.test({
  name: "round trip on random Unicode (GPT-2)",
  ignore: needs(hasGpt2, "GPT-2 tokenizer.json"),
  fn: async () => checkRoundTrip(await Tokenizer.fromFile(GPT2_JSON), 100),
});

Deno.test("edge cases: empty text, lone surrogates, CRLF, NEL, long runs", async () => {
  const tok = await smallTokenizer();
  assert.deepEqual(tok.encode(""), []);
  assert.deepEqual(tok.decode([]), "");
  for (const s of ["\r\n\r\n", "a\u0085b", "x".repeat(5000), "!".repeat(3000), " ".repeat(999)]) {
    assert.deepEqual(tok.decode(tok.encode(s)), s);
  }
  // A lone surrogate is not valid UTF-16 text; it is encoded as U+FFFD, as TextEncoder does.
  assert.deepEqual(tok.decode(tok.encode("a\ud800b")), "a\ufffdb");
});

Deno.test("offsets: each token of ASCII text decodes to its span", async () => {
  const tok = await smallTokenizer();
  const text = "O bem-te-vi cantou: 'bom dia', disse ele.  Fim.\n";
  const { ids, offsets } = tok.encodeWithOffsets(text);
  ids.forEach((id, i) => assert.deepEqual(tok.decode([id]), text.slice(...offsets[i])));
  assert.deepEqual(offsets[0][0], 0);
  assert.deepEqual(offsets[offsets.length - 1][1], text.length);
});

Deno.test("offsets: a token holding part of a character spans the whole character", async () => {
  const tok = await smallTokenizer();
  const text = "x🦜y"; // U+1F99C is not in the corpus: its 4 bytes stay separate tokens
  const { ids, offsets } = tok.encodeWithOffsets(text);
  assert.deepEqual(tok.decode(ids), text);
  const parrot = offsets.filter(([s]) => s === 1);
  assert(parrot.length >= 2);
  for (const o of parrot) assert.deepEqual(o, [1, 3]);
});

Deno.test("offsets after normalization point into the original text", async () => {
  const { trainTokenizer } = await import("../../src/tokenizer/mod.ts");
  async function* c() {
    yield "AÇÃO e ação\n".repeat(10);
  }
  const tok = await trainTokenizer(c(), { vocabSize: 300, normalize: "ptbr" });
  const text = "AÇÃO  e ação";
  const { ids, offsets } = tok.encodeWithOffsets(text);
  assert.deepEqual(tok.decode(ids), "ação e ação");
  for (const [s, e] of offsets) assert(s >= 0 && e <= text.length && s <= e);
  assert.deepEqual(offsets[0][0], 0);
  assert.deepEqual(offsets[offsets.length - 1][1], text.length);
});

Deno.test("stream decoder holds incomplete UTF-8 and never throws", async () => {
  const tok = await smallTokenizer();
  const text = "pão 🦜 e\u0301 日本";
  const ids = tok.encode(text);
  const d = tok.streamDecoder();
  let out = "";
  for (const id of ids) {
    const piece = d.push(id);
    assert(!piece.includes("\ufffd"), "no replacement characters mid-stream");
    out += piece;
  }
  out += d.flush();
  assert.deepEqual(out, text);
  // Decoding a prefix that ends inside a character does not throw.
  const partial = tok.decode(ids.slice(0, ids.length - 1));
  assert(typeof partial === "string");
  // An unfinished character at the end of a stream becomes U+FFFD on flush.
  const d2 = tok.streamDecoder();
  const first = tok.encode("🦜")[0];
  assert.deepEqual(d2.push(first), "");
  assert.deepEqual(d2.flush(), "\ufffd");
});

Deno.test("encodeBatch equals encode on each text", async () => {
  const tok = await smallTokenizer();
  const texts = ["um", "dois três", "", "🐦"];
  assert.deepEqual(tok.encodeBatch(texts), texts.map((t) => tok.encode(t)));
});

Deno.test("encodeStream over chunks equals encode of the whole text", async () => {
  const tok = await smallTokenizer();
  const lines = [];
  for (let i = 0; i < 400; i++) {
    lines.push(
      randomText(i + 100, i % 40),
      i % 7 === 0 ? "[EOS]\n[BOS]" : "\n",
      i % 5 ? "" : "  \n",
    );
  }
  const text = lines.join("");
  async function* chunks(size: number) {
    for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
  }
  for (const [size, part] of [[7, 50], [333, 200], [5000, 1 << 20]]) {
    const ids: number[] = [];
    let parts = 0;
    for await (const p of tok.encodeStream(chunks(size), part)) {
      ids.push(...p);
      parts++;
    }
    assert.deepEqual(ids, tok.encode(text), `chunks of ${size}, parts of ${part}`);
    if (part < 1000) assert.ok(parts > 10, `cut into ${parts} parts`);
  }
});

Deno.test("Tokenizer.byteLevel: ids are byte values, and it survives the HF format", () => {
  const tok = Tokenizer.byteLevel();
  assert.equal(tok.vocabSize, 256);
  assert.deepEqual(tok.encode("Olá"), [79, 108, 195, 161]);
  assert.equal(tok.decode([79, 108, 195, 161]), "Olá");
  const back = Tokenizer.fromJSON(JSON.stringify(tok.toJSON()));
  assert.deepEqual(back.encode("bem-te-vi 🐦"), [...new TextEncoder().encode("bem-te-vi 🐦")]);
});
