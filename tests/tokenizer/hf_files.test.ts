// The real tokenizer.json files of ../shared/data/tokenizer (SentencePiece-style BPE with byte
// fallback, Llama-3, Qwen3): exactly the ids of Hugging Face `tokenizers` (npm) on a seeded
// sample — random Unicode, Machado, Os Lusíadas (CRLF), fortunes — with and without the
// post-processor's tokens; the same text back from decode; streaming encode and decode equal
// to the whole. The full sweep is `deno task tokenizer-parity` (see docs/tokenizer.md).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { needs, randomText, SHARED } from "./_helpers.ts";
import { hfOnce } from "./_peers.ts";

const FILES = ["spm-bpe-32k", "llama3", "qwen3"];
const MACHADO_SAMPLE = [
  "machado/romance/marm05.txt",
  "machado/contos/macn001.txt",
  "machado/critica/mact01.txt",
];

/** A seeded sample: random Unicode with the files' special tokens, and slices of real text. */
function sample(tok: Tokenizer): [string, string][] {
  const specials = [...tok.specialTokens.keys()].slice(0, 4).join(" ");
  const out: [string, string][] = [];
  for (let seed = 1; seed <= 4; seed++) {
    const r = randomText(seed * 7919, 2500);
    out.push([`random ${seed}`, r.slice(0, 1200) + ` ${specials}` + r.slice(1200)]);
  }
  out.push(["edges", "  leading spaces, trailing  \n\n\t\ttabs ▁ already ▁▁ metaspace <0x41> 😀"]);
  out.push(["empty", ""]);
  for (const f of [...MACHADO_SAMPLE, "os-lusiadas.txt", "fortunes-br.txt"]) {
    const path = `${SHARED}pt/${f}`;
    if (!existsSync(path)) continue;
    const text = Deno.readTextFileSync(path);
    const at = Math.floor(text.length / 3);
    out.push([f, text.slice(at, at + 20_000)]);
  }
  return out;
}

async function* chunksOf(text: string, size: number) {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

for (const name of FILES) {
  const path = `${SHARED}tokenizer/${name}/tokenizer.json`;
  Deno.test({
    name: `${name} tokenizer.json: the ids and decoding of HF tokenizers on a seeded sample`,
    ignore: needs(existsSync(path), `${name} tokenizer.json`),
    fn: async () => {
      const HF = await hfOnce();
      if (!HF) return;
      const tok = await Tokenizer.fromFile(path);
      const hf = HF.fromFile(path);
      for (const [what, text] of sample(tok)) {
        for (const addSpecialTokens of [true, false]) {
          const enc = await hf.encode(text, null, { addSpecialTokens });
          const want = Array.from(enc.getIds() as ArrayLike<number>);
          assert.deepEqual(
            tok.encode(text, { addSpecialTokens }),
            want,
            `${what} ${addSpecialTokens}`,
          );
          assert.equal(tok.countTokens(text, { addSpecialTokens }), want.length);
          if (!addSpecialTokens) {
            for (const skip of [false, true]) {
              const back = await hf.decode(want, skip);
              assert.equal(tok.decode(want, { skipSpecialTokens: skip }), back, `decode ${what}`);
            }
          }
        }
      }
      // Offsets: the same ids, spans inside the text and in order.
      const probe = sample(tok)[0][1];
      const { ids: oIds, offsets } = tok.encodeWithOffsets(probe);
      assert.deepEqual(oIds, tok.encode(probe));
      let prev = 0;
      for (const [a, b] of offsets) {
        assert.ok(a >= prev && a <= b && b <= probe.length, `offsets ${a}..${b} after ${prev}`);
        prev = a;
      }
      // Streaming: parts cut where the pipeline allows give the whole text's ids, the
      // template's tokens once; the stream decoder gives decode's text.
      const text = sample(tok).map(([, t]) => t).join("\n");
      const whole = tok.encode(text);
      const parts: number[][] = [];
      for await (const p of tok.encodeStream(chunksOf(text, 4096), 8192)) parts.push(p);
      assert.ok(parts.length > 3, `cut in ${parts.length} parts`);
      assert.deepEqual(parts.flat(), whole);
      const d = tok.streamDecoder();
      let out = "";
      for (const id of whole) out += d.push(id);
      out += d.flush();
      assert.equal(out, tok.decode(whole));
    },
  });
}

Deno.test({
  name: "spm-bpe-32k: <s> is added by the template, decode gives the text back",
  ignore: needs(existsSync(`${SHARED}tokenizer/spm-bpe-32k/tokenizer.json`), "spm-bpe-32k"),
  fn: async () => {
    const tok = await Tokenizer.fromFile(`${SHARED}tokenizer/spm-bpe-32k/tokenizer.json`);
    const ids = tok.encode("Olá, mundo!\n");
    assert.equal(ids[0], 1);
    assert.deepEqual(tok.encode("Olá, mundo!\n", { addSpecialTokens: false }), ids.slice(1));
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), "Olá, mundo!\n");
    // "\n" is not in the vocabulary: byte fallback.
    assert.equal(tok.idToToken(ids[ids.length - 1]), "<0x0A>");
  },
});
