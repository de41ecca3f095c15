// A tokenizer.json construct Bentevi does not support, or an inconsistent one, is refused with
// one line naming the file and the field — never silently ignored.
import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { runCli } from "../_cli.ts";
import { tempCorpus } from "./_helpers.ts";

type Json = Record<string, unknown>;

/** A tiny valid SentencePiece-style file. */
function base(): Json {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, a: 4, b: 5 };
  vocab["ab"] = 6;
  vocab["▁ab"] = 7;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 1,
        content: "<s>",
        special: true,
        normalized: false,
        lstrip: false,
        rstrip: false,
        single_word: false,
      },
    ],
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "▁" },
        { type: "Replace", pattern: { String: " " }, content: "▁" },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: null,
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Fuse" }] },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      fuse_unk: true,
      byte_fallback: false,
      vocab,
      merges: [["a", "b"], ["▁", "ab"]],
    },
  };
}

function refuses(change: (j: Json) => void, re: RegExp): void {
  const j = base();
  change(j);
  try {
    Tokenizer.fromJSON(j, "t.json");
  } catch (e) {
    assert.ok(e instanceof BenteviError, `not a BenteviError: ${e}`);
    assert.match(e.message, re);
    assert.ok(!e.message.includes("\n"), "one line");
    assert.match(e.message, /^t\.json: /);
    return;
  }
  assert.fail(`accepted, expected ${re}`);
}

const m = (j: Json) => j.model as Json;

Deno.test("the base file loads and adds <s>; the option leaves it off", () => {
  const tok = Tokenizer.fromJSON(base(), "t.json");
  assert.deepEqual(tok.encode("ab ab"), [1, 7, 7]);
  assert.deepEqual(tok.encode("ab ab", { addSpecialTokens: false }), [7, 7]);
  assert.equal(tok.countTokens("ab"), 2);
});

Deno.test("unsupported components are refused by name, with the field", () => {
  refuses(
    (j) => j.normalizer = { type: "Precompiled", precompiled_charsmap: "" },
    /normalizer: normalizer type "Precompiled" is not supported/,
  );
  refuses(
    (j) =>
      j.normalizer = {
        type: "Sequence",
        normalizers: [{ type: "NFC" }, { type: "BertNormalizer" }],
      },
    /normalizer\.normalizers\[1\]: normalizer type "BertNormalizer"/,
  );
  refuses(
    (j) => j.pre_tokenizer = { type: "Whitespace" },
    /pre_tokenizer: pre-tokenizer type "Whitespace"/,
  );
  refuses(
    (j) =>
      j.pre_tokenizer = {
        type: "Sequence",
        pretokenizers: [{ type: "Digits", individual_digits: true }],
      },
    /pre_tokenizer\.pretokenizers\[0\]: pre-tokenizer type "Digits"/,
  );
  refuses(
    (j) =>
      j.pre_tokenizer = {
        type: "Split",
        pattern: { Regex: "a" },
        behavior: "Sideways",
        invert: false,
      },
    /pre_tokenizer\.behavior "Sideways" is not supported/,
  );
  refuses(
    (j) => j.pre_tokenizer = { type: "Metaspace", replacement: "▁", prepend_scheme: "sometimes" },
    /pre_tokenizer\.prepend_scheme "sometimes"/,
  );
  refuses(
    (j) =>
      j.pre_tokenizer = {
        type: "Sequence",
        pretokenizers: [{ type: "ByteLevel", use_regex: false }, {
          type: "Split",
          pattern: { String: "x" },
          behavior: "Isolated",
        }],
      },
    /pretokenizers\[1\]: a pre-tokenizer step after ByteLevel is not supported/,
  );
  refuses(
    (j) => j.decoder = { type: "WordPiece", prefix: "##" },
    /decoder: decoder type "WordPiece" is not supported/,
  );
  refuses(
    (j) => j.decoder = { type: "Sequence", decoders: [{ type: "CTC" }] },
    /decoder\.decoders\[0\]: decoder type "CTC"/,
  );
  refuses(
    (j) => j.post_processor = { type: "BertProcessing", sep: ["[SEP]", 2], cls: ["[CLS]", 1] },
    /post_processor: post-processor type "BertProcessing"/,
  );
  refuses((j) => m(j).type = "Unigram", /model\.type "Unigram" is not supported/);
  refuses((j) => m(j).dropout = 0.1, /model\.dropout 0\.1 is not supported/);
  refuses((j) => m(j).continuing_subword_prefix = "##", /model\.continuing_subword_prefix "##"/);
  refuses((j) => j.truncation = { max_length: 8 }, /truncation is set/);
  refuses((j) => j.padding = { strategy: "BatchLongest" }, /padding is set/);
});

Deno.test("inconsistent files are refused: vocabulary, merges, template, unk", () => {
  refuses(
    (j) => (m(j).merges as unknown[]).push(["b", "c"]),
    /model\.merges\[2\].*"c" is not in the vocabulary/,
  );
  refuses(
    (j) => (m(j).merges as unknown[]).push("a b c"),
    /model\.merges\[2\] "a b c" is not "a b"/,
  );
  refuses((j) => m(j).unk_token = "<nope>", /model\.unk_token "<nope>" is not in the vocabulary/);
  refuses((j) => m(j).byte_fallback = "yes", /model\.byte_fallback must be true or false/);
  refuses((j) => {
    const pp = j.post_processor as Json;
    (pp.special_tokens as Json)["<s>"] = { id: "<s>", ids: [99], tokens: ["<s>"] };
  }, /post_processor\.special_tokens\["<s>"\] names id 99, not in the vocabulary/);
  refuses((j) => {
    const pp = j.post_processor as Json;
    (pp.single as unknown[]).push({ SpecialToken: { id: "</s>", type_id: 0 } });
  }, /post_processor\.single\[2\]: special token "<\/s>" is not in post_processor\.special_tokens/);
  refuses((j) => {
    (j.post_processor as Json).single = [{ SpecialToken: { id: "<s>", type_id: 0 } }];
  }, /post_processor\.single must name the sequence A/);
});

Deno.test("CLI: tokenizer encode adds the template's tokens unless --no-special-tokens", async () => {
  const dir = await tempCorpus({ "t.json": JSON.stringify(base()) });
  try {
    const withBos = await runCli(["tokenizer", "encode", "-t", `${dir}/t.json`, "--text", "ab ab"]);
    assert.equal(withBos.code, 0, withBos.stderr);
    assert.equal(withBos.stdout.trim(), "1 7 7");
    const without = await runCli([
      "tokenizer",
      "encode",
      "-t",
      `${dir}/t.json`,
      "--text",
      "ab ab",
      "--no-special-tokens",
    ]);
    assert.equal(without.stdout.trim(), "7 7");
    await Deno.writeTextFile(`${dir}/in.txt`, "ab ab\n".repeat(3));
    const file = await runCli(["tokenizer", "encode", "-t", `${dir}/t.json`, `${dir}/in.txt`]);
    assert.equal(file.stdout.trim().split(" ").filter((x) => x === "1").length, 1, file.stdout);
    const j = base();
    j.decoder = { type: "CTC" };
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify(j));
    const refused = await runCli(["tokenizer", "encode", "-t", `${dir}/bad.json`, "--text", "x"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /bad\.json: invalid tokenizer\.json: decoder: decoder type "CTC"/);
    assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chunk budgets count a chunk's own tokens, not the template's <s>", async () => {
  const { chunkText } = await import("../../src/chunking/mod.ts");
  const tok = Tokenizer.fromJSON(base(), "t.json");
  const text = "ab ".repeat(40).trim();
  for (const strategy of ["fixed", "recursive"] as const) {
    const chunks = chunkText(text, { strategy, maxTokens: 10, counter: tok });
    for (const c of chunks) {
      // "ab" is one token ("▁ab"): a chunk of 10 tokens holds 10 of them.
      assert.ok(tok.countTokens(c.text, { addSpecialTokens: false }) <= 10, c.text);
    }
    // The first chunk fills the budget; counting <s> too would leave room for 9.
    assert.equal(tok.countTokens(chunks[0].text, { addSpecialTokens: false }), 10, strategy);
  }
});
